/*
 * test_revocation_store.c — revocations and published lists
 * (server/src/revocation.c, migration 008), run by CTest against SQLite and
 * against a private PostgreSQL cluster (store_fixture.h).
 *
 * Lists are signed here by in-process test keys (the custody signer is
 * exercised by the end-to-end test); every published list is checked with
 * the common verifier, as a device would. Counts are read back with raw SQL
 * so that they need not trust the code under test.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit.h"
#include "drot/revocation.h"
#include "revocation.h"
#include "store_fixture.h"

/* Two signing keys: "k0" and "k1" (fixed scalars). */
static drot_p256_priv g_priv[2];
static drot_p256_pub g_pub[2];
static uint8_t g_hash[2][32];

static void keys_init(void)
{
    for (int k = 0; k < 2; k++) {
        uint8_t d[32];
        memset(d, 0x44 + k, sizeof d);
        assert_int_equal(drot_p256_key_from_scalar(d, &g_priv[k], &g_pub[k]), DROT_OK);
        assert_int_equal(drot_sha256(g_pub[k].q, 65, g_hash[k]), DROT_OK);
    }
}

typedef struct signer {
    int calls;
    bool refuse;
} signer;

/* k0 unless the list revokes it, then k1; like the custody signer. */
static int test_sign(void *ctx, const drot_revocation_list *l, const uint8_t *payload, size_t len,
                     uint8_t *out, size_t cap, size_t *out_len, char name[DS_KEY_NAME_MAX], char *err,
                     size_t errcap)
{
    signer *sg = ctx;
    sg->calls++;
    if (sg->refuse) {
        snprintf(err, errcap, "test signer refuses");
        return -1;
    }
    int k = drot_revocation_has_authority(l, g_hash[0]) ? 1 : 0;
    if (drot_revocation_has_authority(l, g_hash[k])) {
        snprintf(err, errcap, "both test keys revoked");
        return -1;
    }
    snprintf(name, DS_KEY_NAME_MAX, "k%d", k);
    return drot_authority_sign(&g_priv[k], &g_pub[k], DROT_AUTH_CT_REVOCATION, payload, len, out, cap,
                               out_len) == DROT_OK
               ? 0
               : -1;
}

static void value_of(uint32_t n, uint8_t v[32])
{
    memset(v, 0, 32);
    v[0] = 0xAB;
    v[28] = (uint8_t)(n >> 24);
    v[29] = (uint8_t)(n >> 16);
    v[30] = (uint8_t)(n >> 8);
    v[31] = (uint8_t)n;
}

static ds_status add(fx *f, ds_rev_kind kind, const uint8_t *v, size_t n, signer *sg, ds_revocation *out,
                     ds_rev_list *list)
{
    ds_rev_new r = {kind, v, n, "test reason", "test operator"};
    return ds_rev_add(f->s, &r, 1767225600, test_sign, sg, out, list);
}

/* The stored list verifies as a device would check it; returns it decoded
 * into l (which points into L). */
static void expect_valid(const ds_rev_list *L, drot_revocation_list *l)
{
    drot_anchor_slot slots[2];
    uint8_t digest[32];
    memset(slots, 0, sizeof slots);
    for (int k = 0; k < 2; k++) {
        memcpy(slots[k].hash, g_hash[k], 32);
        slots[k].present = true;
    }
    assert_int_equal(drot_revocation_verify(L->signed_msg, L->signed_len, slots, 2, l, NULL, digest),
                     DROT_OK);
    assert_memory_equal(digest, L->digest, 32);
    assert_int_equal(l->version, L->version);
}

/* 1. Nothing published: version 0, no current list, nothing revoked. */
static void test_empty(void **state)
{
    fx *f = *state;
    uint64_t v = 9;
    static ds_rev_list L;
    bool r = true;
    uint8_t val[32];
    value_of(1, val);
    assert_int_equal(ds_rev_version(f->s, &v), DS_OK);
    assert_int_equal(v, 0);
    assert_int_equal(ds_rev_list_current(f->s, &L), DS_E_NOT_FOUND);
    assert_int_equal(ds_rev_list_get(f->s, 1, &L), DS_E_NOT_FOUND);
    assert_int_equal(ds_rev_is_revoked(f->s, DS_REV_AUTHORITY, val, 32, &r), DS_OK);
    assert_false(r);
}

