/*
 * drot/host.h — libdrot-host: the host processor's side of the APM.
 *
 * The host is assumed compromisable. It reaches the APM only through the
 * authenticated link (docs/link.md), relays evidence without being able to
 * forge it, and keeps its secrets in blobs only its own APM can open.
 *
 *   transport   a byte stream to the APM behind an ops table (UNIX socket for
 *               the simulated APM; a UART transport can be added for QEMU)
 *   driver      session handshake, one request at a time, every answer
 *               checked, timeouts, reconnect and retry of idempotent requests
 *   handlers    attestation (nonce from challenge and TLS exporter, token
 *               bytes returned unchanged), measured boot (extend), secure
 *               storage (seal/unseal into a protected directory)
 *
 * Host code (prefix dh_): OS calls and allocation are allowed; every
 * function returns a dh_status, and the driver keeps a human-readable
 * description of the last failure (dh_driver_last_error).
 */
#ifndef DROT_HOST_H
#define DROT_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drot/link_fw.h"
#include "drot/link_msg.h"

typedef int32_t dh_status;
#define DH_OK 0
/* -1 .. -99 drot_status, -100 .. -199 apm_status: the APM's own refusal
 * codes are reported through DH_E_REFUSED and dh_driver_last_apm_code. */
#define DH_E_ARG      (-200) /* bad argument from the caller */
#define DH_E_CONNECT  (-201) /* cannot reach the APM (socket missing, refused) */
#define DH_E_TIMEOUT  (-202) /* the APM did not answer in time */
#define DH_E_PROTOCOL (-203) /* an answer that does not open in the session or is malformed */
#define DH_E_AUTH     (-204) /* the APM refused our HELLO: wrong link key */
#define DH_E_REFUSED  (-205) /* the APM answered with an ERROR: see last_apm_code / last_error */
#define DH_E_IO       (-206) /* a local file or socket operation failed */
#define DH_E_STORAGE  (-207) /* secure storage: bad name, missing blob, unsafe directory */
#define DH_E_NOMEM    (-208)

const char *dh_status_str(dh_status st);

/* ---- transport --------------------------------------------------------------- */

/* A byte stream. Every function returns 0 or a negative DH_E_* status.
 * recv fills buf[0..len) completely or fails (DH_E_TIMEOUT when nothing
 * arrives for timeout_ms; DH_E_CONNECT when the peer has closed). */
typedef struct dh_transport_ops {
    dh_status (*connect)(void *ctx, int timeout_ms);
    dh_status (*send)(void *ctx, const uint8_t *buf, size_t len, int timeout_ms);
    dh_status (*recv)(void *ctx, uint8_t *buf, size_t len, int timeout_ms);
    void (*close)(void *ctx);
} dh_transport_ops;

/* The UNIX-socket transport (the simulated APM). ctx is a dh_unix_transport. */
typedef struct dh_unix_transport {
    char path[108];
    int fd;
} dh_unix_transport;
extern const dh_transport_ops dh_unix_transport_ops;
dh_status dh_unix_transport_init(dh_unix_transport *t, const char *path);

/* ---- driver -------------------------------------------------------------------- */

typedef struct dh_driver_options {
    int timeout_ms; /* per answer; default 5000 when 0 */
    int retries;    /* reconnect + retry of idempotent requests; default 1 when 0, none when < 0 */
} dh_driver_options;

typedef struct dh_driver dh_driver;

/* Opens a driver on a transport (not yet connected: the first request
 * connects and runs the handshake). opt may be NULL. */
dh_status dh_driver_open(dh_driver **out, const dh_transport_ops *ops, void *tctx, const uint8_t link_key[32],
                         const dh_driver_options *opt);
void dh_driver_close(dh_driver *d); /* wipes the session and the link key */

/* The last failure as one line of text, e.g. "APM refused GET_TOKEN: key
 * use locked by a tamper event (-108)"; "" after a success. */
