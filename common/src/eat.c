/*
 * eat.c — the EAT/PSA claims-set codec of drot/eat.h (see there for the
 * contract and docs/token.md for the format).
 *
 * Invariants:
 *
 *   1. One set of rules. validate_claims() holds every size, range and format
 *      rule; the encoder runs it before writing, the decoder after reading.
 *      The decoder itself only checks what the struct cannot show afterwards:
 *      CBOR types, which keys appeared, duplicates, and the closed key set.
 *   2. Closed maps. The decoder never skips a value it does not understand:
 *      an unknown key is refused before its value is looked at, so no
 *      attacker-chosen nesting is ever walked and nothing here recurses.
 *   3. Zero copy. Decoded strings point into the caller's payload; nothing is
 *      copied, nothing allocated. On any decode failure the claims struct is
 *      wiped, so a partial result can never be mistaken for a checked one.
 *   4. Deterministic output. Keys are written in one fixed order (bytewise
 *      order of their encodings, RFC 8949 section 4.2.1) and the CBOR writer
 *      always uses shortest heads, so equal claims give equal bytes.
 *
 * No OS header, no allocation: this file links into the firmware.
 */
#include "drot/eat.h"

#include <stdbool.h>
#include <string.h>

#include "drot/cbor.h"

/* ---- the claim table ---------------------------------------------------- */

/* Bit positions in the decoder's "seen" mask. */
enum claim_id {
    C_NONCE,
    C_INSTANCE_ID,
    C_PROFILE,
    C_BOOT_SEED,
    C_CLIENT_ID,
    C_LIFECYCLE,
    C_IMPL_ID,
    C_CERT_REF,
    C_SW_COMPONENTS,
    C_VSI,
    C_DEVICE_ID,
    C_EPOCH,
    C_SVNS,
    C_TAMPER_STATE,
    C_TAMPER_COUNT,
};

#define BIT(id) (1u << (id))

/* RFC 9783 section 4: mandatory in both profiles. */
#define MANDATORY_PSA                                                                                        \
    (BIT(C_NONCE) | BIT(C_INSTANCE_ID) | BIT(C_PROFILE) | BIT(C_CLIENT_ID) | BIT(C_LIFECYCLE) |              \
     BIT(C_IMPL_ID) | BIT(C_SW_COMPONENTS))
/* drot's private claims: only in the drot profile, and all mandatory there. */
#define DROT_ONLY (BIT(C_DEVICE_ID) | BIT(C_EPOCH) | BIT(C_SVNS) | BIT(C_TAMPER_STATE) | BIT(C_TAMPER_COUNT))

typedef struct claim_def {
    int64_t key;
    enum claim_id id;
} claim_def;

/* Every key either profile knows. Anything else is refused (invariant 2);
 * 2397, the pre-RFC boot seed key, is deliberately absent. */
static const claim_def k_claims[] = {
    {DROT_EAT_KEY_NONCE, C_NONCE},
    {DROT_EAT_KEY_INSTANCE_ID, C_INSTANCE_ID},
    {DROT_EAT_KEY_PROFILE, C_PROFILE},
    {DROT_EAT_KEY_BOOT_SEED, C_BOOT_SEED},
    {DROT_EAT_KEY_CLIENT_ID, C_CLIENT_ID},
    {DROT_EAT_KEY_LIFECYCLE, C_LIFECYCLE},
    {DROT_EAT_KEY_IMPL_ID, C_IMPL_ID},
    {DROT_EAT_KEY_CERT_REF, C_CERT_REF},
    {DROT_EAT_KEY_SW_COMPONENTS, C_SW_COMPONENTS},
    {DROT_EAT_KEY_VSI, C_VSI},
    {DROT_EAT_KEY_DEVICE_ID, C_DEVICE_ID},
    {DROT_EAT_KEY_EPOCH, C_EPOCH},
    {DROT_EAT_KEY_SVNS, C_SVNS},
    {DROT_EAT_KEY_TAMPER_STATE, C_TAMPER_STATE},
    {DROT_EAT_KEY_TAMPER_COUNT, C_TAMPER_COUNT},
};

static const claim_def *find_claim(int64_t key)
{
    for (size_t i = 0; i < sizeof k_claims / sizeof k_claims[0]; i++) {
        if (k_claims[i].key == key)
            return &k_claims[i];
    }
    return NULL;
}

