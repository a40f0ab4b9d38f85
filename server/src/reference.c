/*
 * reference.c — reference values of a device class (see reference.h).
 *
 * The parser walks the jansson tree with an explicit JSON pointer kept in a
 * fixed buffer, so every error can name its field. Each object is first
 * checked against its list of allowed keys (unknown field → error), then
 * each known key is read with its type and bound. jansson itself refuses
 * duplicate keys (JSON_REJECT_DUPLICATES) and, by default, bytes after the
 * document.
 *
 * The walk does not stop at the first error: every field that can be judged
 * on its own is judged, so a policy document (policy.h) can report all of
 * its errors at once. A check that compares fields (a repeated digest or
 * component type, a tamper bit in both lists) only looks at fields that
 * were valid themselves. The first error, in walk order, is the one
 * ds_reference_parse writes into err.
 */
#include "reference.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

/* Longest JSON pointer we build: "/components/7/signers/15" and friends;
 * unknown keys are cut short when quoted in an error. */
#define PTR_MAX 128

typedef struct ref_ctx {
    char *err; /* the first error, if not NULL */
    size_t errlen;
    int nerr;                 /* errors so far */
    const char *base;         /* pointer of the reference object in its document */
    ds_ref_error_fn on_error; /* every error, may be NULL */
    void *on_error_ctx;
} ref_ctx;

static void ref_fail(ref_ctx *c, const char *ptr, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void ref_fail(ref_ctx *c, const char *ptr, const char *fmt, ...)
{
    va_list ap;
    char full[2 * PTR_MAX], msg[256];

    snprintf(full, sizeof full, "%s%s", c->base, ptr);
    if (full[0] == '\0')
        snprintf(full, sizeof full, "/");
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->nerr++ == 0 && c->err != NULL && c->errlen > 0)
        snprintf(c->err, c->errlen, "%s: %s", full, msg);
    if (c->on_error != NULL)
        c->on_error(full, msg, c->on_error_ctx);
}

