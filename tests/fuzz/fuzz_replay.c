/*
 * fuzz_replay.c — runs a fuzz target over files, without libFuzzer.
 *
 *   drot-fuzz-replay-<target> PATH...
 *
 * Calls LLVMFuzzerTestOneInput once for every regular file named, and for
 * every regular file directly inside every directory named (one level, in
 * name order). Each input is copied into a buffer of exactly its size, as
 * libFuzzer does, so a sanitizer build sees any read past the end. A target
 * reports a violated property by aborting, which fails the run; otherwise
 * this prints "replayed N inputs" and exits 0. A path that cannot be read is
 * an error (exit 2): a corpus that silently is not there must not pass.
 *
 * With this, every target also builds with gcc and runs over its corpus as
 * an ordinary CTest test (tests/cmake/fuzz.cmake).
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_target.h"

static unsigned long g_count;

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t cap = 0, len = 0;

    if (f == NULL) {
        fprintf(stderr, "fuzz-replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    for (;;) {
        if (len == cap) {
            size_t ncap = cap != 0 ? 2 * cap : 4096;
            uint8_t *nbuf = realloc(buf, ncap);
            if (nbuf == NULL) {
                free(buf);
                fclose(f);
                fprintf(stderr, "fuzz-replay: %s: out of memory\n", path);
                return -1;
            }
            buf = nbuf;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        fprintf(stderr, "fuzz-replay: %s: read error\n", path);
        return -1;
    }
    /* Exactly len bytes (at least one allocated), like libFuzzer's copy. */
    uint8_t *exact = malloc(len != 0 ? len : 1);
    if (exact == NULL) {
        free(buf);
        return -1;
    }
    if (len != 0)
        memcpy(exact, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    g_count++;
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int replay_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;

    if (d == NULL) {
        fprintf(stderr, "fuzz-replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            size_t ncap = cap != 0 ? 2 * cap : 64;
            char **nn = realloc(names, ncap * sizeof *names);
            if (nn == NULL) {
                rc = -1;
                break;
            }
            names = nn;
            cap = ncap;
        }
        size_t len = strlen(dir) + 1 + strlen(e->d_name) + 1;
        names[n] = malloc(len);
        if (names[n] == NULL) {
            rc = -1;
            break;
        }
        snprintf(names[n], len, "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof *names, cmp_names);
    for (size_t k = 0; k < n; k++) {
        struct stat sb;
        if (rc == 0 && stat(names[k], &sb) == 0 && S_ISREG(sb.st_mode))
            rc = replay_file(names[k]);
        free(names[k]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        struct stat sb;
        if (stat(argv[i], &sb) != 0) {
            fprintf(stderr, "fuzz-replay: %s: %s\n", argv[i], strerror(errno));
            return 2;
        }
        int rc = S_ISDIR(sb.st_mode) ? replay_dir(argv[i]) : S_ISREG(sb.st_mode) ? replay_file(argv[i]) : 0;
        if (rc != 0)
            return 2;
    }
    printf("replayed %lu inputs\n", g_count);
    return 0;
}
