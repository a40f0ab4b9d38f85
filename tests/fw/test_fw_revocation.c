/*
 * test_fw_revocation.c — revocation lists on the APM (fw/src/revocation.c,
 * fw/src/anchors.c; docs/revocation.md), in-process on the sim HAL.
 *
 * Devices from fw_test_util: anchors key 0 (slot 0, it signed the APM
 * image) and key 1 (slot 1); key 2 and fw_rot_util's extra keys are
 * strangers. The test plays the server: it builds and signs lists with
 * drot/revocation.h and hands them to apm_rev_set as SET_REVOCATION_LIST
 * does.
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

#include "anchors.h"
#include "drot/manifest.h"
#include "drot/revocation.h"
#include "drot/rotate.h"
#include "fw_inst_util.h"
#include "fw_rot_util.h"
#include "otp.h"
#include "revocation.h"
#include "rotate.h"

#define EXTRA(k) (10 + (k)) /* key numbers of fwr_extra_key */

static uint8_t g_list[8192], g_msg[FWR_MSG_MAX];
static apm_rev_work g_work;

static void key(int k, drot_p256_priv *priv, drot_p256_pub *pub, uint8_t hash[32])
{
    if (k >= EXTRA(0))
        fwr_extra_key(k - EXTRA(0), priv, pub, hash);
    else
        fwt_key(k, priv, pub, hash);
}

static int setup(void **state)
{
    fwt_dev *d = calloc(1, sizeof *d);
    assert_non_null(d);
    fwt_create_good(d);
    *state = d;
    return 0;
}

static int teardown(void **state)
{
    fwt_dev *d = *state;
    fwt_destroy(d);
    free(d);
    return 0;
}

/* What a list says. Hashes are given unsorted; build() sorts them. */
typedef struct spec {
    int signer;
    uint64_t version;
    size_t n_auth;
    uint8_t auth[8][32];
    size_t n_drk;
    uint8_t drk[8][32];
} spec;

static void spec_init(spec *s, int signer, uint64_t version)
{
    memset(s, 0, sizeof *s);
    s->signer = signer;
    s->version = version;
}

static void revoke_key(spec *s, int k)
{
    assert_true(s->n_auth < 8);
    key(k, NULL, NULL, s->auth[s->n_auth++]);
}

static void revoke_drk(spec *s, const drot_p256_pub *drk)
{
    assert_true(s->n_drk < 8);
    assert_int_equal(drot_sha256(drk->q, sizeof drk->q, s->drk[s->n_drk++]), DROT_OK);
}

static int cmp32(const void *a, const void *b)
{
    return memcmp(*(const uint8_t *const *)a, *(const uint8_t *const *)b, 32);
}

static void fill_list(const spec *s, drot_revocation_list *l)
{
    memset(l, 0, sizeof *l);
    l->version = s->version;
    l->issued_at = 1767225600; /* 2026-01-01 */
    l->n_authorities = s->n_auth;
    for (size_t i = 0; i < s->n_auth; i++)
        l->authorities[i] = s->auth[i];
    qsort(l->authorities, s->n_auth, sizeof l->authorities[0], cmp32);
    l->n_drks = s->n_drk;
    for (size_t i = 0; i < s->n_drk; i++)
        l->drks[i] = s->drk[i];
    qsort(l->drks, s->n_drk, sizeof l->drks[0], cmp32);
}

/* The signed list into out; returns its length. A list revoking its own
 * signer is signed anyway (drot_authority_sign), as an attacker would. */
static size_t build(const spec *s, uint8_t *out, size_t cap)
{
    drot_revocation_list l;
    drot_p256_priv priv;
    drot_p256_pub pub;
    uint8_t payload[DROT_REVOCATION_MAX_LEN];
    size_t plen = 0, len = 0;
    fill_list(s, &l);
    key(s->signer, &priv, &pub, NULL);
    assert_int_equal(drot_revocation_encode(&l, payload, sizeof payload, &plen), DROT_OK);
    assert_int_equal(drot_authority_sign(&priv, &pub, DROT_AUTH_CT_REVOCATION, payload, plen, out, cap, &len),
                     DROT_OK);
    return len;
}

