/*
 * attest.c — attestation tokens (see attest.h, docs/token.md, docs/apm-boot.md).
 *
 * apm_attest_token, in order:
 *
 *   1. arguments (APM_E_ARG: a caller's bug)
 *   2. refusals, in attest.h's order, before anything is signed:
 *        lifecycle MANUFACTURING                      APM_E_NOT_PROVISIONED
 *        boot verdict not APM_VERDICT_PASS            APM_E_BOOT
 *        lifecycle TAMPERED or DECOMMISSIONED         APM_E_LIFECYCLE
 *        tamper poll (tamper.h T1) found an event     APM_E_LOCKED / APM_E_LIFECYCLE
 *        no DRK                                       APM_E_NO_KEY
 *        DRK revoked by the stored revocation list    APM_E_REVOKED
 *        nonce not 32/48/64 bytes, profile not 1/2    DROT_E_ARG
 *   3. claims from the inputs and the cached fuses (core->otp)
 *   4. drot_eat_encode into a bounded stack buffer (claims_sign's frame)
 *   5. drot_cose_sign1_sign with the DRK, kid = instance id, into out
 *      (DROT_E_BUFFER with *out_len = size needed when cap is short)
 *
 * A decommissioned device reports 0x6000 if it could sign, but it may not:
 * a device taken out of service signs nothing.
 *
 * Component SVNs (claim -80003) map a component's index in claim 2399 to its
 * svn fuse, by measurement type: "APM" → APM_SVN_APM, "HOST-BL" →
 * APM_SVN_HOST_BL, "HOST-OS" → APM_SVN_HOST_OS. Other types have no fuse
 * and no entry.
 *
 * Stack: the claims struct (about 1 KiB) lives in apm_attest_token's frame,
 * the encoded payload (APM_ATTEST_PAYLOAD_MAX) in claims_sign's; neither
 * frame reaches 4 KiB. Nothing here is secret beyond the DRK, which stays in
 * core->drk and is only passed by pointer to the signer.
 */
#include "attest.h"

#include <stdbool.h>
#include <string.h>

#include "drot/cose.h"
#include "drot/eat.h"
#include "revocation.h"

/* Bound on the payload: 8 components with 32-byte texts and every claim at
 * its largest come to about 1.6 KiB. */
#define APM_ATTEST_PAYLOAD_MAX 2048u
#define APM_ATTEST_CLIENT_ID   1

_Static_assert(APM_MEASURE_MAX <= DROT_EAT_MAX_COMPONENTS, "more measurements than token components");
_Static_assert(APM_MEASURE_TEXT_MAX <= DROT_EAT_MAX_TEXT, "measurement text longer than a claim allows");

static const char IMPLEMENTATION_STR[] = "drot-apm " APM_IMPLEMENTATION_NAME;
static const char MEASUREMENT_DESC[] = "sha-256";

/* Text of a NUL-terminated field of at most max bytes. */
static drot_eat_text text_of(const char *s, size_t max)
{
    drot_eat_text t;
    size_t n = 0;
    while (n < max && s[n] != '\0')
        n++;
    t.p = n != 0 ? s : NULL;
    t.len = n;
    return t;
}

static bool text_is(drot_eat_text t, const char *s)
{
    size_t n = strlen(s);
    return t.len == n && memcmp(t.p, s, n) == 0;
}

/* The svn fuse for a measurement type, or -1 when it has none. */
static int svn_fuse_for(drot_eat_text type)
{
    if (type.p == NULL)
        return -1;
    if (text_is(type, "APM"))
        return (int)APM_SVN_APM;
    if (text_is(type, "HOST-BL"))
        return (int)APM_SVN_HOST_BL;
    if (text_is(type, "HOST-OS"))
        return (int)APM_SVN_HOST_OS;
    return -1;
}

/* Step 2. */
static apm_status refusal(apm_core *core, const apm_attest_inputs *in)
{
    apm_status st;

    if (core->otp.lifecycle == APM_LC_MANUFACTURING)
        return APM_E_NOT_PROVISIONED;
    if (in->boot->verdict != APM_VERDICT_PASS)
        return APM_E_BOOT;
    if (core->otp.lifecycle == APM_LC_TAMPERED || core->otp.lifecycle == APM_LC_DECOMMISSIONED)
        return APM_E_LIFECYCLE;
    st = apm_tamper_poll(core, in->tamper);
    if (st != APM_OK)
        return st;
    if (!core->drk.present)
        return APM_E_NO_KEY;
    return apm_rev_check_drk(core); /* APM_E_REVOKED: the revocation list revokes this DRK */
}

/* Step 3. ids[] holds the instance id (33) then the implementation id (32);
 * the claims point into it and into the inputs. */