const char *dh_driver_last_error(const dh_driver *d);
/* The APM's ERROR code of the last DH_E_REFUSED (0 otherwise). */
int32_t dh_driver_last_apm_code(const dh_driver *d);

/* Requests. GET_INFO, GET_TOKEN, TAMPER_LOG, SEAL and UNSEAL are idempotent
 * and retried after a reconnect; EXTEND_MEASUREMENT is not (it would append
 * twice): its failure is reported and the caller decides. */
dh_status dh_get_info(dh_driver *d, drot_link_info *out);
dh_status dh_get_token(dh_driver *d, const uint8_t *nonce, size_t nonce_len, uint32_t profile, uint8_t *out,
                       size_t cap, size_t *out_len);
dh_status dh_extend(dh_driver *d, const drot_link_measurement *m, uint32_t *index);
dh_status dh_tamper_log(dh_driver *d, drot_link_tamper_log *out);
/* SEAL / UNSEAL (docs/link.md): label names the blob (≤ 64 bytes of
 * [A-Za-z0-9._-]) and is bound into it. */
dh_status dh_seal(dh_driver *d, const char *label, const uint8_t *data, size_t len, uint8_t *blob, size_t cap,
                  size_t *blob_len);
dh_status dh_unseal(dh_driver *d, const char *label, const uint8_t *blob, size_t blob_len, uint8_t *data,
                    size_t cap, size_t *len);

/* ---- provisioning pass-through: DRoT (docs/drot.md, docs/host.md) ---------------
 * The host relays authority-signed instructions to the APM and the APM's
 * signed answers back, byte for byte; it cannot make or change either (the
 * APM checks the authority's signature, the server checks the APM's).
 *
 *   dh_rotation_nonce   GET_ROTATION_NONCE: the APM's fresh single-use
 *                       rotation nonce (each call replaces the last one)
 *   dh_rotate_root      ROTATE_ROOT: a server-mode instruction → the receipt
 *                       signed by the new key
 *   dh_rotate_propose   ROTATE_PROPOSE: device mode, the APM's proposal
 *   dh_rotate_endorse   ROTATE_ENDORSE: the authority's endorsement → receipt
 *   dh_rotate_anchor    ROTATE_ANCHOR: an anchor instruction → (op, slot)
 *
 * Messages are 1..DROT_LINK_ROT_MAX_MSG bytes. Only GET_ROTATION_NONCE is
 * sent again after a lost answer; a ROTATE_* whose answer is lost returns
 * the error (the APM may have applied it: the server learns which key the
 * device holds from its next attestation). An APM refusal is DH_E_REFUSED
 * with dh_driver_last_apm_code. */
dh_status dh_rotation_nonce(dh_driver *d, uint8_t nonce[DROT_LINK_ROT_NONCE_LEN]);
dh_status dh_rotate_root(dh_driver *d, const uint8_t *instruction, size_t len, uint8_t *receipt, size_t cap,
                         size_t *receipt_len);
dh_status dh_rotate_propose(dh_driver *d, uint8_t *proposal, size_t cap, size_t *proposal_len);
dh_status dh_rotate_endorse(dh_driver *d, const uint8_t *endorsement, size_t len, uint8_t *receipt,
                            size_t cap, size_t *receipt_len);
dh_status dh_rotate_anchor(dh_driver *d, const uint8_t *instruction, size_t len, drot_link_anchor_resp *out);

