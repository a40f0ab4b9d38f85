/*
 * test_fw_tamper.c — tamper sensors, the tamper log and the response
 * (fw/src/tamper.c; tamper.h T1–T3; docs/apm-boot.md "Tamper").
 *
 * Every device is a good one (fwt_create_good: its boot passed and it
 * attests) until a test changes the simulated sensors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "drot/cose.h"
#include "drot/eat.h"
#include "fw_test_util.h"
#include "otp.h"
#include "records.h"

#define NOMINAL_MV 3300
#define NOMINAL_MC 25000

static const uint8_t NONCE[32] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa,
                                  0xab, 0xac, 0xad, 0xae, 0xaf, 0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5,
                                  0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf};

/* A token in the drot profile, verified with the DRK and decoded; returns
 * the status of apm_attest_token. On success *claims holds the claims and
 * tok must outlive them. */
static apm_status drot_token(fwt_dev *d, uint8_t *tok, size_t cap, drot_eat_claims *claims)
{
    drot_cose_sign1_view view;
    size_t len = 12345;
    apm_status st = fwt_token(d, NONCE, sizeof NONCE, DROT_EAT_PROFILE_DROT, tok, cap, &len);
    if (st != APM_OK) {
        assert_int_equal(len, 0);
        return st;
    }
    assert_int_equal(drot_cose_sign1_verify_msg(tok, len, &d->core.drk.pub, NULL, 0, &view), DROT_OK);
    assert_int_equal(drot_eat_decode(view.payload, view.payload_len, claims), DROT_OK);
    return st;
}

/* The newest logged event is (kind, value), and total events were counted. */
static void assert_last_event(fwt_dev *d, uint32_t kind, int64_t value, uint64_t total)
{
    apm_tamper_event ev[APM_TAMPER_LOG_MAX];
    size_t n = 0;
    uint64_t tot = 0;
    assert_int_equal(apm_tamper_log(&d->core, ev, APM_TAMPER_LOG_MAX, &n, &tot), APM_OK);
    assert_true(n >= 1);
    assert_int_equal(ev[n - 1].kind, kind);
    assert_int_equal(ev[n - 1].value, value);
    assert_int_equal(tot, total);
    assert_int_equal(d->tamper.count, total);
}

typedef struct excursion {
    const char *name;
    int32_t mv, mc;
    uint32_t kind, bit;
    int64_t value;
} excursion;

static const excursion EXCURSIONS[] = {
    {"low voltage", APM_TAMPER_MV_MIN - 1, NOMINAL_MC, APM_TAMPER_VOLTAGE, APM_TAMPER_BIT_VOLTAGE,
     APM_TAMPER_MV_MIN - 1},
    {"high voltage", APM_TAMPER_MV_MAX + 1, NOMINAL_MC, APM_TAMPER_VOLTAGE, APM_TAMPER_BIT_VOLTAGE,
     APM_TAMPER_MV_MAX + 1},
    {"low temperature", NOMINAL_MV, APM_TAMPER_MC_MIN - 1, APM_TAMPER_TEMPERATURE, APM_TAMPER_BIT_TEMPERATURE,
     APM_TAMPER_MC_MIN - 1},
    {"high temperature", NOMINAL_MV, APM_TAMPER_MC_MAX + 1, APM_TAMPER_TEMPERATURE,
     APM_TAMPER_BIT_TEMPERATURE, APM_TAMPER_MC_MAX + 1},
};

/* Test 1: each voltage/temperature excursion (just outside each bound) /
 * the event is logged with its kind and reading; the token is refused with
 * APM_E_LOCKED and nothing is signed; the lock stays after the reading
 * returns to nominal; after a reboot the device attests again, the state
 * bits are clear and the token's tamper count is 1. */
