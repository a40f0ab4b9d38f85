/*
 * routes.c — see routes.h. docs/api.md is the client's description.
 */
#include "routes.h"

#include <stdio.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/rand.h>

#include "audit_server.h"
#include "drot/cbor.h"
#include "policy_engine.h"
#include "revocation.h"
#include "routes_firmware.h"
#include "routes_internal.h"
#include "routes_revocation.h"
#include "routes_rotate.h"
#include "routes_verify.h"

/* ---- request bodies ------------------------------------------------------- */

/* Parses the whole body as a map holding the fields f[0..nf) (each at most
 * once, the required ones all); returns NULL or a reason. Strict: definite
 * lengths, no duplicate or unknown key, no trailing bytes (drot/cbor.h). */
static const char *parse_body(const uint8_t *b, size_t len, ds_rt_field *f, size_t nf, char *why, size_t cap)
{
    drot_cbor_reader r;
    size_t n = 0;
    drot_cbor_reader_init(&r, b, len);
    if (drot_cbor_get_map(&r, &n) != DROT_OK)
        return "body is not a CBOR map";
    if (n > nf) {
        snprintf(why, cap, "body map has %zu entries, at most %zu expected", n, nf);
        return why;
    }
    bool seen[DS_RT_MAX_FIELDS] = {false};
    for (size_t i = 0; i < n; i++) {
        uint64_t key;
        if (drot_cbor_get_uint(&r, &key) != DROT_OK)
            return "body map key is not an unsigned integer";
        size_t j = 0;
        while (j < nf && f[j].key != key)
            j++;
        if (j == nf) {
            snprintf(why, cap, "unknown key %llu in body", (unsigned long long)key);
            return why;
        }
        ds_rt_field *fd = &f[j];
        if (seen[j]) {
            snprintf(why, cap, "duplicate key %llu (%s) in body", (unsigned long long)key, fd->name);
            return why;
        }
        seen[j] = true;
        fd->present = true;
        drot_status st;
        if (fd->kind == DS_RT_UINT)
            st = drot_cbor_get_uint(&r, &fd->u);
        else if (fd->kind == DS_RT_TSTR)
            st = drot_cbor_get_tstr(&r, (const char **)&fd->p, &fd->n);
        else
            st = drot_cbor_get_bstr(&r, &fd->p, &fd->n);
        if (st != DROT_OK || (fd->kind != DS_RT_UINT && fd->p == NULL)) {
            fd->p = NULL;
            snprintf(why, cap, "%s (key %llu) must be %s", fd->name, (unsigned long long)key,
                     fd->kind == DS_RT_UINT   ? "an unsigned integer"
                     : fd->kind == DS_RT_TSTR ? "a text string"
                                              : "a byte string");
            return why;
        }
        if (fd->kind != DS_RT_UINT && ((fd->exact != 0 && fd->n != fd->exact) || fd->n == 0)) {
            if (fd->exact != 0)
                snprintf(why, cap, "%s must be %zu bytes, not %zu", fd->name, fd->exact, fd->n);
            else
                snprintf(why, cap, "%s must not be empty", fd->name);
            return why;
        }
    }
    if (drot_cbor_reader_done(&r) != DROT_OK)
        return "trailing bytes after the body map";
    for (size_t j = 0; j < nf; j++) {
        if (f[j].required && !seen[j]) {
            snprintf(why, cap, "%s (key %llu) is missing", f[j].name, (unsigned long long)f[j].key);
            return why;
        }
    }
    return NULL;
}

/* see routes_internal.h */
bool ds_rt_body(ds_http_req *req, ds_rt_field *f, size_t nf)
{
    char why[160];
    const char *err = nf > DS_RT_MAX_FIELDS ? "internal: too many fields"
                                            : parse_body(req->body, req->body_len, f, nf, why, sizeof why);
    if (err == NULL)
        return true;
    ds_http_reply_error(req, 400, DS_ERR_BAD_REQUEST, "malformed body: %s", err);
    return false;
}

/* ---- shared steps -------------------------------------------------------------- */

const ds_reference *ds_rt_find_ref(const ds_app *app, const char *cls)
{
    for (size_t i = 0; i < app->n_refs; i++)
        if (strcmp(app->refs[i].class_name, cls) == 0)
            return &app->refs[i];
    return NULL;
}

static void hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
}