/* ---- firmware install (docs/firmware.md "Install on the device") ---------------
 * The host streams an authority-signed manifest and its image to the APM,
 * which checks everything itself (signer, signature, component, SVN against
 * its fuse, size, digest): the host can only deliver.
 *
 *   dh_fw_install   FW_BEGIN(install), FW_CHUNK × n, FW_FINISH. "APM": the
 *                   image is staged into the APM's inactive slot and marked
 *                   for a test boot; "HOST-BL"/"HOST-OS": the APM records the
 *                   verified image as pending until it is confirmed.
 *   dh_fw_verify    the same in verify mode: the APM writes nothing and
 *                   answers what it verified (measured boot checks a stage
 *                   with it before the stage runs).
 *   dh_fw_activate  FW_ACTIVATE: DROT_LINK_FW_ACTIVATE_TRIAL resets the APM
 *                   into the staged image; _ABORT drops a staged or running
 *                   trial. *reset says whether the APM reset (the driver then
 *                   starts a new session by itself at the next request).
 *   dh_fw_confirm   FW_CONFIRM(component): "APM" after a PASS attestation of
 *                   the trial image; a host component once this boot measured
 *                   its verified image. *svn = the component's fuse after.
 *   dh_fw_status    FW_STATUS (idempotent, retried).
 *
 * image_fd is read from its current position to its end, in chunks of the
 * APM's size; the APM refuses an image longer or shorter than its manifest
 * says, or of another digest. progress (may be NULL) is called after every
 * chunk with the bytes sent and the manifest's size. Only FW_STATUS is sent
 * again after a lost answer; a broken install is started again from
 * dh_fw_install (a new FW_BEGIN drops the old session on the APM). */
typedef void (*dh_fw_progress_fn)(void *ctx, uint64_t done, uint64_t total);

dh_status dh_fw_install(dh_driver *d, const uint8_t *manifest, size_t manifest_len, int image_fd,
                        dh_fw_progress_fn progress, void *progress_ctx, drot_link_fw_image *out);
dh_status dh_fw_verify(dh_driver *d, const uint8_t *manifest, size_t manifest_len, int image_fd,
                       drot_link_fw_image *out);
dh_status dh_fw_activate(dh_driver *d, uint32_t action, bool *reset);
dh_status dh_fw_confirm(dh_driver *d, const char *component, uint32_t *svn);
dh_status dh_fw_status(dh_driver *d, drot_link_fw_status *out);

/* ---- provisioning pass-through: revocation list (docs/revocation.md) -------------
 * SET_REVOCATION_LIST: hands the fleet's signed revocation list (1..
 * DROT_LINK_REVOCATION_MAX bytes, as the server serves it) to the APM, which
 * checks the signature, refuses a lower version or another list under the
 * same version, and stores it. Idempotent: the same list again is a no-op
 * (out->changed false), so it is retried after a lost answer. out (may be
 * NULL) receives the version the APM holds and whether its DRK is revoked.
 * An APM refusal is DH_E_REFUSED with dh_driver_last_apm_code
 * (APM_E_ROLLBACK -111 for an older list, DROT_E_VERIFY -8 / DROT_E_BADKEY
 * -9 for an unknown or revoked signer). */
dh_status dh_set_revocation_list(dh_driver *d, const uint8_t *list, size_t len,
                                 drot_link_revocation_resp *out);

/* ---- attestation handler ------------------------------------------------------- */

/* nonce = SHA-256(challenge ‖ exporter) (DESIGN.md §4): the server's 32-byte
 * challenge, the TLS 1.3 exporter value of the connection that carries the
 * token (label "EXPORTER-Channel-Binding", empty context, 32 bytes). */
dh_status dh_attest_nonce(const uint8_t challenge[32], const uint8_t exporter[32], uint8_t nonce[32]);

/* The token for (challenge, exporter) in the profile: the APM's bytes,
 * unchanged (the host never rebuilds evidence). */
dh_status dh_attest(dh_driver *d, const uint8_t challenge[32], const uint8_t exporter[32], uint32_t profile,
                    uint8_t *token, size_t cap, size_t *token_len);

/* ---- measured host boot -------------------------------------------------------- */

/* Hashes the file at path (SHA-256, streamed) and extends it into the APM as
 * a measurement of type (e.g. "HOST-BL"), version and signer id. */
dh_status dh_measure_file(dh_driver *d, const char *type, const char *version, const uint8_t signer_id[32],
                          const char *path, uint32_t *index);