static void test_voltage_and_temperature_lock_until_reboot(void **state)
{
    uint8_t tok[FWT_TOKEN_CAP];
    drot_eat_claims c;
    (void)state;

    for (size_t i = 0; i < sizeof EXCURSIONS / sizeof EXCURSIONS[0]; i++) {
        const excursion *e = &EXCURSIONS[i];
        fwt_dev d;
        fwt_create_good(&d);
        assert_int_equal(drot_token(&d, tok, sizeof tok, &c), APM_OK);
        assert_int_equal(c.drot.tamper_count, 0);

        fwt_sensors(&d, e->mv, e->mc, false);
        assert_int_equal(drot_token(&d, tok, sizeof tok, &c), APM_E_LOCKED);
        assert_last_event(&d, e->kind, e->value, 1);
        assert_true(d.tamper.locked);
        assert_int_equal(d.tamper.bits, e->bit | APM_TAMPER_BIT_LOCKED);
        assert_true(d.core.drk.present); /* locked, not zeroized */

        fwt_sensors(&d, NOMINAL_MV, NOMINAL_MC, false);
        assert_int_equal(drot_token(&d, tok, sizeof tok, &c), APM_E_LOCKED);
        assert_int_equal(apm_tamper_poll(&d.core, &d.tamper), APM_E_LOCKED);
        assert_last_event(&d, e->kind, e->value, 1); /* a lasting lock is not re-logged */

        assert_int_equal(fwt_reboot(&d), APM_OK);
        assert_false(d.tamper.locked);
        assert_int_equal(drot_token(&d, tok, sizeof tok, &c), APM_OK);
        assert_int_equal(c.drot.tamper_state, 0);
        assert_int_equal(c.drot.tamper_count, 1);
        assert_int_equal(c.security_lifecycle, apm_lifecycle_psa(d.core.otp.lifecycle));
        fwt_destroy(&d);
    }
}

/* Test 2: readings exactly at each bound / no event, the token is made. */
static void test_bounds_are_inside(void **state)
{
    static const int32_t mv[] = {APM_TAMPER_MV_MIN, APM_TAMPER_MV_MAX};
    static const int32_t mc[] = {APM_TAMPER_MC_MIN, APM_TAMPER_MC_MAX};
    uint8_t tok[FWT_TOKEN_CAP];
    drot_eat_claims c;
    fwt_dev d;
    (void)state;

    fwt_create_good(&d);
    for (size_t i = 0; i < 2; i++) {
        for (size_t j = 0; j < 2; j++) {
            fwt_sensors(&d, mv[i], mc[j], false);
            assert_int_equal(drot_token(&d, tok, sizeof tok, &c), APM_OK);
            assert_int_equal(c.drot.tamper_count, 0);
        }
    }
    assert_int_equal(d.tamper.count, 0);
    fwt_destroy(&d);
}

/* Test 3: intrusion / logged (INTRUSION, 1); the lifecycle fuse reads
 * TAMPERED; the DRK is gone from RAM and from flash; the token is refused
 * (APM_E_LIFECYCLE). After a reboot: lifecycle TAMPERED, no key, the token
 * is still refused, the log still holds the event. */
static void test_intrusion_zeroizes_and_burns(void **state)
{
    uint8_t tok[FWT_TOKEN_CAP], rec[APM_REC_MAX];
    size_t len = 0;
    uint32_t seq = 0;
    drot_eat_claims c;
    fwt_dev d;
    (void)state;

    fwt_create_good(&d);
    assert_int_equal(drot_token(&d, tok, sizeof tok, &c), APM_OK);
    fwt_sensors(&d, NOMINAL_MV, NOMINAL_MC, true);
    assert_int_equal(drot_token(&d, tok, sizeof tok, &c), APM_E_LIFECYCLE);
    assert_last_event(&d, APM_TAMPER_INTRUSION, 1, 1);
    assert_int_equal(d.core.otp.lifecycle, APM_LC_TAMPERED);
    assert_false(d.core.drk.present);
    assert_int_equal(apm_rec_read(&d.core, APM_REC_KEYSTORE, rec, sizeof rec, &len, &seq), APM_E_CORRUPT);
    assert_true((d.tamper.bits & APM_TAMPER_BIT_INTRUSION) != 0);

    assert_int_equal(fwt_reboot(&d), APM_OK); /* the image still verifies */
    assert_int_equal(d.core.otp.lifecycle, APM_LC_TAMPERED);
    assert_false(d.core.drk.present);
    assert_int_equal(d.tamper.bits & APM_TAMPER_BIT_INTRUSION, APM_TAMPER_BIT_INTRUSION);
    assert_int_equal(drot_token(&d, tok, sizeof tok, &c), APM_E_LIFECYCLE);
    assert_int_equal(apm_tamper_poll(&d.core, &d.tamper), APM_E_LIFECYCLE);
    assert_last_event(&d, APM_TAMPER_INTRUSION, 1, 1);
    assert_int_equal(apm_lifecycle_psa(d.core.otp.lifecycle), 0x4000);
    fwt_destroy(&d);
}