static apm_status build_claims(const apm_core *core, const apm_attest_inputs *in, const uint8_t *nonce,
                               size_t nonce_len, uint32_t profile, uint8_t ids[65], drot_eat_claims *c)
{
    const apm_measurements *ms = in->measurements;
    drot_status ds;

    memset(c, 0, sizeof *c);
    ids[0] = 0x01; /* UEID type RAND */
    ds = drot_sha256(core->drk.pub.q, sizeof core->drk.pub.q, ids + 1);
    if (ds == DROT_OK)
        ds = drot_sha256(IMPLEMENTATION_STR, sizeof IMPLEMENTATION_STR - 1u, ids + DROT_EAT_INSTANCE_ID_LEN);
    if (ds != DROT_OK)
        return (apm_status)ds;

    c->profile = (drot_eat_profile)profile;
    c->nonce = (drot_eat_bytes){nonce, nonce_len};
    c->instance_id = (drot_eat_bytes){ids, DROT_EAT_INSTANCE_ID_LEN};
    c->implementation_id = (drot_eat_bytes){ids + DROT_EAT_INSTANCE_ID_LEN, DROT_EAT_IMPLEMENTATION_ID_LEN};
    c->client_id = APM_ATTEST_CLIENT_ID;
    c->security_lifecycle = apm_lifecycle_psa(core->otp.lifecycle);
    c->boot_seed = (drot_eat_bytes){in->boot_seed, DROT_EAT_BOOT_SEED_MAX};

    if (ms->count == 0 || ms->count > APM_MEASURE_MAX)
        return APM_E_ARG;
    c->num_components = ms->count;
    for (size_t i = 0; i < ms->count; i++) {
        drot_eat_sw_component *sc = &c->components[i];
        sc->measurement_type = text_of(ms->m[i].type, APM_MEASURE_TEXT_MAX);
        sc->measurement_value = (drot_eat_bytes){ms->m[i].digest, sizeof ms->m[i].digest};
        sc->version = text_of(ms->m[i].version, APM_MEASURE_TEXT_MAX);
        sc->signer_id = (drot_eat_bytes){ms->m[i].signer_id, sizeof ms->m[i].signer_id};
        sc->measurement_desc = (drot_eat_text){MEASUREMENT_DESC, sizeof MEASUREMENT_DESC - 1u};
    }

    if (profile != DROT_EAT_PROFILE_DROT)
        return APM_OK;
    c->drot.device_id = (drot_eat_bytes){core->otp.device_id, sizeof core->otp.device_id};
    c->drot.epoch = core->otp.epoch;
    for (size_t i = 0; i < ms->count; i++) {
        int fuse = svn_fuse_for(c->components[i].measurement_type);
        if (fuse < 0)
            continue;
        c->drot.svns[c->drot.num_svns].component = (uint32_t)i;
        c->drot.svns[c->drot.num_svns].svn = core->otp.svn[fuse];
        c->drot.num_svns++;
    }
    c->drot.tamper_state = in->tamper->bits;
    c->drot.tamper_count = in->tamper->count;
    return APM_OK;
}

/* Steps 4 and 5. */
static apm_status claims_sign(const apm_core *core, const drot_eat_claims *c, uint8_t *out, size_t cap,
                              size_t *out_len)
{
    uint8_t payload[APM_ATTEST_PAYLOAD_MAX];
    size_t plen = 0;
    drot_cose_sign1_params params;
    drot_status ds;

    ds = drot_eat_encode(c, payload, sizeof payload, &plen);
    if (ds == DROT_E_BUFFER)
        return (apm_status)DROT_E_TOO_LARGE; /* our buffer, not the caller's */
    if (ds != DROT_OK)
        return (apm_status)ds;
    memset(&params, 0, sizeof params);
    params.kid = c->instance_id.p;
    params.kid_len = c->instance_id.len;
    ds = drot_cose_sign1_sign(&core->drk.priv, &params, payload, plen, out, cap, out_len);
    return (apm_status)ds;
}

/* see attest.h */
apm_status apm_attest_token(apm_core *core, const apm_attest_inputs *in, const uint8_t *nonce,
                            size_t nonce_len, uint32_t profile, uint8_t *out, size_t cap, size_t *out_len)
{
    uint8_t ids[DROT_EAT_INSTANCE_ID_LEN + DROT_EAT_IMPLEMENTATION_ID_LEN];
    drot_eat_claims claims;
    apm_status st;
    size_t needed = 0;

    if (out_len != NULL)
        *out_len = 0;
    if (core == NULL || core->hal == NULL || in == NULL || in->boot == NULL || in->measurements == NULL ||
        in->tamper == NULL || in->boot_seed == NULL || out_len == NULL || (out == NULL && cap != 0))
        return APM_E_ARG;

    st = refusal(core, in);
    if (st != APM_OK)
        return st;
    if (nonce == NULL || (nonce_len != 32u && nonce_len != 48u && nonce_len != 64u))
        return (apm_status)DROT_E_ARG;
    if (profile != DROT_EAT_PROFILE_PSA && profile != DROT_EAT_PROFILE_DROT)
        return (apm_status)DROT_E_ARG;

    st = build_claims(core, in, nonce, nonce_len, profile, ids, &claims);
    if (st == APM_OK)
        st = claims_sign(core, &claims, out, cap, &needed);
    if (st == APM_OK || st == (apm_status)DROT_E_BUFFER)
        *out_len = needed;
    return st;
}