/* Verified measured boot: has the APM verify the file at path against
 * manifest (dh_fw_verify: signer, revoked anchor, SVN ≥ the component's
 * fuse, size and digest) and, only if it passes, extends it as a
 * measurement of the manifest's component, version and signer id with the
 * verified digest. *out (may be NULL) receives what the APM verified. A
 * refusal extends nothing: the boot stage must not run the file. */
dh_status dh_measure_verified(dh_driver *d, const uint8_t *manifest, size_t manifest_len, const char *path,
                              drot_link_fw_image *out, uint32_t *index);

/* ---- secure storage ------------------------------------------------------------ */

/* A directory the host keeps sealed blobs in: created 0700 if absent,
 * refused if it exists with looser permissions or another owner; blobs are
 * files of mode 0600 named after their label, written atomically (temp file,
 * fsync, rename, fsync of the directory): a crash or power cut leaves the
 * old blob or the new one. */
dh_status dh_storage_put(dh_driver *d, const char *dir, const char *label, const uint8_t *data, size_t len);
/* *data is malloc'ed (free with dh_storage_free, which wipes it). */
dh_status dh_storage_get(dh_driver *d, const char *dir, const char *label, uint8_t **data, size_t *len);
void dh_storage_free(uint8_t *data, size_t len);

/* ==== server client (drot-server device routes, docs/api.md) ==================
 *
 * One dh_server is one libcurl easy handle: HTTPS, TLS 1.3 only, the server
 * verified against the device CA, optionally a client certificate and key
 * given as PEM in memory (the key never touches disk). Failures return
 * DH_E_CONNECT (server unreachable), DH_E_TIMEOUT, DH_E_PROTOCOL (TLS
 * failure, malformed answer, connection changed), DH_E_REFUSED (the server
 * answered with an error body: see dh_server_last_http / _last_code), with
 * one line of text in dh_server_last_error. */

typedef struct dh_server dh_server;

typedef struct dh_server_options {
    const char *url;      /* https://HOST:PORT (no path) */
    const char *ca_file;  /* the device CA (PEM) the server certificate must chain to */
    const char *cert_pem; /* optional client certificate (PEM), NUL-terminated */
    const char *key_pem;  /* its private key (PEM), NUL-terminated; kept by the caller */
    long timeout_s;       /* per request; default 10 when 0 */
} dh_server_options;

dh_status dh_server_open(dh_server **out, const dh_server_options *opt);
void dh_server_close(dh_server *s);
const char *dh_server_last_error(const dh_server *s);
long dh_server_last_http(const dh_server *s);     /* HTTP status of the last answer, 0 if none */
uint64_t dh_server_last_code(const dh_server *s); /* error code of the last error body, 0 if none */

/* POST /v1/device/challenge. exporter receives the RFC 9266 exporter of
 * the connection that carried the answer, computed during the transfer;
 * the next enroll/attest on this handle must go over that connection. */
dh_status dh_server_challenge(dh_server *s, const uint8_t device_id[16], uint8_t challenge[32],
                              uint8_t exporter[32]);

typedef struct dh_server_enrollment {
    char *cert_pem; /* malloc'ed, NUL-terminated; free with dh_server_enrollment_free */
    char *ca_pem;
    uint32_t verdict; /* 1 PASS, 2 WARN */
    uint64_t attest_interval;
} dh_server_enrollment;
void dh_server_enrollment_free(dh_server_enrollment *e);

#define DH_SERVER_MAX_REASONS 16
#define DH_SERVER_REASON_MAX  256
/* A job the server has for the device (attest answer key 4). */
#define DH_JOB_ROTATE_ROOT   1u
#define DH_JOB_ROTATE_ANCHOR 2u
#define DH_JOB_MODE_SERVER   1u /* the server generates KeyA and seals it to the DRK */
#define DH_JOB_MODE_DEVICE   2u /* the APM generates KeyA; the authority endorses it */
typedef struct dh_server_job {
    uint64_t id;
    uint32_t kind; /* DH_JOB_* */
    uint32_t mode; /* DH_JOB_MODE_* */
} dh_server_job;