static apm_status set(fwt_dev *d, const uint8_t *msg, size_t len, apm_rev_result *res)
{
    apm_rev_result r;
    return apm_rev_set(&d->core, &d->boot, msg, len, &g_work, res != NULL ? res : &r);
}

static apm_status set_spec(fwt_dev *d, const spec *s, apm_rev_result *res)
{
    size_t len = build(s, g_list, sizeof g_list);
    return set(d, g_list, len, res);
}

/* msg is refused with `want`; fuses, flash and the RAM view unchanged. */
static void refused(fwt_dev *d, const uint8_t *msg, size_t len, apm_status want)
{
    fwr_snap snap;
    apm_rev before = d->core.rev;
    apm_rev_result res;
    memset(&res, 0x5A, sizeof res);
    fwr_snap_take(d, &snap);
    apm_status st = apm_rev_set(&d->core, &d->boot, msg, len, &g_work, &res);
    if (st != want)
        fail_msg("expected %d (%s), got %d (%s)", (int)want, apm_status_str(want), (int)st,
                 apm_status_str(st));
    fwr_snap_expect_unchanged(d, &snap);
    assert_memory_equal(&d->core.rev, &before, sizeof before);
    assert_int_equal(res.version, 0);
    assert_false(res.changed);
}

static void refused_spec(fwt_dev *d, const spec *s, apm_status want)
{
    size_t len = build(s, g_list, sizeof g_list);
    refused(d, g_list, len, want);
}

/* A server-mode root rotation instruction by key k, run on d. */
static apm_status root_by(fwt_dev *d, int k)
{
    static uint8_t receipt[APM_ROT_MSG_MAX];
    apm_rot_state rs;
    apm_rot_env env = fwr_env(d);
    drot_p256_priv keya, priv;
    drot_p256_pub keya_pub, pub;
    uint8_t nonce[32];
    size_t rlen = 0;
    apm_status st;
    memset(&rs, 0, sizeof rs);
    fwr_new_key(&keya, &keya_pub);
    if ((st = apm_rot_nonce(&d->core, &env, &rs, nonce)) != APM_OK)
        return st;
    key(k, &priv, &pub, NULL);
    size_t len = fwr_root_instr(&priv, &pub, &d->core.drk.pub, d->core.otp.device_id, d->core.otp.epoch,
                                nonce, &keya, g_msg, sizeof g_msg);
    return apm_rot_root(&d->core, &env, &rs, g_msg, len, receipt, sizeof receipt, &rlen);
}

/* An anchor instruction by `signer` (ADD new_key with its consent, or CONFIRM). */
static apm_status anchor_by(fwt_dev *d, int signer, uint32_t op, int new_key)
{
    static uint8_t consent[FWR_MSG_MAX];
    apm_rot_state rs;
    apm_rot_env env = fwr_env(d);
    drot_anchor_instr a;
    drot_p256_priv sp, cp;
    drot_p256_pub spub, cpub;
    uint8_t nonce[32];
    size_t len = 0, clen = 0;
    uint32_t o = 0, s = 0;
    apm_status st;
    memset(&rs, 0, sizeof rs);
    if ((st = apm_rot_nonce(&d->core, &env, &rs, nonce)) != APM_OK)
        return st;
    memset(&a, 0, sizeof a);
    memcpy(a.device_id, d->core.otp.device_id, 16);
    memcpy(a.nonce, nonce, 32);
    a.op = op;
    if (op == DROT_ANCHOR_OP_ADD) {
        key(new_key, NULL, &a.new_key, NULL);
        key(new_key, &cp, &cpub, NULL);
        assert_int_equal(
            drot_anchor_consent_sign(&cp, &cpub, a.device_id, nonce, consent, sizeof consent, &clen),
            DROT_OK);
        a.consent = consent;
        a.consent_len = clen;
    }
    key(signer, &sp, &spub, NULL);
    assert_int_equal(drot_anchor_instr_sign(&sp, &spub, &a, g_msg, sizeof g_msg, &len), DROT_OK);
    return apm_rot_anchor(&d->core, &env, &rs, g_msg, len, &o, &s);
}

