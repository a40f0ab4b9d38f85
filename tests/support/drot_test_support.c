/* see drot_test_support.h */
#define _POSIX_C_SOURCE 200809L
#include "drot_test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long drot_test_hex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = strlen(hex);
    if (n % 2 != 0 || n / 2 > cap)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return (long)(n / 2);
}

uint8_t *drot_test_hex_alloc(const char *hex, size_t *len)
{
    size_t cap = strlen(hex) / 2 + 1;
    uint8_t *buf = malloc(cap);
    if (buf == NULL)
        abort();
    long n = drot_test_hex(hex, buf, cap);
    if (n < 0) {
        fprintf(stderr, "drot_test_hex_alloc: bad hex string '%.40s'\n", hex);
        abort();
    }
    *len = (size_t)n;
    return buf;
}

long drot_test_b64url(const char *s, uint8_t *out, size_t cap)
{
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;
    for (; *s != '\0' && *s != '='; s++) {
        const char *p = strchr(alpha, *s);
        if (p == NULL)
            return -1;
        acc = acc << 6 | (uint32_t)(p - alpha);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n >= cap)
                return -1;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    return (long)n;
}

const char *drot_test_vectors_dir(void)
{
    static char dir[4096];
    const char *env = getenv("DROT_VECTORS_DIR");
    struct stat st;
    if (env == NULL || env[0] == '\0')
        env = "../shared/vectors";
    if (stat(env, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "SKIP: vectors folder '%s' is absent; conformance vectors not run\n", env);
        return NULL;
    }
    snprintf(dir, sizeof dir, "%s", env);
    return dir;
}

json_t *drot_test_vector_json(const char *relpath)
{
    const char *dir = drot_test_vectors_dir();
    char path[4096];
    json_error_t err;
    struct stat st;
    if (dir == NULL)
        return NULL;
    int n = snprintf(path, sizeof path, "%s/%s", dir, relpath);
    if (n < 0 || (size_t)n >= sizeof path) {
        fprintf(stderr, "vector path too long: %s/%s\n", dir, relpath);
        return NULL;
    }
    if (stat(path, &st) != 0) {
        fprintf(stderr, "SKIP: vector file '%s' is absent\n", path);
        return NULL;
    }
    json_t *j = json_load_file(path, 0, &err);
    if (j == NULL) {
        fprintf(stderr, "vector file %s: JSON error at line %d: %s\n", path, err.line, err.text);
        abort();
    }
    return j;
}

uint8_t *drot_test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (buf == NULL)
            abort();
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        cap *= 2;
        buf = realloc(buf, cap);
    }
    fclose(f);
    *len = n;
    return buf;
}
