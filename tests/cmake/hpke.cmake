# HPKE (RFC 9180) base mode, DHKEM(P-256, HKDF-SHA256) / HKDF-SHA256 / AES-128-GCM:
# common/src/hpke.c against RFC 9180 Appendix A.3 (embedded, and from
# hpke/rfc9180-appendix-a.json when the vectors folder is present), once per backend.
drot_add_test(test_hpke SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_hpke.c)
