/*
 * fw_rot_util.h — helpers for the DRoT tests (test_fw_rotate.c,
 * test_fw_anchor.c) on top of fw_test_util: the test plays the server
 * (builds instructions with drot/rotate.h and the test authority keys),
 * compares the whole persistent state before and after a refused
 * instruction, checks tokens, and sweeps power cuts over an operation on a
 * fully booted device (fwt_boot: core, key store, boot verdict, tamper).
 *
 * Every helper asserts (cmocka) on a failure that is not the point of a test.
 */
#ifndef FW_ROT_UTIL_H
#define FW_ROT_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fw_test_util.h"
#include "rotate.h"

#define FWR_MSG_MAX 2048u

/* Extra authority keys beyond fwt_key's three: k = 0..7 (fixed scalars). */
void fwr_extra_key(int k, drot_p256_priv *priv, drot_p256_pub *pub, uint8_t hash[32]);

/* The gates' inputs for d. */
apm_rot_env fwr_env(fwt_dev *d);

/* The persistent state, byte for byte (the sim's RAM images of otp.bin and
 * flash.bin, which it writes through), and the write count. */
typedef struct fwr_snap {
    uint8_t otp[APM_SIM_OTP_SIZE];
    uint8_t *flash;
    long writes;
} fwr_snap;
void fwr_snap_take(fwt_dev *d, fwr_snap *s);
/* Asserts that nothing persistent changed since s, and frees s. */
void fwr_snap_expect_unchanged(fwt_dev *d, fwr_snap *s);

/* Server-generated mode: an instruction for device_id / epoch / nonce with
 * KeyA = keya, sealed to drk, signed by (priv, pub). Returns its length. */
size_t fwr_root_instr(const drot_p256_priv *signer, const drot_p256_pub *signer_pub, const drot_p256_pub *drk,
                      const uint8_t device_id[16], uint64_t epoch, const uint8_t nonce[32],
                      const drot_p256_priv *keya, uint8_t *out, size_t cap);
/* The same for d as it is now (its device id, fuse epoch and DRK), signed
 * by test key k. */
size_t fwr_root_instr_for(fwt_dev *d, int k, const uint8_t nonce[32], const drot_p256_priv *keya,
                          uint8_t *out, size_t cap);

/* A fresh P-256 key from the OS-seeded test RNG. */
void fwr_new_key(drot_p256_priv *priv, drot_p256_pub *pub);

/* A token from d (drot profile) verifies under pub and carries epoch. */
void fwr_expect_token(fwt_dev *d, const drot_p256_pub *pub, uint64_t epoch);

/* Server mode end to end on d (nonce, instruction by key k, commit) with a
 * fresh KeyA; checks the receipt; returns KeyA's public key. */
drot_p256_pub fwr_rotate_server(fwt_dev *d, int k);
/* Device mode end to end (propose, endorse by key k, commit). */
drot_p256_pub fwr_rotate_device(fwt_dev *d, int k);

/* The power-cut sweep on a fwt device: snapshot the state files, run op
 * uncut and count its writes W (op must succeed, W > 0); then for every
 * n = 1..W, clean and torn: restore, boot, cut at write n, run op (it must
 * report APM_E_POWER, or APM_OK for a clean cut at the last write), boot
 * again (fwt_boot asserts the key store loads), and call check. Prints the
 * figures and returns W. */
typedef apm_status (*fwr_op_fn)(fwt_dev *d, void *arg);
typedef void (*fwr_check_fn)(fwt_dev *d, long n, bool torn, apm_status op_status, void *arg);
long fwr_sweep(const char *name, fwt_dev *d, fwr_op_fn op, fwr_check_fn check, void *arg);

#endif /* FW_ROT_UTIL_H */
