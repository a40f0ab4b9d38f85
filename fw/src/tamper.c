/*
 * tamper.c — tamper sensors, tamper log, and the response (see tamper.h).
 *
 * The log record (records.h, APM_REC_TAMPER_LOG; confidential and
 * authenticated by the record layer) has one fixed binary format:
 *
 *   0..3    magic "DTLG"
 *   4       format version 1
 *   5       n, the number of entries that follow, 0..APM_TAMPER_LOG_MAX
 *   6..7    0, 0
 *   8..15   total events ever logged, uint64 big-endian (saturates), ≥ n
 *   16..    n entries of 20 bytes, oldest first:
 *             kind uint32 BE (apm_tamper_kind), tick_ms uint64 BE,
 *             value int64 BE (two's complement)
 *
 * Anything else (length, magic, version, reserved bytes, n, total < n, an
 * unknown kind) is treated like a missing record: an empty log. A missing
 * record (never written, or both copies damaged) is indistinguishable from
 * an empty log at this layer; the lifecycle fuse, not the log, is the
 * durable proof of an intrusion.
 *
 * Appending is read-modify-write of the whole record (records.h R2: a power
 * cut leaves the old log or the new one). When the log holds
 * APM_TAMPER_LOG_MAX entries the oldest is dropped; the total still counts.
 *
 * Per boot, each kind of event is logged once: a voltage that stays out of
 * range is one event, not one per poll (which would wear the flash and
 * flood the log). The T3 "seen this boot" bits remember it in RAM.
 * Intrusion: once the lifecycle reads TAMPERED (bit 2 set, in this boot or
 * an earlier one) a further intrusion reading changes nothing and is not
 * logged again.
 */
#include "tamper.h"

#include <stdbool.h>
#include <string.h>

#include "keystore.h"
#include "records.h"

#define LOG_HDR_LEN     16u
#define LOG_ENTRY_LEN   20u
#define LOG_VERSION     1u
#define LOG_MAX_LEN     (LOG_HDR_LEN + APM_TAMPER_LOG_MAX * LOG_ENTRY_LEN)
#define LC_BIT_TAMPERED 0x04u /* otp.h: lifecycle bit 2 */

_Static_assert(LOG_MAX_LEN <= APM_REC_MAX, "tamper log larger than a record");

static const uint8_t LOG_MAGIC[4] = {'D', 'T', 'L', 'G'};

/* The log as RAM holds it between load and store. */
typedef struct tamper_log {
    apm_tamper_event ev[APM_TAMPER_LOG_MAX]; /* oldest first */
    size_t n;
    uint64_t total;
} tamper_log;

static void put_be(uint8_t *p, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8u * (bytes - 1u - i)));
}

static uint64_t get_be(const uint8_t *p, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v = (v << 8) | p[i];
    return v;
}

static bool kind_ok(uint32_t kind)
{
    return kind == APM_TAMPER_VOLTAGE || kind == APM_TAMPER_TEMPERATURE || kind == APM_TAMPER_INTRUSION;
}

static bool is_tampered(const apm_core *core)
{
    return core->otp.lifecycle == APM_LC_TAMPERED || (core->otp.lifecycle_bits & LC_BIT_TAMPERED) != 0;
}

/* Parses buf[0..len) into *log; false on any defect (see the top comment). */
static bool log_parse(const uint8_t *buf, size_t len, tamper_log *log)
{
    size_t n;

    if (len < LOG_HDR_LEN || memcmp(buf, LOG_MAGIC, sizeof LOG_MAGIC) != 0 || buf[4] != LOG_VERSION ||
        buf[6] != 0 || buf[7] != 0)
        return false;
    n = buf[5];
    if (n > APM_TAMPER_LOG_MAX || len != LOG_HDR_LEN + n * LOG_ENTRY_LEN)
        return false;
    log->total = get_be(buf + 8, 8);
    if (log->total < n)
        return false;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *e = buf + LOG_HDR_LEN + i * LOG_ENTRY_LEN;
        log->ev[i].kind = (uint32_t)get_be(e, 4);
        log->ev[i].tick_ms = get_be(e + 4, 8);
        log->ev[i].value = (int64_t)get_be(e + 12, 8);
        if (!kind_ok(log->ev[i].kind))
            return false;
    }
    log->n = n;
    return true;
}

/* Reads the log; a missing or unusable record is an empty log. Errors other
 * than "no valid copy" (a HAL failure) are returned. */