/* Loads the device and refuses unknown, revoked or decommissioned ones. */
bool ds_rt_device(ds_http_req *req, ds_app *app, const uint8_t id[16], ds_device *dev)
{
    char idhex[33];
    hex(id, 16, idhex);
    ds_status st = ds_device_get(app->store, id, dev);
    if (st == DS_E_NOT_FOUND) {
        ds_http_reply_error(req, 404, DS_ERR_UNKNOWN_DEVICE, "device %s is not registered", idhex);
        return false;
    }
    if (st != DS_OK) {
        ds_http_reply_error(req, 500, DS_ERR_INTERNAL, "database: %s", ds_status_str(st));
        return false;
    }
    if (dev->status == DS_DEV_REVOKED || dev->status == DS_DEV_DECOMMISSIONED) {
        ds_http_reply_error(req, 403, DS_ERR_DEVICE_STATE, "device %s is %s", idhex,
                            ds_device_status_name(dev->status));
        return false;
    }
    /* A revoked root key is refused whatever the status says (docs/revocation.md). */
    bool revoked = true;
    if ((st = ds_rev_drk_revoked(app->store, dev->drk_pub, &revoked)) != DS_OK) {
        ds_http_reply_error(req, 500, DS_ERR_INTERNAL, "database: %s", ds_status_str(st));
        return false;
    }
    if (revoked) {
        ds_http_reply_error(req, 403, DS_ERR_REVOKED, "device %s: its root key (epoch %llu) is revoked",
                            idhex, (unsigned long long)dev->epoch);
        return false;
    }
    return true;
}

/* Consumes the challenge (R1); refuses it unless it was bound to id. */
bool ds_rt_consume(ds_http_req *req, ds_app *app, const uint8_t ch[32], const uint8_t id[16])
{
    uint8_t bound_id[16];
    bool bound = false;
    ds_status st = ds_challenge_consume(app->store, ch, ds_store_now(), bound_id, &bound);
    if (st == DS_E_EXPIRED) {
        ds_http_reply_error(req, 403, DS_ERR_CHALLENGE_EXP, "challenge expired: request a new one");
        return false;
    }
    if (st == DS_E_NOT_FOUND) {
        ds_http_reply_error(req, 403, DS_ERR_CHALLENGE, "challenge unknown or already used");
        return false;
    }
    if (st != DS_OK) {
        ds_http_reply_error(req, 500, DS_ERR_INTERNAL, "database: %s", ds_status_str(st));
        return false;
    }
    if (!bound || memcmp(bound_id, id, 16) != 0) {
        ds_http_reply_error(req, 403, DS_ERR_CHALLENGE, "challenge was issued to another device");
        return false;
    }
    return true;
}

/* The class's on_fail says quarantine, and the FAIL is the device's own
 * doing (R5): it came on the device's mTLS connection (attest), or the token
 * is fresh evidence signed by the device (verify.h V4). The enrollment route
 * takes any device id without a certificate, so a FAIL there from a token
 * that is not the device's own proves nothing about the device, and must not
 * let a stranger quarantine it. */
static bool wants_quarantine(const ds_check *chk, ds_ref_on_fail on_fail, bool device_authenticated)
{
    return chk->verdict == DS_HTTP_VERDICT_FAIL && on_fail == DS_REF_ON_FAIL_QUARANTINE &&
           (device_authenticated || chk->fresh);
}

/* "automatic quarantine (class C, on_fail): <first FAIL reason>" */
static void quarantine_reason(const ds_check *chk, const char *cls, char *out, size_t cap)
{
    const char *why = "attestation FAIL";
    for (size_t i = 0; i < chk->num_reasons; i++) {
        if (chk->is_fail[i]) {
            why = chk->reasons[i];
            break;
        }
    }
    snprintf(out, cap, "automatic quarantine (class %s, on_fail): %s", cls, why);
}

/* What the attestation's transaction does after its row is written: the
 * policy engine's hook (policy_engine.h), then the audit entries, last, so
 * the audit lock is held as briefly as possible (audit.h). */
typedef struct attest_tx {
    ds_status (*policy_hook)(struct ds_store *store, const struct ds_attest_outcome *out, void *ctx);
    void *policy_ctx;
    const ds_http_req *req;
    const ds_attestation *att;
    const char *quarantine_reason;
    int64_t audit_seq; /* out: the last audit entry appended */
} attest_tx;