/* Test 1: a valid list is stored / v1 by key 0 revoking a stranger: APM_OK,
 * changed, version 1, one record written; it survives a reboot (the RAM
 * view is rebuilt from the record); the same list again: APM_OK, not
 * changed, and no write at all; a higher version replaces it. */
static void test_store(void **state)
{
    fwt_dev *d = *state;
    spec s;
    apm_rev_result res;
    fwr_snap snap;
    spec_init(&s, 0, 1);
    revoke_key(&s, 2);
    assert_int_equal(d->core.rev.version, 0);
    long w = d->sim.writes;
    assert_int_equal(set_spec(d, &s, &res), APM_OK);
    assert_int_equal(res.version, 1);
    assert_true(res.changed);
    assert_false(res.drk_revoked);
    assert_int_equal(d->sim.writes - w, 2); /* one record: erase + program */
    assert_int_equal(d->core.rev.n_auth, 1);

    assert_int_equal(fwt_reboot(d), APM_OK);
    assert_int_equal(d->core.rev.version, 1);
    assert_int_equal(d->core.rev.n_auth, 1);
    uint8_t h2[32];
    key(2, NULL, NULL, h2);
    assert_memory_equal(d->core.rev.auth[0], h2, 32);

    size_t len = build(&s, g_list, sizeof g_list);
    fwr_snap_take(d, &snap);
    assert_int_equal(set(d, g_list, len, &res), APM_OK);
    assert_int_equal(res.version, 1);
    assert_false(res.changed);
    fwr_snap_expect_unchanged(d, &snap);

    s.version = 9;
    revoke_key(&s, EXTRA(0));
    assert_int_equal(set_spec(d, &s, &res), APM_OK);
    assert_int_equal(res.version, 9);
    assert_int_equal(fwt_reboot(d), APM_OK);
    assert_int_equal(d->core.rev.version, 9);
    assert_int_equal(d->core.rev.n_auth, 2);
    /* Strangers are listed but fill no slot: the device still boots and works. */
    assert_int_equal(d->boot.verdict, APM_VERDICT_PASS);
    fwr_expect_token(d, &d->core.drk.pub, d->core.otp.epoch);
}

/* Test 2: versions / after v5: v4 is refused (APM_E_ROLLBACK), v5 with
 * other content is refused (APM_E_ROLLBACK), v5 again is a no-op, and v4 is
 * still refused after a reboot; nothing changes on a refusal. */
static void test_versions(void **state)
{
    fwt_dev *d = *state;
    spec s;
    spec_init(&s, 0, 5);
    revoke_key(&s, 2);
    assert_int_equal(set_spec(d, &s, NULL), APM_OK);

    spec older = s;
    older.version = 4;
    refused_spec(d, &older, APM_E_ROLLBACK);
    spec other = s;
    revoke_key(&other, EXTRA(1));
    refused_spec(d, &other, APM_E_ROLLBACK);
    spec by1 = s;
    by1.signer = 1; /* same content, another signer: the same list */
    apm_rev_result res;
    assert_int_equal(set_spec(d, &by1, &res), APM_OK);
    assert_false(res.changed);

    assert_int_equal(fwt_reboot(d), APM_OK);
    refused_spec(d, &older, APM_E_ROLLBACK);
    refused_spec(d, &other, APM_E_ROLLBACK);
    older.version = 1;
    refused_spec(d, &older, APM_E_ROLLBACK);
}