/* A firmware job the server offers (attest answer key 5, docs/firmware.md):
 * install the image the signed manifest allows. Texts are printable ASCII. */
#define DH_FW_MANIFEST_MAX 512u
#define DH_FW_IMAGE_MAX    (16u * 1024u * 1024u)
#define DH_FW_OFFERED      2u /* job states (the server's numbers) */
#define DH_FW_INSTALLED    3u
#define DH_FW_CONFIRMED    4u
#define DH_FW_FAILED       5u
typedef struct dh_server_fw_offer {
    uint64_t job_id;
    char component[17]; /* "APM", "HOST-BL", "HOST-OS" */
    char version[33];
    uint8_t digest[32]; /* SHA-256 of the image */
    uint64_t size;      /* 1..DH_FW_IMAGE_MAX */
    uint8_t manifest[DH_FW_MANIFEST_MAX];
    size_t manifest_len;
    uint32_t state; /* DH_FW_OFFERED, or DH_FW_INSTALLED once reported so */
} dh_server_fw_offer;

typedef struct dh_server_verdict {
    uint32_t verdict; /* 1 PASS, 2 WARN, 3 FAIL */
    size_t num_reasons;
    char reasons[DH_SERVER_MAX_REASONS][DH_SERVER_REASON_MAX];
    uint64_t next_in; /* seconds until the next attestation: the policy's due time (key 6) when the
                         server sends one, else next_attest_in (key 3) */
    bool has_job;
    dh_server_job job;
    bool has_revocation_version; /* attest answer key 8 was present */
    uint64_t revocation_version; /* the server's current revocation list version (0: none) */
    bool has_fw;
    dh_server_fw_offer fw;
} dh_server_verdict;

/* POST /v1/device/enroll and /v1/device/attest, on the connection of the
 * preceding dh_server_challenge: if libcurl would have to open a new
 * connection, nothing is sent and DH_E_PROTOCOL is returned ("the server
 * connection changed between challenge and token: retry"). A FAIL verdict
 * of attest is an answer (DH_OK, verdict 3); a FAIL of enroll is
 * DH_E_REFUSED with the reasons in *reasons (may be NULL). */
dh_status dh_server_enroll(dh_server *s, const uint8_t device_id[16], const uint8_t challenge[32],
                           const uint8_t *token, size_t token_len, const char *csr_pem,
                           dh_server_enrollment *out, dh_server_verdict *reasons);
dh_status dh_server_attest(dh_server *s, const uint8_t challenge[32], const uint8_t *token, size_t token_len,
                           dh_server_verdict *out);

/* POST /v1/device/rotate/begin, on the connection of the preceding
 * dh_server_challenge, with a fresh token for it: the server verifies the
 * token (a PASS is required) and answers the message for the APM — in
 * server mode (nonce = the APM's rotation nonce, proposal NULL) the signed
 * ROTATE_ROOT instruction; in device mode (nonce NULL, proposal = the APM's
 * ROTATE_PROPOSE answer) the authority's endorsement. */
dh_status dh_server_rotate_begin(dh_server *s, uint64_t job_id, const uint8_t challenge[32],
                                 const uint8_t *token, size_t token_len, const uint8_t nonce[32],
                                 const uint8_t *proposal, size_t proposal_len, uint8_t *msg, size_t cap,
                                 size_t *msg_len);
/* POST /v1/device/rotate/receipt: the APM's receipt; *new_epoch on success. */
dh_status dh_server_rotate_receipt(dh_server *s, uint64_t job_id, const uint8_t *receipt, size_t len,
                                   uint64_t *new_epoch);

/* What the APM did with the previous step of a trust-anchor rotation. */
typedef struct dh_anchor_report {
    bool refused;  /* the APM refused it: code */
    int32_t code;  /* its ERROR code (negative) */
    uint32_t op;   /* else the op done (DROT_ANCHOR_OP_*) */
    uint32_t slot; /* and the slot */
} dh_anchor_report;

