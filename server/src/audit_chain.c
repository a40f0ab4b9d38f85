/*
 * audit_chain.c — see audit_chain.h.
 */
#include "audit_chain.h"

#include <stdio.h>
#include <string.h>

#include "drot_crypto.h"

_Static_assert(DS_AUDIT_ACTOR_MAX == 128 && DS_AUDIT_ACTION_MAX == 64 && DS_AUDIT_SUBJ_MAX == 256,
               "the messages below name the bounds");

static void put_u64(uint8_t out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)v;
        v >>= 8;
    }
}

/* U32(len) ‖ bytes */
static drot_status update_lp(drot_sha256_ctx *c, const char *s)
{
    size_t n = strlen(s);
    if (n > UINT32_MAX)
        return DROT_E_TOO_LARGE;
    uint8_t len[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    drot_status st = drot_sha256_update(c, len, sizeof len);
    return st == DROT_OK && n > 0 ? drot_sha256_update(c, s, n) : st;
}

static drot_status update_u64(drot_sha256_ctx *c, uint64_t v)
{
    uint8_t b[8];
    put_u64(b, v);
    return drot_sha256_update(c, b, sizeof b);
}

/* see audit_chain.h */
drot_status ds_audit_entry_hash(int64_t seq, int64_t at, const char *actor, const char *action,
                                const char *subject, const char *detail,
                                const uint8_t prev[DS_AUDIT_HASH_LEN], uint8_t out[DS_AUDIT_HASH_LEN])
{
    if (actor == NULL || action == NULL || subject == NULL || detail == NULL || prev == NULL || out == NULL)
        return DROT_E_ARG;
    drot_sha256_ctx c;
    drot_status st = drot_sha256_init(&c);
    if (st == DROT_OK)
        st = update_lp(&c, "drot-audit-entry-v1");
    if (st == DROT_OK)
        st = update_u64(&c, (uint64_t)seq);
    if (st == DROT_OK)
        st = update_u64(&c, (uint64_t)at);
    if (st == DROT_OK)
        st = update_lp(&c, actor);
    if (st == DROT_OK)
        st = update_lp(&c, action);
    if (st == DROT_OK)
        st = update_lp(&c, subject);
    if (st == DROT_OK)
        st = update_lp(&c, detail);
    if (st == DROT_OK)
        st = drot_sha256_update(&c, prev, DS_AUDIT_HASH_LEN);
    if (st == DROT_OK)
        st = drot_sha256_final(&c, out);
    drot_sha256_release(&c);
    return st;
}

/* see audit_chain.h */
drot_status ds_audit_checkpoint_digest(int64_t seq, const uint8_t hash[DS_AUDIT_HASH_LEN], int64_t at,
                                       int64_t prev_seq, const char *key_fpr, uint8_t out[DS_AUDIT_HASH_LEN])
{
    if (hash == NULL || key_fpr == NULL || out == NULL)
        return DROT_E_ARG;
    drot_sha256_ctx c;
    drot_status st = drot_sha256_init(&c);
    if (st == DROT_OK)
        st = update_lp(&c, "drot-audit-checkpoint-v1");
    if (st == DROT_OK)
        st = update_u64(&c, (uint64_t)seq);
    if (st == DROT_OK)
        st = drot_sha256_update(&c, hash, DS_AUDIT_HASH_LEN);
    if (st == DROT_OK)
        st = update_u64(&c, (uint64_t)at);
    if (st == DROT_OK)
        st = update_u64(&c, (uint64_t)prev_seq);
    if (st == DROT_OK)
        st = update_lp(&c, key_fpr);
    if (st == DROT_OK)
        st = drot_sha256_final(&c, out);
    drot_sha256_release(&c);
    return st;
}

/* ---- field checks ---------------------------------------------------------------- */

static bool refuse(char *why, size_t cap, const char *rule)
{
    if (why != NULL && cap > 0)
        snprintf(why, cap, "%s", rule);
    return false;
}

/* see audit_chain.h */
bool ds_audit_utf8_ok(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        size_t k;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            k = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            k = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (n - i <= k)
            return false;
        for (size_t j = 1; j <= k; j++) {
            if ((p[i + j] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + j] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += k + 1;
    }
    return true;
}

/* see audit_chain.h */
bool ds_audit_actor_ok(const char *actor, char *why, size_t cap)
{
    static const char rule[] = "actor: required, 1..128 bytes of printable ASCII without spaces";
    if (actor == NULL || actor[0] == '\0' || strlen(actor) > DS_AUDIT_ACTOR_MAX)
        return refuse(why, cap, rule);
    for (const char *c = actor; *c != '\0'; c++)
        if (*c < 0x21 || *c > 0x7e)
            return refuse(why, cap, rule);
    return true;
}

/* see audit_chain.h */
bool ds_audit_action_ok(const char *action, char *why, size_t cap)
{
    static const char rule[] = "action: required, 1..64 of [a-z0-9._-]";
    if (action == NULL || action[0] == '\0' || strlen(action) > DS_AUDIT_ACTION_MAX)
        return refuse(why, cap, rule);
    for (const char *c = action; *c != '\0'; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '-'))
            return refuse(why, cap, rule);
    return true;
}

/* see audit_chain.h */
bool ds_audit_subject_ok(const char *subject, char *why, size_t cap)
{
    static const char rule[] = "subject: at most 256 bytes of UTF-8 without control characters";
    if (subject == NULL)
        return refuse(why, cap, "subject: required (it may be empty)");
    size_t n = strlen(subject);
    if (n > DS_AUDIT_SUBJ_MAX || !ds_audit_utf8_ok(subject, n))
        return refuse(why, cap, rule);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)subject[i] < 0x20 || subject[i] == 0x7f)
            return refuse(why, cap, rule);
    return true;
}