/* Test 3: bad lists / signed by a stranger (DROT_E_VERIFY); the payload
 * alone, unsigned; every cut of a good list; one flipped bit anywhere in
 * the signature; garbage; too long (DROT_E_TOO_LARGE); empty (APM_E_ARG); a
 * manifest offered as a list (DROT_E_UNSUPPORTED); a good signature over a
 * bad payload; a list that revokes its own signer (DROT_E_BADKEY). Each
 * changes nothing; the good list is stored afterwards. */
static void test_bad_lists(void **state)
{
    fwt_dev *d = *state;
    spec s;
    spec_init(&s, 0, 3);
    revoke_key(&s, 2);
    size_t len = build(&s, g_list, sizeof g_list);

    spec stranger = s;
    stranger.signer = EXTRA(2);
    refused_spec(d, &stranger, (apm_status)DROT_E_VERIFY);

    drot_revocation_list l;
    uint8_t payload[DROT_REVOCATION_MAX_LEN];
    size_t plen = 0;
    fill_list(&s, &l);
    assert_int_equal(drot_revocation_encode(&l, payload, sizeof payload, &plen), DROT_OK);
    refused(d, payload, plen, (apm_status)DROT_E_MALFORMED);

    for (size_t cut = 1; cut < len; cut += (cut < 40 ? 1 : 37)) {
        fwr_snap snap;
        apm_rev_result res;
        fwr_snap_take(d, &snap);
        assert_int_not_equal(set(d, g_list, cut, &res), APM_OK);
        fwr_snap_expect_unchanged(d, &snap);
    }
    g_list[len - 5] ^= 0x10;
    refused(d, g_list, len, (apm_status)DROT_E_VERIFY);
    g_list[len - 5] ^= 0x10;

    uint8_t junk[300];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 37u + 11u);
    refused(d, junk, sizeof junk, (apm_status)DROT_E_MALFORMED);
    static uint8_t big[DROT_REVOCATION_SIGNED_MAX + 1];
    memcpy(big, g_list, len);
    refused(d, big, sizeof big, (apm_status)DROT_E_TOO_LARGE);
    refused(d, g_list, 0, APM_E_ARG);

    uint8_t digest[32], manifest[DROT_MANIFEST_SIGNED_MAX];
    fwt_image_digest(digest);
    size_t mlen = fwt_manifest(0, "APM", "1.2.3", 1, digest, FWT_IMAGE_LEN, manifest, sizeof manifest);
    refused(d, manifest, mlen, (apm_status)DROT_E_UNSUPPORTED);

    drot_p256_priv priv;
    drot_p256_pub pub;
    size_t n = 0;
    static const uint8_t bad_payload[] = {0xA1, 0x01, 0x00};
    fwt_key(0, &priv, &pub, NULL);
    assert_int_equal(drot_authority_sign(&priv, &pub, DROT_AUTH_CT_REVOCATION, bad_payload,
                                         sizeof bad_payload, g_msg, sizeof g_msg, &n),
                     DROT_OK);
    refused(d, g_msg, n, (apm_status)DROT_E_CLAIM_MISSING);

    spec self = s;
    self.signer = 1;
    revoke_key(&self, 1);
    refused_spec(d, &self, (apm_status)DROT_E_BADKEY);

    assert_int_equal(set_spec(d, &s, NULL), APM_OK);
    assert_int_equal(d->core.rev.version, 3);
}

/* Test 4: a revoked anchor's boot manifest / an image signed by key 1
 * boots (control); a list revoking key 1 is refused while key 1's image
 * runs (APM_E_DENIED: the next boot would fail); back on key 0's image
 * the list is stored, and key 1's image is then refused at boot
 * (APM_E_ANCHOR, verdict FAIL, no token) — as if slot 1's revoke bit were
 * burned, which it is not. */
