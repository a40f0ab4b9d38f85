/*
 * jobs_fixture.h — the fixture and helpers shared by the rotation job tests
 * (tests/server/test_jobs.c, tests/server/test_jobs_shared.c), each run
 * against both backends:
 *
 *   DROT_STORE_BACKEND=sqlite    a fresh database file in a temporary
 *                                directory per test;
 *   DROT_STORE_BACKEND=postgres  the private cluster of the drot_pg fixture
 *                                (tests/support/pg_cluster.sh, URL in the
 *                                file $DROT_PG_URL_FILE). Each test binary
 *                                works in its own schema ($DROT_PG_SCHEMA,
 *                                emptied before every test), so the binaries
 *                                may run beside each other and beside
 *                                test_store_postgres, which empties "public".
 *
 * "Nothing written" is checked with snapshots: every job and campaign
 * (through the API), and a checksum of the device rows and the key-history
 * count read directly with sqlite3 / libpq, before and after a refused call.
 */
#ifndef DROT_JOBS_FIXTURE_H
#define DROT_JOBS_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "store.h"

#define T0      1800000000 /* "now" of the tests; leases are relative to it */
#define MAXSNAP 128
#define RACE_N  50

/* One test: its backend, database and store; forked children are killed
 * and reaped in teardown. */
typedef struct fx {
    bool pg;
    char dir[256];
    char path[300];
    char url[600];
    ds_store *s;
    pid_t kids[2];
} fx;

typedef struct snap {
    ds_job jobs[MAXSNAP];
    size_t n_jobs;
    ds_campaign camps[16];
    size_t n_camps;
    long long devices_sum; /* a checksum over epochs, statuses and keys, read directly */
    long long keys;
} snap;

/* Collects claimed or listed job ids (ids_cb). */
typedef struct ids_ctx {
    int64_t id[64];
    size_t n;
    char owner[DS_JOB_OWNER_MAX + 1];
    int64_t until;
} ids_ctx;

/* Direct access with constant SQL, bypassing the code under test. */
long long raw_scalar(const fx *f, const char *sql);
void raw_exec(const fx *f, const char *sql);

/* cmocka setup / teardown: an empty, migrated store in *state (an fx). */
int setup(void **state);
int teardown(void **state);

/* Device n's id and a distinct 65-byte "public key" per seed. */
void make_id(uint32_t n, uint8_t id[DS_DEVICE_ID_LEN]);
void make_key(uint32_t seed, uint8_t pub[DS_DRK_PUB_LEN]);
/* Registers devices first..first+n-1 of class cls, then moves them to
 * status (registered, enrolled, active or quarantined). */
void add_devices(fx *f, uint32_t first, uint32_t n, const char *cls, ds_device_status status);
/* A root rotation job, server mode, no campaign, for device dev. */
int64_t new_job(fx *f, uint32_t dev, uint32_t max_attempts);
/* A trust-anchor rotation job for device dev, new authority key make_key(kseed). */
int64_t new_anchor_job(fx *f, uint32_t dev, uint32_t max_attempts, uint32_t kseed);
ds_job get_job(fx *f, int64_t id);
/* Issues job id from its device's current epoch, with key seed kseed. */
ds_status issue(fx *f, int64_t id, const char *owner, uint32_t kseed, int64_t now);
/* Completes job id with the key and epoch it recorded. */
ds_status complete(fx *f, int64_t id, int64_t now);

void take(fx *f, snap *s);
/* Fails the test naming what unless the database still matches before. */
void same(fx *f, const snap *before, const char *what);

/* Callbacks: count_job / count_camp count into a size_t; ids_cb fills an ids_ctx. */
int count_job(const ds_job *j, void *ctx);
int count_camp(const ds_campaign *c, void *ctx);
int ids_cb(const ds_job *j, void *ctx);
size_t list_count(fx *f, const uint8_t *dev, ds_job_state st, int64_t camp);

#endif