/* ---- validation (shared by encode and decode, invariant 1) --------------- */

/* see drot/eat.h */
drot_eat_lifecycle drot_eat_lifecycle_class(uint64_t value)
{
    /* RFC 9783 section 4.3.1: major state in bits 15:8, an implementation
     * defined minor state in bits 7:0; the valid majors are 0x00 and
     * 0x10..0x60 in steps of 0x10, so bits 11:8 must be clear. */
    if (value > 0xffffu || (value & 0x0f00u) != 0)
        return DROT_EAT_LC_INVALID;
    switch (value >> 12) {
    case 0: return DROT_EAT_LC_UNKNOWN;
    case 1: return DROT_EAT_LC_ASSEMBLY_AND_TEST;
    case 2: return DROT_EAT_LC_PSA_ROT_PROVISIONING;
    case 3: return DROT_EAT_LC_SECURED;
    case 4: return DROT_EAT_LC_NON_PSA_ROT_DEBUG;
    case 5: return DROT_EAT_LC_RECOVERABLE_PSA_ROT_DEBUG;
    case 6: return DROT_EAT_LC_DECOMMISSIONED;
    default: return DROT_EAT_LC_INVALID;
    }
}

/* psa-hash-type of RFC 9783 section 4: nonce, measurement value, signer id. */
static bool is_hash_len(size_t n)
{
    return n == 32 || n == 48 || n == 64;
}

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above
 * U+10FFFF. RFC 9783 asks for "valid" CBOR, and a text string that is not
 * UTF-8 makes the item invalid (RFC 8949 section 1.2). */
