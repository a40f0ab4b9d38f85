/*
 * drot/selftest.h — known-answer self-tests of the crypto port and of the
 * formats built on it, in the manner of a FIPS 140 power-on self-test.
 *
 * Each check runs one algorithm on a published vector (FIPS 180-2,
 * RFC 4231, RFC 5869, RFC 6979, RFC 9180, NIST CAVP, Wycheproof) and
 * compares against the published answer; where the algorithm is randomised
 * in one backend (ECDSA under OpenSSL 3.0) it checks the published
 * signature and a pairwise sign/verify instead. No allocation, no OS: the
 * firmware may run it at boot and refuse to serve if it fails.
 */
#ifndef DROT_SELFTEST_H
#define DROT_SELFTEST_H

#include "drot/status.h"

/* Called once per check with its name ("sha256"), the reference it is
 * checked against ("FIPS 180-2 B.1") and its outcome. */
typedef void (*drot_selftest_report_fn)(void *ctx, const char *name, const char *reference, drot_status st);

/* Runs every check, calling report (may be NULL) for each. Returns DROT_OK
 * iff all passed, else the status of the first failure; a wrong answer is
 * DROT_E_VERIFY. All checks run even after a failure. */
drot_status drot_selftest_run(drot_selftest_report_fn report, void *ctx);

/* The number of checks drot_selftest_run performs. */
unsigned drot_selftest_count(void);

#endif /* DROT_SELFTEST_H */
