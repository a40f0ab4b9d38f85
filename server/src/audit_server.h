/*
 * audit_server.h — drot-server's side of the audit log (audit.h,
 * docs/audit.md): the checkpoint signer backed by key custody, and the
 * one-call helper the route handlers use to record what they changed.
 *
 * Checkpoint key: the key directory's "audit" key (role audit, keys.h),
 * made by `drotctl init`, or by ds_audit_server_open on the first start
 * with a key directory made before the role existed. When several exist
 * (a rotation, or two servers that made one each on a shared directory at
 * the same first start) the newest signs; `drotctl audit verify` accepts
 * every audit key of the directory it is given.
 *
 * The signer opens the key directory a second time, for itself: key custody
 * is single-threaded (keys.h), and checkpoints are signed from whatever
 * worker thread appends, so the signer's own key store sits behind its own
 * mutex and never meets the handlers' shared lock (no lock order to get
 * wrong). Each signature decrypts the key (scrypt, about 50 ms).
 */
#ifndef DS_AUDIT_SERVER_H
#define DS_AUDIT_SERVER_H

#include <stdint.h>

#include <jansson.h>

#include "audit.h"
#include "ca.h"
#include "http.h"
#include "keys.h"
#include "store.h"

/* Finds the newest audit key of ks (creating "audit" with ks when there is
 * none, and saying so on stderr), opens dir again with pass for the
 * signer, and makes it the process's checkpoint signer. 0, or -1 with a
 * reason in err. Call once, before any thread starts. */
int ds_audit_server_open(ds_keystore *ks, const char *dir, const char *pass, char *err, size_t errlen);
/* The signer (NULL before ds_audit_server_open succeeded). */
const ds_audit_signer *ds_audit_server_signer(void);
/* Frees the signer's key store (after every thread has stopped). */
void ds_audit_server_close(void);

/* Records one entry (audit.h) for an operation that already happened:
 * detail (consumed; NULL means {}) is serialized here; a detail over
 * DS_AUDIT_DETAIL_MAX is replaced by {"truncated": true, "sha256": …}. A
 * failure is reported on stderr and does not undo or fail the operation. */
void ds_audit_record(ds_store *s, const char *actor, const char *action, const char *subject, json_t *detail);

/* Actor strings: "operator:<certificate CN>" ("operator:unknown" without
 * one), "device:<32 hex>". */
void ds_audit_actor_operator(const ds_http_req *req, char out[DS_AUDIT_ACTOR_MAX + 1]);
void ds_audit_actor_device(const uint8_t id[16], char out[DS_AUDIT_ACTOR_MAX + 1]);
/* 32 lowercase hex digits and a NUL. */
void ds_audit_hex_id(const uint8_t id[16], char out[33]);
/* n device ids, the i-th at first_id + i * stride: {"count": n, "devices":
 * [the first 100 in hex], "devices_sha256": SHA-256 of all n ids
 * concatenated, in hex}, the detail of one entry that covers a batch (bulk
 * registration, an anchor rotation over a class). NULL when out of memory. */
json_t *ds_audit_device_batch(const uint8_t *first_id, size_t stride, size_t n);

/* ---- the device routes' entries (docs/audit.md lists them) ------------------------- */

/* device.attest by "device:<id>" for an attestation being recorded (whatever
 * route carried the token: req names it), and, when recording it moved the
 * device to quarantined (out->action), device.quarantine by "server" with
 * quarantine_reason. Meant for the in_tx hook of
 * ds_attestation_record_update (store.h), so the entries commit or roll
 * back with the attestation row: unlike ds_audit_record, a failure is
 * returned (and rolls the attestation back). *seq_out (may be NULL)
 * receives the last entry's seq, for ds_audit_committed after the commit. */
ds_status ds_audit_attestation(const ds_http_req *req, ds_store *s, const uint8_t id[16],
                               const ds_attestation *att, const char *quarantine_reason,
                               const ds_attest_outcome *out, int64_t *seq_out);
/* device.enroll by "device:<id>": the certificate issued (ci), the verdict,
 * and the status before (from) and now. */
void ds_audit_enroll(ds_store *s, const uint8_t id[16], int verdict, const ds_cert_info *ci,
                     ds_device_status from);
/* A step of rotation job j by actor ("device:<id>" or "server"): action
 * "rotation.<what>" for a root rotation, "anchor_rotation.<what>" for an
 * anchor rotation, subject "job:<id>", detail {"device_id", "state" (the
 * job's state as now stored), "step"} plus the members of extra
 * (consumed, may be NULL). The job is read again, so the entry shows its
 * state after the step. */
void ds_audit_job(ds_store *s, const char *actor, const char *what, int64_t job_id, json_t *extra);

#endif /* DS_AUDIT_SERVER_H */
