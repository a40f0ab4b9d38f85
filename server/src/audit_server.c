/*
 * audit_server.c — see audit_server.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "audit_server.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drot_crypto.h"

#define BATCH_LISTED 100

typedef struct key_signer {
    ds_audit_signer signer;
    ds_keystore *ks; /* the signer's own (key custody is single-threaded) */
    char name[DS_KEY_NAME_MAX];
    pthread_mutex_t mu;
    bool open;
} key_signer;

static key_signer g_ks = {.mu = PTHREAD_MUTEX_INITIALIZER};

static ds_status sign_with_key(void *ctx, const uint8_t digest[DS_AUDIT_HASH_LEN],
                               uint8_t sig[DS_AUDIT_SIG_LEN])
{
    key_signer *k = ctx;
    pthread_mutex_lock(&k->mu);
    ds_keys_status st = ds_keys_sign_digest(k->ks, k->name, digest, sig);
    if (st != DS_KEYS_OK)
        fprintf(stderr, "drot-server: audit: key %s did not sign: %s (%s)\n", k->name, ds_keys_status_str(st),
                ds_keystore_error(k->ks));
    pthread_mutex_unlock(&k->mu);
    return st == DS_KEYS_OK ? DS_OK : DS_E_DB;
}

static void log_line(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "drot-server: audit: %s\n", msg);
}