/* 2. An authority key revoked: list 1, signed, holding it; revoking it
 *    again is DS_E_EXISTS and publishes nothing; a second revocation makes
 *    list 2 holding both (V2). */
static void test_authority(void **state)
{
    fx *f = *state;
    signer sg = {0, false};
    static ds_rev_list L, L2;
    drot_revocation_list l;
    ds_revocation x;
    uint8_t v1[32], v2[32];
    bool r = false;
    value_of(1, v1);
    value_of(2, v2);
    assert_int_equal(add(f, DS_REV_AUTHORITY, v1, 32, &sg, &x, &L), DS_OK);
    assert_int_equal(x.list_version, 1);
    assert_false(x.has_device);
    assert_true(x.id > 0);
    assert_string_equal(L.signer, "k0");
    expect_valid(&L, &l);
    assert_int_equal(l.n_authorities, 1);
    assert_memory_equal(l.authorities[0], v1, 32);
    assert_int_equal(ds_rev_is_revoked(f->s, DS_REV_AUTHORITY, v1, 32, &r), DS_OK);
    assert_true(r);
    assert_int_equal(ds_rev_is_revoked(f->s, DS_REV_DRK, v1, 32, &r), DS_OK);
    assert_false(r); /* kinds are separate */

    /* Audited in the same transaction (audit.h). */
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM audit_log WHERE action = 'revocation.add' AND "
                                   "actor = 'operator:test_operator' AND subject LIKE 'authority:ab%'"),
                     1);
    assert_int_equal(ds_audit_check(f->s, NULL), DS_OK);

    assert_int_equal(add(f, DS_REV_AUTHORITY, v1, 32, &sg, NULL, NULL), DS_E_EXISTS);
    assert_non_null(strstr(ds_store_error(f->s), "revoked already"));
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM revocation_lists"), 1);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM audit_log"), 1);

    assert_int_equal(add(f, DS_REV_AUTHORITY, v2, 32, &sg, NULL, NULL), DS_OK);
    assert_int_equal(ds_rev_list_current(f->s, &L2), DS_OK);
    assert_int_equal(L2.version, 2);
    assert_int_equal(L2.entries, 2);
    expect_valid(&L2, &l);
    assert_int_equal(l.n_authorities, 2);
    assert_int_equal(ds_rev_list_get(f->s, 1, &L), DS_OK);
    assert_int_equal(L.version, 1);
    /* Revoking k0 itself: the list is signed by k1 (V3). */
    assert_int_equal(add(f, DS_REV_AUTHORITY, g_hash[0], 32, &sg, NULL, &L), DS_OK);
    assert_string_equal(L.signer, "k1");
    expect_valid(&L, &l);
}

/* 3. A device root key and a certificate: the devices they belong to move to
 *    revoked, with a status-log row; a decommissioned device stays so; a
 *    serial given with leading zeros is stored without them. */