static void test_boot_refuses_revoked_anchor(void **state)
{
    fwt_dev *d = *state;
    uint8_t digest[32], m0[DROT_MANIFEST_SIGNED_MAX], m1[DROT_MANIFEST_SIGNED_MAX];
    uint8_t tok[FWT_TOKEN_CAP], nonce[32];
    size_t tlen = 0;
    fwt_image_digest(digest);
    size_t l0 = fwt_manifest(0, "APM", "1.2.4", 1, digest, FWT_IMAGE_LEN, m0, sizeof m0);
    size_t l1 = fwt_manifest(1, "APM", "1.2.4", 1, digest, FWT_IMAGE_LEN, m1, sizeof m1);

    fwt_install(d, m1, l1, fwt_image(), FWT_IMAGE_LEN);
    assert_int_equal(fwt_reboot(d), APM_OK);
    assert_int_equal(d->boot.anchor_slot, 1);

    spec s;
    spec_init(&s, 0, 1);
    revoke_key(&s, 1);
    refused_spec(d, &s, APM_E_DENIED);

    fwt_install(d, m0, l0, fwt_image(), FWT_IMAGE_LEN);
    assert_int_equal(fwt_reboot(d), APM_OK);
    assert_int_equal(set_spec(d, &s, NULL), APM_OK);

    fwt_install(d, m1, l1, fwt_image(), FWT_IMAGE_LEN);
    assert_int_equal(fwt_reboot(d), APM_E_ANCHOR);
    assert_int_equal(d->boot.verdict, APM_VERDICT_FAIL);
    assert_false(d->core.otp.anchor_revoked[1]);
    memset(nonce, 0x33, sizeof nonce);
    assert_int_equal(fwt_token(d, nonce, sizeof nonce, 2, tok, sizeof tok, &tlen), APM_E_BOOT);

    drot_anchor_slot slots[APM_ANCHOR_SLOTS];
    apm_trusted_anchors(&d->core, slots);
    assert_true(slots[0].present && !slots[0].revoked);
    assert_true(slots[1].present && slots[1].revoked);
}

/* Test 5: what a stored list makes rotate.c refuse / with key 1 revoked by
 * the list: a root rotation signed by key 1 (DROT_E_BADKEY), an anchor
 * CONFIRM signed by key 1 (DROT_E_BADKEY), a device-mode endorsement by
 * key 1 (DROT_E_BADKEY), an ADD of a key the list revokes (APM_E_ANCHOR),
 * a list signed by key 1 (DROT_E_BADKEY); none changes anything; key 0
 * still rotates the DRK. */
static void test_rotate_refuses_revoked_anchor(void **state)
{
    fwt_dev *d = *state;
    spec s;
    spec_init(&s, 0, 2);
    revoke_key(&s, 1);
    revoke_key(&s, 2);
    assert_int_equal(root_by(d, 1) == APM_OK, true); /* control: key 1 works before the list */
    assert_int_equal(set_spec(d, &s, NULL), APM_OK);

    fwr_snap snap;
    fwr_snap_take(d, &snap);
    assert_int_equal(root_by(d, 1), (apm_status)DROT_E_BADKEY);
    assert_int_equal(anchor_by(d, 1, DROT_ANCHOR_OP_CONFIRM, 0), (apm_status)DROT_E_BADKEY);
    assert_int_equal(anchor_by(d, 0, DROT_ANCHOR_OP_ADD, 2), APM_E_ANCHOR);

    static uint8_t prop[APM_ROT_MSG_MAX], receipt[APM_ROT_MSG_MAX];
    apm_rot_state rs;
    apm_rot_env env = fwr_env(d);
    drot_rotate_proposal p;
    drot_p256_priv a1;
    drot_p256_pub a1_pub;
    size_t plen = 0, len = 0, rlen = 0;
    memset(&rs, 0, sizeof rs);
    assert_int_equal(apm_rot_propose(&d->core, &env, &rs, prop, sizeof prop, &plen), APM_OK);
    assert_int_equal(drot_rotate_proposal_verify(prop, plen, &d->core.drk.pub, &p), DROT_OK);
    fwt_key(1, &a1, &a1_pub, NULL);
    assert_int_equal(drot_rotate_endorse_sign(&a1, &a1_pub, &p, g_msg, sizeof g_msg, &len), DROT_OK);
    assert_int_equal(apm_rot_endorse(&d->core, &env, &rs, g_msg, len, receipt, sizeof receipt, &rlen),
                     (apm_status)DROT_E_BADKEY);

    spec by1;
    spec_init(&by1, 1, 3);
    revoke_key(&by1, 2);
    size_t blen = build(&by1, g_list, sizeof g_list);
    apm_rev_result res;
    assert_int_equal(set(d, g_list, blen, &res), (apm_status)DROT_E_BADKEY);
    fwr_snap_expect_unchanged(d, &snap);

    fwr_rotate_server(d, 0);
    assert_int_equal(fwt_reboot(d), APM_OK);
    assert_int_equal(root_by(d, 1), (apm_status)DROT_E_BADKEY); /* still, after a reboot */
}