static ds_status attest_in_tx(ds_store *s, const ds_attest_outcome *out, void *ctx)
{
    attest_tx *t = ctx;
    ds_status st = t->policy_hook != NULL ? t->policy_hook(s, out, t->policy_ctx) : DS_OK;
    if (st == DS_OK)
        st = ds_audit_attestation(t->req, s, t->att->device_id, t->att, t->quarantine_reason, out,
                                  &t->audit_seq);
    return st;
}

/* Verifies the token (R2) and records the attestation (R3), with the
 * device-row changes that go with it: the tamper count of a fresh
 * drot-profile token, and the class's automatic quarantine on FAIL (R5).
 * False when a reply was sent (internal error). */
bool ds_rt_verify_and_record(ds_http_req *req, ds_app *app, const ds_device *dev, const uint8_t ch[32],
                             const uint8_t *token, size_t token_len, bool device_authenticated, ds_check *chk)
{
    ds_check_device cd;
    memset(&cd, 0, sizeof cd);
    memcpy(cd.device_id, dev->device_id, sizeof cd.device_id);
    memcpy(cd.drk_pub, dev->drk_pub, sizeof cd.drk_pub);
    cd.epoch = dev->epoch;
    cd.quarantined = dev->status == DS_DEV_QUARANTINED;
    cd.has_tamper_count = dev->has_tamper_count;
    cd.tamper_count = dev->tamper_count;
    ds_ref_on_fail on_fail = DS_REF_ON_FAIL_NONE;
    ds_pol_attest pa; /* the class's live policy replaces --reference (policy_engine.h) */
    const ds_reference *pref = ds_pol_attest_begin(&pa, app->policy, app->store, dev, NULL);
    /* The reference values may be replaced by an admin PUT on another
     * worker (which holds the shared lock exclusively); verification only
     * reads them, and ds_check_token keeps its result on this worker's
     * stack, so verifications on different workers run in parallel under
     * the lock held shared. What is needed of the reference afterwards
     * (on_fail) is copied before the lock is released. */
    ds_http_shared_lock(req->http, false);
    const ds_reference *ref = pa.policy != NULL  ? pref
                              : pa.load == DS_OK ? ds_rt_find_ref(app, dev->class_name)
                                                 : NULL;
    if (ref == NULL) {
        memset(chk, 0, sizeof *chk);
        chk->verdict = DS_HTTP_VERDICT_FAIL;
        chk->num_reasons = 1;
        chk->is_fail[0] = true;
        if (pa.load != DS_OK)
            snprintf(chk->reasons[0], DS_CHECK_REASON_MAX, "%s", pa.load_error);
        else
            snprintf(chk->reasons[0], DS_CHECK_REASON_MAX, "reference: no reference values for class %s",
                     dev->class_name);
    } else {
        ds_check_token(token, token_len, ch, req->exporter, &cd, ref, chk);
        on_fail = ref->on_fail;
    }
    ds_http_shared_unlock(req->http);
    char reasons[DS_REASON_MAX + 1] = "";
    size_t off = 0;
    for (size_t i = 0; i < chk->num_reasons && off < DS_REASON_MAX; i++) {
        int w = snprintf(reasons + off, sizeof reasons - off, "%s%s", i ? "; " : "", chk->reasons[i]);
        if (w < 0)
            break;
        off += (size_t)w;
    }
    reasons[DS_REASON_MAX] = '\0';
    ds_attestation att;
    memset(&att, 0, sizeof att);
    memcpy(att.device_id, dev->device_id, 16);
    att.at = ds_store_now();
    att.result = chk->verdict == 1 ? DS_RESULT_PASS : chk->verdict == 2 ? DS_RESULT_WARN : DS_RESULT_FAIL;
    att.reasons = reasons;
    if (chk->has_digest)
        memcpy(att.evidence_digest, chk->digest, 32);
    att.token = token;
    att.token_len = token_len <= DS_TOKEN_MAX ? token_len : 0;
    char why[DS_REASON_MAX + 1];
    ds_attest_update upd;
    memset(&upd, 0, sizeof upd);
    upd.set_tamper_count = chk->has_tamper_count;
    upd.tamper_count = chk->tamper_count;
    upd.quarantine = wants_quarantine(chk, on_fail, device_authenticated);
    if (upd.quarantine) {
        quarantine_reason(chk, dev->class_name, why, sizeof why);
        upd.reason = why;
    }
    ds_pol_attest_decide(&pa, chk, device_authenticated || chk->fresh, &upd);
    /* The audit entries join the attestation's transaction (after the
     * policy hook): row, device row, policy effects and entries commit
     * together or not at all (docs/audit.md). */
    attest_tx tx = {upd.in_tx, upd.in_tx_ctx, req, &att, upd.reason, 0};
    upd.in_tx = attest_in_tx;
    upd.in_tx_ctx = &tx;
    req->verdict = chk->verdict;
    ds_http_count_verdict(req->http, chk->verdict);
    ds_attest_outcome out;
    ds_status st = ds_attestation_record_update(app->store, &att, &upd, &out);
    if (st != DS_OK) {
        ds_pol_attest_end(&pa, NULL);
        ds_http_reply_error(req, 500, DS_ERR_INTERNAL, "cannot record the attestation: %s",
                            ds_status_str(st));
        return false;
    }
    ds_audit_committed(app->store, tx.audit_seq);
    if (out.action == DS_ACTION_QUARANTINED) {
        ds_http_count_auto_quarantine(req->http);
        snprintf(chk->reasons[chk->num_reasons++], DS_CHECK_REASON_MAX,
                 "action: device quarantined automatically (class %s, on_fail quarantine)", dev->class_name);
    }
    ds_pol_attest_end(&pa, chk);
    return true;
}