static void test_devices(void **state)
{
    fx *f = *state;
    signer sg = {0, false};
    static ds_rev_list L;
    drot_revocation_list l;
    ds_revocation x;
    ds_device d;
    ds_device_new nd[3];
    uint8_t h[32];
    for (uint32_t i = 0; i < 3; i++)
        make_dev(&nd[i], 100 + i, "sim-v1");
    assert_int_equal(ds_device_register_bulk(f->s, nd, 3, NULL), DS_OK);

    assert_int_equal(drot_sha256(nd[0].drk_pub, 65, h), DROT_OK);
    assert_int_equal(add(f, DS_REV_DRK, h, 32, &sg, &x, &L), DS_OK);
    assert_true(x.has_device);
    assert_memory_equal(x.device_id, nd[0].device_id, 16);
    assert_int_equal(ds_device_get(f->s, nd[0].device_id, &d), DS_OK);
    assert_int_equal(d.status, DS_DEV_REVOKED);
    assert_non_null(strstr(d.status_reason, "device root key revoked: test reason"));
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM device_status_log WHERE to_status = 'revoked'"), 1);
    assert_int_equal(raw_scalar(f,
                                "SELECT count(*) FROM audit_log WHERE action = 'revocation.add' AND detail "
                                "LIKE '%\"device_revoked\":true%'"),
                     1);
    bool r = false;
    assert_int_equal(ds_rev_drk_revoked(f->s, nd[0].drk_pub, &r), DS_OK);
    assert_true(r);
    assert_int_equal(ds_rev_drk_revoked(f->s, nd[1].drk_pub, &r), DS_OK);
    assert_false(r);

    static const uint8_t serial[16] = {0x41, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    static const uint8_t padded[18] = {0, 0, 0x41, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    assert_int_equal(ds_rev_cert_record(f->s, serial, 16, nd[1].device_id, 1, 2), DS_OK);
    assert_int_equal(ds_rev_cert_record(f->s, serial, 16, nd[1].device_id, 1, 2), DS_OK); /* no-op */
    assert_int_equal(add(f, DS_REV_CERT, padded, sizeof padded, &sg, &x, &L), DS_OK);
    assert_int_equal(x.value_len, 16);
    assert_true(x.has_device);
    assert_memory_equal(x.device_id, nd[1].device_id, 16);
    assert_int_equal(ds_device_get(f->s, nd[1].device_id, &d), DS_OK);
    assert_int_equal(d.status, DS_DEV_REVOKED);
    expect_valid(&L, &l);
    assert_int_equal(l.n_drks, 1);
    assert_int_equal(l.n_certs, 1);
    assert_true(drot_revocation_has_cert(&l, serial, 16));
    assert_int_equal(ds_rev_is_revoked(f->s, DS_REV_CERT, padded, sizeof padded, &r), DS_OK);
    assert_true(r);

    assert_int_equal(ds_device_set_status(f->s, nd[2].device_id, DS_DEV_DECOMMISSIONED, "gone"), DS_OK);
    assert_int_equal(drot_sha256(nd[2].drk_pub, 65, h), DROT_OK);
    assert_int_equal(add(f, DS_REV_DRK, h, 32, &sg, &x, NULL), DS_OK);
    assert_true(x.has_device);
    assert_int_equal(ds_device_get(f->s, nd[2].device_id, &d), DS_OK);
    assert_int_equal(d.status, DS_DEV_DECOMMISSIONED);
    /* A serial nobody was issued: revoked all the same, no device. */
    static const uint8_t stray[3] = {1, 2, 3};
    assert_int_equal(add(f, DS_REV_CERT, stray, 3, &sg, &x, NULL), DS_OK);
    assert_false(x.has_device);
    assert_int_equal(ds_store_check(f->s), DS_OK);
}

/* 4. Limits and refusals change nothing: 16 authority keys fit, the 17th is
 *    DS_E_CONFLICT naming the limit; a refusing signer is DS_E_CONFLICT;
 *    bad values and missing reasons are DS_E_ARG; the row and list counts
 *    and the version are unchanged after each refusal. */
static void test_limits_refusals(void **state)
{
    fx *f = *state;
    signer sg = {0, false};
    uint8_t v[32];
    for (uint32_t i = 0; i < DROT_REVOCATION_MAX_AUTHORITIES; i++) {
        value_of(1000 + i, v);
        assert_int_equal(add(f, DS_REV_AUTHORITY, v, 32, &sg, NULL, NULL), DS_OK);
    }
    value_of(2000, v);
    assert_int_equal(add(f, DS_REV_AUTHORITY, v, 32, &sg, NULL, NULL), DS_E_CONFLICT);
    assert_non_null(strstr(ds_store_error(f->s), "at most 16"));
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM revocations"), 16);
    assert_int_equal(raw_scalar(f, "SELECT max(version) FROM revocation_lists"), 16);
    /* Other kinds still fit. */
    assert_int_equal(add(f, DS_REV_DRK, v, 32, &sg, NULL, NULL), DS_OK);

    signer no = {0, true};
    value_of(3000, v);
    assert_int_equal(add(f, DS_REV_DRK, v, 32, &no, NULL, NULL), DS_E_CONFLICT);
    assert_non_null(strstr(ds_store_error(f->s), "test signer refuses"));
    assert_int_equal(no.calls, 1);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM revocations"), 17);
    assert_int_equal(raw_scalar(f, "SELECT max(version) FROM revocation_lists"), 17);

    assert_int_equal(add(f, DS_REV_DRK, v, 31, &sg, NULL, NULL), DS_E_ARG);
    static const uint8_t zero[4] = {0, 0, 0, 0};
    assert_int_equal(add(f, DS_REV_CERT, zero, 4, &sg, NULL, NULL), DS_E_ARG);
    uint8_t long_serial[21];
    memset(long_serial, 7, sizeof long_serial);
    assert_int_equal(add(f, DS_REV_CERT, long_serial, 21, &sg, NULL, NULL), DS_E_ARG);
    ds_rev_new bad = {DS_REV_DRK, v, 32, "", "op"};
    assert_int_equal(ds_rev_add(f->s, &bad, 1, test_sign, &sg, NULL, NULL), DS_E_ARG);
    bad.reason = "line\nbreak";
    assert_int_equal(ds_rev_add(f->s, &bad, 1, test_sign, &sg, NULL, NULL), DS_E_ARG);
    bad.reason = "ok";
    bad.by = NULL;
    assert_int_equal(ds_rev_add(f->s, &bad, 1, test_sign, &sg, NULL, NULL), DS_E_ARG);
    bad.by = "op";
    bad.kind = DS_REV_ANY;
    assert_int_equal(ds_rev_add(f->s, &bad, 1, test_sign, &sg, NULL, NULL), DS_E_ARG);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM revocations"), 17);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM revocation_lists"), 17);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM audit_log WHERE action = 'revocation.add'"), 17);
}

