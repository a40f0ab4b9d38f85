/*
 * fw_fixture.h — helpers of the firmware store tests (test_fw_repo.c,
 * test_fw_rollout.c), on top of jobs_fixture.h (a fresh, migrated store per
 * test on SQLite or in the binary's own PostgreSQL schema):
 *
 *   - an authority key made once per process, manifests it signs, and its
 *     anchor hash (what fw_release_publish checks against);
 *   - deterministic images of any size, uploaded chunk by chunk;
 *   - attestation tokens (COSE_Sign1 over a PSA claims set) whose software
 *     components name a measured component and digest, recorded as the
 *     device's attestation with a verdict.
 * Test code: cmocka assertions inside.
 */
#ifndef DROT_FW_FIXTURE_H
#define DROT_FW_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "firmware.h"
#include "jobs_fixture.h"

/* The test authority: its anchor (SHA-256 of the public key). */
void fwx_authority(uint8_t anchor[32]);
/* A second, unknown authority's anchor (for "unknown signer"). */
void fwx_other_authority(uint8_t anchor[32]);
/* A manifest for (component, version, svn, digest, size) signed by the test
 * authority (other = true: by the unknown one); its length. */
size_t fwx_manifest(const char *component, const char *version, uint32_t svn, const uint8_t digest[32],
                    uint32_t size, bool other, uint8_t *out, size_t cap);
/* The same manifest payload signed by the test authority as an authority
 * object of kind content_type (another kind than a manifest). */
size_t fwx_signed_as(const char *component, const char *version, uint32_t svn, const uint8_t digest[32],
                     uint32_t size, uint64_t content_type, uint8_t *out, size_t cap);

/* size bytes of image number seed (malloc'ed) and their SHA-256. */
uint8_t *fwx_image(uint32_t seed, uint32_t size, uint8_t digest[32]);
/* Uploads every chunk (in reverse order, to show order does not matter). */
void fwx_upload(fx *f, const uint8_t *img, uint32_t size, const uint8_t digest[32]);
/* Uploads image seed of size and publishes it as (component, version, svn);
 * the release id. */
int64_t fwx_release(fx *f, const char *component, const char *version, uint32_t svn, uint32_t seed,
                    uint32_t size, uint8_t digest[32]);

/* Records an attestation of device dev with verdict res whose token shows
 * component measured as digest (version ver). */
void fwx_attest(fx *f, uint32_t dev, ds_result res, const char *component, const uint8_t digest[32],
                const char *ver, int64_t at);
/* The token itself (for fw_job_offer); its length. Every component's
 * signer id is the test authority's anchor, or signer when not NULL. */
size_t fwx_token(const char *component, const uint8_t digest[32], const char *ver, uint8_t *out, size_t cap);
size_t fwx_token_signer(const char *component, const uint8_t digest[32], const char *ver,
                        const uint8_t *signer, uint8_t *out, size_t cap);

/* Rows of a table (raw SQL, not through the code under test). */
long long fwx_rows(fx *f, const char *table);
/* Audit log entries with this action (and actor, when not NULL). */
long long fwx_audited(fx *f, const char *action, const char *actor);
/* The audit chain recomputes (ds_audit_check). */
void fwx_audit_ok(fx *f);

#endif