static bool is_utf8(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t more;
        uint32_t cp, min;
        if ((c & 0xe0) == 0xc0) {
            more = 1;
            cp = c & 0x1fu;
            min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            more = 2;
            cp = c & 0x0fu;
            min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            more = 3;
            cp = c & 0x07u;
            min = 0x10000;
        } else {
            return false;
        }
        if (n - i - 1 < more)
            return false;
        for (size_t k = 1; k <= more; k++) {
            uint8_t b = s[i + k];
            if ((b & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (b & 0x3fu);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += more + 1;
    }
    return true;
}

/* A NULL pointer with a length is a caller bug, never "absent". */
static drot_status check_bytes_arg(const drot_eat_bytes *b)
{
    return (b->p == NULL && b->len != 0) ? DROT_E_ARG : DROT_OK;
}

static drot_status check_mandatory_bytes(const drot_eat_bytes *b)
{
    if (b->p == NULL)
        return b->len != 0 ? DROT_E_ARG : DROT_E_CLAIM_MISSING;
    return DROT_OK;
}

static drot_status check_hash(const drot_eat_bytes *b)
{
    drot_status st = check_mandatory_bytes(b);
    if (st != DROT_OK)
        return st;
    return is_hash_len(b->len) ? DROT_OK : DROT_E_CLAIM_INVALID;
}

/* An optional text: absent, or valid UTF-8 of at most max bytes. */
static drot_status check_text(const drot_eat_text *t, size_t max)
{
    if (t->p == NULL)
        return t->len != 0 ? DROT_E_ARG : DROT_OK;
    if (t->len > max)
        return DROT_E_TOO_LARGE;
    return is_utf8((const uint8_t *)t->p, t->len) ? DROT_OK : DROT_E_CLAIM_INVALID;
}

/* RFC 9783 section 4.2.3: thirteen EAN-13 digits, "-", five digits. */
static drot_status check_cert_ref(const drot_eat_text *t)
{
    if (t->p == NULL)
        return t->len != 0 ? DROT_E_ARG : DROT_OK;
    if (t->len != DROT_EAT_CERT_REF_LEN)
        return DROT_E_CLAIM_INVALID;
    for (size_t i = 0; i < DROT_EAT_CERT_REF_LEN; i++) {
        char c = t->p[i];
        bool ok = (i == 13) ? (c == '-') : (c >= '0' && c <= '9');
        if (!ok)
            return DROT_E_CLAIM_INVALID;
    }
    return DROT_OK;
}

static drot_status check_component(const drot_eat_sw_component *c)
{
    drot_status st;
    if ((st = check_hash(&c->measurement_value)) != DROT_OK)
        return st;
    if ((st = check_hash(&c->signer_id)) != DROT_OK)
        return st;
    if ((st = check_text(&c->measurement_type, DROT_EAT_MAX_TEXT)) != DROT_OK)
        return st;
    if ((st = check_text(&c->version, DROT_EAT_MAX_TEXT)) != DROT_OK)
        return st;
    return check_text(&c->measurement_desc, DROT_EAT_MAX_TEXT);
}

static drot_status check_drot_claims(const drot_eat_drot_claims *d, size_t num_components)
{
    drot_status st = check_mandatory_bytes(&d->device_id);
    if (st != DROT_OK)
        return st;
    if (d->device_id.len != DROT_EAT_DEVICE_ID_LEN)
        return DROT_E_CLAIM_INVALID;
    if (d->num_svns > DROT_EAT_MAX_COMPONENTS)
        return DROT_E_TOO_LARGE;
    for (size_t i = 0; i < d->num_svns; i++) {
        /* An SVN names a component that is in this token... */
        if (d->svns[i].component >= num_components)
            return DROT_E_CLAIM_INVALID;
        /* ...once, in ascending order, so the encoding is deterministic. */
        if (i > 0 && d->svns[i].component <= d->svns[i - 1].component)
            return DROT_E_CLAIM_INVALID;
    }
    return DROT_OK;
}

/* Every rule of drot/eat.h except the CBOR-level ones. */
static drot_status validate_claims(const drot_eat_claims *c)
{
    drot_status st;
    if (c->profile != DROT_EAT_PROFILE_PSA && c->profile != DROT_EAT_PROFILE_DROT)
        return DROT_E_ARG;

    /* RFC 9783 section 4.1.1: 32, 48 or 64 bytes. */
    if ((st = check_hash(&c->nonce)) != DROT_OK)
        return st;
    /* Section 4.2.1: a 33-byte UEID of type RAND (0x01). */
    if ((st = check_mandatory_bytes(&c->instance_id)) != DROT_OK)
        return st;
    if (c->instance_id.len != DROT_EAT_INSTANCE_ID_LEN || c->instance_id.p[0] != 0x01)
        return DROT_E_CLAIM_INVALID;
    /* Section 4.2.2: 32 bytes. */
    if ((st = check_mandatory_bytes(&c->implementation_id)) != DROT_OK)
        return st;
    if (c->implementation_id.len != DROT_EAT_IMPLEMENTATION_ID_LEN)
        return DROT_E_CLAIM_INVALID;
    /* Section 4.1.2: a 32-bit signed partition id, never 0. */
    if (c->client_id == 0 || c->client_id < INT32_MIN || c->client_id > INT32_MAX)
        return DROT_E_CLAIM_INVALID;
    /* Section 4.3.1. */
    if (drot_eat_lifecycle_class(c->security_lifecycle) == DROT_EAT_LC_INVALID)
        return DROT_E_CLAIM_INVALID;
    /* Section 4.3.2: optional, 8..32 bytes. */
    if ((st = check_bytes_arg(&c->boot_seed)) != DROT_OK)
        return st;
    if (c->boot_seed.p != NULL &&
        (c->boot_seed.len < DROT_EAT_BOOT_SEED_MIN || c->boot_seed.len > DROT_EAT_BOOT_SEED_MAX))
        return DROT_E_CLAIM_INVALID;
    if ((st = check_cert_ref(&c->certification_reference)) != DROT_OK)
        return st;
    if ((st = check_text(&c->verification_service, DROT_EAT_MAX_VSI)) != DROT_OK)
        return st;
    /* Section 4.4.1: "[ + psa-software-component ]", one or more. */
    if (c->num_components == 0)
        return DROT_E_CLAIM_MISSING;
    if (c->num_components > DROT_EAT_MAX_COMPONENTS)
        return DROT_E_TOO_LARGE;
    for (size_t i = 0; i < c->num_components; i++) {
        if ((st = check_component(&c->components[i])) != DROT_OK)
            return st;
    }
    if (c->profile == DROT_EAT_PROFILE_DROT)
        return check_drot_claims(&c->drot, c->num_components);
    return DROT_OK;
}

/* ---- encoder ------------------------------------------------------------ */

static size_t count_if(const void *p)
{
    return p != NULL ? 1u : 0u;
}

static void put_text(drot_cbor_writer *w, const drot_eat_text *t)
{
    drot_cbor_put_tstr(w, t->p, t->len);
}

static void put_component(drot_cbor_writer *w, const drot_eat_sw_component *c)
{
    size_t n = 2 + count_if(c->measurement_type.p) + count_if(c->version.p) + count_if(c->measurement_desc.p);
    drot_cbor_put_map(w, n);
    if (c->measurement_type.p != NULL) {
        drot_cbor_put_uint(w, DROT_EAT_SWC_MEASUREMENT_TYPE);
        put_text(w, &c->measurement_type);
    }
    drot_cbor_put_uint(w, DROT_EAT_SWC_MEASUREMENT_VALUE);
    drot_cbor_put_bstr(w, c->measurement_value.p, c->measurement_value.len);
    if (c->version.p != NULL) {
        drot_cbor_put_uint(w, DROT_EAT_SWC_VERSION);
        put_text(w, &c->version);
    }
    drot_cbor_put_uint(w, DROT_EAT_SWC_SIGNER_ID);
    drot_cbor_put_bstr(w, c->signer_id.p, c->signer_id.len);
    if (c->measurement_desc.p != NULL) {
        drot_cbor_put_uint(w, DROT_EAT_SWC_MEASUREMENT_DESC);
        put_text(w, &c->measurement_desc);
    }
}

static void put_drot_claims(drot_cbor_writer *w, const drot_eat_drot_claims *d)
{
    drot_cbor_put_int(w, DROT_EAT_KEY_DEVICE_ID);
    drot_cbor_put_bstr(w, d->device_id.p, d->device_id.len);
    drot_cbor_put_int(w, DROT_EAT_KEY_EPOCH);
    drot_cbor_put_uint(w, d->epoch);
    drot_cbor_put_int(w, DROT_EAT_KEY_SVNS);
    drot_cbor_put_map(w, d->num_svns);
    for (size_t i = 0; i < d->num_svns; i++) {
        drot_cbor_put_uint(w, d->svns[i].component);
        drot_cbor_put_uint(w, d->svns[i].svn);
    }
    drot_cbor_put_int(w, DROT_EAT_KEY_TAMPER_STATE);
    drot_cbor_put_uint(w, d->tamper_state);
    drot_cbor_put_int(w, DROT_EAT_KEY_TAMPER_COUNT);
    drot_cbor_put_uint(w, d->tamper_count);
}

/* see drot/eat.h */
drot_status drot_eat_encode(const drot_eat_claims *claims, uint8_t *out, size_t cap, size_t *out_len)
{
    if (out_len == NULL)
        return DROT_E_ARG;
    *out_len = 0;
    if (claims == NULL || (out == NULL && cap != 0))
        return DROT_E_ARG;
    drot_status st = validate_claims(claims);
    if (st != DROT_OK)
        return st;

    const drot_eat_claims *c = claims;
    bool drot = c->profile == DROT_EAT_PROFILE_DROT;
    /* 7 mandatory claims, the optional ones present, drot's 5. */
    size_t n = 7 + count_if(c->boot_seed.p) + count_if(c->certification_reference.p) +
               count_if(c->verification_service.p) + (drot ? 5u : 0u);

    drot_cbor_writer w;
    drot_cbor_writer_init(&w, out, cap);
    drot_cbor_put_map(&w, n);
    /* Invariant 4: this order is the bytewise order of the encoded keys. */
    drot_cbor_put_uint(&w, DROT_EAT_KEY_NONCE);
    drot_cbor_put_bstr(&w, c->nonce.p, c->nonce.len);
    drot_cbor_put_uint(&w, DROT_EAT_KEY_INSTANCE_ID);
    drot_cbor_put_bstr(&w, c->instance_id.p, c->instance_id.len);
    drot_cbor_put_uint(&w, DROT_EAT_KEY_PROFILE);
    drot_cbor_put_tstr_z(&w, drot ? DROT_EAT_PROFILE_DROT_STR : DROT_EAT_PROFILE_PSA_STR);
    if (c->boot_seed.p != NULL) {
        drot_cbor_put_uint(&w, DROT_EAT_KEY_BOOT_SEED);
        drot_cbor_put_bstr(&w, c->boot_seed.p, c->boot_seed.len);
    }
    drot_cbor_put_uint(&w, DROT_EAT_KEY_CLIENT_ID);
    drot_cbor_put_int(&w, c->client_id);
    drot_cbor_put_uint(&w, DROT_EAT_KEY_LIFECYCLE);
    drot_cbor_put_uint(&w, c->security_lifecycle);
    drot_cbor_put_uint(&w, DROT_EAT_KEY_IMPL_ID);
    drot_cbor_put_bstr(&w, c->implementation_id.p, c->implementation_id.len);
    if (c->certification_reference.p != NULL) {
        drot_cbor_put_uint(&w, DROT_EAT_KEY_CERT_REF);
        put_text(&w, &c->certification_reference);
    }
    drot_cbor_put_uint(&w, DROT_EAT_KEY_SW_COMPONENTS);
    drot_cbor_put_array(&w, c->num_components);
    for (size_t i = 0; i < c->num_components; i++)
        put_component(&w, &c->components[i]);
    if (c->verification_service.p != NULL) {
        drot_cbor_put_uint(&w, DROT_EAT_KEY_VSI);
        put_text(&w, &c->verification_service);
    }
    if (drot)
        put_drot_claims(&w, &c->drot);
    return drot_cbor_writer_finish(&w, out_len);
}

/* ---- decoder ------------------------------------------------------------ */

/* Each reader below checks the CBOR type itself, so a value of the wrong
 * type is DROT_E_CLAIM_INVALID rather than the reader's generic
 * DROT_E_MALFORMED; errors of the CBOR itself pass through unchanged. */
static drot_status expect_type(const drot_cbor_reader *r, drot_cbor_type want)
{
    drot_cbor_type t;
    drot_status st = drot_cbor_peek(r, &t);
    if (st != DROT_OK)
        return st;
    return t == want ? DROT_OK : DROT_E_CLAIM_INVALID;
}

static drot_status read_bytes(drot_cbor_reader *r, drot_eat_bytes *b)
{
    drot_status st = expect_type(r, DROT_CBOR_BSTR);
    if (st != DROT_OK)
        return st;
    return drot_cbor_get_bstr(r, &b->p, &b->len);
}

static drot_status read_text(drot_cbor_reader *r, drot_eat_text *t)
{
    drot_status st = expect_type(r, DROT_CBOR_TSTR);
    if (st != DROT_OK)
        return st;
    return drot_cbor_get_tstr(r, &t->p, &t->len);
}

static drot_status read_uint(drot_cbor_reader *r, uint64_t *v)
{
    drot_status st = expect_type(r, DROT_CBOR_UINT);
    if (st != DROT_OK)
        return st;
    return drot_cbor_get_uint(r, v);
}

static drot_status read_int(drot_cbor_reader *r, int64_t *v)
{
    drot_cbor_type t;
    drot_status st = drot_cbor_peek(r, &t);
    if (st != DROT_OK)
        return st;
    if (t != DROT_CBOR_UINT && t != DROT_CBOR_NEGINT)
        return DROT_E_CLAIM_INVALID;
    st = drot_cbor_get_int(r, v);
    /* Beyond int64_t is certainly beyond the 32-bit client id range. */
    return st == DROT_E_TOO_LARGE ? DROT_E_CLAIM_INVALID : st;
}

/* A top-level key: only integers can be claims of either profile, so any
 * other key, or an integer beyond int64_t, is an unknown claim. */
static drot_status read_key(drot_cbor_reader *r, int64_t *key)
{
    drot_cbor_type t;
    drot_status st = drot_cbor_peek(r, &t);
    if (st != DROT_OK)
        return st;
    if (t != DROT_CBOR_UINT && t != DROT_CBOR_NEGINT)
        return DROT_E_UNKNOWN_CLAIM;
    st = drot_cbor_get_int(r, key);
    return st == DROT_E_TOO_LARGE ? DROT_E_UNKNOWN_CLAIM : st;
}

/* One psa-software-component map (RFC 9783 section 4.4.1); closed too. */
static drot_status read_component(drot_cbor_reader *r, drot_eat_sw_component *c)
{
    size_t n;
    drot_status st = expect_type(r, DROT_CBOR_MAP);
    if (st != DROT_OK || (st = drot_cbor_get_map(r, &n)) != DROT_OK)
        return st;
    unsigned seen = 0;
    for (size_t i = 0; i < n; i++) {
        drot_cbor_type t;
        uint64_t key;
        if ((st = drot_cbor_peek(r, &t)) != DROT_OK)
            return st;
        if (t != DROT_CBOR_UINT)
            return DROT_E_UNKNOWN_CLAIM;
        if ((st = drot_cbor_get_uint(r, &key)) != DROT_OK)
            return st;
        if (key > 31 || ((1u << key) & 0x76u) == 0) /* keys 1, 2, 4, 5, 6 */
            return DROT_E_UNKNOWN_CLAIM;
        if (seen & (1u << key))
            return DROT_E_DUPLICATE;
        seen |= 1u << key;
        switch (key) {
        case DROT_EAT_SWC_MEASUREMENT_TYPE: st = read_text(r, &c->measurement_type); break;
        case DROT_EAT_SWC_MEASUREMENT_VALUE: st = read_bytes(r, &c->measurement_value); break;
        case DROT_EAT_SWC_VERSION: st = read_text(r, &c->version); break;
        case DROT_EAT_SWC_SIGNER_ID: st = read_bytes(r, &c->signer_id); break;
        case DROT_EAT_SWC_MEASUREMENT_DESC: st = read_text(r, &c->measurement_desc); break;
        default: return DROT_E_UNKNOWN_CLAIM; /* excluded by the mask above */
        }
        if (st != DROT_OK)
            return st;
    }
    /* An absent measurement value or signer id stays NULL, which
     * validate_claims reports as DROT_E_CLAIM_MISSING. */
    return DROT_OK;
}

static drot_status read_components(drot_cbor_reader *r, drot_eat_claims *c)
{
    size_t n;
    drot_status st = expect_type(r, DROT_CBOR_ARRAY);
    if (st != DROT_OK || (st = drot_cbor_get_array(r, &n)) != DROT_OK)
        return st;
    if (n == 0) /* "[ + psa-software-component ]" */
        return DROT_E_CLAIM_INVALID;
    if (n > DROT_EAT_MAX_COMPONENTS)
        return DROT_E_TOO_LARGE;
    c->num_components = n;
    for (size_t i = 0; i < n; i++) {
        if ((st = read_component(r, &c->components[i])) != DROT_OK)
            return st;
    }
    return DROT_OK;
}

/* The drot SVN map. Its keys must ascend strictly (the encoder's order):
 * a key equal to the one before is reported as a duplicate here; any other
 * disorder and the index bounds are validate_claims' business. */
static drot_status read_svns(drot_cbor_reader *r, drot_eat_drot_claims *d)
{
    size_t n;
    drot_status st = expect_type(r, DROT_CBOR_MAP);
    if (st != DROT_OK || (st = drot_cbor_get_map(r, &n)) != DROT_OK)
        return st;
    if (n > DROT_EAT_MAX_COMPONENTS)
        return DROT_E_TOO_LARGE;
    for (size_t i = 0; i < n; i++) {
        uint64_t index, svn;
        if ((st = read_uint(r, &index)) != DROT_OK)
            return st;
        if (index > UINT32_MAX)
            return DROT_E_CLAIM_INVALID;
        if (i > 0 && index == d->svns[i - 1].component)
            return DROT_E_DUPLICATE;
        if ((st = read_uint(r, &svn)) != DROT_OK)
            return st;
        d->svns[i].component = (uint32_t)index;
        d->svns[i].svn = svn;
        d->num_svns = i + 1;
    }
    return DROT_OK;
}

static drot_status read_profile(drot_cbor_reader *r, drot_eat_claims *c)
{
    drot_eat_text t;
    drot_status st = read_text(r, &t);
    if (st != DROT_OK)
        return st;
    static const char psa[] = DROT_EAT_PROFILE_PSA_STR;
    static const char drot[] = DROT_EAT_PROFILE_DROT_STR;
    if (t.len == sizeof psa - 1 && memcmp(t.p, psa, t.len) == 0)
        c->profile = DROT_EAT_PROFILE_PSA;
    else if (t.len == sizeof drot - 1 && memcmp(t.p, drot, t.len) == 0)
        c->profile = DROT_EAT_PROFILE_DROT;
    else
        return DROT_E_UNSUPPORTED; /* another EAT profile, PSA_IOT_PROFILE_1 included */
    return DROT_OK;
}

static drot_status read_claim(drot_cbor_reader *r, enum claim_id id, drot_eat_claims *c)
{
    drot_status st;
    uint64_t u;
    switch (id) {
    case C_NONCE: return read_bytes(r, &c->nonce);
    case C_INSTANCE_ID: return read_bytes(r, &c->instance_id);
    case C_PROFILE: return read_profile(r, c);
    case C_BOOT_SEED: return read_bytes(r, &c->boot_seed);
    case C_CLIENT_ID: return read_int(r, &c->client_id);
    case C_LIFECYCLE:
        if ((st = read_uint(r, &u)) != DROT_OK)
            return st;
        /* Range checked in validate_claims; here only keep it from
         * wrapping into a valid-looking uint32_t. */
        if (u > UINT16_MAX)
            return DROT_E_CLAIM_INVALID;
        c->security_lifecycle = (uint32_t)u;
        return DROT_OK;
    case C_IMPL_ID: return read_bytes(r, &c->implementation_id);
    case C_CERT_REF: return read_text(r, &c->certification_reference);
    case C_SW_COMPONENTS: return read_components(r, c);
    case C_VSI: return read_text(r, &c->verification_service);
    case C_DEVICE_ID: return read_bytes(r, &c->drot.device_id);
    case C_EPOCH: return read_uint(r, &c->drot.epoch);
    case C_SVNS: return read_svns(r, &c->drot);
    case C_TAMPER_STATE: return read_uint(r, &c->drot.tamper_state);
    case C_TAMPER_COUNT: return read_uint(r, &c->drot.tamper_count);
    }
    return DROT_E_UNKNOWN_CLAIM;
}

static drot_status decode_map(const uint8_t *payload, size_t len, drot_eat_claims *c)
{
    drot_cbor_reader r;
    drot_cbor_type t;
    size_t n;
    drot_cbor_reader_init(&r, payload, len);
    drot_status st = drot_cbor_peek(&r, &t);
    if (st != DROT_OK)
        return st;
    if (t != DROT_CBOR_MAP)
        return DROT_E_MALFORMED;
    if ((st = drot_cbor_get_map(&r, &n)) != DROT_OK)
        return st;

    /* The closed key set bounds the loop's useful work: the 16th entry is
     * necessarily a duplicate or unknown and stops it. */
    uint32_t seen = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t key;
        if ((st = read_key(&r, &key)) != DROT_OK)
            return st;
        const claim_def *d = find_claim(key);
        if (d == NULL)
            return DROT_E_UNKNOWN_CLAIM;
        if (seen & BIT(d->id))
            return DROT_E_DUPLICATE;
        seen |= BIT(d->id);
        /* The profile may come after drot claims; those are caught below. */
        if ((BIT(d->id) & DROT_ONLY) && c->profile == DROT_EAT_PROFILE_PSA)
            return DROT_E_UNKNOWN_CLAIM;
        if ((st = read_claim(&r, d->id, c)) != DROT_OK)
            return st;
    }
    if ((st = drot_cbor_reader_done(&r)) != DROT_OK)
        return st;

    if ((seen & BIT(C_PROFILE)) == 0)
        return DROT_E_CLAIM_MISSING;
    if (c->profile == DROT_EAT_PROFILE_PSA && (seen & DROT_ONLY) != 0)
        return DROT_E_UNKNOWN_CLAIM;
    if ((seen & MANDATORY_PSA) != MANDATORY_PSA)
        return DROT_E_CLAIM_MISSING;
    if (c->profile == DROT_EAT_PROFILE_DROT && (seen & DROT_ONLY) != DROT_ONLY)
        return DROT_E_CLAIM_MISSING;
    return validate_claims(c);
}

/* see drot/eat.h */
drot_status drot_eat_decode(const uint8_t *payload, size_t len, drot_eat_claims *claims)
{
    if (claims == NULL)
        return DROT_E_ARG;
    memset(claims, 0, sizeof *claims);
    if (payload == NULL)
        return DROT_E_ARG;
    if (len > DROT_EAT_MAX_PAYLOAD)
        return DROT_E_TOO_LARGE;
    drot_status st = decode_map(payload, len, claims);
    if (st != DROT_OK)
        memset(claims, 0, sizeof *claims); /* invariant 3 */
    return st;
}