/* Test 6: revocations are never withdrawn / after v1 revoking key 2 and
 * extra key 0, a v2 that drops either is refused (APM_E_ROLLBACK); a v2
 * that keeps both and adds one is stored. */
static void test_no_withdrawal(void **state)
{
    fwt_dev *d = *state;
    spec s;
    spec_init(&s, 0, 1);
    revoke_key(&s, 2);
    revoke_key(&s, EXTRA(0));
    assert_int_equal(set_spec(d, &s, NULL), APM_OK);
    spec drop;
    spec_init(&drop, 0, 2);
    revoke_key(&drop, 2);
    refused_spec(d, &drop, APM_E_ROLLBACK);
    spec_init(&drop, 0, 2);
    revoke_key(&drop, EXTRA(0));
    refused_spec(d, &drop, APM_E_ROLLBACK);
    spec grow = s;
    grow.version = 2;
    revoke_key(&grow, EXTRA(3));
    assert_int_equal(set_spec(d, &grow, NULL), APM_OK);
    assert_int_equal(d->core.rev.n_auth, 3);
}

/* Test 7: a revoked device root key / a list revoking the device's DRK is
 * stored (drk_revoked); from then on tokens, rotation nonces and proposals
 * are refused with APM_E_REVOKED, after a reboot too; a later list that no
 * longer revokes the DRK is refused (APM_E_ROLLBACK). Another device's DRK
 * in the list changes nothing for this one. */
static void test_drk_revoked(void **state)
{
    fwt_dev *d = *state;
    spec s;
    drot_p256_priv other;
    drot_p256_pub other_pub;
    apm_rev_result res;
    fwr_new_key(&other, &other_pub);
    spec_init(&s, 0, 1);
    revoke_drk(&s, &other_pub);
    assert_int_equal(set_spec(d, &s, &res), APM_OK);
    assert_false(res.drk_revoked);
    fwr_expect_token(d, &d->core.drk.pub, d->core.otp.epoch);

    s.version = 2;
    revoke_drk(&s, &d->core.drk.pub);
    assert_int_equal(set_spec(d, &s, &res), APM_OK);
    assert_true(res.drk_revoked);

    uint8_t tok[FWT_TOKEN_CAP], nonce[32], prop[APM_ROT_MSG_MAX];
    size_t tlen = 0, plen = 0;
    apm_rot_state rs;
    apm_rot_env env = fwr_env(d);
    memset(nonce, 0x44, sizeof nonce);
    memset(&rs, 0, sizeof rs);
    for (int boot = 0; boot < 2; boot++) {
        assert_int_equal(fwt_token(d, nonce, sizeof nonce, 2, tok, sizeof tok, &tlen), APM_E_REVOKED);
        assert_int_equal(apm_rot_nonce(&d->core, &env, &rs, nonce), APM_E_REVOKED);
        assert_int_equal(apm_rot_propose(&d->core, &env, &rs, prop, sizeof prop, &plen), APM_E_REVOKED);
        assert_int_equal(fwt_reboot(d), APM_OK);
        env = fwr_env(d);
    }
    spec back;
    spec_init(&back, 0, 3);
    revoke_drk(&back, &other_pub);
    refused_spec(d, &back, APM_E_ROLLBACK);
    s.version = 4;
    assert_int_equal(set_spec(d, &s, &res), APM_OK);
    assert_true(res.drk_revoked);
}