/* Test 4: a power cut after each write of the intrusion response (complete
 * and torn) / after the reboot either nothing changed (lifecycle not
 * TAMPERED, the key present, tokens made) or the lifecycle is TAMPERED and
 * no key exists (T2); never a TAMPERED device with a key, never a key-less
 * device that is not TAMPERED. */
static void test_intrusion_power_cut_sweep(void **state)
{
    uint8_t tok[FWT_TOKEN_CAP];
    drot_eat_claims c;
    int tampered_seen = 0, untouched_seen = 0;
    (void)state;

    for (long n = 1; n <= 12; n++) {
        for (int torn = 0; torn <= 1; torn++) {
            fwt_dev d;
            apm_status st;
            fwt_create_good(&d);
            apm_sim_cut_after(&d.sim, n, torn != 0);
            fwt_sensors(&d, NOMINAL_MV, NOMINAL_MC, true);
            st = apm_tamper_poll(&d.core, &d.tamper);
            assert_true(st == APM_E_POWER || st == APM_E_LIFECYCLE);
            fwt_reboot(&d); /* the sim's latch is RAM: it is gone now */
            if (d.core.otp.lifecycle == APM_LC_TAMPERED) {
                tampered_seen++;
                assert_false(d.core.drk.present);
                assert_int_equal(drot_token(&d, tok, sizeof tok, &c), APM_E_LIFECYCLE);
                fwt_reboot(&d);
                assert_false(d.core.drk.present);
            } else {
                untouched_seen++;
                assert_true(d.core.drk.present);
                assert_int_equal(drot_token(&d, tok, sizeof tok, &c), APM_OK);
            }
            fwt_destroy(&d);
        }
    }
    assert_true(tampered_seen > 0);
    assert_true(untouched_seen > 0); /* the torn first write (the fuse) changed nothing */
}

/* Test 5: 20 events over 10 boots (a voltage and a temperature event in each,
 * with distinct readings) / after a final reboot the log holds the newest
 * 16, oldest first, and the total is 20; the drot token's count is 20; a
 * smaller buffer gets the newest events. */
static void test_log_survives_reboot_newest_16(void **state)
{
    apm_tamper_event ev[APM_TAMPER_LOG_MAX + 4];
    uint8_t tok[FWT_TOKEN_CAP];
    drot_eat_claims c;
    size_t n = 0;
    uint64_t total = 0;
    fwt_dev d;
    (void)state;

    fwt_create_good(&d);
    for (int i = 0; i < 10; i++) {
        fwt_sensors(&d, 1000 + i, 200000 + i, false);
        assert_int_equal(apm_tamper_poll(&d.core, &d.tamper), APM_E_LOCKED);
        assert_int_equal(d.tamper.count, (uint64_t)(2 * i + 2));
        fwt_reboot(&d);
    }
    assert_int_equal(apm_tamper_log(&d.core, ev, sizeof ev / sizeof ev[0], &n, &total), APM_OK);
    assert_int_equal(n, APM_TAMPER_LOG_MAX);
    assert_int_equal(total, 20);
    assert_int_equal(d.tamper.count, 20);
    /* Events 4..19 remain: boot i logged voltage (1000 + i) then temperature (200000 + i). */
    for (size_t k = 0; k < n; k++) {
        size_t e = k + 4, boot = e / 2;
        if (e % 2 == 0) {
            assert_int_equal(ev[k].kind, APM_TAMPER_VOLTAGE);
            assert_int_equal(ev[k].value, 1000 + (int64_t)boot);
        } else {
            assert_int_equal(ev[k].kind, APM_TAMPER_TEMPERATURE);
            assert_int_equal(ev[k].value, 200000 + (int64_t)boot);
        }
    }
    assert_int_equal(apm_tamper_log(&d.core, ev, 3, &n, &total), APM_OK);
    assert_int_equal(n, 3);
    assert_int_equal(ev[2].value, 200009);
    assert_int_equal(ev[0].value, 200008);
    assert_int_equal(apm_tamper_log(&d.core, NULL, 0, &n, &total), APM_OK);
    assert_int_equal(n, 0);
    assert_int_equal(total, 20);
    assert_int_equal(apm_tamper_log(&d.core, NULL, 1, &n, &total), APM_E_ARG);

    assert_int_equal(drot_token(&d, tok, sizeof tok, &c), APM_OK);
    assert_int_equal(c.drot.tamper_count, 20);
    assert_int_equal(c.drot.tamper_state, 0);
    fwt_destroy(&d);
}