/* see routes_internal.h */
void ds_rt_reply_attestation_refused(ds_http_req *req, const ds_check *chk, const char *message)
{
    const char *list[DS_CHECK_MAX_REASONS + 1];
    for (size_t i = 0; i < chk->num_reasons; i++)
        list[i] = chk->reasons[i];
    ds_http_reply_error_reasons(req, 403, DS_ERR_ATTESTATION, message, list, chk->num_reasons);
}

/* see routes_internal.h */
void ds_rt_reply_map(ds_http_req *req, drot_cbor_writer *w)
{
    size_t len = 0;
    if (drot_cbor_writer_finish(w, &len) != DROT_OK) {
        ds_http_reply_error(req, 500, DS_ERR_INTERNAL, "response too large");
        return;
    }
    ds_http_reply_cbor(req, 200, w->buf, len);
}

/* ---- POST /v1/device/challenge --------------------------------------------------- */

static void route_challenge(ds_http_req *req, void *ctx)
{
    ds_app *app = ctx;
    ds_rt_field f[] = {{1, DS_RT_BSTR, 16, true, "device_id"}};
    if (!ds_rt_body(req, f, 1))
        return;
    req->log_device = true;
    memcpy(req->log_device_id, f[0].p, 16);
    ds_device dev;
    if (!ds_rt_device(req, app, f[0].p, &dev))
        return;
    uint8_t ch[32];
    int64_t expires = ds_store_now() + app->challenge_ttl;
    if (RAND_priv_bytes(ch, sizeof ch) != 1) {
        ds_http_reply_error(req, 500, DS_ERR_INTERNAL, "random generator failed");
        return;
    }
    ds_status st = ds_challenge_issue(app->store, ch, f[0].p, expires);
    if (st != DS_OK) {
        ds_http_reply_error(req, 500, DS_ERR_INTERNAL, "cannot store the challenge: %s", ds_status_str(st));
        return;
    }
    uint8_t buf[128];
    drot_cbor_writer w;
    drot_cbor_writer_init(&w, buf, sizeof buf);
    drot_cbor_put_map(&w, 2);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_bstr(&w, ch, sizeof ch);
    drot_cbor_put_uint(&w, 2);
    drot_cbor_put_uint(&w, (uint64_t)expires);
    ds_rt_reply_map(req, &w);
}

/* ---- POST /v1/device/enroll --------------------------------------------------------- */

static char *cert_pem(X509 *cert, size_t *len)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *out = NULL, *p = NULL;
    if (bio != NULL && PEM_write_bio_X509(bio, cert) == 1) {
        long n = BIO_get_mem_data(bio, &p);
        out = n > 0 ? OPENSSL_malloc((size_t)n + 1) : NULL;
        if (out != NULL) {
            memcpy(out, p, (size_t)n);
            out[n] = '\0';
            *len = (size_t)n;
        }
    }
    BIO_free(bio);
    return out;
}

