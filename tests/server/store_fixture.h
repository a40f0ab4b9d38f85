/*
 * store_fixture.h — the fixture of the storage tests (test_store.c,
 * test_store_attest.c), each run twice by CTest:
 *
 *   DROT_STORE_BACKEND=sqlite    a fresh database file in a temporary
 *                                directory per test;
 *   DROT_STORE_BACKEND=postgres  the private cluster started by the CTest
 *                                fixture (tests/support/pg_cluster.sh), whose
 *                                URL is in the file $DROT_PG_URL_FILE; every
 *                                test starts from an empty public schema.
 *
 * raw_scalar / raw_exec read and write the database directly (sqlite3 /
 * libpq), so that checks need not trust the code under test. teardown kills
 * and reaps the children in kids[] whatever the outcome, and removes the
 * temporary files. Test code: cmocka assertions inside.
 */
#ifndef DROT_TEST_STORE_FIXTURE_H
#define DROT_TEST_STORE_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "store.h"

typedef struct fx {
    bool pg;
    char dir[256];
    char path[300];
    char url[600];
    ds_store *s;
    pid_t kids[2];
} fx;

/* One value of a one-row, one-column query (-1 if it fails). */
long long raw_scalar(const fx *f, const char *sql);
/* Runs constant SQL; fails the test if it fails. */
void raw_exec(const fx *f, const char *sql);

/* cmocka setup: a store opened and migrated (setup) or left empty (setup_empty). */
int setup(void **state);
int setup_empty(void **state);
int teardown(void **state);

/* Device id and a distinct 65-byte "public key" for n (the store checks only its form). */
void make_id(uint32_t n, uint8_t id[DS_DEVICE_ID_LEN]);
void make_key(uint32_t seed, uint8_t pub[DS_DRK_PUB_LEN]);
void make_dev(ds_device_new *d, uint32_t n, const char *cls);
/* Registers devices first..first+n-1 of class cls (status "registered"). */
void register_n(fx *f, uint32_t first, uint32_t n, const char *cls);

#endif