/* Test 8: the device stays usable / a list (by key 1) revoking key 0,
 * which verified the running image, is refused (APM_E_DENIED): the next
 * boot would fail and the device would never use its key again. Nothing
 * changes, and the device boots as before. (A list cannot revoke every
 * anchor: its own signer must stay usable, test 3.) */
static void test_keeps_device_usable(void **state)
{
    fwt_dev *d = *state;
    spec s;
    spec_init(&s, 1, 1);
    revoke_key(&s, 0);
    refused_spec(d, &s, APM_E_DENIED);
    assert_int_equal(fwt_reboot(d), APM_OK);
    assert_int_equal(d->boot.verdict, APM_VERDICT_PASS);
    assert_int_equal(d->core.rev.version, 0);
}

/* Test 12: firmware install / an APM image signed by key 1 verifies
 * (control, verify mode: nothing written); once the list revokes key 1,
 * FW_BEGIN refuses its manifest (APM_E_ANCHOR) and nothing is written; an
 * image by key 0 still installs. */
static void test_install_refuses_revoked_anchor(void **state)
{
    fwt_dev *d = *state;
    const uint8_t *img = fwi_image(1, FWI_B_LEN);
    static uint8_t m1[1024], m0[1024];
    size_t l1 = fwi_manifest(1, "APM", "2.0.0", 2, img, FWI_B_LEN, m1, sizeof m1);
    size_t l0 = fwi_manifest(0, "APM", "2.0.0", 2, img, FWI_B_LEN, m0, sizeof m0);
    assert_int_equal(fwi_session(d, DROT_LINK_FW_MODE_VERIFY, m1, l1, img, FWI_B_LEN, 0, NULL), APM_OK);

    spec s;
    spec_init(&s, 0, 1);
    revoke_key(&s, 1);
    assert_int_equal(set_spec(d, &s, NULL), APM_OK);
    fwr_snap snap;
    fwr_snap_take(d, &snap);
    assert_int_equal(fwi_session(d, DROT_LINK_FW_MODE_INSTALL, m1, l1, img, FWI_B_LEN, 0, NULL),
                     APM_E_ANCHOR);
    assert_int_equal(fwi_session(d, DROT_LINK_FW_MODE_VERIFY, m1, l1, img, FWI_B_LEN, 0, NULL), APM_E_ANCHOR);
    fwr_snap_expect_unchanged(d, &snap);
    assert_int_equal(fwi_session(d, DROT_LINK_FW_MODE_INSTALL, m0, l0, img, FWI_B_LEN, 0, NULL), APM_OK);
}

/* Test 9: lifecycle / a TAMPERED device takes no list (APM_E_LIFECYCLE). */
static void test_lifecycle(void **state)
{
    fwt_dev *d = *state;
    spec s;
    spec_init(&s, 0, 1);
    assert_int_equal(apm_otp_set_lifecycle(d->core.hal, APM_LC_TAMPERED), APM_OK);
    assert_int_equal(apm_core_load_otp(&d->core), APM_OK);
    refused_spec(d, &s, APM_E_LIFECYCLE);
}

/* ---- power-cut sweep ----------------------------------------------------------- */

typedef struct sweep_arg {
    size_t len;
    uint8_t msg[DROT_REVOCATION_SIGNED_MAX];
    uint8_t digest_v1[32];
} sweep_arg;