static apm_status log_load(apm_core *core, tamper_log *log)
{
    uint8_t buf[LOG_MAX_LEN];
    size_t len = 0;
    uint32_t seq = 0;
    apm_status st;

    memset(log, 0, sizeof *log);
    st = apm_rec_read(core, APM_REC_TAMPER_LOG, buf, sizeof buf, &len, &seq);
    if (st == APM_E_CORRUPT)
        return APM_OK;
    if (st != APM_OK)
        return st;
    if (!log_parse(buf, len, log))
        memset(log, 0, sizeof *log);
    return APM_OK;
}

static apm_status log_store(apm_core *core, const tamper_log *log)
{
    uint8_t buf[LOG_MAX_LEN];

    memcpy(buf, LOG_MAGIC, sizeof LOG_MAGIC);
    buf[4] = LOG_VERSION;
    buf[5] = (uint8_t)log->n;
    buf[6] = buf[7] = 0;
    put_be(buf + 8, log->total, 8);
    for (size_t i = 0; i < log->n; i++) {
        uint8_t *e = buf + LOG_HDR_LEN + i * LOG_ENTRY_LEN;
        put_be(e, log->ev[i].kind, 4);
        put_be(e + 4, log->ev[i].tick_ms, 8);
        put_be(e + 12, (uint64_t)log->ev[i].value, 8);
    }
    return apm_rec_write(core, APM_REC_TAMPER_LOG, buf, LOG_HDR_LEN + log->n * LOG_ENTRY_LEN);
}

/* Appends one event (dropping the oldest when full) and updates t->count. */
static apm_status log_append(apm_core *core, apm_tamper_state *t, apm_tamper_kind kind, int64_t value)
{
    tamper_log log;
    apm_tamper_event ev;
    apm_status st;

    ev.kind = (uint32_t)kind;
    ev.tick_ms = core->hal->tick_ms != NULL ? core->hal->tick_ms(core->hal->ctx) : 0;
    ev.value = value;

    st = log_load(core, &log);
    if (st != APM_OK)
        return st;
    if (log.n == APM_TAMPER_LOG_MAX) {
        memmove(&log.ev[0], &log.ev[1], (APM_TAMPER_LOG_MAX - 1u) * sizeof log.ev[0]);
        log.n--;
    }
    log.ev[log.n++] = ev;
    if (log.total != UINT64_MAX)
        log.total++;
    st = log_store(core, &log);
    if (st == APM_OK)
        t->count = log.total;
    return st;
}

/* True unless the key store record is certainly absent: only "no valid
 * copy" counts as absent, so a read failure errs towards zeroizing. The
 * decrypted record holds private keys and is wiped. */
static bool keystore_present(apm_core *core)
{
    uint8_t buf[APM_REC_MAX];
    size_t len = 0;
    uint32_t seq = 0;
    apm_status st = apm_rec_read(core, APM_REC_KEYSTORE, buf, sizeof buf, &len, &seq);
    drot_wipe(buf, sizeof buf);
    return st != APM_E_CORRUPT;
}

/* Drops the DRK from RAM and erases the key store record. */
static apm_status zeroize_keys(apm_core *core)
{
    apm_status st = apm_ks_zeroize(core);
    drot_wipe(&core->drk, sizeof core->drk);
    core->drk.present = false;
    return st;
}

/* see tamper.h */
apm_status apm_tamper_init(apm_core *core, apm_tamper_state *t)
{
    tamper_log log;
    apm_status st;

    if (t != NULL)
        memset(t, 0, sizeof *t);
    if (core == NULL || core->hal == NULL || t == NULL)
        return APM_E_ARG;

    if (is_tampered(core)) {
        /* T2: whatever a power cut interrupted, a TAMPERED device holds no key. */
        t->bits |= APM_TAMPER_BIT_INTRUSION;
        if (core->drk.present || keystore_present(core)) {
            st = zeroize_keys(core);
            if (st != APM_OK)
                return st;
        }
    }
    st = log_load(core, &log);
    if (st != APM_OK)
        return st;
    t->count = log.total;
    return APM_OK;
}

static bool voltage_excursion(int32_t mv)
{
    return mv < APM_TAMPER_MV_MIN || mv > APM_TAMPER_MV_MAX;
}

static bool temperature_excursion(int32_t mc)
{
    return mc < APM_TAMPER_MC_MIN || mc > APM_TAMPER_MC_MAX;
}