/* POST /v1/device/anchor/step, on the connection of the preceding
 * dh_server_challenge, with a fresh token, the APM's nonce and the report of
 * the previous step (NULL for the first): either *done (the rotation is
 * complete) or the next ROTATE_ANCHOR instruction in msg and its op. */
dh_status dh_server_anchor_step(dh_server *s, uint64_t job_id, const uint8_t challenge[32],
                                const uint8_t *token, size_t token_len, const uint8_t nonce[32],
                                const dh_anchor_report *prev, uint8_t *msg, size_t cap, size_t *msg_len,
                                uint32_t *op, bool *done);

/* GET /v1/device/revocations (device certificate): the server's current
 * signed revocation list, the bytes to hand to dh_set_revocation_list, into
 * out[0..cap) (DROT_LINK_REVOCATION_MAX always suffices). DH_E_REFUSED
 * with HTTP 404 when no list was published. */
dh_status dh_server_revocations(dh_server *s, uint8_t *out, size_t cap, size_t *out_len);
/* ---- firmware (docs/firmware.md "The agent's part") ----------------------------
 *
 * dh_server_fw_fetch downloads the image named by digest (GET
 * /v1/device/firmware/{sha256}; the device needs a job for it) into
 * dir/<hex>.img, resumably: the bytes go to dir/<hex>.part as they arrive
 * and stay there if the transfer breaks (a kill, a cut connection, a
 * timeout), and the next call asks for the rest only ("Range: bytes=N-").
 * At the end the file's size and SHA-256 are checked: a mismatch deletes
 * the partial file (DH_E_PROTOCOL, "… discarded: fetch again"); a match is
 * fsync'ed and renamed to <hex>.img (the directory is fsync'ed too). An
 * existing <hex>.img with the right digest is taken as it is. dir is
 * created 0700 if absent. path receives the image's file name;
 * *resumed_from (may be NULL) the bytes already there. */
typedef void (*dh_fetch_progress_fn)(void *ctx, uint64_t have, uint64_t total);
typedef struct dh_fetch_options {
    long max_rate;                 /* bytes per second, 0 = no limit */
    dh_fetch_progress_fn progress; /* may be NULL; called as bytes arrive */
    void *progress_ctx;
} dh_fetch_options;
dh_status dh_server_fw_fetch(dh_server *s, const char *dir, const uint8_t digest[32], uint64_t size,
                             const dh_fetch_options *opt, char *path, size_t cap, uint64_t *resumed_from);

/* POST /v1/device/firmware/report: state DH_FW_INSTALLED, DH_FW_CONFIRMED or
 * DH_FW_FAILED (reason: 1..200 printable bytes, or NULL). *job_state
 * (may be NULL): the job's state after it (1 pending again, for another
 * attempt; 2..6 as above). A refused report (409: the job's state does not
 * allow it, or confirmed without a PASS on the new image) is DH_E_REFUSED. */
dh_status dh_server_fw_report(dh_server *s, uint64_t job_id, uint32_t state, const char *reason,
                              uint32_t *job_state);

/* The device's TLS key: a new P-256 key (PEM, malloc'ed; free with
 * dh_tls_free, which wipes it) and a CSR (PEM) for it naming device_id. */
dh_status dh_tls_key_new(const uint8_t device_id[16], char **key_pem, size_t *key_len, char **csr_pem);
/* A CSR for an existing key (PEM). */
dh_status dh_tls_csr(const char *key_pem, const uint8_t device_id[16], char **csr_pem);
/* The subject of a PEM certificate as one line ("CN=…"); 0 on success. */
dh_status dh_tls_cert_subject(const char *cert_pem, char *out, size_t cap);
void dh_tls_free(char *p, size_t len);

#endif /* DROT_HOST_H */
