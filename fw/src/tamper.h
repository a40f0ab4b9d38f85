/*
 * tamper.h — tamper sensors, tamper log, and the response (DESIGN.md §8).
 *
 * Policy (the thresholds are the core's, fixed here and documented):
 *   supply voltage outside [APM_TAMPER_MV_MIN, APM_TAMPER_MV_MAX]  → VOLTAGE event
 *   die temperature outside [APM_TAMPER_MC_MIN, APM_TAMPER_MC_MAX] → TEMPERATURE event
 *   intrusion                                                       → INTRUSION event
 * Every event is appended to the tamper log record (records.h,
 * APM_REC_TAMPER_LOG; the newest APM_TAMPER_LOG_MAX entries and a total
 * count). VOLTAGE and TEMPERATURE lock key use until the next boot (a reset:
 * RAM state). INTRUSION burns the lifecycle to TAMPERED (otp.h, permanent)
 * and zeroizes the DRK (keystore.h).
 *
 * Invariants:
 *   T1. apm_tamper_poll runs before every key use (attest.h, DRoT) and at
 *       boot; an excursion found there blocks that very use.
 *   T2. Intrusion response order: burn the lifecycle to TAMPERED first (one
 *       OTP write: the commit point, permanent), then zeroize the key store,
 *       then log the event. At every boot a TAMPERED lifecycle zeroizes any
 *       key still present, so a power cut anywhere after the first write
 *       still ends with no key; a cut before it leaves nothing changed (and
 *       the port's latch may report the intrusion again).
 *   T3. The state bits reported in tokens: bit 0 voltage seen this boot,
 *       bit 1 temperature seen this boot, bit 2 intrusion ever (lifecycle),
 *       bit 3 key use locked now.
 */
#ifndef APM_TAMPER_H
#define APM_TAMPER_H

#include <stdbool.h>
#include <stdint.h>

#include "core.h"

#define APM_TAMPER_MV_MIN  2900
#define APM_TAMPER_MV_MAX  3700
#define APM_TAMPER_MC_MIN  (-40000)
#define APM_TAMPER_MC_MAX  105000
#define APM_TAMPER_LOG_MAX 16u

typedef enum apm_tamper_kind {
    APM_TAMPER_VOLTAGE = 1,
    APM_TAMPER_TEMPERATURE = 2,
    APM_TAMPER_INTRUSION = 3,
} apm_tamper_kind;

#define APM_TAMPER_BIT_VOLTAGE     0x1u
#define APM_TAMPER_BIT_TEMPERATURE 0x2u
#define APM_TAMPER_BIT_INTRUSION   0x4u
#define APM_TAMPER_BIT_LOCKED      0x8u

typedef struct apm_tamper_event {
    uint32_t kind; /* apm_tamper_kind */
    uint64_t tick_ms;
    int64_t value; /* the reading: mV, m°C, or 1 */
} apm_tamper_event;

typedef struct apm_tamper_state {
    uint32_t bits;  /* T3 */
    uint64_t count; /* events ever logged (from the log record) */
    bool locked;
} apm_tamper_state;

/* Boot: load the count from the log; TAMPERED lifecycle → zeroize any key (T2). */
apm_status apm_tamper_init(apm_core *core, apm_tamper_state *t);
/* Reads the sensors and responds (policy above). APM_OK if no event; the
 * event's status otherwise (APM_E_LOCKED for voltage/temperature,
 * APM_E_LIFECYCLE after an intrusion response). */
apm_status apm_tamper_poll(apm_core *core, apm_tamper_state *t);
/* The newest events, oldest first, into out[0..cap); *n = count copied. */
apm_status apm_tamper_log(apm_core *core, apm_tamper_event *out, size_t cap, size_t *n, uint64_t *total);

#endif /* APM_TAMPER_H */