/* ptr + "/" + key (RFC 6901: "~" → "~0", "/" → "~1"; non-printable → "?"). */
static void ptr_key(char out[PTR_MAX], const char *base, const char *key)
{
    size_t o = strlen(base);
    memcpy(out, base, o);
    if (o + 1 < PTR_MAX)
        out[o++] = '/';
    for (const char *k = key; *k != '\0' && o + 3 < PTR_MAX; k++) {
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

static void ptr_index(char out[PTR_MAX], const char *base, size_t i)
{
    int n = snprintf(out, PTR_MAX, "%s/%zu", base, i);
    if (n < 0 || n >= (int)PTR_MAX)
        out[PTR_MAX - 1] = '\0'; /* cut short: it only names a field in an error message */
}

/* Refuses any key of obj that is not in allowed (NULL-terminated). */
static int check_keys(ref_ctx *c, const char *ptr, json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *v;
    int rc = 0;
    json_object_foreach(obj, key, v)
    {
        bool ok = false;
        char p[PTR_MAX];
        (void)v;
        for (size_t i = 0; allowed[i] != NULL; i++)
            ok = ok || strcmp(key, allowed[i]) == 0;
        if (!ok) {
            ptr_key(p, ptr, key);
            ref_fail(c, p, "unknown field");
            rc = -1;
        }
    }
    return rc;
}

static bool printable(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

/* A string of 1..DS_REF_MAX_NAME printable ASCII characters into out. */
static int get_name(ref_ctx *c, const char *ptr, json_t *v, char out[DS_REF_MAX_NAME + 1])
{
    size_t n;
    if (!json_is_string(v)) {
        ref_fail(c, ptr, "not a string");
        return -1;
    }
    n = json_string_length(v);
    if (n == 0 || n > DS_REF_MAX_NAME) {
        ref_fail(c, ptr, "must be 1..%d characters", DS_REF_MAX_NAME);
        return -1;
    }
    if (!printable(json_string_value(v), n)) {
        ref_fail(c, ptr, "must be printable ASCII");
        return -1;
    }
    memcpy(out, json_string_value(v), n);
    out[n] = '\0';
    return 0;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

static int get_digest(ref_ctx *c, const char *ptr, json_t *v, uint8_t out[DS_REF_DIGEST_LEN])
{
    const char *s;
    if (!json_is_string(v)) {
        ref_fail(c, ptr, "not a string");
        return -1;
    }
    s = json_string_value(v);
    if (json_string_length(v) != 2 * DS_REF_DIGEST_LEN) {
        ref_fail(c, ptr, "not 64 hex digits");
        return -1;
    }
    for (size_t i = 0; i < DS_REF_DIGEST_LEN; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            ref_fail(c, ptr, "not 64 hex digits");
            return -1;
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

/* An optional array of digests at obj[key], at most max entries, no repeats. */
/* An optional array of digests at obj[key], at most max entries, no repeats.
 * Every entry is judged; a repeat is looked for among valid entries only. */
static int get_digest_list(ref_ctx *c, const char *ptr, json_t *obj, const char *key, size_t max,
                           uint8_t (*out)[DS_REF_DIGEST_LEN], size_t *count)
{
    char p[PTR_MAX], pi[PTR_MAX];
    json_t *arr = json_object_get(obj, key);
    bool valid[DS_REF_MAX_DIGESTS > DS_REF_MAX_SIGNERS ? DS_REF_MAX_DIGESTS : DS_REF_MAX_SIGNERS];
    int rc = 0;
    *count = 0;
    if (arr == NULL)
        return 0;
    ptr_key(p, ptr, key);
    if (!json_is_array(arr)) {
        ref_fail(c, p, "not an array");
        return -1;
    }
    if (json_array_size(arr) > max) {
        ref_fail(c, p, "more than %zu entries", max);
        return -1;
    }
    for (size_t i = 0; i < json_array_size(arr); i++) {
        ptr_index(pi, p, i);
        valid[i] = get_digest(c, pi, json_array_get(arr, i), out[i]) == 0;
        if (!valid[i]) {
            rc = -1;
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            if (valid[j] && memcmp(out[i], out[j], DS_REF_DIGEST_LEN) == 0) {
                ref_fail(c, pi, "repeats entry %zu", j);
                rc = -1;
                break;
            }
        }
    }
    *count = json_array_size(arr);
    return rc;
}

static int get_uint(ref_ctx *c, const char *ptr, json_t *v, uint64_t *out)
{
    if (!json_is_integer(v)) {
        ref_fail(c, ptr, "not an integer");
        return -1;
    }
    if (json_integer_value(v) < 0) {
        ref_fail(c, ptr, "must not be negative");
        return -1;
    }
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

/* A string that must be one of two words: *out = 0 for a, 1 for b. The
 * length check refuses a word followed by an embedded NUL. */
static int get_word(ref_ctx *c, const char *ptr, json_t *v, const char *a, const char *b, int *out)
{
    const char *s;
    if (!json_is_string(v)) {
        ref_fail(c, ptr, "not a string");
        return -1;
    }
    s = json_string_value(v);
    if (strlen(s) == json_string_length(v) && (strcmp(s, a) == 0 || strcmp(s, b) == 0)) {
        *out = strcmp(s, a) == 0 ? 0 : 1;
        return 0;
    }
    ref_fail(c, ptr, "must be \"%s\" or \"%s\"", a, b);
    return -1;
}

static int parse_component(ref_ctx *c, const char *ptr, json_t *o, ds_ref_component *rc)
{
    static const char *const keys[] = {"type", "digests", "signers", "min_version", "min_svn", NULL};
    char p[PTR_MAX];
    json_t *v;
    int cmp, res = 0;

    if (!json_is_object(o)) {
        ref_fail(c, ptr, "not an object");
        return -1;
    }
    if (check_keys(c, ptr, o, keys) != 0)
        res = -1;
    ptr_key(p, ptr, "type");
    if ((v = json_object_get(o, "type")) == NULL) {
        ref_fail(c, p, "missing");
        res = -1;
    } else if (get_name(c, p, v, rc->type) != 0) {
        rc->type[0] = '\0';
        res = -1;
    }
    if (get_digest_list(c, ptr, o, "digests", DS_REF_MAX_DIGESTS, rc->digests, &rc->num_digests) != 0)
        res = -1;
    if (get_digest_list(c, ptr, o, "signers", DS_REF_MAX_SIGNERS, rc->signers, &rc->num_signers) != 0)
        res = -1;
    if ((v = json_object_get(o, "min_version")) != NULL) {
        ptr_key(p, ptr, "min_version");
        if (get_name(c, p, v, rc->min_version) != 0) {
            res = -1;
        } else if (ds_version_compare(rc->min_version, strlen(rc->min_version), "0", 1, &cmp) != 0) {
            ref_fail(c, p, "not a dotted numeric version (e.g. \"1.2.0\")");
            res = -1;
        } else {
            rc->has_min_version = true;
        }
    }
    if ((v = json_object_get(o, "min_svn")) != NULL) {
        ptr_key(p, ptr, "min_svn");
        if (get_uint(c, p, v, &rc->min_svn) != 0)
            res = -1;
        else
            rc->has_min_svn = true;
    }
    return res;
}

static int parse_components(ref_ctx *c, json_t *root, ds_reference *out)
{
    char p[PTR_MAX];
    json_t *arr = json_object_get(root, "components");
    size_t n;
    int rc = 0;

    if (arr == NULL) {
        ref_fail(c, "/components", "missing");
        return -1;
    }
    if (!json_is_array(arr)) {
        ref_fail(c, "/components", "not an array");
        return -1;
    }
    n = json_array_size(arr);
    if (n == 0 || n > DS_REF_MAX_COMPONENTS) {
        ref_fail(c, "/components", "must hold 1..%d components", DS_REF_MAX_COMPONENTS);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        ptr_index(p, "/components", i);
        if (parse_component(c, p, json_array_get(arr, i), &out->components[i]) != 0)
            rc = -1;
        if (out->components[i].type[0] == '\0')
            continue; /* no valid type to compare */
        for (size_t j = 0; j < i; j++) {
            if (strcmp(out->components[i].type, out->components[j].type) == 0) {
                char pt[PTR_MAX];
                ptr_key(pt, p, "type");
                ref_fail(c, pt, "type \"%s\" already named by /components/%zu", out->components[i].type, j);
                rc = -1;
                break;
            }
        }
    }
    out->num_components = n;
    return rc;
}

static int parse_lifecycle(ref_ctx *c, json_t *root, ds_reference *out)
{
    static const char *const keys[] = {"allow_provisioning", NULL};
    json_t *o = json_object_get(root, "lifecycle"), *v;
    int rc = 0;

    out->allow_provisioning = false;
    if (o == NULL)
        return 0;
    if (!json_is_object(o)) {
        ref_fail(c, "/lifecycle", "not an object");
        return -1;
    }
    if (check_keys(c, "/lifecycle", o, keys) != 0)
        rc = -1;
    if ((v = json_object_get(o, "allow_provisioning")) != NULL) {
        if (!json_is_boolean(v)) {
            ref_fail(c, "/lifecycle/allow_provisioning", "not a boolean");
            return -1;
        }
        out->allow_provisioning = json_is_true(v);
    }
    return rc;
}

static uint32_t tamper_bit_by_name(const char *s)
{
    for (uint32_t bit = 1; bit <= DS_TAMPER_LOCKED; bit <<= 1)
        if (strcmp(s, ds_tamper_bit_name(bit)) == 0)
            return bit;
    return 0;
}

static int get_tamper_list(ref_ctx *c, json_t *o, const char *key, uint32_t *mask)
{
    char p[PTR_MAX], pi[PTR_MAX];
    json_t *arr = json_object_get(o, key);
    int rc = 0;

    *mask = 0;
    if (arr == NULL)
        return 0;
    ptr_key(p, "/tamper", key);
    if (!json_is_array(arr)) {
        ref_fail(c, p, "not an array");
        return -1;
    }
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *v = json_array_get(arr, i);
        uint32_t bit;
        ptr_index(pi, p, i);
        if (!json_is_string(v)) {
            ref_fail(c, pi, "not a string");
            rc = -1;
            continue;
        }
        bit = tamper_bit_by_name(json_string_value(v));
        if (bit == 0 || strlen(json_string_value(v)) != json_string_length(v)) {
            ref_fail(c, pi, "unknown tamper bit (voltage, temperature, intrusion or locked)");
            rc = -1;
            continue;
        }
        if (*mask & bit) {
            ref_fail(c, pi, "\"%s\" listed twice", ds_tamper_bit_name(bit));
            rc = -1;
            continue;
        }
        *mask |= bit;
    }
    return rc;
}

static int parse_tamper(ref_ctx *c, json_t *root, ds_reference *out)
{
    static const char *const keys[] = {"fail_on", "warn_on", "max_count", "new_events", NULL};
    json_t *o = json_object_get(root, "tamper"), *v;
    uint32_t both;
    int word, rc = 0;

    out->tamper_new_events = DS_REF_SEV_FAIL;
    if (o == NULL) {
        out->tamper_fail = DS_TAMPER_INTRUSION;
        out->tamper_warn = DS_TAMPER_VOLTAGE | DS_TAMPER_TEMPERATURE | DS_TAMPER_LOCKED;
        return 0;
    }
    if (!json_is_object(o)) {
        ref_fail(c, "/tamper", "not an object");
        return -1;
    }
    if (check_keys(c, "/tamper", o, keys) != 0)
        rc = -1;
    if (get_tamper_list(c, o, "fail_on", &out->tamper_fail) != 0)
        rc = -1;
    if (get_tamper_list(c, o, "warn_on", &out->tamper_warn) != 0)
        rc = -1;
    both = out->tamper_fail & out->tamper_warn;
    if (both != 0) {
        ref_fail(c, "/tamper/warn_on", "\"%s\" is also in /tamper/fail_on", ds_tamper_bit_name(both & -both));
        rc = -1;
    }
    if ((v = json_object_get(o, "max_count")) != NULL) {
        if (get_uint(c, "/tamper/max_count", v, &out->tamper_max_count) != 0)
            rc = -1;
        else
            out->has_tamper_max_count = true;
    }
    if ((v = json_object_get(o, "new_events")) != NULL) {
        if (get_word(c, "/tamper/new_events", v, "fail", "warn", &word) != 0)
            rc = -1;
        else
            out->tamper_new_events = word == 0 ? DS_REF_SEV_FAIL : DS_REF_SEV_WARN;
    }
    return rc;
}

static int parse_on_fail(ref_ctx *c, json_t *root, ds_reference *out)
{
    json_t *v = json_object_get(root, "on_fail");
    int word;
    out->on_fail = DS_REF_ON_FAIL_NONE;
    if (v == NULL)
        return 0;
    if (get_word(c, "/on_fail", v, "none", "quarantine", &word) != 0)
        return -1;
    out->on_fail = word == 0 ? DS_REF_ON_FAIL_NONE : DS_REF_ON_FAIL_QUARANTINE;
    return 0;
}

static int parse_profile(ref_ctx *c, json_t *root, ds_reference *out)
{
    json_t *v = json_object_get(root, "require_profile");
    int word;
    out->require_profile = DROT_EAT_PROFILE_DROT;
    if (v == NULL)
        return 0;
    if (get_word(c, "/require_profile", v, "drot", "psa", &word) != 0)
        return -1;
    out->require_profile = word == 0 ? DROT_EAT_PROFILE_DROT : DROT_EAT_PROFILE_PSA;
    return 0;
}

/* The class: required in a reference document of its own; given by the
 * caller (opts->class_name) inside a policy, where "class" may be repeated
 * but must then be the same. */
static int parse_class(ref_ctx *c, json_t *root, const ds_ref_parse_opts *opts, ds_reference *out)
{
    json_t *v = json_object_get(root, "class");
    char name[DS_REF_MAX_NAME + 1];
    if (opts->class_name != NULL) {
        snprintf(out->class_name, sizeof out->class_name, "%s", opts->class_name);
        if (v == NULL)
            return 0;
        if (get_name(c, "/class", v, name) != 0)
            return -1;
        if (strcmp(name, opts->class_name) != 0) {
            ref_fail(c, "/class", "\"%s\" does not match the class \"%s\"", name, opts->class_name);
            return -1;
        }
        return 0;
    }
    if (v == NULL) {
        ref_fail(c, "/class", "missing");
        return -1;
    }
    return get_name(c, "/class", v, out->class_name);
}

static int parse_root(ref_ctx *c, json_t *root, const ds_ref_parse_opts *opts, ds_reference *out)
{
    static const char *const keys[] = {"class",           "components", "lifecycle", "tamper",
                                       "require_profile", "on_fail",    NULL};
    int rc = 0;

    if (!json_is_object(root)) {
        ref_fail(c, "", "not an object");
        return -1;
    }
    if (check_keys(c, "", root, keys) != 0)
        rc = -1;
    if (parse_class(c, root, opts, out) != 0)
        rc = -1;
    if (parse_components(c, root, out) != 0)
        rc = -1;
    if (parse_lifecycle(c, root, out) != 0)
        rc = -1;
    if (parse_tamper(c, root, out) != 0)
        rc = -1;
    if (parse_profile(c, root, out) != 0)
        rc = -1;
    if (opts->no_on_fail && json_object_get(root, "on_fail") != NULL) {
        ref_fail(c, "/on_fail", "not in a policy's reference values: a policy says it in /actions/on_fail");
        rc = -1;
    } else if (parse_on_fail(c, root, out) != 0) {
        rc = -1;
    }
    return rc;
}

/* see reference.h */
int ds_reference_from_json(const struct json_t *obj, const ds_ref_parse_opts *opts, ds_reference *out)
{
    static const ds_ref_parse_opts none;
    if (opts == NULL)
        opts = &none;
    ref_ctx c = {NULL, 0, 0, opts->base != NULL ? opts->base : "", opts->on_error, opts->on_error_ctx};
    if (out == NULL)
        return -1;
    memset(out, 0, sizeof *out);
    if (obj == NULL) {
        ref_fail(&c, "", "missing");
        return -1;
    }
    /* jansson's getters take no const: the tree is only read here. */
    if (parse_root(&c, (json_t *)(uintptr_t)obj, opts, out) != 0 || c.nerr != 0) {
        memset(out, 0, sizeof *out);
        return -1;
    }
    return 0;
}

/* see reference.h */
int ds_reference_parse(const char *json, size_t len, ds_reference *out, char *err, size_t errlen)
{
    static const ds_ref_parse_opts none;
    ref_ctx c = {err, errlen, 0, "", NULL, NULL};
    json_error_t jerr;
    json_t *root;
    int rc;

    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (out == NULL) {
        ref_fail(&c, "", "no output");
        return -1;
    }
    memset(out, 0, sizeof *out);
    if (json == NULL) {
        ref_fail(&c, "", "no document");
        return -1;
    }
    if (len > DS_REF_MAX_JSON) {
        ref_fail(&c, "", "document of %zu bytes is over the %d-byte limit", len, DS_REF_MAX_JSON);
        return -1;
    }
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        ref_fail(&c, "", "invalid JSON at line %d column %d: %s", jerr.line, jerr.column, jerr.text);
        return -1;
    }
    rc = parse_root(&c, root, &none, out) != 0 || c.nerr != 0 ? -1 : 0;
    json_decref(root);
    if (rc != 0)
        memset(out, 0, sizeof *out);
    return rc;
}

static int version_part(const char *s, size_t n, size_t *i, uint32_t *v)
{
    size_t digits = 0;
    *v = 0;
    while (*i < n && s[*i] >= '0' && s[*i] <= '9') {
        if (++digits > 9)
            return -1;
        *v = *v * 10u + (uint32_t)(s[*i] - '0');
        (*i)++;
    }
    return digits == 0 ? -1 : 0;
}

/* Splits a version into parts; unused parts stay 0. */
static int version_parse(const char *s, size_t n, uint32_t parts[DS_VERSION_MAX_PARTS])
{
    size_t i = 0, k = 0;
    memset(parts, 0, DS_VERSION_MAX_PARTS * sizeof parts[0]);
    if (s == NULL || n == 0)
        return -1;
    for (;;) {
        if (k == DS_VERSION_MAX_PARTS || version_part(s, n, &i, &parts[k]) != 0)
            return -1;
        k++;
        if (i == n)
            return 0;
        if (s[i] != '.')
            return -1;
        i++;
    }
}

/* see reference.h */
int ds_version_compare(const char *a, size_t alen, const char *b, size_t blen, int *cmp)
{
    uint32_t pa[DS_VERSION_MAX_PARTS], pb[DS_VERSION_MAX_PARTS];
    if (cmp == NULL || version_parse(a, alen, pa) != 0 || version_parse(b, blen, pb) != 0)
        return -1;
    *cmp = 0;
    for (size_t k = 0; k < DS_VERSION_MAX_PARTS && *cmp == 0; k++)
        *cmp = pa[k] < pb[k] ? -1 : pa[k] > pb[k] ? 1 : 0;
    return 0;
}

/* see reference.h */
const char *ds_tamper_bit_name(uint32_t bit)
{
    switch (bit) {
    case DS_TAMPER_VOLTAGE: return "voltage";
    case DS_TAMPER_TEMPERATURE: return "temperature";
    case DS_TAMPER_INTRUSION: return "intrusion";
    case DS_TAMPER_LOCKED: return "locked";
    default: return NULL;
    }
}
