/*
 * bench_fill.c — grows a drot-server registry for the registry-growth
 * benchmark (docs/performance.md): registers COUNT filler devices of class
 * "filler" through the store API (ds_device_register_bulk, 100000 per
 * transaction), on SQLite or PostgreSQL, and prints how long it took.
 *
 *   drot-bench-fill --db URL --count N [--first K]
 *
 * Filler device ids are 0xf1 ‖ 0…0 ‖ the index (big-endian), so they never
 * meet the fleet's random ids in practice and a second run with --first
 * continues where the first stopped; each key is 0x04 ‖ SHA-256(index, "x")
 * ‖ SHA-256(index, "y"): unique, of the right form (the store checks only
 * the form; these devices never attest).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drot_crypto.h"
#include "store.h"

#define CHUNK 100000u

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    const char *db = NULL;
    unsigned long count = 0, first = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
            db = argv[++i];
        else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
            count = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--first") == 0 && i + 1 < argc)
            first = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--help") == 0) {
            printf("usage: drot-bench-fill --db URL --count N [--first K]\n"
                   "Registers N filler devices (class \"filler\", ids f1…, never attesting) in the\n"
                   "drot-server database at URL (sqlite:PATH or postgresql://…), 100000 per\n"
                   "transaction through ds_device_register_bulk; prints the time taken.\n");
            return 0;
        } else {
            fprintf(stderr, "drot-bench-fill: unknown option '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    if (db == NULL || count == 0 || count > 100000000ul) {
        fprintf(stderr, "drot-bench-fill: needs --db URL and --count 1..100000000\n");
        return 2;
    }
    char err[512];
    ds_store *s = NULL;
    int version = 0;
    if (ds_store_open(db, &s, err, sizeof err) != DS_OK) {
        fprintf(stderr, "drot-bench-fill: --db: %s\n", err);
        return 1;
    }
    if (ds_store_migrate(s, &version) != DS_OK) {
        fprintf(stderr, "drot-bench-fill: migration: %s\n", ds_store_error(s));
        ds_store_close(s);
        return 1;
    }
    ds_device_new *devs = calloc(CHUNK, sizeof *devs);
    if (devs == NULL)
        return 1;
    double t0 = now_s();
    int rc = 0;
    for (unsigned long done = 0; done < count && rc == 0;) {
        size_t n = count - done < CHUNK ? (size_t)(count - done) : CHUNK;
        for (size_t k = 0; k < n; k++) {
            uint64_t idx = first + done + k;
            ds_device_new *d = &devs[k];
            memset(d->device_id, 0, sizeof d->device_id);
            d->device_id[0] = 0xf1;
            for (int b = 0; b < 8; b++)
                d->device_id[15 - b] = (uint8_t)(idx >> (8 * b));
            uint8_t in[9];
            memcpy(in, d->device_id + 8, 8);
            d->drk_pub[0] = 0x04;
            in[8] = 'x';
            drot_sha256(in, sizeof in, d->drk_pub + 1);
            in[8] = 'y';
            drot_sha256(in, sizeof in, d->drk_pub + 33);
            d->class_name = "filler";
            d->epoch = 0;
        }
        size_t dup = 0;
        if (ds_device_register_bulk(s, devs, n, &dup) != DS_OK) {
            fprintf(stderr, "drot-bench-fill: batch at %lu: %s\n", first + done, ds_store_error(s));
            rc = 1;
        }
        done += n;
        fprintf(stderr, "drot-bench-fill: %lu/%lu (%.1f s)\n", done, count, now_s() - t0);
    }
    if (rc == 0)
        printf("{\"registered\": %lu, \"seconds\": %.2f, \"backend\": \"%s\"}\n", count, now_s() - t0,
               ds_store_backend(s));
    free(devs);
    ds_store_close(s);
    return rc;
}
