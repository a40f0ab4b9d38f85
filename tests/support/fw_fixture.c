/*
 * fw_fixture.c — see fw_fixture.h.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "drot/cose.h"
#include "drot/eat.h"
#include "drot/manifest.h"
#include "drot_crypto.h"
#include "audit.h"
#include "drot_sysrng.h"
#include "fw_fixture.h"

static struct {
    bool ready;
    drot_p256_priv priv[2];
    drot_p256_pub pub[2];
} K;

static void keys(void)
{
    if (K.ready)
        return;
    drot_rng rng = drot_sysrng();
    for (int i = 0; i < 2; i++)
        assert_int_equal(drot_p256_keygen(&rng, &K.priv[i], &K.pub[i]), DROT_OK);
    K.ready = true;
}

void fwx_authority(uint8_t anchor[32])
{
    keys();
    assert_int_equal(drot_sha256(K.pub[0].q, sizeof K.pub[0].q, anchor), DROT_OK);
}

void fwx_other_authority(uint8_t anchor[32])
{
    keys();
    assert_int_equal(drot_sha256(K.pub[1].q, sizeof K.pub[1].q, anchor), DROT_OK);
}

size_t fwx_manifest(const char *component, const char *version, uint32_t svn, const uint8_t digest[32],
                    uint32_t size, bool other, uint8_t *out, size_t cap)
{
    keys();
    drot_manifest m;
    memset(&m, 0, sizeof m);
    m.component = component;
    m.component_len = strlen(component);
    m.version = version;
    m.version_len = strlen(version);
    m.svn = svn;
    memcpy(m.digest, digest, 32);
    m.size = size;
    size_t len = 0;
    int k = other ? 1 : 0;
    assert_int_equal(drot_manifest_sign(&K.priv[k], &K.pub[k], &m, out, cap, &len), DROT_OK);
    return len;
}

size_t fwx_signed_as(const char *component, const char *version, uint32_t svn, const uint8_t digest[32],
                     uint32_t size, uint64_t content_type, uint8_t *out, size_t cap)
{
    keys();
    drot_manifest m;
    memset(&m, 0, sizeof m);
    m.component = component;
    m.component_len = strlen(component);
    m.version = version;
    m.version_len = strlen(version);
    m.svn = svn;
    memcpy(m.digest, digest, 32);
    m.size = size;
    uint8_t payload[DROT_MANIFEST_MAX_LEN];
    size_t plen = 0, len = 0;
    assert_int_equal(drot_manifest_encode(&m, payload, sizeof payload, &plen), DROT_OK);
    assert_int_equal(drot_authority_sign(&K.priv[0], &K.pub[0], content_type, payload, plen, out, cap, &len),
                     DROT_OK);
    return len;
}

uint8_t *fwx_image(uint32_t seed, uint32_t size, uint8_t digest[32])
{
    uint8_t *p = malloc(size);
    assert_non_null(p);
    uint32_t x = seed * 2654435761u + 12345u;
    for (uint32_t i = 0; i < size; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (uint8_t)(x >> 16);
    }
    assert_int_equal(drot_sha256(p, size, digest), DROT_OK);
    return p;
}

void fwx_upload(fx *f, const uint8_t *img, uint32_t size, const uint8_t digest[32])
{
    uint32_t n = (size + FW_CHUNK_SIZE - 1) / FW_CHUNK_SIZE;
    for (uint32_t k = n; k-- > 0;) {
        size_t len = k + 1 < n ? FW_CHUNK_SIZE : size - (size_t)k * FW_CHUNK_SIZE;
        ds_status st = fw_image_put_chunk(f->s, digest, size, k, img + (size_t)k * FW_CHUNK_SIZE, len,
                                          "operator:test", T0, NULL);
        if (st != DS_OK)
            fail_msg("upload chunk %u: %s", k, ds_store_error(f->s));
    }
}

int64_t fwx_release(fx *f, const char *component, const char *version, uint32_t svn, uint32_t seed,
                    uint32_t size, uint8_t digest[32])
{
    uint8_t *img = fwx_image(seed, size, digest);
    fwx_upload(f, img, size, digest);
    free(img);
    uint8_t man[DROT_MANIFEST_SIGNED_MAX], anchor[32];
    size_t len = fwx_manifest(component, version, svn, digest, size, false, man, sizeof man);
    fwx_authority(anchor);
    fw_release rel;
    bool created = false;
    ds_status st = fw_release_publish(f->s, man, len, (const uint8_t(*)[32])anchor, 1, "operator:test", T0,
                                      &rel, &created);
    if (st != DS_OK)
        fail_msg("publish %s %s: %s", component, version, ds_store_error(f->s));
    assert_true(created);
    return rel.id;
}

size_t fwx_token(const char *component, const uint8_t digest[32], const char *ver, uint8_t *out, size_t cap)
{
    return fwx_token_signer(component, digest, ver, NULL, out, cap);
}

size_t fwx_token_signer(const char *component, const uint8_t digest[32], const char *ver, const uint8_t *by,
                        uint8_t *out, size_t cap)
{
    keys();
    static const uint8_t nonce[32] = {1}, impl[32] = {2}, apm[32] = {4};
    uint8_t signer[32]; /* the images run are the test authority's */
    fwx_authority(signer);
    if (by != NULL)
        memcpy(signer, by, 32);
    uint8_t inst[33] = {0x01};
    drot_eat_claims c;
    memset(&c, 0, sizeof c);
    c.profile = DROT_EAT_PROFILE_PSA;
    c.nonce = (drot_eat_bytes){nonce, 32};
    c.instance_id = (drot_eat_bytes){inst, 33};
    c.implementation_id = (drot_eat_bytes){impl, 32};
    c.client_id = 1;
    c.security_lifecycle = 0x3000;
    /* an APM entry first, then the component (when it is not the APM) */
    c.num_components = 1;
    c.components[0].measurement_type = (drot_eat_text){"APM", 3};
    c.components[0].measurement_value = (drot_eat_bytes){apm, 32};
    c.components[0].signer_id = (drot_eat_bytes){signer, 32};
    if (component != NULL) {
        drot_eat_sw_component *sc = &c.components[strcmp(component, "APM") == 0 ? 0 : c.num_components++];
        sc->measurement_type = (drot_eat_text){component, strlen(component)};
        sc->measurement_value = (drot_eat_bytes){digest, 32};
        sc->signer_id = (drot_eat_bytes){signer, 32};
        if (ver != NULL)
            sc->version = (drot_eat_text){ver, strlen(ver)};
    }
    uint8_t payload[DROT_EAT_MAX_PAYLOAD];
    size_t plen = 0, len = 0;
    assert_int_equal(drot_eat_encode(&c, payload, sizeof payload, &plen), DROT_OK);
    assert_int_equal(drot_cose_sign1_sign(&K.priv[0], NULL, payload, plen, out, cap, &len), DROT_OK);
    return len;
}

