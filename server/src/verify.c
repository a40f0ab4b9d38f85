/*
 * verify.c — the attestation verifier (see verify.h for the steps and the
 * invariants V1..V3, docs/verifier.md for the operator's view).
 *
 * Structure: ds_verify_token runs the stopping steps (size, COSE, key,
 * signature, claims, profile) in order, each returning false to stop, then
 * the claim checks, which only add reasons. Every reason goes through
 * add_reason, which also keeps the FAIL/WARN counts that decide the verdict,
 * so a reason that does not fit in the result still counts (V1).
 *
 * Nothing here allocates (V2): the token is read in place through the COSE
 * view and the EAT claims (both point into it), and everything kept in the
 * result is copied.
 */
#include "verify.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "drot/cbor.h"
#include "drot/cose.h"

/* Bytes of a digest or key hash shown in a reason; enough to tell values
 * apart by eye while keeping the reason under DS_VERIFY_REASON_MAX. */
#define SHOW_BYTES 8

typedef struct vctx {
    ds_verify_result *out;
    size_t fails; /* FAIL reasons, kept or dropped */
    size_t warns;
} vctx;

static void add_reason(vctx *v, ds_reason_code code, ds_severity sev, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void add_reason(vctx *v, ds_reason_code code, ds_severity sev, const char *fmt, ...)
{
    ds_reason *r;
    va_list ap;

    if (sev == DS_SEV_FAIL)
        v->fails++;
    else
        v->warns++;
    if (v->out->num_reasons >= DS_VERIFY_MAX_REASONS) {
        v->out->reasons_dropped++;
        return;
    }
    r = &v->out->reasons[v->out->num_reasons++];
    r->code = code;
    r->severity = sev;
    va_start(ap, fmt);
    (void)vsnprintf(r->text, sizeof r->text, fmt, ap); /* truncates at DS_VERIFY_REASON_MAX */
    va_end(ap);
    /* Inputs quoted in a reason are already sanitised; this keeps the
     * printable-ASCII promise of ds_reason whatever a format produced. */
    for (char *c = r->text; *c != '\0'; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
            *c = '?';
}

/* Lower-case hex of p[0..n) into out (2n+1 bytes), with "..." when cut to show. */
static const char *hex(char *out, size_t cap, const uint8_t *p, size_t n, size_t show)
{
    static const char digits[] = "0123456789abcdef";
    size_t k = n < show ? n : show, o = 0;
    for (size_t i = 0; i < k && o + 3 <= cap; i++) {
        out[o++] = digits[p[i] >> 4];
        out[o++] = digits[p[i] & 15];
    }
    if (k < n && o + 4 <= cap) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

/* A text claim as a NUL-terminated printable-ASCII copy ('?' for anything else). */
static void copy_text(char *dst, size_t cap, const char *src, size_t n)
{
    size_t k = n < cap - 1 ? n : cap - 1;
    for (size_t i = 0; i < k; i++)
        dst[i] = ((unsigned char)src[i] >= 0x20 && (unsigned char)src[i] < 0x7f) ? src[i] : '?';
    dst[k] = '\0';
}

static const char *lifecycle_name(drot_eat_lifecycle lc)
{
    switch (lc) {
    case DROT_EAT_LC_UNKNOWN: return "unknown";
    case DROT_EAT_LC_ASSEMBLY_AND_TEST: return "assembly and test";
    case DROT_EAT_LC_PSA_ROT_PROVISIONING: return "PSA RoT provisioning";
    case DROT_EAT_LC_SECURED: return "secured";
    case DROT_EAT_LC_NON_PSA_ROT_DEBUG: return "non-PSA-RoT debug";
    case DROT_EAT_LC_RECOVERABLE_PSA_ROT_DEBUG: return "recoverable PSA RoT debug";
    case DROT_EAT_LC_DECOMMISSIONED: return "decommissioned";
    default: return "invalid";
    }
}

static const char *profile_name(drot_eat_profile p)
{
    return p == DROT_EAT_PROFILE_DROT ? "drot" : p == DROT_EAT_PROFILE_PSA ? "psa" : "none";
}

/* ---- step 2 helper: why did COSE decoding say "unsupported"? ------------- */

typedef enum alg_seen {
    ALG_UNREADABLE, /* the headers could not be read this far */
    ALG_ABSENT,
    ALG_ES256,
    ALG_OTHER_INT,
    ALG_TEXT,
} alg_seen;

/* Looks for label 1 among the n pairs of a header map at r. */
static alg_seen scan_bucket(drot_cbor_reader *r, size_t n, int64_t *alg)
{
    for (size_t i = 0; i < n; i++) {
        drot_cbor_type t;
        int64_t label = 0;
        bool is_int = false;
        const char *s;
        size_t sl;
        if (drot_cbor_peek(r, &t) != DROT_OK)
            return ALG_UNREADABLE;
        if (t == DROT_CBOR_UINT || t == DROT_CBOR_NEGINT) {
            if (drot_cbor_get_int(r, &label) != DROT_OK)
                return ALG_UNREADABLE;
            is_int = true;
        } else if (drot_cbor_skip(r) != DROT_OK) {
            return ALG_UNREADABLE;
        }
        if (!is_int || label != DROT_COSE_HDR_ALG) {
            if (drot_cbor_skip(r) != DROT_OK)
                return ALG_UNREADABLE;
            continue;
        }
        if (drot_cbor_peek(r, &t) != DROT_OK)
            return ALG_UNREADABLE;
        if (t == DROT_CBOR_TSTR)
            return drot_cbor_get_tstr(r, &s, &sl) == DROT_OK ? ALG_TEXT : ALG_UNREADABLE;
        if (drot_cbor_get_int(r, alg) != DROT_OK)
            return ALG_UNREADABLE;
        return *alg == DROT_COSE_ALG_ES256 ? ALG_ES256 : ALG_OTHER_INT;
    }
    return ALG_ABSENT;
}

/* Reads just far enough into a COSE_Sign1 to find its alg, in the protected
 * then the unprotected bucket. Used only to word a refusal. */
static alg_seen peek_alg(const uint8_t *msg, size_t len, int64_t *alg)
{
    drot_cbor_reader r, pr;
    drot_cbor_type t;
    const uint8_t *prot;
    size_t n, plen;
    uint64_t tag;
    alg_seen seen;

    drot_cbor_reader_init(&r, msg, len);
    if (drot_cbor_peek(&r, &t) != DROT_OK)
        return ALG_UNREADABLE;
    if (t == DROT_CBOR_TAG && drot_cbor_get_tag(&r, &tag) != DROT_OK)
        return ALG_UNREADABLE;
    if (drot_cbor_get_array(&r, &n) != DROT_OK || n != 4 || drot_cbor_get_bstr(&r, &prot, &plen) != DROT_OK)
        return ALG_UNREADABLE;
    if (plen > 0) {
        drot_cbor_reader_init(&pr, prot, plen);
        if (drot_cbor_get_map(&pr, &n) != DROT_OK)
            return ALG_UNREADABLE;
        seen = scan_bucket(&pr, n, alg);
        if (seen != ALG_ABSENT)
            return seen;
    }
    if (drot_cbor_get_map(&r, &n) != DROT_OK)
        return ALG_UNREADABLE;
    return scan_bucket(&r, n, alg);
}

/* ---- stopping steps ------------------------------------------------------ */

/* Step 2: COSE structure and algorithm; sets the evidence digest. */
static bool step_cose(vctx *v, const ds_verify_input *in, drot_cose_sign1_view *view)
{
    drot_status st = drot_cose_sign1_decode(in->token, in->token_len, view);
    int64_t alg = 0;

    if (st == DROT_E_UNSUPPORTED) {
        switch (peek_alg(in->token, in->token_len, &alg)) {
        case ALG_OTHER_INT:
            add_reason(v, DS_R_ALG, DS_SEV_FAIL, "unsupported algorithm %lld: only ES256 (-7) is accepted",
                       (long long)alg);
            return false;
        case ALG_TEXT:
            add_reason(v, DS_R_ALG, DS_SEV_FAIL,
                       "unsupported algorithm given as text: only ES256 (-7) is accepted");
            return false;
        case ALG_ABSENT:
            add_reason(v, DS_R_ALG, DS_SEV_FAIL,
                       "no algorithm in the COSE headers: only ES256 (-7) is accepted");
            return false;
        default:
            add_reason(v, DS_R_MALFORMED, DS_SEV_FAIL,
                       "token uses a COSE feature that is refused (crit header, detached payload, "
                       "text content type or indefinite length)");
            return false;
        }
    }
    if (st != DROT_OK) {
        add_reason(v, DS_R_MALFORMED, DS_SEV_FAIL, "token is not a valid COSE_Sign1: %s",
                   drot_status_str(st));
        return false;
    }
    /*
     * The evidence digest names the token by what its signature covers: the
     * SHA-256 of the Sig_structure ["Signature1", protected, h'', payload].
     * A hash of the token bytes would not do: those bytes can be changed by
     * anyone who relays the token without breaking the signature (drop or add
     * tag 18, re-encode CBOR heads non-minimally, h'' vs h'A0' protected,
     * change the unsigned kid; docs/cose.md). One signed token would then
     * have many "identities", and a replay check or an audit record keyed on
     * them could be dodged. The Sig_structure digest is the same for every
     * such variant and changes only with what the device signed.
     */
    st = drot_cose_sign1_tbs_digest(view, NULL, 0, v->out->evidence_digest);
    if (st != DROT_OK) {
        add_reason(v, DS_R_MALFORMED, DS_SEV_FAIL, "cannot digest the token: %s", drot_status_str(st));
        return false;
    }
    v->out->has_evidence_digest = true;
    return true;
}

/* Step 3: the kid must be the instance id of the registered key. A token
 * signed by another device's key, by this device's previous (rotated,
 * revoked) key or by an unregistered key carries another instance id. The
 * kid is unsigned, so this is only a fast, well-worded refusal; the
 * signature (step 5) and the signed instance id claim (step 8) decide. */
static bool step_key(vctx *v, const ds_verify_input *in, const drot_cose_sign1_view *view,
                     const uint8_t expect[DROT_EAT_INSTANCE_ID_LEN])
{
    char hd[2 * DS_VERIFY_DEVICE_ID_LEN + 1], hk[2 * SHOW_BYTES + 4];

    hex(hd, sizeof hd, in->device->device_id, DS_VERIFY_DEVICE_ID_LEN, DS_VERIFY_DEVICE_ID_LEN);
    if (view->kid == NULL) {
        add_reason(v, DS_R_KEY, DS_SEV_FAIL, "token has no kid: cannot be from the current key of device %s",
                   hd);
        return false;
    }
    if (view->kid_len != DROT_EAT_INSTANCE_ID_LEN ||
        drot_ct_equal(view->kid, expect, DROT_EAT_INSTANCE_ID_LEN) != DROT_OK) {
        add_reason(v, DS_R_KEY, DS_SEV_FAIL,
                   "signed by a key that is not this device's current key (kid %s, device %s, epoch %llu)",
                   hex(hk, sizeof hk, view->kid, view->kid_len, SHOW_BYTES), hd,
                   (unsigned long long)in->device->epoch);
        return false;
    }
    return true;
}

/* Steps 4 and 5: the registered key and the signature under it. */
static bool step_signature(vctx *v, const ds_verify_input *in, const drot_cose_sign1_view *view)
{
    char hd[2 * DS_VERIFY_DEVICE_ID_LEN + 1];
    drot_status st;

    hex(hd, sizeof hd, in->device->device_id, DS_VERIFY_DEVICE_ID_LEN, DS_VERIFY_DEVICE_ID_LEN);
    st = drot_cose_sign1_verify(view, &in->device->drk_pub, NULL, 0);
    if (st == DROT_E_BADKEY) {
        add_reason(v, DS_R_DEVICE_KEY, DS_SEV_FAIL, "registered key of device %s is not a valid P-256 key",
                   hd);
        return false;
    }
    if (st != DROT_OK) {
        add_reason(v, DS_R_SIGNATURE, DS_SEV_FAIL,
                   "signature does not verify under the registered key of device %s", hd);
        return false;
    }
    return true;
}

/* Step 6: the claims set, strictly, and its profile. */
static bool step_claims(vctx *v, const drot_cose_sign1_view *view, drot_eat_profile want, drot_eat_claims *c)
{
    drot_status st = drot_eat_decode(view->payload, view->payload_len, c);
    if (st != DROT_OK) {
        add_reason(v, DS_R_CLAIMS, DS_SEV_FAIL, "claims set is not a valid attestation payload: %s",
                   drot_status_str(st));
        return false;
    }
    if (c->profile != want) {
        add_reason(v, DS_R_PROFILE, DS_SEV_FAIL, "token has the %s profile, but the %s profile is required",
                   profile_name(c->profile), profile_name(want));
        return false;
    }
    return true;
}

/* ---- claim checks (do not stop) ------------------------------------------ */

static void check_device_status(vctx *v, const ds_device_record *dev)
{
    char hd[2 * DS_VERIFY_DEVICE_ID_LEN + 1];
    hex(hd, sizeof hd, dev->device_id, DS_VERIFY_DEVICE_ID_LEN, DS_VERIFY_DEVICE_ID_LEN);
    switch (dev->status) {
    case DS_VERIFY_DEVICE_ACTIVE: break;
    case DS_VERIFY_DEVICE_QUARANTINED:
        add_reason(v, DS_R_DEVICE_STATUS, DS_SEV_WARN, "device %s is quarantined", hd);
        break;
    case DS_VERIFY_DEVICE_REVOKED:
        add_reason(v, DS_R_DEVICE_STATUS, DS_SEV_FAIL, "device %s is revoked", hd);
        break;
    case DS_VERIFY_DEVICE_DECOMMISSIONED:
        add_reason(v, DS_R_DEVICE_STATUS, DS_SEV_FAIL, "device %s is decommissioned", hd);
        break;
    default:
        add_reason(v, DS_R_DEVICE_STATUS, DS_SEV_FAIL, "device %s has an unknown registry status %d", hd,
                   (int)dev->status);
        break;
    }
}

static void check_binding(vctx *v, const ds_verify_input *in, const drot_eat_claims *c,
                          const uint8_t expect_ueid[DROT_EAT_INSTANCE_ID_LEN])
{
    uint8_t want[DROT_SHA256_LEN];
    drot_cbuf parts[2] = {{in->challenge, DS_CHALLENGE_LEN}, {in->exporter, DS_EXPORTER_LEN}};

    /* Freshness and channel binding (DESIGN.md §4): the device hashed the
     * challenge with the exporter of the TLS connection it used; we hash it
     * with the exporter of the connection the token arrived on. */
    if (drot_sha256_v(parts, 2, want) != DROT_OK) {
        add_reason(v, DS_R_NONCE, DS_SEV_FAIL, "cannot compute the expected nonce");
    } else if (c->nonce.len != DROT_SHA256_LEN) {
        add_reason(v, DS_R_NONCE, DS_SEV_FAIL, "nonce is %zu bytes, not SHA-256(challenge || exporter)",
                   c->nonce.len);
    } else if (drot_ct_equal(c->nonce.p, want, DROT_SHA256_LEN) != DROT_OK) {
        add_reason(
            v, DS_R_NONCE, DS_SEV_FAIL,
            "nonce is not SHA-256(challenge || exporter): token bound to another connection or replayed");
    }
    drot_wipe(want, sizeof want);

    if (c->instance_id.len != DROT_EAT_INSTANCE_ID_LEN ||
        drot_ct_equal(c->instance_id.p, expect_ueid, DROT_EAT_INSTANCE_ID_LEN) != DROT_OK)
        add_reason(v, DS_R_INSTANCE_ID, DS_SEV_FAIL,
                   "instance id claim is not 0x01 || SHA-256(registered key): token names another key");
}

static void check_identity(vctx *v, const ds_device_record *dev, const drot_eat_claims *c)
{
    char ha[2 * DS_VERIFY_DEVICE_ID_LEN + 1], hb[2 * DS_VERIFY_DEVICE_ID_LEN + 1];

    if (c->drot.device_id.len != DS_VERIFY_DEVICE_ID_LEN ||
        drot_ct_equal(c->drot.device_id.p, dev->device_id, DS_VERIFY_DEVICE_ID_LEN) != DROT_OK)
        add_reason(v, DS_R_DEVICE_ID, DS_SEV_FAIL, "device id claim %s is not the registered device %s",
                   hex(ha, sizeof ha, c->drot.device_id.p, c->drot.device_id.len, DS_VERIFY_DEVICE_ID_LEN),
                   hex(hb, sizeof hb, dev->device_id, DS_VERIFY_DEVICE_ID_LEN, DS_VERIFY_DEVICE_ID_LEN));
    if (c->drot.epoch != dev->epoch)
        add_reason(v, DS_R_EPOCH, DS_SEV_FAIL, "epoch claim %llu is not the registered epoch %llu",
                   (unsigned long long)c->drot.epoch, (unsigned long long)dev->epoch);
}

static void check_lifecycle(vctx *v, const ds_reference *ref, uint32_t value)
{
    drot_eat_lifecycle lc = drot_eat_lifecycle_class(value);
    if (lc == DROT_EAT_LC_SECURED)
        return;
    if (lc == DROT_EAT_LC_PSA_ROT_PROVISIONING && ref->allow_provisioning) {
        add_reason(v, DS_R_LIFECYCLE, DS_SEV_WARN,
                   "lifecycle 0x%04x (PSA RoT provisioning): not yet deployed, allowed by the reference",
                   value);
        return;
    }
    add_reason(v, DS_R_LIFECYCLE, DS_SEV_FAIL, "lifecycle 0x%04x (%s) is not secured", value,
               lifecycle_name(lc));
}

static void check_tamper(vctx *v, const ds_reference *ref, const drot_eat_drot_claims *d)
{
    for (unsigned i = 0; i < 64; i++) {
        uint64_t bit = (uint64_t)1 << i;
        const char *name = ds_tamper_bit_name((uint32_t)bit);
        if ((d->tamper_state & bit) == 0)
            continue;
        if (name == NULL)
            add_reason(v, DS_R_TAMPER, DS_SEV_WARN, "unknown tamper state bit 0x%llx set",
                       (unsigned long long)bit);
        else if (ref->tamper_fail & bit)
            add_reason(v, DS_R_TAMPER, DS_SEV_FAIL, "tamper: %s bit set (fails this class)", name);
        else if (ref->tamper_warn & bit)
            add_reason(v, DS_R_TAMPER, DS_SEV_WARN, "tamper: %s bit set", name);
        else
            add_reason(v, DS_R_TAMPER, DS_SEV_WARN, "tamper: %s bit set (not named in the reference)", name);
    }
    if (ref->has_tamper_max_count && d->tamper_count > ref->tamper_max_count)
        add_reason(v, DS_R_TAMPER, DS_SEV_WARN, "tamper count %llu is above the reference maximum %llu",
                   (unsigned long long)d->tamper_count, (unsigned long long)ref->tamper_max_count);
    if (d->tamper_count > DS_VERIFY_TAMPER_COUNT_MAX)
        add_reason(v, DS_R_TAMPER, DS_SEV_FAIL, "tamper count %llu is out of range (over 2^63-1)",
                   (unsigned long long)d->tamper_count);
}

/*
 * The tamper count against the previous attestation's (V4: called only for
 * fresh evidence). A voltage or temperature excursion locks the APM's keys
 * for the rest of that boot, so no token ever shows its "seen this boot"
 * bit: the count, persistent in the APM's flash, is the only signed trace.
 * It only ever grows; a smaller count means the tamper log is not the one
 * the device had (flash rolled back to an older image, or replaced).
 */
static void check_tamper_count(vctx *v, const ds_verify_input *in, uint64_t count)
{
    uint64_t prev = in->prev_tamper_count, n;

    if (!in->has_prev_tamper_count || count > DS_VERIFY_TAMPER_COUNT_MAX)
        return;
    if (count > prev) {
        n = count - prev;
        add_reason(
            v, DS_R_TAMPER, in->reference->tamper_new_events == DS_REF_SEV_WARN ? DS_SEV_WARN : DS_SEV_FAIL,
            "%llu new tamper event%s logged since the last attestation (count %llu -> %llu)",
            (unsigned long long)n, n == 1 ? "" : "s", (unsigned long long)prev, (unsigned long long)count);
    } else if (count < prev) {
        add_reason(
            v, DS_R_TAMPER, DS_SEV_FAIL,
            "tamper log count went back from %llu to %llu: the APM's flash was rolled back or replaced",
            (unsigned long long)prev, (unsigned long long)count);
    }
}

static bool type_is(const drot_eat_sw_component *sc, const char *type)
{
    return sc->measurement_type.p != NULL && sc->measurement_type.len == strlen(type) &&
           memcmp(sc->measurement_type.p, type, sc->measurement_type.len) == 0;
}

/* Constant time over the whole list: DROT_OK iff d is one of list[0..n). */
static bool digest_in(const drot_eat_bytes *d, const uint8_t (*list)[DS_REF_DIGEST_LEN], size_t n)
{
    unsigned hits = 0;
    if (d->len != DS_REF_DIGEST_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        hits |= drot_ct_equal(d->p, list[i], DS_REF_DIGEST_LEN) == DROT_OK;
    return hits != 0;
}

/* One token component (index idx) against its reference entry. */
static void check_component(vctx *v, const ds_ref_component *rc, const drot_eat_claims *c, size_t idx)
{
    const drot_eat_sw_component *sc = &c->components[idx];
    char h[2 * SHOW_BYTES + 4], ver[DROT_EAT_MAX_TEXT + 1];
    int cmp;

    if (rc->num_digests > 0 && !digest_in(&sc->measurement_value, rc->digests, rc->num_digests))
        add_reason(v, DS_R_COMP_DIGEST, DS_SEV_FAIL,
                   "component %s digest %s is not among its %zu allowed digests", rc->type,
                   hex(h, sizeof h, sc->measurement_value.p, sc->measurement_value.len, SHOW_BYTES),
                   rc->num_digests);
    if (rc->num_signers > 0 && !digest_in(&sc->signer_id, rc->signers, rc->num_signers))
        add_reason(v, DS_R_COMP_SIGNER, DS_SEV_FAIL,
                   "component %s signer %s is not among its %zu allowed signers", rc->type,
                   hex(h, sizeof h, sc->signer_id.p, sc->signer_id.len, SHOW_BYTES), rc->num_signers);
    if (rc->has_min_version) {
        if (sc->version.p == NULL) {
            add_reason(v, DS_R_COMP_VERSION, DS_SEV_FAIL,
                       "component %s reports no version; the minimum is %s", rc->type, rc->min_version);
        } else {
            copy_text(ver, sizeof ver, sc->version.p, sc->version.len);
            if (ds_version_compare(sc->version.p, sc->version.len, rc->min_version, strlen(rc->min_version),
                                   &cmp) != 0)
                add_reason(v, DS_R_COMP_VERSION, DS_SEV_FAIL,
                           "component %s version \"%s\" is not dotted numeric; the minimum is %s", rc->type,
                           ver, rc->min_version);
            else if (cmp < 0)
                add_reason(v, DS_R_COMP_VERSION, DS_SEV_FAIL, "component %s version %s below the minimum %s",
                           rc->type, ver, rc->min_version);
        }
    }
    if (rc->has_min_svn) {
        const drot_eat_svn *svn = NULL;
        for (size_t i = 0; i < c->drot.num_svns; i++)
            if (c->drot.svns[i].component == idx)
                svn = &c->drot.svns[i];
        if (svn == NULL)
            add_reason(v, DS_R_COMP_SVN, DS_SEV_FAIL, "component %s reports no SVN; the minimum is %llu",
                       rc->type, (unsigned long long)rc->min_svn);
        else if (svn->svn < rc->min_svn)
            add_reason(v, DS_R_COMP_SVN, DS_SEV_FAIL, "component %s SVN %llu below the minimum %llu",
                       rc->type, (unsigned long long)svn->svn, (unsigned long long)rc->min_svn);
    }
}

static void check_components(vctx *v, const ds_reference *ref, const drot_eat_claims *c)
{
    bool named[DROT_EAT_MAX_COMPONENTS] = {false};
    char t[DROT_EAT_MAX_TEXT + 1];

    /* Every reference component must be reported; a type reported several
     * times (a stage measured twice) must pass every time. */
    for (size_t r = 0; r < ref->num_components; r++) {
        bool found = false;
        for (size_t i = 0; i < c->num_components; i++) {
            if (!type_is(&c->components[i], ref->components[r].type))
                continue;
            found = named[i] = true;
            check_component(v, &ref->components[r], c, i);
        }
        if (!found)
            add_reason(v, DS_R_COMP_MISSING, DS_SEV_FAIL, "component %s is missing from the token",
                       ref->components[r].type);
    }
    for (size_t i = 0; i < c->num_components; i++) {
        if (named[i])
            continue;
        if (c->components[i].measurement_type.p == NULL) {
            add_reason(v, DS_R_COMP_UNKNOWN, DS_SEV_WARN, "component #%zu has no measurement type", i);
        } else {
            copy_text(t, sizeof t, c->components[i].measurement_type.p,
                      c->components[i].measurement_type.len);
            add_reason(v, DS_R_COMP_UNKNOWN, DS_SEV_WARN,
                       "component #%zu %s is not in the reference values of %s", i, t, ref->class_name);
        }
    }
}

/* Copies what storage and display need; the claims point into the token. */
static void summarise(ds_claims_summary *s, const drot_eat_claims *c)
{
    s->valid = true;
    s->profile = c->profile;
    s->lifecycle = c->security_lifecycle;
    s->has_drot_claims = c->profile == DROT_EAT_PROFILE_DROT;
    if (s->has_drot_claims) {
        memcpy(s->device_id, c->drot.device_id.p, DS_VERIFY_DEVICE_ID_LEN);
        s->epoch = c->drot.epoch;
        s->tamper_state = c->drot.tamper_state;
        s->tamper_count = c->drot.tamper_count;
    }
    s->num_measurements = c->num_components;
    for (size_t i = 0; i < c->num_components; i++) {
        const drot_eat_sw_component *sc = &c->components[i];
        ds_measurement *m = &s->measurements[i];
        if ((m->has_type = sc->measurement_type.p != NULL))
            copy_text(m->type, sizeof m->type, sc->measurement_type.p, sc->measurement_type.len);
        if ((m->has_version = sc->version.p != NULL))
            copy_text(m->version, sizeof m->version, sc->version.p, sc->version.len);
        m->digest_len = sc->measurement_value.len;
        memcpy(m->digest, sc->measurement_value.p, m->digest_len);
        m->signer_len = sc->signer_id.len;
        memcpy(m->signer, sc->signer_id.p, m->signer_len);
    }
    for (size_t i = 0; i < c->drot.num_svns; i++) {
        s->measurements[c->drot.svns[i].component].has_svn = true;
        s->measurements[c->drot.svns[i].component].svn = c->drot.svns[i].svn;
    }
}

/* see verify.h */
ds_verdict ds_verify_token(const ds_verify_input *in, ds_verify_result *out)
{
    drot_cose_sign1_view view;
    drot_eat_claims claims;
    drot_eat_profile want;
    uint8_t ueid[DROT_EAT_INSTANCE_ID_LEN];
    vctx v;
    size_t fails_before;
    bool completed = false;

    if (out == NULL)
        return DS_VERDICT_FAIL;
    memset(out, 0, sizeof *out);
    out->verdict = DS_VERDICT_FAIL; /* V1 */
    v.out = out;
    v.fails = v.warns = 0;

    if (in == NULL || in->device == NULL || in->reference == NULL) {
        add_reason(&v, DS_R_ARG, DS_SEV_FAIL, "verifier called without a token, device record or reference");
        return out->verdict;
    }
    want =
        in->required_profile != DROT_EAT_PROFILE_NONE ? in->required_profile : in->reference->require_profile;

    /* Step 0: the registry's own word on the device, whatever the token. */
    check_device_status(&v, in->device);

    /* Step 1: bounds, before any parsing. */
    if (in->token == NULL || in->token_len == 0 || in->token_len > DS_VERIFY_MAX_TOKEN) {
        add_reason(&v, DS_R_TOKEN_SIZE, DS_SEV_FAIL, "token of %zu bytes: must be 1..%u bytes",
                   in->token == NULL ? (size_t)0 : in->token_len, DS_VERIFY_MAX_TOKEN);
        goto done;
    }
    ueid[0] = 0x01;
    if (drot_sha256(in->device->drk_pub.q, DROT_P256_PUB_LEN, ueid + 1) != DROT_OK) {
        add_reason(&v, DS_R_DEVICE_KEY, DS_SEV_FAIL, "cannot hash the registered key");
        goto done;
    }
    if (!step_cose(&v, in, &view) || !step_key(&v, in, &view, ueid) || !step_signature(&v, in, &view) ||
        !step_claims(&v, &view, want, &claims))
        goto done;
    summarise(&out->claims, &claims);

    fails_before = v.fails;
    check_binding(&v, in, &claims, ueid);
    if (claims.profile == DROT_EAT_PROFILE_DROT) {
        check_identity(&v, in->device, &claims);
        out->fresh_evidence = v.fails == fails_before; /* V4 */
        check_tamper(&v, in->reference, &claims.drot);
        if (out->fresh_evidence)
            check_tamper_count(&v, in, claims.drot.tamper_count);
    } else {
        out->fresh_evidence = v.fails == fails_before; /* V4 */
        add_reason(&v, DS_R_PROFILE_LIMITED, DS_SEV_WARN,
                   "psa profile: device id, epoch, SVN and tamper claims are not reported and not checked");
    }
    check_lifecycle(&v, in->reference, claims.security_lifecycle);
    check_components(&v, in->reference, &claims);
    completed = true;

done:
    if (completed && v.fails == 0)
        out->verdict = v.warns > 0 ? DS_VERDICT_WARN : DS_VERDICT_PASS;
    return out->verdict;
}

/* see verify.h */
const char *ds_verdict_str(ds_verdict verdict)
{
    switch (verdict) {
    case DS_VERDICT_PASS: return "PASS";
    case DS_VERDICT_WARN: return "WARN";
    case DS_VERDICT_FAIL: return "FAIL";
    default: return "INVALID";
    }
}

/* see verify.h */
const char *ds_reason_code_str(ds_reason_code c)
{
    switch (c) {
    case DS_R_ARG: return "arg";
    case DS_R_TOKEN_SIZE: return "token-size";
    case DS_R_MALFORMED: return "malformed";
    case DS_R_ALG: return "alg";
    case DS_R_KEY: return "key";
    case DS_R_DEVICE_KEY: return "device-key";
    case DS_R_SIGNATURE: return "signature";
    case DS_R_CLAIMS: return "claims";
    case DS_R_PROFILE: return "profile";
    case DS_R_DEVICE_STATUS: return "device-status";
    case DS_R_NONCE: return "nonce";
    case DS_R_INSTANCE_ID: return "instance-id";
    case DS_R_DEVICE_ID: return "device-id";
    case DS_R_EPOCH: return "epoch";
    case DS_R_LIFECYCLE: return "lifecycle";
    case DS_R_TAMPER: return "tamper";
    case DS_R_COMP_MISSING: return "comp-missing";
    case DS_R_COMP_DIGEST: return "comp-digest";
    case DS_R_COMP_SIGNER: return "comp-signer";
    case DS_R_COMP_VERSION: return "comp-version";
    case DS_R_COMP_SVN: return "comp-svn";
    case DS_R_COMP_UNKNOWN: return "comp-unknown";
    case DS_R_PROFILE_LIMITED: return "profile-limited";
    default: return "unknown";
    }
}