typedef struct seen {
    int n;
    uint64_t versions[64];
} seen;

static int seen_cb(const ds_revocation *r, void *ctx)
{
    seen *s = ctx;
    if (s->n < 64)
        s->versions[s->n] = r->list_version;
    s->n++;
    return 0;
}

/* 5. Listing: ds_rev_each by kind and all, in id order, each naming the
 *    first list that carries it. */
static void test_each(void **state)
{
    fx *f = *state;
    signer sg = {0, false};
    uint8_t v[32];
    for (uint32_t i = 0; i < 5; i++) {
        value_of(i, v);
        assert_int_equal(add(f, i % 2 ? DS_REV_DRK : DS_REV_AUTHORITY, v, 32, &sg, NULL, NULL), DS_OK);
    }
    seen all = {0}, drk = {0};
    assert_int_equal(ds_rev_each(f->s, DS_REV_ANY, seen_cb, &all), DS_OK);
    assert_int_equal(all.n, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(all.versions[i], (uint64_t)i + 1);
    assert_int_equal(ds_rev_each(f->s, DS_REV_DRK, seen_cb, &drk), DS_OK);
    assert_int_equal(drk.n, 2);
}

/* 6. Two servers publishing at once (two processes, each its own
 *    connection, 12 revocations each): versions 1..24 with no gap or repeat,
 *    and list n holds exactly n entries (V2). */
static void test_concurrent(void **state)
{
    fx *f = *state;
    for (int k = 0; k < 2; k++) {
        f->kids[k] = fork();
        assert_true(f->kids[k] >= 0);
        if (f->kids[k] == 0) {
            ds_store *s = NULL;
            char err[256];
            int bad = 0;
            if (ds_store_open(f->url, &s, err, sizeof err) != DS_OK)
                _exit(2);
            for (uint32_t i = 0; i < 12; i++) {
                uint8_t v[32];
                signer sg = {0, false};
                value_of((uint32_t)k * 100 + i, v);
                ds_rev_new r = {DS_REV_DRK, v, 32, "race", "server"};
                ds_status st;
                int tries = 0;
                while ((st = ds_rev_add(s, &r, 1, test_sign, &sg, NULL, NULL)) == DS_E_BUSY && tries++ < 50)
                    usleep(20000);
                if (st != DS_OK) {
                    fprintf(stderr, "child %d: %s\n", k, ds_store_error(s));
                    bad = 1;
                }
            }
            ds_store_close(s);
            _exit(bad);
        }
    }
    for (int k = 0; k < 2; k++) {
        int status = 0;
        assert_int_equal(waitpid(f->kids[k], &status, 0), f->kids[k]);
        f->kids[k] = 0;
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM revocation_lists"), 24);
    assert_int_equal(raw_scalar(f, "SELECT max(version) FROM revocation_lists"), 24);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM revocation_lists WHERE entries <> version"), 0);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM audit_log"), 24);
    assert_int_equal(ds_audit_check(f->s, NULL), DS_OK);
    static ds_rev_list L;
    drot_revocation_list l;
    for (uint64_t v = 1; v <= 24; v++) {
        assert_int_equal(ds_rev_list_get(f->s, v, &L), DS_OK);
        expect_valid(&L, &l);
        assert_int_equal(l.n_drks, v);
    }
}

int main(void)
{
    keys_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_authority, setup, teardown),
        cmocka_unit_test_setup_teardown(test_devices, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_each, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
