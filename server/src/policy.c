/*
 * policy.c — the policy document parser (see policy.h, docs/policy.md).
 *
 * Like reference.c, the parser walks the jansson tree with the JSON pointer
 * of the current field, so every error names it; unlike ds_reference_parse
 * it never stops at the first error. Each section is judged on its own, and
 * a check that relates two fields (an action naming a webhook, "update"
 * needing a firmware section) only runs when both fields were valid, so one
 * mistake is reported once, where it is.
 *
 * Order of the checks: the text first (size, JSON, repeated keys: those
 * errors come first), then the root's fields in the order of policy.h.
 * /webhooks is read before /actions so that actions can name webhooks.
 */
#define _POSIX_C_SOURCE 200809L
#include "policy.h"
#include "policy_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

typedef struct pctx {
    ds_ref_error_fn fn;
    void *ctx;
    size_t n;
} pctx;

static void perr(pctx *c, const char *ptr, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void perr(pctx *c, const char *ptr, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->n++;
    if (c->fn != NULL)
        c->fn(ptr[0] != '\0' ? ptr : "/", msg, c->ctx);
}

/* Errors from reference.c and the duplicate scanner join ours. */
static void forward(const char *ptr, const char *msg, void *ctx)
{
    pctx *c = ctx;
    c->n++;
    if (c->fn != NULL)
        c->fn(ptr, msg, c->ctx);
}

/* see policy_internal.h */
void ds_pol_ptr_key(char out[DS_POL_PTR_MAX], const char *base, const char *key)
{
    size_t o = strnlen(base, DS_POL_PTR_MAX - 1);
    memcpy(out, base, o);
    if (o + 1 < DS_POL_PTR_MAX)
        out[o++] = '/';
    for (const char *k = key; *k != '\0' && o + 3 < DS_POL_PTR_MAX; k++) {
        unsigned char ch = (unsigned char)*k;
        if (ch == '~' || ch == '/') {
            out[o++] = '~';
            out[o++] = ch == '~' ? '0' : '1';
        } else {
            out[o++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
        }
    }
    out[o] = '\0';
}

static void ptr_index(char out[DS_POL_PTR_MAX], const char *base, size_t i)
{
    int n = snprintf(out, DS_POL_PTR_MAX, "%s/%zu", base, i);
    if (n < 0 || n >= DS_POL_PTR_MAX)
        out[DS_POL_PTR_MAX - 1] = '\0';
}

/* ---- field readers: each reports its own error and returns -1 ------------------ */

/* Every key of obj not in allowed (NULL-terminated) is an error. */
static int only_keys(pctx *c, const char *ptr, json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *v;
    int rc = 0;
    json_object_foreach(obj, key, v)
    {
        bool ok = false;
        (void)v;
        for (size_t i = 0; allowed[i] != NULL; i++)
            ok = ok || strcmp(key, allowed[i]) == 0;
        if (!ok) {
            char p[DS_POL_PTR_MAX];
            ds_pol_ptr_key(p, ptr, key);
            perr(c, p, "unknown field");
            rc = -1;
        }
    }
    return rc;
}

/* obj[key] as an object, or NULL: *bad is set when it is there but not one. */
static json_t *get_object(pctx *c, json_t *obj, const char *ptr, bool required, bool *bad)
{
    json_t *v = json_object_get(obj, ptr + 1); /* ptr is "/<key>" of a root field */
    *bad = false;
    if (v == NULL) {
        if (required) {
            perr(c, ptr, "missing (required)");
            *bad = true;
        }
        return NULL;
    }
    if (!json_is_object(v)) {
        perr(c, ptr, "not an object");
        *bad = true;
        return NULL;
    }
    return v;
}

/* An integer in min..max at ptr (v NULL: missing, required or *out = dflt). */
static int get_int(pctx *c, const char *ptr, json_t *v, bool required, long long dflt, long long min,
                   long long max, long long *out)
{
    *out = dflt;
    if (v == NULL) {
        if (!required)
            return 0;
        perr(c, ptr, "missing (required)");
        return -1;
    }
    if (!json_is_integer(v)) {
        perr(c, ptr, "not an integer");
        return -1;
    }
    long long x = (long long)json_integer_value(v);
    if (x < min || x > max) {
        perr(c, ptr, "%lld is out of range: must be %lld..%lld", x, min, max);
        return -1;
    }
    *out = x;
    return 0;
}

static bool printable(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

/* A string of 1..max printable ASCII bytes into out[max + 1]. */
static int get_text(pctx *c, const char *ptr, json_t *v, size_t max, char *out)
{
    if (v == NULL) {
        perr(c, ptr, "missing (required)");
        return -1;
    }
    if (!json_is_string(v)) {
        perr(c, ptr, "not a string");
        return -1;
    }
    size_t n = json_string_length(v);
    if (n == 0 || n > max) {
        perr(c, ptr, "must be 1..%zu characters", max);
        return -1;
    }
    if (!printable(json_string_value(v), n)) {
        perr(c, ptr, "must be printable ASCII");
        return -1;
    }
    memcpy(out, json_string_value(v), n);
    out[n] = '\0';
    return 0;
}

/* One of the NULL-terminated words; *idx its index (dflt when absent). */
static int get_enum(pctx *c, const char *ptr, json_t *v, const char *const *words, int dflt, int *idx)
{
    *idx = dflt;
    if (v == NULL)
        return 0;
    if (!json_is_string(v)) {
        perr(c, ptr, "not a string");
        return -1;
    }
    const char *s = json_string_value(v);
    for (int i = 0; words[i] != NULL; i++) {
        if (strlen(s) == json_string_length(v) && strcmp(s, words[i]) == 0) {
            *idx = i;
            return 0;
        }
    }
    char list[200] = "";
    for (int i = 0; words[i] != NULL; i++) {
        size_t o = strlen(list);
        snprintf(list + o, sizeof list - o, "%s\"%s\"",
                 i == 0                 ? ""
                 : words[i + 1] == NULL ? " or "
                                        : ", ",
                 words[i]);
    }
    perr(c, ptr, "\"%.64s\" is not allowed: must be %s", s, list);
    return -1;
}

/* see policy.h */
bool ds_policy_class_ok(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (n == 0 || n > DS_POL_MAX_NAME || s[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
              ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

/* ---- sections ---------------------------------------------------------------------- */

static void parse_head(pctx *c, json_t *root, ds_policy *p, bool *class_valid)
{
    json_t *v = json_object_get(root, "class");
    long long ver;
    *class_valid = false;
    if (v == NULL) {
        perr(c, "/class", "missing (required)");
    } else if (!json_is_string(v)) {
        perr(c, "/class", "not a string");
    } else if (strlen(json_string_value(v)) != json_string_length(v) ||
               !ds_policy_class_ok(json_string_value(v))) {
        perr(c, "/class", "must be 1..%d of [A-Za-z0-9._-], not starting with \".\"", DS_POL_MAX_NAME);
    } else {
        snprintf(p->class_name, sizeof p->class_name, "%s", json_string_value(v));
        *class_valid = true;
    }
    if (get_int(c, "/version", json_object_get(root, "version"), true, 0, 1, DS_POL_MAX_VERSION, &ver) == 0)
        p->version = ver;
}

static void parse_reference(pctx *c, json_t *root, ds_policy *p, bool class_valid)
{
    bool bad;
    json_t *ref = get_object(c, root, "/reference", true, &bad);
    if (ref == NULL)
        return;
    const char *cls = class_valid ? p->class_name : json_string_value(json_object_get(root, "class"));
    ds_ref_parse_opts o = {"/reference", cls != NULL ? cls : "", true, forward, c};
    (void)ds_reference_from_json(ref, &o, &p->reference);
}

static void parse_firmware(pctx *c, json_t *root, ds_policy *p)
{
    static const char *const keys[] = {"version", "max_in_flight", NULL};
    bool bad;
    json_t *fw = get_object(c, root, "/firmware", false, &bad), *v;
    const char *comp;
    if (fw == NULL)
        return;
    if (json_object_size(fw) > DS_POL_MAX_FIRMWARE) {
        perr(c, "/firmware", "%zu components: at most %d", json_object_size(fw), DS_POL_MAX_FIRMWARE);
        return;
    }
    json_object_foreach(fw, comp, v)
    {
        char ptr[DS_POL_PTR_MAX], q[DS_POL_PTR_MAX];
        ds_pol_firmware *f = &p->firmware[p->n_firmware];
        long long mif;
        int cmp, ok = 0;
        ds_pol_ptr_key(ptr, "/firmware", comp);
        size_t len = strlen(comp);
        if (len == 0 || len > DS_POL_MAX_NAME || !printable(comp, len)) {
            perr(c, ptr, "component name must be 1..%d printable ASCII characters", DS_POL_MAX_NAME);
            ok = -1;
        } else {
            memcpy(f->component, comp, len + 1);
        }
        if (!json_is_object(v)) {
            perr(c, ptr, "not an object");
            continue;
        }
        ok |= only_keys(c, ptr, v, keys);
        ds_pol_ptr_key(q, ptr, "version");
        if (get_text(c, q, json_object_get(v, "version"), DS_POL_MAX_NAME, f->version) != 0) {
            ok = -1;
        } else if (ds_version_compare(f->version, strlen(f->version), "0", 1, &cmp) != 0) {
            perr(c, q, "\"%s\" is not a dotted numeric version (e.g. \"1.2.0\")", f->version);
            ok = -1;
        }
        ds_pol_ptr_key(q, ptr, "max_in_flight");
        if (get_int(c, q, json_object_get(v, "max_in_flight"), true, 0, 1, DS_POL_MAX_PARALLEL, &mif) != 0)
            ok = -1;
        f->max_in_flight = (uint32_t)mif;
        if (ok == 0)
            p->n_firmware++;
        else
            memset(f, 0, sizeof *f);
    }
}

static void parse_attestation(pctx *c, json_t *root, ds_policy *p)
{
    static const char *const keys[] = {"interval_s", "missed_limit", NULL};
    bool bad;
    json_t *a = get_object(c, root, "/attestation", false, &bad);
    long long iv, ml;
    if (a == NULL)
        return;
    int rc = only_keys(c, "/attestation", a, keys);
    rc |= get_int(c, "/attestation/interval_s", json_object_get(a, "interval_s"), true, 0, 1,
                  DS_POL_MAX_INTERVAL, &iv);
    rc |= get_int(c, "/attestation/missed_limit", json_object_get(a, "missed_limit"), true, 0, 1,
                  DS_POL_MAX_MISSED, &ml);
    if (rc == 0) {
        p->has_attestation = true;
        p->interval_s = (uint32_t)iv;
        p->missed_limit = (uint32_t)ml;
    }
}

static void parse_keys(pctx *c, json_t *root, ds_policy *p)
{
    static const char *const keys[] = {"max_age_days", "rotation_mode", "max_parallel", NULL};
    static const char *const modes[] = {"server", "device", NULL};
    bool bad;
    json_t *k = get_object(c, root, "/keys", false, &bad);
    long long age, par;
    int mode;
    if (k == NULL)
        return;
    int rc = only_keys(c, "/keys", k, keys);
    rc |= get_int(c, "/keys/max_age_days", json_object_get(k, "max_age_days"), true, 0, 1,
                  DS_POL_MAX_AGE_DAYS, &age);
    rc |= get_enum(c, "/keys/rotation_mode", json_object_get(k, "rotation_mode"), modes, 0, &mode);
    rc |= get_int(c, "/keys/max_parallel", json_object_get(k, "max_parallel"), false, 1, 1,
                  DS_POL_MAX_PARALLEL, &par);
    if (rc == 0) {
        p->has_keys = true;
        p->max_age_days = (uint32_t)age;
        p->rotation_mode = mode + 1;
        p->max_parallel = (uint32_t)par;
    }
}

/* https://HOST…, or http:// to the loopback host only (tests, a local relay). */
static int check_url(pctx *c, const char *ptr, const char *u)
{
    static const char *const loop[] = {"http://127.0.0.1", "http://[::1]", "http://localhost", NULL};
    for (const char *q = u; *q != '\0'; q++) {
        if (*q <= 0x20 || *q >= 0x7f) {
            perr(c, ptr, "must not contain spaces or control characters");
            return -1;
        }
    }
    if (strncmp(u, "https://", 8) == 0) {
        if (u[8] == '\0' || u[8] == '/' || u[8] == ':') {
            perr(c, ptr, "names no host");
            return -1;
        }
        return 0;
    }
    for (size_t i = 0; loop[i] != NULL; i++) {
        size_t n = strlen(loop[i]);
        if (strncmp(u, loop[i], n) == 0 && (u[n] == '\0' || u[n] == ':' || u[n] == '/'))
            return 0;
    }
    perr(c, ptr, "must be https://…, or http:// to 127.0.0.1, [::1] or localhost");
    return -1;
}

static void parse_webhook(pctx *c, const char *name, json_t *v, ds_policy *p)
{
    static const char *const keys[] = {"url", "secret_file", "max_attempts", "backoff_s", NULL};
    char ptr[DS_POL_PTR_MAX], q[DS_POL_PTR_MAX];
    ds_pol_webhook *w = &p->webhooks[p->n_webhooks];
    long long att, back;
    int rc = 0;
    ds_pol_ptr_key(ptr, "/webhooks", name);
    if (!ds_policy_class_ok(name)) {
        perr(c, ptr, "webhook name must be 1..%d of [A-Za-z0-9._-], not starting with \".\"",
             DS_POL_MAX_NAME);
        rc = -1;
    }
    if (!json_is_object(v)) {
        perr(c, ptr, "not an object");
        return;
    }
    rc |= only_keys(c, ptr, v, keys);
    ds_pol_ptr_key(q, ptr, "url");
    if (get_text(c, q, json_object_get(v, "url"), DS_POL_MAX_URL, w->url) != 0 ||
        check_url(c, q, w->url) != 0)
        rc = -1;
    ds_pol_ptr_key(q, ptr, "secret_file");
    if (get_text(c, q, json_object_get(v, "secret_file"), DS_POL_MAX_PATH, w->secret_file) != 0) {
        rc = -1;
    } else if (w->secret_file[0] != '/' || strstr(w->secret_file, "/../") != NULL) {
        perr(c, q, "must be an absolute path (without \"/../\") to a file on the server");
        rc = -1;
    }
    ds_pol_ptr_key(q, ptr, "max_attempts");
    rc |= get_int(c, q, json_object_get(v, "max_attempts"), false, DS_POL_DEF_ATTEMPTS, 1,
                  DS_POL_MAX_ATTEMPTS, &att);
    ds_pol_ptr_key(q, ptr, "backoff_s");
    rc |= get_int(c, q, json_object_get(v, "backoff_s"), false, DS_POL_DEF_BACKOFF, 1, DS_POL_MAX_BACKOFF,
                  &back);
    if (rc != 0) {
        memset(w, 0, sizeof *w);
        return;
    }
    snprintf(w->name, sizeof w->name, "%s", name);
    w->max_attempts = (uint32_t)att;
    w->backoff_s = (uint32_t)back;
    p->n_webhooks++;
}

/* Names of the webhooks as written, valid or not: an action naming an
 * invalid webhook is not reported again as naming an unknown one. */
static void parse_webhooks(pctx *c, json_t *root, ds_policy *p, json_t **names)
{
    bool bad;
    json_t *wh = get_object(c, root, "/webhooks", false, &bad), *v;
    const char *name;
    *names = wh;
    if (wh == NULL)
        return;
    if (json_object_size(wh) > DS_POL_MAX_WEBHOOKS) {
        perr(c, "/webhooks", "%zu webhooks: at most %d", json_object_size(wh), DS_POL_MAX_WEBHOOKS);
        *names = NULL;
        return;
    }
    json_object_foreach(wh, name, v) parse_webhook(c, name, v, p);
}

static const char *const k_action_words[] = {"quarantine", "revoke", "notify", "rotate", "update", NULL};

/* One ACTION at ptr into *a; 0, or -1 after its errors. */
static int parse_action(pctx *c, const char *ptr, json_t *v, const ds_policy *p, json_t *hooks,
                        ds_pol_action *a)
{
    static const char *const none[] = {NULL};
    static const char *const notify_keys[] = {"webhook", NULL};
    char q[DS_POL_PTR_MAX], w[DS_POL_PTR_MAX];
    int idx;
    memset(a, 0, sizeof *a);
    if (json_is_string(v)) {
        if (get_enum(c, ptr, v, k_action_words, 0, &idx) != 0)
            return -1;
        if (idx == 2) {
            perr(c, ptr, "\"notify\" needs its webhook: {\"notify\": {\"webhook\": \"<name>\"}}");
            return -1;
        }
        a->kind = (ds_pol_action_kind)(idx + 1);
        return 0;
    }
    if (!json_is_object(v)) {
        perr(c, ptr, "not an action: a string (\"quarantine\"…) or an object such as {\"quarantine\": {}}");
        return -1;
    }
    if (json_object_size(v) != 1) {
        perr(c, ptr, "must name exactly one action (quarantine, revoke, notify, rotate or update), not %zu",
             json_object_size(v));
        return -1;
    }
    const char *name = json_object_iter_key(json_object_iter(v));
    json_t *arg = json_object_iter_value(json_object_iter(v));
    ds_pol_ptr_key(q, ptr, name);
    idx = -1;
    for (int i = 0; k_action_words[i] != NULL; i++)
        if (strcmp(name, k_action_words[i]) == 0)
            idx = i;
    if (idx < 0) {
        perr(c, q, "unknown action: must be quarantine, revoke, notify, rotate or update");
        return -1;
    }
    if (!json_is_object(arg)) {
        perr(c, q, "not an object (%s)", idx == 2 ? "{\"webhook\": \"<name>\"}" : "{}");
        return -1;
    }
    a->kind = (ds_pol_action_kind)(idx + 1);
    if (a->kind != DS_POL_NOTIFY)
        return only_keys(c, q, arg, none);
    int rc = only_keys(c, q, arg, notify_keys);
    ds_pol_ptr_key(w, q, "webhook");
    if (get_text(c, w, json_object_get(arg, "webhook"), DS_POL_MAX_NAME, a->webhook) != 0)
        return -1;
    if (ds_policy_webhook(p, a->webhook) == NULL && json_object_get(hooks, a->webhook) == NULL) {
        perr(c, w, "no webhook \"%s\" in /webhooks", a->webhook);
        return -1;
    }
    return rc;
}

static void parse_actions(pctx *c, json_t *root, ds_policy *p, json_t *hooks, json_t *fw)
{
    static const char *const keys[] = {"on_fail", "on_tamper", "on_missed", NULL};
    bool bad;
    json_t *acts = get_object(c, root, "/actions", false, &bad);
    if (acts == NULL)
        return;
    (void)only_keys(c, "/actions", acts, keys);
    for (int t = 0; t < DS_POL_TRIGGERS; t++) {
        char ptr[DS_POL_PTR_MAX], pi[DS_POL_PTR_MAX];
        json_t *arr = json_object_get(acts, keys[t]);
        size_t ok[DS_POL_MAX_ACTIONS];
        ds_pol_ptr_key(ptr, "/actions", keys[t]);
        if (arr == NULL)
            continue;
        if (!json_is_array(arr)) {
            perr(c, ptr, "not an array");
            continue;
        }
        if (json_array_size(arr) > DS_POL_MAX_ACTIONS) {
            perr(c, ptr, "%zu actions: at most %d", json_array_size(arr), DS_POL_MAX_ACTIONS);
            continue;
        }
        for (size_t i = 0; i < json_array_size(arr); i++) {
            ds_pol_action a;
            ptr_index(pi, ptr, i);
            if (parse_action(c, pi, json_array_get(arr, i), p, hooks, &a) != 0)
                continue;
            bool dup = false;
            for (size_t j = 0; j < p->n_actions[t] && !dup; j++) {
                const ds_pol_action *b = &p->actions[t][j];
                if (b->kind == a.kind && strcmp(b->webhook, a.webhook) == 0) {
                    perr(c, pi, "repeats %s/%zu", ptr, ok[j]);
                    dup = true;
                }
            }
            if (dup)
                continue;
            if (a.kind == DS_POL_UPDATE && json_object_size(fw) == 0) {
                perr(c, pi, "\"update\" rolls out the firmware section, and /firmware names no component");
                continue;
            }
            ok[p->n_actions[t]] = i;
            p->actions[t][p->n_actions[t]++] = a;
        }
    }
}

static void parse_root(pctx *c, json_t *root, ds_policy *p)
{
    static const char *const keys[] = {"class", "version", "reference", "firmware", "attestation",
                                       "keys",  "actions", "webhooks",  NULL};
    bool class_valid;
    json_t *hooks, *fw;
    if (!json_is_object(root)) {
        perr(c, "/", "the policy must be a JSON object");
        return;
    }
    (void)only_keys(c, "", root, keys);
    parse_head(c, root, p, &class_valid);
    parse_reference(c, root, p, class_valid);
    parse_firmware(c, root, p);
    parse_attestation(c, root, p);
    parse_keys(c, root, p);
    parse_webhooks(c, root, p, &hooks);
    fw = json_object_get(root, "firmware");
    parse_actions(c, root, p, hooks, json_is_object(fw) ? fw : NULL);
}

/* see policy.h */
size_t ds_policy_parse(const char *json, size_t len, ds_policy *out, ds_ref_error_fn on_error, void *ctx)
{
    pctx c = {on_error, ctx, 0};
    ds_policy *p = calloc(1, sizeof *p);
    json_error_t jerr;
    json_t *root = NULL;
    if (out != NULL)
        memset(out, 0, sizeof *out);
    if (p == NULL) {
        perr(&c, "/", "out of memory");
        return c.n;
    }
    if (json == NULL) {
        perr(&c, "/", "no document");
    } else if (len > DS_POL_MAX_JSON) {
        perr(&c, "/", "document of %zu bytes is over the %d-byte limit", len, DS_POL_MAX_JSON);
    } else if ((root = json_loadb(json, len, 0, &jerr)) == NULL) {
        perr(&c, "/", "not JSON: %s at line %d, column %d", jerr.text, jerr.line, jerr.column);
    } else {
        (void)ds_pol_find_duplicates(json, len, forward, &c);
        parse_root(&c, root, p);
    }
    json_decref(root);
    if (c.n == 0 && out != NULL)
        *out = *p;
    free(p);
    return c.n;
}

/* ---- small helpers ------------------------------------------------------------------- */

/* see policy.h */
const char *ds_pol_action_name(ds_pol_action_kind k)
{
    return k >= DS_POL_QUARANTINE && k <= DS_POL_UPDATE ? k_action_words[k - 1] : "?";
}

/* see policy.h */
const char *ds_pol_trigger_name(ds_pol_trigger t)
{
    switch (t) {
    case DS_POL_ON_FAIL: return "on_fail";
    case DS_POL_ON_TAMPER: return "on_tamper";
    case DS_POL_ON_MISSED: return "on_missed";
    default: return "?";
    }
}

/* see policy.h */
const ds_pol_webhook *ds_policy_webhook(const ds_policy *p, const char *name)
{
    for (size_t i = 0; p != NULL && name != NULL && i < p->n_webhooks; i++)
        if (strcmp(p->webhooks[i].name, name) == 0)
            return &p->webhooks[i];
    return NULL;
}

/* see policy.h */
int64_t ds_policy_stale_after(const ds_policy *p)
{
    if (p == NULL || !p->has_attestation)
        return 0;
    int64_t grace = p->interval_s / 10;
    grace = grace < 1 ? 1 : grace > 60 ? 60 : grace;
    return (int64_t)p->interval_s * p->missed_limit + grace;
}