/* see audit_server.h */
int ds_audit_server_open(ds_keystore *ks, const char *dir, const char *pass, char *err, size_t errlen)
{
    ds_key_info keys[64], best;
    size_t n = 0;
    bool found = false;
    ds_keys_status st = ds_keys_list(ks, keys, sizeof keys / sizeof keys[0], &n);
    if (st != DS_KEYS_OK) {
        snprintf(err, errlen, "cannot list the keys: %s", ds_keys_status_str(st));
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (keys[i].role == DS_ROLE_AUDIT && (!found || keys[i].n > best.n))
            best = keys[i], found = true;
    if (!found) {
        /* A key directory made before the audit role existed. */
        st = ds_keys_generate(ks, DS_ROLE_AUDIT, &best);
        if (st != DS_KEYS_OK) {
            snprintf(err, errlen, "no audit key in %s, and none could be made: %s (%s)", dir,
                     ds_keys_status_str(st), ds_keystore_error(ks));
            return -1;
        }
        fprintf(stderr, "drot-server: made the audit key %s (fingerprint %s) in %s\n", best.name,
                best.fingerprint, dir);
    }
    st = ds_keystore_open_file(dir, pass, &g_ks.ks, err, errlen);
    if (st != DS_KEYS_OK)
        return -1;
    memset(&g_ks.signer, 0, sizeof g_ks.signer);
    snprintf(g_ks.signer.key_fpr, sizeof g_ks.signer.key_fpr, "%s", best.fingerprint);
    snprintf(g_ks.name, sizeof g_ks.name, "%s", best.name);
    g_ks.signer.sign = sign_with_key;
    g_ks.signer.log = log_line;
    g_ks.signer.ctx = &g_ks;
    g_ks.open = true;
    fprintf(stderr, "drot-server: audit checkpoints are signed by key %s (fingerprint %s)\n", best.name,
            best.fingerprint);
    return 0;
}

/* see audit_server.h */
const ds_audit_signer *ds_audit_server_signer(void)
{
    return g_ks.open ? &g_ks.signer : NULL;
}

/* see audit_server.h */
void ds_audit_server_close(void)
{
    ds_audit_auto_checkpoint(NULL, 0);
    ds_keystore_close(g_ks.ks);
    g_ks.ks = NULL;
    g_ks.open = false;
}

/* ---- recording ---------------------------------------------------------------------- */

/* see audit_server.h */
void ds_audit_hex_id(const uint8_t id[16], char out[33])
{
    for (size_t i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", id[i]);
}

static void hex_n(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
}

/* see audit_server.h */
void ds_audit_actor_operator(const ds_http_req *req, char out[DS_AUDIT_ACTOR_MAX + 1])
{
    const char *cn = req != NULL && req->operator_cn[0] != '\0' ? req->operator_cn : "unknown";
    snprintf(out, DS_AUDIT_ACTOR_MAX + 1, "operator:%s", cn);
}

/* see audit_server.h */
void ds_audit_actor_device(const uint8_t id[16], char out[DS_AUDIT_ACTOR_MAX + 1])
{
    char hex[33];
    ds_audit_hex_id(id, hex);
    snprintf(out, DS_AUDIT_ACTOR_MAX + 1, "device:%s", hex);
}

/* see audit_server.h */
json_t *ds_audit_device_batch(const uint8_t *first_id, size_t stride, size_t n)
{
    json_t *arr = json_array();
    drot_sha256_ctx c;
    uint8_t digest[32];
    char hex[65];
    if (arr == NULL || drot_sha256_init(&c) != DROT_OK) {
        json_decref(arr);
        return NULL;
    }
    bool ok = true;
    for (size_t i = 0; ok && i < n; i++) {
        const uint8_t *id = first_id + i * stride;
        ok = drot_sha256_update(&c, id, 16) == DROT_OK;
        if (ok && i < BATCH_LISTED) {
            char h[33];
            ds_audit_hex_id(id, h);
            ok = json_array_append_new(arr, json_string(h)) == 0;
        }
    }
    ok = ok && drot_sha256_final(&c, digest) == DROT_OK;
    drot_sha256_release(&c);
    if (!ok) {
        json_decref(arr);
        return NULL;
    }
    hex_n(digest, 32, hex);
    return json_pack("{s:I, s:o, s:s}", "count", (json_int_t)n, "devices", arr, "devices_sha256", hex);
}

/* Serializes detail (consumed; as ds_audit_record) and appends the entry;
 * *seq_out (may be NULL) receives its seq. */
static ds_status record_entry(ds_store *s, const char *actor, const char *action, const char *subject,
                              json_t *detail, int64_t *seq_out)
{
    char *text = detail != NULL ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(detail);
    if (text != NULL && strlen(text) > DS_AUDIT_DETAIL_MAX) {
        uint8_t d[32];
        char hex[65], small[160];
        if (drot_sha256(text, strlen(text), d) == DROT_OK) {
            hex_n(d, 32, hex);
            snprintf(small, sizeof small, "{\"sha256\":\"%s\",\"truncated\":true}", hex);
        } else {
            snprintf(small, sizeof small, "{\"truncated\":true}");
        }
        free(text);
        text = strdup(small);
    }
    ds_status st = ds_audit_append_ex(s, actor, action, subject, text != NULL ? text : "{}", seq_out, NULL);
    free(text);
    return st;
}

/* see audit_server.h */
void ds_audit_record(ds_store *s, const char *actor, const char *action, const char *subject, json_t *detail)
{
    if (record_entry(s, actor, action, subject, detail, NULL) != DS_OK)
        fprintf(stderr, "drot-server: audit: cannot record %s on '%s' by %s: %s\n", action,
                subject != NULL ? subject : "", actor != NULL ? actor : "?", ds_store_error(s));
}

/* ---- the device routes' entries ---------------------------------------------------- */

/* see audit_server.h */
ds_status ds_audit_attestation(const ds_http_req *req, ds_store *s, const uint8_t id[16],
                               const ds_attestation *att, const char *quarantine_reason,
                               const ds_attest_outcome *out, int64_t *seq_out)
{
    char actor[DS_AUDIT_ACTOR_MAX + 1], subject[33];
    const char *action = ds_att_action_name(out->action);
    ds_audit_actor_device(id, actor);
    ds_audit_hex_id(id, subject);
    ds_status st = record_entry(s, actor, "device.attest", subject,
                                json_pack("{s:I, s:s, s:s, s:s, s:s}", "attestation_id", (json_int_t)out->id,
                                          "result", ds_result_name(att->result), "reasons",
                                          att->reasons != NULL ? att->reasons : "", "action",
                                          action != NULL ? action : "", "route",
                                          req != NULL && req->route != NULL ? req->route->path : ""),
                                seq_out);
    if (st == DS_OK && out->action == DS_ACTION_QUARANTINED)
        st = record_entry(s, "server", "device.quarantine", subject,
                          json_pack("{s:s, s:s, s:s, s:I}", "from", ds_device_status_name(out->prev_status),
                                    "to", ds_device_status_name(out->status), "reason",
                                    quarantine_reason != NULL ? quarantine_reason : "", "attestation_id",
                                    (json_int_t)out->id),
                          seq_out);
    return st;
}

/* see audit_server.h */
void ds_audit_enroll(ds_store *s, const uint8_t id[16], int verdict, const ds_cert_info *ci,
                     ds_device_status from)
{
    char actor[DS_AUDIT_ACTOR_MAX + 1], subject[33];
    ds_device now;
    ds_audit_actor_device(id, actor);
    ds_audit_hex_id(id, subject);
    const char *to = ds_device_get(s, id, &now) == DS_OK ? ds_device_status_name(now.status) : "?";
    ds_audit_record(s, actor, "device.enroll", subject,
                    json_pack("{s:s, s:s, s:I, s:s, s:s}", "verdict",
                              verdict == DS_HTTP_VERDICT_PASS ? "PASS" : "WARN", "certificate_serial",
                              ci->serial_hex, "certificate_not_after", (json_int_t)ci->not_after,
                              "status_from", ds_device_status_name(from), "status_to", to));
}

/* see audit_server.h */
void ds_audit_job(ds_store *s, const char *actor, const char *what, int64_t job_id, json_t *extra)
{
    ds_job j;
    json_t *d = extra != NULL ? extra : json_object();
    char action[DS_AUDIT_ACTION_MAX + 1], subject[32], dev[33] = "";
    bool got = ds_job_get(s, job_id, &j) == DS_OK;
    snprintf(action, sizeof action, "%s.%s",
             got && j.kind == DS_JOB_ROTATE_ANCHOR ? "anchor_rotation" : "rotation", what);
    snprintf(subject, sizeof subject, "job:%lld", (long long)job_id);
    if (got) {
        ds_audit_hex_id(j.device_id, dev);
        json_object_set_new(d, "device_id", json_string(dev));
        json_object_set_new(d, "state", json_string(ds_job_state_name(j.state)));
        json_object_set_new(d, "attempts", json_integer((json_int_t)j.attempts));
        if (j.kind == DS_JOB_ROTATE_ANCHOR)
            json_object_set_new(d, "step", json_integer((json_int_t)j.step));
    }
    ds_audit_record(s, actor, action, subject, d);
}
