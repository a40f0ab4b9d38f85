/*
 * apm.h — the APM firmware's public API: what a port's main() calls.
 *
 *   apm_device dev;                       caller-owned, no malloc
 *   apm_device_boot(&dev, &hal);          verify own image, reconcile keys,
 *                                         read fuses, seed the DRBG
 *   apm_device_serve(&dev);               answer link frames until the host
 *                                         hangs up or power is lost
 *   apm_device_shutdown(&dev);            wipe every secret in RAM
 *
 * A port without a byte-stream loop of its own (tests, an in-process fleet)
 * calls apm_device_handle() with whole frames instead of apm_device_serve().
 *
 * Manufacturing (apm_device_manufacture) runs once in the factory on a
 * blank device; it is resumable after a power cut at any write.
 *
 * The link protocol is docs/link.md; what the device does with each request
 * is docs/apm.md.
 */
#ifndef APM_H
#define APM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apm/apm_status.h"
#include "apm_hal.h"

/* Opaque device state; its size is a contract checked at compile time. */
#define APM_DEVICE_SIZE 20480u
typedef struct apm_device {
    union {
        uint64_t align_;
        void *align_ptr_;
        unsigned char b[APM_DEVICE_SIZE];
    } opaque;
} apm_device;

/* Boots: initialises the core on hal, loads fuses, reconciles the key store
 * (DESIGN.md 7.1), applies the tamper state, verifies and measures the APM
 * image, and draws the boot seed. A device whose image does not verify still
 * boots (it answers GET_INFO with the reason) but refuses every key use.
 * Returns APM_OK, or the error that prevents serving at all (HAL version or
 * sizes wrong, power lost, RNG failed). */
apm_status apm_device_boot(apm_device *dev, const apm_hal *hal);

/* Answers one link frame: in[0..in_len) is a whole frame (header, payload,
 * tag); the answer frame goes to out[0..cap), *out_len its length. Every
 * frame gets an answer, except after power loss (APM_E_POWER: stop):
 *   - a frame that opens in the session gets its answer in the session (the
 *     response, or an ERROR if the request is refused);
 *   - anything else (bad header or tag, replayed or old sequence number,
 *     malformed, a refused HELLO, no session) gets an ERROR under k_hello
 *     and leaves the session untouched, so an injected frame can never make
 *     the APM emit a session frame that the host would take as the answer
 *     to its next request (docs/link.md).
 * in and out may hold sealed plaintext (SEAL, UNSEAL): the caller wipes
 * them when done. cap MUST be at least APM_FRAME_MAX. */
#define APM_FRAME_MAX (10u + 4096u + 16u)
apm_status apm_device_handle(apm_device *dev, const uint8_t *in, size_t in_len, uint8_t *out, size_t cap,
                             size_t *out_len);

/* Reads frames from hal->link_read and answers them with hal->link_write
 * until the link closes (APM_OK) or power is lost (APM_E_POWER). A frame
 * whose header is unusable (bad magic, version or length) is answered with
 * an ERROR and ends the connection, since the byte stream cannot be
 * resynchronised. */
apm_status apm_device_serve(apm_device *dev);

/* Idle work for a port that runs its own event loop: reads the tamper
 * sensors and responds (tamper.h). Call it at least once a second while no
 * frame arrives. APM_E_POWER: stop. */
apm_status apm_device_tick(apm_device *dev);

/* Wipes the device state (keys, session, DRBG). */
void apm_device_shutdown(apm_device *dev);

/* True when the answer apm_device_handle just produced asked for a reset
 * (FW_ACTIVATE: a test boot of a staged image, or leaving a trial). The port
 * MUST send that answer first, then call apm_device_reset (on hardware: a
 * system reset). apm_device_serve does both itself. */
bool apm_device_reset_requested(const apm_device *dev);

/* The reset: apm_device_shutdown, then apm_device_boot on the same HAL. The
 * link session is gone; the host starts a new one with HELLO. Returns what
 * apm_device_boot returns. */
apm_status apm_device_reset(apm_device *dev);

/* What manufacturing burns and installs. */
typedef struct apm_manufacture_params {
    uint8_t device_id[16];
    uint8_t uds[32];
    uint8_t link_key[32];
    const uint8_t (*anchors)[32]; /* SHA-256 of each authority public key, 1..4 */
    size_t n_anchors;
    const uint8_t *manifest; /* the APM image's authority-signed manifest */
    size_t manifest_len;
    const uint8_t *image;
    size_t image_len;
} apm_manufacture_params;

/* What a registry needs to know about the manufactured device. */
typedef struct apm_identity {
    uint8_t device_id[16];
    uint8_t drk_pub[65];
    uint8_t instance_id[33];
    uint32_t epoch;
} apm_identity;

/* Manufactures a blank device: installs the image in slot A, burns
 * identity and anchors, generates the device root key inside the APM, and
 * burns the lifecycle to PROVISIONED last (the commit point). Re-running it
 * after a power cut completes it; re-running it on a provisioned device with
 * the same parameters is a no-op that returns the identity; different
 * parameters are refused (APM_E_OTP). Needs the DRBG: it seeds from hal->trng. */
apm_status apm_device_manufacture(const apm_hal *hal, const apm_manufacture_params *p, apm_identity *out);

/* The factory's last step: the device leaves the factory. Burns the
 * lifecycle from PROVISIONED to DEPLOYED (PSA "secured", 0x3000), one OTP
 * write; on a DEPLOYED device it is a no-op. Refused, changing nothing:
 * APM_E_NOT_PROVISIONED before manufacturing completed, APM_E_NO_KEY without a
 * device root key, APM_E_LIFECYCLE once TAMPERED or DECOMMISSIONED. */
apm_status apm_device_deploy(const apm_hal *hal);

#endif /* APM_H */
