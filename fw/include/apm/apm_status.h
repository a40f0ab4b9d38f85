/*
 * apm_status.h — the one status type of the APM firmware.
 *
 * APM_OK is 0 and every failure is negative; as in drot_status (which the
 * core passes through unchanged for crypto and format errors, values -1 ..
 * -99), a small negative number has nearly every bit set, so no single
 * flipped bit turns a failure into APM_OK. The firmware's own codes start at
 * -100 so the two never collide.
 *
 * Security verdicts that are computed once and consulted later (the boot
 * image check) are not stored as statuses but as apm_verdict: two 32-bit
 * patterns far apart in Hamming distance, and neither is 0 or all ones.
 */
#ifndef APM_STATUS_H
#define APM_STATUS_H

#include <stdint.h>

typedef int32_t apm_status;

#define APM_OK 0
/* -1 .. -99: a drot_status from common/ or the crypto port, passed through. */
#define APM_E_ARG             (-100) /* bad argument from the caller (a bug, or a malformed request) */
#define APM_E_HAL             (-101) /* a HAL call failed (I/O, range) other than power loss */
#define APM_E_POWER           (-102) /* power was lost during a write: the device must stop */
#define APM_E_OTP             (-103) /* an OTP write was refused (it would clear a bit) or the fuses are inconsistent */
#define APM_E_CORRUPT         (-104) /* no valid copy of a flash record */
#define APM_E_EXHAUSTED       (-105) /* a counter or a slot has no room left */
#define APM_E_NOT_PROVISIONED (-106) /* manufacturing has not completed */
#define APM_E_NO_KEY          (-107) /* no usable device root key */
#define APM_E_LOCKED          (-108) /* key use blocked by a tamper event until reset */
#define APM_E_LIFECYCLE       (-109) /* not allowed in this lifecycle state */
#define APM_E_BOOT            (-110) /* the APM firmware image did not verify: no key use */
#define APM_E_ROLLBACK        (-111) /* a version (SVN) below the fuse */
#define APM_E_ANCHOR          (-112) /* signer not a trusted anchor, or its anchor is revoked */
#define APM_E_IMAGE           (-113) /* image digest or size does not match its manifest */
#define APM_E_FULL            (-114) /* a fixed-size table is full (measurements, log) */
#define APM_E_DENIED          (-115) /* refused by policy, for a reason given alongside */
#define APM_E_RNG             (-116) /* the TRNG or DRBG failed */
#define APM_E_NONCE           (-117) /* no outstanding rotation nonce, or the instruction names another one */
#define APM_E_WRONG_DEVICE    (-118) /* the instruction names another device */
#define APM_E_STALE           (-119) /* the instruction is not for exactly the current epoch + 1 */
#define APM_E_KEY_MISMATCH    (-120) /* the delivered or staged key is not the key the instruction names */
#define APM_E_REVOKED         (-121) /* the device root key is revoked by the stored revocation list */
/* -130 .. -139: firmware install (fwinstall.h). */
#define APM_E_FW_STATE                                                                                       \
    (-130) /* not in this firmware state: no install open, a trial staged or running, nothing to confirm */
#define APM_E_FW_ORDER     (-131) /* a firmware chunk not at the next offset (a gap or an overlap) */
#define APM_E_NOT_MEASURED (-132) /* the verified host image is not in this boot's measurements */
#define APM_E_COMPONENT    (-133) /* the manifest names a component this device does not install */

/* Returns a short constant description of st (drot_status values included). */
const char *apm_status_str(apm_status st);

typedef uint32_t apm_verdict;
#define APM_VERDICT_PASS ((apm_verdict)0x3CA5965Au)
#define APM_VERDICT_FAIL ((apm_verdict)0xC35A69A5u) /* the bitwise complement of PASS */

#endif /* APM_STATUS_H */