static apm_status op_store_v2(fwt_dev *d, void *arg)
{
    sweep_arg *a = arg;
    return set(d, a->msg, a->len, NULL);
}

static void check_store_v2(fwt_dev *d, long n, bool torn, apm_status op_status, void *arg)
{
    sweep_arg *a = arg;
    const apm_rev *r = &d->core.rev;
    /* Old list or new one, never a mix, never none. */
    if (r->version != 1 && r->version != 2)
        fail_msg("cut %ld%s: stored version %llu", n, torn ? " torn" : "", (unsigned long long)r->version);
    if (r->version == 1) {
        assert_memory_equal(r->digest, a->digest_v1, 32);
        assert_int_equal(r->n_auth, 1);
    } else {
        assert_int_equal(r->n_auth, 2);
    }
    if (op_status == APM_OK)
        assert_int_equal(r->version, 2);
    /* The device is as usable as before, and the store completes. */
    assert_int_equal(d->boot.verdict, APM_VERDICT_PASS);
    fwr_expect_token(d, &d->core.drk.pub, d->core.otp.epoch);
    assert_int_equal(op_store_v2(d, arg), APM_OK);
    assert_int_equal(fwt_reboot(d), APM_OK);
    assert_int_equal(d->core.rev.version, 2);
    assert_int_equal(root_by(d, 1), (apm_status)DROT_E_BADKEY);
}

/* Test 10: power-cut sweep / v1 stored, then v2 (revoking key 1) cut after
 * each of its writes, clean and torn: the device boots with v1 or v2 whole
 * (never neither, never a mix), tokens still work, and storing v2 again
 * completes it; key 1 is refused afterwards. */
static void test_sweep(void **state)
{
    fwt_dev *d = *state;
    static sweep_arg a;
    spec s;
    spec_init(&s, 0, 1);
    revoke_key(&s, 2);
    assert_int_equal(set_spec(d, &s, NULL), APM_OK);
    memcpy(a.digest_v1, d->core.rev.digest, 32);
    s.version = 2;
    revoke_key(&s, 1);
    a.len = build(&s, a.msg, sizeof a.msg);
    assert_int_equal(fwr_sweep("revocation list", d, op_store_v2, check_store_v2, &a), 2);
}

static apm_status op_store_first(fwt_dev *d, void *arg)
{
    sweep_arg *a = arg;
    return set(d, a->msg, a->len, NULL);
}

static void check_store_first(fwt_dev *d, long n, bool torn, apm_status op_status, void *arg)
{
    uint64_t v = d->core.rev.version;
    if (v != 0 && v != 1)
        fail_msg("cut %ld%s: stored version %llu", n, torn ? " torn" : "", (unsigned long long)v);
    if (op_status == APM_OK)
        assert_int_equal(v, 1);
    assert_int_equal(d->boot.verdict, APM_VERDICT_PASS);
    assert_int_equal(root_by(d, 1) == APM_OK, v == 0); /* key 1 works until the list is stored */
    assert_int_equal(op_store_first(d, arg), APM_OK);
    assert_int_equal(d->core.rev.version, 1);
}

/* Test 11: power-cut sweep of the first list ever stored / after a cut the
 * device has no list (and key 1 still works) or the whole list (and key 1
 * is refused); storing again completes it. */
static void test_sweep_first(void **state)
{
    fwt_dev *d = *state;
    static sweep_arg a;
    spec s;
    spec_init(&s, 0, 1);
    revoke_key(&s, 1);
    a.len = build(&s, a.msg, sizeof a.msg);
    assert_int_equal(fwr_sweep("first revocation list", d, op_store_first, check_store_first, &a), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_lists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_boot_refuses_revoked_anchor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotate_refuses_revoked_anchor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_withdrawal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drk_revoked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keeps_device_usable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_install_refuses_revoked_anchor, setup, teardown),
    };
    return cmocka_run_group_tests_name("fw_revocation", tests, NULL, fwt_group_teardown);
}