/* Test 6: voltage and temperature out of range together / both logged in
 * one poll, both bits set with LOCKED, APM_E_LOCKED. Then an intrusion in
 * the same boot / APM_E_LIFECYCLE, three events in all. */
static void test_events_together(void **state)
{
    fwt_dev d;
    (void)state;

    fwt_create_good(&d);
    fwt_sensors(&d, 100, 150000, false);
    assert_int_equal(apm_tamper_poll(&d.core, &d.tamper), APM_E_LOCKED);
    assert_int_equal(d.tamper.bits,
                     APM_TAMPER_BIT_VOLTAGE | APM_TAMPER_BIT_TEMPERATURE | APM_TAMPER_BIT_LOCKED);
    assert_int_equal(d.tamper.count, 2);
    fwt_sensors(&d, 100, 150000, true);
    assert_int_equal(apm_tamper_poll(&d.core, &d.tamper), APM_E_LIFECYCLE);
    assert_last_event(&d, APM_TAMPER_INTRUSION, 1, 3);
    fwt_destroy(&d);
}

/* Test 7: a garbled tamper log record (authentic, but not the log format) /
 * read as an empty log; the next event starts a fresh log. */
static void test_garbled_log_is_empty(void **state)
{
    static const uint8_t junk[10] = {'D', 'T', 'L', 'G', 9, 0, 0, 0, 0, 0};
    apm_tamper_event ev[4];
    size_t n = 9;
    uint64_t total = 9;
    fwt_dev d;
    (void)state;

    fwt_create_good(&d);
    assert_int_equal(apm_rec_write(&d.core, APM_REC_TAMPER_LOG, junk, sizeof junk), APM_OK);
    assert_int_equal(apm_tamper_log(&d.core, ev, 4, &n, &total), APM_OK);
    assert_int_equal(n, 0);
    assert_int_equal(total, 0);
    fwt_sensors(&d, 5000, NOMINAL_MC, false);
    assert_int_equal(apm_tamper_poll(&d.core, &d.tamper), APM_E_LOCKED);
    assert_last_event(&d, APM_TAMPER_VOLTAGE, 5000, 1);
    fwt_destroy(&d);
}

/* Test 8: a device whose lifecycle is burned TAMPERED while its key store
 * still holds a key (the state a power cut between the fuse and the
 * zeroization leaves) / apm_tamper_init zeroizes the key at the next boot. */
static void test_init_zeroizes_tampered_device(void **state)
{
    uint8_t rec[APM_REC_MAX];
    size_t len = 0;
    uint32_t seq = 0;
    fwt_dev d;
    (void)state;

    fwt_create_good(&d);
    assert_int_equal(apm_otp_set_lifecycle(&d.sim.hal, APM_LC_TAMPERED), APM_OK);
    assert_int_equal(apm_rec_read(&d.core, APM_REC_KEYSTORE, rec, sizeof rec, &len, &seq), APM_OK);
    fwt_reboot(&d);
    assert_int_equal(d.tamper_init_status, APM_OK);
    assert_false(d.core.drk.present);
    assert_int_equal(apm_rec_read(&d.core, APM_REC_KEYSTORE, rec, sizeof rec, &len, &seq), APM_E_CORRUPT);
    assert_true((d.tamper.bits & APM_TAMPER_BIT_INTRUSION) != 0);
    fwt_destroy(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_voltage_and_temperature_lock_until_reboot),
        cmocka_unit_test(test_bounds_are_inside),
        cmocka_unit_test(test_intrusion_zeroizes_and_burns),
        cmocka_unit_test(test_intrusion_power_cut_sweep),
        cmocka_unit_test(test_log_survives_reboot_newest_16),
        cmocka_unit_test(test_events_together),
        cmocka_unit_test(test_garbled_log_is_empty),
        cmocka_unit_test(test_init_zeroizes_tampered_device),
    };
    return cmocka_run_group_tests(tests, NULL, fwt_group_teardown);
}