/* registered → enrolled → active; other states are left as they are. */
static ds_status activate(ds_app *app, const ds_device *dev)
{
    ds_status st = DS_OK;
    if (dev->status == DS_DEV_REGISTERED)
        st = ds_device_set_status(app->store, dev->device_id, DS_DEV_ENROLLED, "enrolled");
    if (st == DS_OK && (dev->status == DS_DEV_REGISTERED || dev->status == DS_DEV_ENROLLED))
        st = ds_device_set_status(app->store, dev->device_id, DS_DEV_ACTIVE, "first attestation passed");
    return st;
}

static void route_enroll(ds_http_req *req, void *ctx)
{
    ds_app *app = ctx;
    ds_rt_field f[] = {{1, DS_RT_BSTR, 16, true, "device_id"},
                       {2, DS_RT_BSTR, 32, true, "challenge"},
                       {3, DS_RT_BSTR, 0, true, "token"},
                       {4, DS_RT_TSTR, 0, true, "csr"}};
    if (!ds_rt_body(req, f, 4))
        return;
    req->log_device = true;
    memcpy(req->log_device_id, f[0].p, 16);
    ds_device dev;
    if (!ds_rt_device(req, app, f[0].p, &dev) || !ds_rt_consume(req, app, f[1].p, f[0].p))
        return;
    ds_check chk;
    if (!ds_rt_verify_and_record(req, app, &dev, f[1].p, f[2].p, f[2].n, false, &chk))
        return;
    if (chk.verdict == DS_HTTP_VERDICT_FAIL) {
        ds_rt_reply_attestation_refused(req, &chk, "attestation failed: no certificate issued");
        return;
    }
    X509 *cert = NULL;
    ds_cert_info ci;
    memset(&ci, 0, sizeof ci);
    /* The CA's key store (use counters) is not thread-safe: exclusive. */
    ds_http_shared_lock(req->http, true);
    ds_keys_status ks =
        ds_ca_issue_device(app->device_ca, (const char *)f[3].p, f[3].n, dev.device_id, 0, &cert, &ci);
    ds_http_shared_unlock(req->http);
    if (ks != DS_KEYS_OK) {
        bool csr = ks == DS_KEYS_E_CSR || ks == DS_KEYS_E_CSR_KEY || ks == DS_KEYS_E_CSR_SIG;
        ds_http_reply_error(req, csr ? 400 : 500, csr ? DS_ERR_CSR : DS_ERR_INTERNAL,
                            "certificate refused: %s", ds_keys_status_str(ks));
        return;
    }
    size_t pem_len = 0;
    char *pem = cert_pem(cert, &pem_len);
    X509_free(cert);
    /* Recorded before it is handed out, so that revoking it finds the device. */
    ds_status st = ds_rev_cert_record(app->store, ci.serial, sizeof ci.serial, dev.device_id, ci.not_before,
                                      ci.not_after);
    if (st == DS_OK)
        st = activate(app, &dev);
    if (st == DS_OK)
        ds_audit_enroll(app->store, dev.device_id, chk.verdict, &ci, dev.status);
    if (pem == NULL || st != DS_OK) {
        OPENSSL_free(pem);
        ds_http_reply_error(req, 500, DS_ERR_INTERNAL, "cannot finish enrollment: %s",
                            pem == NULL ? "PEM encoding" : ds_status_str(st));
        return;
    }
    uint8_t buf[8192];
    drot_cbor_writer w;
    drot_cbor_writer_init(&w, buf, sizeof buf);
    drot_cbor_put_map(&w, 4);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_tstr(&w, pem, pem_len);
    drot_cbor_put_uint(&w, 2);
    drot_cbor_put_tstr_z(&w, app->ca_pem);
    drot_cbor_put_uint(&w, 3);
    drot_cbor_put_uint(&w, (uint64_t)chk.verdict);
    drot_cbor_put_uint(&w, 4);
    drot_cbor_put_uint(&w, app->policy != NULL ? ds_pol_next_due(app->policy, app->store, dev.class_name)
                                               : app->attest_interval);
    OPENSSL_free(pem);
    ds_rt_reply_map(req, &w);
}

/* ---- POST /v1/device/attest ----------------------------------------------------------- */

