/*
 * policy_dupes.c — finds keys repeated within one JSON object (policy.h).
 *
 * A JSON library either refuses a document with a repeated key without
 * saying where (jansson's JSON_REJECT_DUPLICATES names a line and column)
 * or keeps one of the two values. The policy parser wants to name the field
 * ("/firmware/APM: named twice") and go on checking the rest, so it parses
 * with duplicates allowed and asks this scanner where they are.
 *
 * The scanner only ever sees text that jansson has already accepted as
 * JSON, so it trusts the grammar and only tracks what it needs: the JSON
 * pointer of the current value, and per object its keys (decoded, so "a"
 * and "\u0061" are the same key), sorted once the object closes to find
 * repeats. Nesting is bounded by jansson's own depth limit.
 */
#define _POSIX_C_SOURCE 200809L
#include "policy_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct scan {
    const char *s;
    size_t n, i;
    ds_ref_error_fn fn;
    void *ctx;
    size_t found;
    bool oom;
} scan;

typedef struct key {
    char *text; /* decoded, NUL-terminated (a \u0000 ends it early: jansson refuses those anyway) */
    size_t order;
} key;

static void skip_ws(scan *c)
{
    while (c->i < c->n &&
           (c->s[c->i] == ' ' || c->s[c->i] == '\t' || c->s[c->i] == '\n' || c->s[c->i] == '\r'))
        c->i++;
}

static int hex4(const char *p)
{
    int v = 0;
    for (int k = 0; k < 4; k++) {
        char ch = p[k];
        int d = ch >= '0' && ch <= '9'   ? ch - '0'
                : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                         : -1;
        if (d < 0)
            return -1;
        v = v << 4 | d;
    }
    return v;
}

static size_t put_utf8(char *o, unsigned long cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* A string at c->i (the opening quote); decoded into a malloc'ed buffer
 * when out is not NULL. A decoded string is never longer than its text. */
static void scan_string(scan *c, char **out)
{
    size_t start = ++c->i, o = 0;
    char *d = NULL;
    while (c->i < c->n && c->s[c->i] != '"')
        c->i += c->s[c->i] == '\\' ? 2 : 1;
    if (out != NULL) {
        d = malloc(c->i - start + 1);
        if (d == NULL)
            c->oom = true;
        for (size_t k = start; d != NULL && k < c->i && k < c->n; k++) {
            if (c->s[k] != '\\') {
                d[o++] = c->s[k];
                continue;
            }
            char e = c->s[++k];
            switch (e) {
            case 'b': d[o++] = '\b'; break;
            case 'f': d[o++] = '\f'; break;
            case 'n': d[o++] = '\n'; break;
            case 'r': d[o++] = '\r'; break;
            case 't': d[o++] = '\t'; break;
            case 'u': {
                long cp = k + 4 < c->n ? hex4(c->s + k + 1) : -1;
                k += 4;
                if (cp >= 0xd800 && cp < 0xdc00 && k + 6 < c->n && c->s[k + 1] == '\\' &&
                    c->s[k + 2] == 'u') {
                    long lo = hex4(c->s + k + 3);
                    if (lo >= 0xdc00 && lo < 0xe000) {
                        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                        k += 6;
                    }
                }
                if (cp >= 0)
                    o += put_utf8(d + o, (unsigned long)cp);
                break;
            }
            default: d[o++] = e; break; /* " \ / */
            }
        }
        if (d != NULL)
            d[o] = '\0';
        *out = d;
    }
    c->i++; /* closing quote */
}

static int cmp_key(const void *a, const void *b)
{
    const key *x = a, *y = b;
    int r = strcmp(x->text, y->text);
    return r != 0 ? r : (x->order < y->order ? -1 : x->order > y->order);
}

static void scan_value(scan *c, const char *ptr);

static void scan_object(scan *c, const char *ptr)
{
    key *keys = NULL;
    size_t nk = 0, cap = 0;
    c->i++; /* { */
    for (;;) {
        skip_ws(c);
        if (c->i >= c->n || c->s[c->i] == '}')
            break;
        if (c->s[c->i] == ',') {
            c->i++;
            continue;
        }
        char *k = NULL;
        scan_string(c, &k);
        if (k == NULL)
            break;
        if (nk == cap) {
            size_t ncap = cap ? 2 * cap : 8;
            key *g = realloc(keys, ncap * sizeof *g);
            if (g == NULL) {
                free(k);
                c->oom = true;
                break;
            }
            keys = g;
            cap = ncap;
        }
        keys[nk].text = k;
        keys[nk].order = nk;
        nk++;
        skip_ws(c);
        c->i++; /* : */
        char sub[DS_POL_PTR_MAX];
        ds_pol_ptr_key(sub, ptr, k);
        scan_value(c, sub);
    }
    c->i++; /* } */
    if (nk > 1)
        qsort(keys, nk, sizeof *keys, cmp_key);
    for (size_t j = 1; j < nk; j++) {
        if (strcmp(keys[j].text, keys[j - 1].text) == 0 &&
            (j < 2 || strcmp(keys[j].text, keys[j - 2].text) != 0)) {
            char p[DS_POL_PTR_MAX];
            ds_pol_ptr_key(p, ptr, keys[j].text);
            c->found++;
            if (c->fn != NULL)
                c->fn(p, "named twice in the same object", c->ctx);
        }
    }
    for (size_t j = 0; j < nk; j++)
        free(keys[j].text);
    free(keys);
}

static void scan_array(scan *c, const char *ptr)
{
    size_t idx = 0;
    c->i++; /* [ */
    for (;;) {
        skip_ws(c);
        if (c->i >= c->n || c->s[c->i] == ']')
            break;
        if (c->s[c->i] == ',') {
            c->i++;
            continue;
        }
        char sub[DS_POL_PTR_MAX];
        snprintf(sub, sizeof sub, "%s/%zu", ptr, idx++);
        scan_value(c, sub);
    }
    c->i++; /* ] */
}

static void scan_value(scan *c, const char *ptr)
{
    skip_ws(c);
    if (c->i >= c->n || c->oom)
        return;
    switch (c->s[c->i]) {
    case '{': scan_object(c, ptr); break;
    case '[': scan_array(c, ptr); break;
    case '"': scan_string(c, NULL); break;
    default: /* number, true, false, null */
        while (c->i < c->n && c->s[c->i] != ',' && c->s[c->i] != '}' && c->s[c->i] != ']' &&
               c->s[c->i] != ' ' && c->s[c->i] != '\n' && c->s[c->i] != '\t' && c->s[c->i] != '\r')
            c->i++;
        break;
    }
}

/* see policy_internal.h */
size_t ds_pol_find_duplicates(const char *json, size_t len, ds_ref_error_fn fn, void *ctx)
{
    scan c = {json, len, 0, fn, ctx, 0, false};
    scan_value(&c, "");
    if (c.oom && fn != NULL) {
        fn("/", "out of memory while looking for repeated keys", ctx);
        c.found++;
    }
    return c.found;
}