/* VOLTAGE and TEMPERATURE: lock key use in RAM first (so a failed log
 * write still leaves the lock), then log. */
static apm_status respond_lock(apm_core *core, apm_tamper_state *t, apm_tamper_kind kind, uint32_t bit,
                               int64_t value)
{
    t->locked = true;
    t->bits |= bit | APM_TAMPER_BIT_LOCKED;
    return log_append(core, t, kind, value);
}

/* INTRUSION, in the order of T2: lifecycle fuse (the commit point), key
 * store, log. A burn refused for another reason than power loss does not
 * stop the zeroization: the key goes whatever the fuse says. */
static apm_status respond_intrusion(apm_core *core, apm_tamper_state *t)
{
    apm_status st, burn, reload;

    t->locked = true;
    t->bits |= APM_TAMPER_BIT_INTRUSION | APM_TAMPER_BIT_LOCKED;

    burn = apm_otp_set_lifecycle(core->hal, APM_LC_TAMPERED);
    reload = apm_core_load_otp(core); /* otp.h O4: re-read, never patched */
    if (burn == APM_E_POWER)
        return burn;
    st = zeroize_keys(core);
    if (st != APM_OK)
        return st;
    st = log_append(core, t, APM_TAMPER_INTRUSION, 1);
    if (st != APM_OK)
        return st;
    if (burn != APM_OK)
        return burn;
    return reload;
}

/* see tamper.h */
apm_status apm_tamper_poll(apm_core *core, apm_tamper_state *t)
{
    apm_tamper_sensors s;
    apm_hal_status hs;
    apm_status st;

    if (core == NULL || core->hal == NULL || t == NULL)
        return APM_E_ARG;
    if (core->hal->tamper_read == NULL)
        return APM_E_HAL;
    memset(&s, 0, sizeof s);
    hs = core->hal->tamper_read(core->hal->ctx, &s);
    if (hs != APM_HAL_OK)
        return apm_from_hal(hs); /* no reading: no key use either */

    /* Intrusion first, and nothing returns before every reading has been
     * acted on: the port's intrusion latch is cleared by this read, so an
     * early return (a failed log write for a voltage event, say) would lose
     * the intrusion for good. The first failure is reported at the end. */
    apm_status first = APM_OK;
    if (is_tampered(core))
        t->bits |= APM_TAMPER_BIT_INTRUSION;
    if (s.intrusion && (t->bits & APM_TAMPER_BIT_INTRUSION) == 0) {
        st = respond_intrusion(core, t);
        if (st == APM_E_POWER)
            return st;
        if (first == APM_OK)
            first = st;
    }
    if (voltage_excursion(s.supply_mv) && (t->bits & APM_TAMPER_BIT_VOLTAGE) == 0) {
        st = respond_lock(core, t, APM_TAMPER_VOLTAGE, APM_TAMPER_BIT_VOLTAGE, s.supply_mv);
        if (st == APM_E_POWER)
            return st;
        if (first == APM_OK)
            first = st;
    }
    if (temperature_excursion(s.temp_mc) && (t->bits & APM_TAMPER_BIT_TEMPERATURE) == 0) {
        st = respond_lock(core, t, APM_TAMPER_TEMPERATURE, APM_TAMPER_BIT_TEMPERATURE, s.temp_mc);
        if (st == APM_E_POWER)
            return st;
        if (first == APM_OK)
            first = st;
    }
    if (first != APM_OK && first != APM_E_LOCKED && first != APM_E_LIFECYCLE)
        return first;

    if (is_tampered(core) || (t->bits & APM_TAMPER_BIT_INTRUSION) != 0)
        return APM_E_LIFECYCLE;
    if (t->locked)
        return APM_E_LOCKED;
    return APM_OK;
}

/* see tamper.h */
apm_status apm_tamper_log(apm_core *core, apm_tamper_event *out, size_t cap, size_t *n, uint64_t *total)
{
    tamper_log log;
    size_t first, k;
    apm_status st;

    if (n != NULL)
        *n = 0;
    if (total != NULL)
        *total = 0;
    if (core == NULL || n == NULL || total == NULL || (out == NULL && cap != 0))
        return APM_E_ARG;
    st = log_load(core, &log);
    if (st != APM_OK)
        return st;
    k = log.n < cap ? log.n : cap;
    first = log.n - k; /* the newest k, oldest first */
    for (size_t i = 0; i < k; i++)
        out[i] = log.ev[first + i];
    *n = k;
    *total = log.total;
    return APM_OK;
}