static void route_attest(ds_http_req *req, void *ctx)
{
    ds_app *app = ctx;
    ds_rt_field f[] = {{1, DS_RT_BSTR, 32, true, "challenge"}, {2, DS_RT_BSTR, 0, true, "token"}};
    if (!ds_rt_body(req, f, 2))
        return;
    ds_device dev;
    if (!ds_rt_device(req, app, req->device_id, &dev) || !ds_rt_consume(req, app, f[0].p, req->device_id))
        return;
    ds_rotate_reconcile(app, req, &dev, f[0].p, f[1].p, f[1].n); /* may switch dev to KeyA */
    ds_check chk;
    if (!ds_rt_verify_and_record(req, app, &dev, f[0].p, f[1].p, f[1].n, true, &chk))
        return;
    ds_job job;
    bool has_job = chk.verdict == DS_HTTP_VERDICT_PASS && ds_rotate_open_job(app, &dev, &job);
    uint64_t rev_version = 0;
    if (ds_rev_version(app->store, &rev_version) != DS_OK)
        rev_version = 0; /* the agent asks again at its next attestation */
    ds_fw_offer fw;      /* RF2: firmware only after a PASS (routes_firmware.h) */
    bool has_fw = chk.verdict == DS_HTTP_VERDICT_PASS && ds_fw_attest_offer(app, &dev, f[1].p, f[1].n, &fw);
    uint8_t buf[8192];
    drot_cbor_writer w;
    drot_cbor_writer_init(&w, buf, sizeof buf);
    bool has_due = app->policy != NULL; /* key 6: seconds until the next attestation is due */
    uint64_t due = has_due ? ds_pol_next_due(app->policy, app->store, dev.class_name) : 0;
    drot_cbor_put_map(&w, 4 + (has_job ? 1 : 0) + (has_fw ? 1 : 0) + (has_due ? 1 : 0));
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_uint(&w, (uint64_t)chk.verdict);
    drot_cbor_put_uint(&w, 2);
    drot_cbor_put_array(&w, chk.num_reasons);
    for (size_t i = 0; i < chk.num_reasons; i++)
        drot_cbor_put_tstr_z(&w, chk.reasons[i]);
    drot_cbor_put_uint(&w, 3);
    drot_cbor_put_uint(&w, app->attest_interval);
    if (has_job) { /* R6: a PENDING rotation for the agent to carry out now */
        drot_cbor_put_uint(&w, 4);
        drot_cbor_put_map(&w, 3);
        drot_cbor_put_uint(&w, 1);
        drot_cbor_put_uint(&w, (uint64_t)job.id);
        drot_cbor_put_uint(&w, 2);
        drot_cbor_put_uint(&w, (uint64_t)job.kind);
        drot_cbor_put_uint(&w, 3);
        drot_cbor_put_uint(&w, (uint64_t)job.mode);
    }
    if (has_fw)
        ds_fw_put_offer(&w, &fw); /* key 5 */
    if (has_due) {
        drot_cbor_put_uint(&w, 6);
        drot_cbor_put_uint(&w, due);
    }
    drot_cbor_put_uint(&w, 8); /* the current revocation list version (docs/revocation.md) */
    drot_cbor_put_uint(&w, rev_version);
    ds_rt_reply_map(req, &w);
}

const ds_route ds_device_routes[] = {
    {"/v1/device/challenge", true, DS_AUTH_NONE, false, route_challenge},
    {"/v1/device/enroll", true, DS_AUTH_NONE, false, route_enroll},
    {"/v1/device/attest", true, DS_AUTH_DEVICE, false, route_attest},
    {"/v1/device/rotate/begin", true, DS_AUTH_DEVICE, false, ds_rotate_route_begin},
    {"/v1/device/rotate/receipt", true, DS_AUTH_DEVICE, false, ds_rotate_route_receipt},
    {"/v1/device/anchor/step", true, DS_AUTH_DEVICE, false, ds_rotate_route_anchor_step},
    {"/v1/device/revocations", false, DS_AUTH_DEVICE, false, ds_rev_route_list},
    {"/v1/device/firmware/report", true, DS_AUTH_DEVICE, false, ds_fw_route_report},
    {"/v1/device/firmware/", false, DS_AUTH_DEVICE, false, ds_fw_route_image},
};
const size_t ds_device_routes_count = sizeof ds_device_routes / sizeof ds_device_routes[0];