void fwx_attest(fx *f, uint32_t dev, ds_result res, const char *component, const uint8_t digest[32],
                const char *ver, int64_t at)
{
    uint8_t tok[2048];
    size_t len = fwx_token(component, digest, ver, tok, sizeof tok);
    ds_attestation a;
    memset(&a, 0, sizeof a);
    make_id(dev, a.device_id);
    a.at = at;
    a.result = res;
    a.reasons = "";
    a.token = tok;
    a.token_len = len;
    if (ds_attestation_record(f->s, &a, NULL) != DS_OK)
        fail_msg("attestation_record: %s", ds_store_error(f->s));
}

long long fwx_rows(fx *f, const char *table)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    return raw_scalar(f, sql);
}

long long fwx_audited(fx *f, const char *action, const char *actor)
{
    char sql[300];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM audit_log WHERE action = '%s'%s%s%s", action,
             actor != NULL ? " AND actor = '" : "", actor != NULL ? actor : "", actor != NULL ? "'" : "");
    return raw_scalar(f, sql);
}

void fwx_audit_ok(fx *f)
{
    int64_t bad = 0;
    if (ds_audit_check(f->s, &bad) != DS_OK)
        fail_msg("the audit chain breaks at %lld: %s", (long long)bad, ds_store_error(f->s));
}
