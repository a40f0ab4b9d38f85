/*
 * drot/link_fw.h — payloads of the firmware-install messages of the host <->
 * APM link (docs/link.md §4, docs/firmware.md "Install on the device").
 *
 *   FW_BEGIN    0x09  {1: manifest bstr 1..512, 2: mode uint 1..2}
 *                     → {1: size uint 1..16 MiB, 2: chunk uint 1..2048}
 *   FW_CHUNK    0x0A  {1: offset uint < 16 MiB, 2: data bstr 1..2048}
 *                     → {1: received uint ≤ 16 MiB}
 *   FW_FINISH   0x0B  {} → image {1: component, 2: version, 3: svn, 4: digest, 5: signer}
 *   FW_CONFIRM  0x0C  {1: component tstr 1..16} → {1: component, 2: svn uint ≤ 64}
 *   FW_ACTIVATE 0x12  {1: action uint 1..2} → {1: reset bool}
 *   FW_STATUS   0x13  {} → status (below)
 *
 * The rules of drot/link_msg.h apply to every decoder here: closed maps,
 * every field mandatory, sizes exact or bounded, nothing after the map, the
 * same statuses. In addition, component and version texts are printable
 * ASCII (0x20..0x7E), like the manifest fields they come from
 * (drot/manifest.h): anything else is DROT_E_CLAIM_INVALID. The manifest of
 * FW_BEGIN and the data of FW_CHUNK are views into the decoded input (zero
 * copy); everything else is copied into the structs.
 *
 * No allocation, no OS header: this links into the APM firmware.
 */
#ifndef DROT_LINK_FW_H
#define DROT_LINK_FW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drot/link_msg.h"
#include "drot/status.h"

#define DROT_LINK_FW_MANIFEST_MAX  512u                  /* the APM's APM_BOOT_MANIFEST_MAX */
#define DROT_LINK_FW_CHUNK_MAX     2048u                 /* image bytes per FW_CHUNK */
#define DROT_LINK_FW_IMAGE_MAX     (16u * 1024u * 1024u) /* drot/manifest.h DROT_MANIFEST_MAX_IMAGE */
#define DROT_LINK_FW_COMPONENT_MAX 16u                   /* drot/manifest.h DROT_MANIFEST_MAX_COMPONENT */
#define DROT_LINK_FW_VERSION_MAX   32u                   /* drot/manifest.h DROT_MANIFEST_MAX_VERSION */
#define DROT_LINK_FW_SVN_MAX       63u                   /* a manifest's SVN */
#define DROT_LINK_FW_FUSE_MAX      64u                   /* an svn fuse (64-bit thermometer) */
#define DROT_LINK_FW_SLOTS         2u                    /* APM firmware slots A (0) and B (1) */
#define DROT_LINK_FW_PENDING_MAX   4u                    /* verified host images awaiting a confirm */

/* FW_BEGIN modes. */
#define DROT_LINK_FW_MODE_INSTALL 1u /* APM: stage into the inactive slot; host: record a pending entry */
#define DROT_LINK_FW_MODE_VERIFY  2u /* check manifest and image only: nothing is written */

/* FW_ACTIVATE actions. */
#define DROT_LINK_FW_ACTIVATE_TRIAL 1u /* reset into the staged (pending) APM image */
#define DROT_LINK_FW_ACTIVATE_ABORT                                                                          \
    2u /* drop the pending trial, or leave the running one for the old slot                                  \
        */

/* Trial states of the APM image (FW_STATUS key 3). */
#define DROT_LINK_FW_TRIAL_NONE    0u
#define DROT_LINK_FW_TRIAL_PENDING 1u /* staged and verified: the next boot tries it */
#define DROT_LINK_FW_TRIAL_TRYING  2u /* this boot (or the last one) runs the trial, unconfirmed */

/* What became of the last trial (FW_STATUS key 4). */
#define DROT_LINK_FW_LAST_NONE      0u
#define DROT_LINK_FW_LAST_CONFIRMED 1u /* confirmed: the trial slot is the active slot */
#define DROT_LINK_FW_LAST_REFUSED   2u /* the trial did not verify at its boot: back to the old slot */
#define DROT_LINK_FW_LAST_RESET     3u /* a reset during the trial, before a confirm: back to the old slot */
#define DROT_LINK_FW_LAST_ABORTED   4u /* FW_ACTIVATE abort */

/* ---- FW_BEGIN ------------------------------------------------------------- */

typedef struct drot_link_fw_begin {
    const uint8_t *manifest; /* view into the payload on decode */
    size_t manifest_len;     /* 1..DROT_LINK_FW_MANIFEST_MAX */
    uint32_t mode;           /* DROT_LINK_FW_MODE_* */
} drot_link_fw_begin;

drot_status drot_link_fw_begin_encode(const drot_link_fw_begin *m, uint8_t *out, size_t cap, size_t *out_len);
drot_status drot_link_fw_begin_decode(const uint8_t *p, size_t len, drot_link_fw_begin *m);

/* Response: the image size the manifest announces and the largest chunk. */
typedef struct drot_link_fw_begin_resp {
    uint32_t size;  /* 1..DROT_LINK_FW_IMAGE_MAX */
    uint32_t chunk; /* 1..DROT_LINK_FW_CHUNK_MAX */
} drot_link_fw_begin_resp;

drot_status drot_link_fw_begin_resp_encode(const drot_link_fw_begin_resp *m, uint8_t *out, size_t cap,
                                           size_t *out_len);
drot_status drot_link_fw_begin_resp_decode(const uint8_t *p, size_t len, drot_link_fw_begin_resp *m);

/* ---- FW_CHUNK ------------------------------------------------------------- */

typedef struct drot_link_fw_chunk {
    uint32_t offset;     /* < DROT_LINK_FW_IMAGE_MAX: where data goes in the image */
    const uint8_t *data; /* view into the payload on decode */
    size_t data_len;     /* 1..DROT_LINK_FW_CHUNK_MAX */
} drot_link_fw_chunk;

drot_status drot_link_fw_chunk_encode(const drot_link_fw_chunk *m, uint8_t *out, size_t cap, size_t *out_len);
drot_status drot_link_fw_chunk_decode(const uint8_t *p, size_t len, drot_link_fw_chunk *m);

/* Response {1: received uint ≤ DROT_LINK_FW_IMAGE_MAX}: image bytes taken so far. */
drot_status drot_link_fw_received_encode(uint32_t received, uint8_t *out, size_t cap, size_t *out_len);
drot_status drot_link_fw_received_decode(const uint8_t *p, size_t len, uint32_t *received);

/* ---- an image: FW_FINISH's answer, and a pending entry in FW_STATUS ------- */

/* {1: component tstr 1..16, 2: version tstr 1..32, 3: svn uint ≤ 63,
 *  4: digest bstr 32, 5: signer bstr 32} — what the APM verified: the
 * manifest's fields, the image's SHA-256 and the signing anchor's hash. */
typedef struct drot_link_fw_image {
    size_t component_len;
    char component[DROT_LINK_FW_COMPONENT_MAX]; /* not NUL-terminated */
    size_t version_len;
    char version[DROT_LINK_FW_VERSION_MAX]; /* not NUL-terminated */
    uint32_t svn;
    uint8_t digest[DROT_LINK_DIGEST_LEN];
    uint8_t signer[DROT_LINK_DIGEST_LEN];
} drot_link_fw_image;

drot_status drot_link_fw_image_encode(const drot_link_fw_image *m, uint8_t *out, size_t cap, size_t *out_len);
drot_status drot_link_fw_image_decode(const uint8_t *p, size_t len, drot_link_fw_image *m);

/* ---- FW_CONFIRM ----------------------------------------------------------- */

/* Request {1: component}; response {1: component, 2: svn}: the component's
 * svn fuse after the confirm. On decode of a request, svn is set to 0. */
typedef struct drot_link_fw_confirm {
    size_t component_len;
    char component[DROT_LINK_FW_COMPONENT_MAX]; /* not NUL-terminated */
    uint32_t svn;                               /* response only: ≤ DROT_LINK_FW_FUSE_MAX */
} drot_link_fw_confirm;

drot_status drot_link_fw_confirm_req_encode(const drot_link_fw_confirm *m, uint8_t *out, size_t cap,
                                            size_t *out_len);
drot_status drot_link_fw_confirm_req_decode(const uint8_t *p, size_t len, drot_link_fw_confirm *m);
drot_status drot_link_fw_confirm_resp_encode(const drot_link_fw_confirm *m, uint8_t *out, size_t cap,
                                             size_t *out_len);
drot_status drot_link_fw_confirm_resp_decode(const uint8_t *p, size_t len, drot_link_fw_confirm *m);

/* ---- FW_ACTIVATE ---------------------------------------------------------- */

/* Request {1: action uint, DROT_LINK_FW_ACTIVATE_*}. */
drot_status drot_link_fw_activate_encode(uint32_t action, uint8_t *out, size_t cap, size_t *out_len);
drot_status drot_link_fw_activate_decode(const uint8_t *p, size_t len, uint32_t *action);
/* Response {1: reset bool}: true = the APM resets once this answer is sent
 * (the host's session ends; the next request starts a new one). */
drot_status drot_link_fw_activate_resp_encode(bool reset, uint8_t *out, size_t cap, size_t *out_len);
drot_status drot_link_fw_activate_resp_decode(const uint8_t *p, size_t len, bool *reset);

/* ---- FW_STATUS ------------------------------------------------------------ */

/* One APM slot, as boot would judge it now:
 * {1: status int (0 = it verifies, else the refusal code), 2: version tstr
 *  0..32 ("" when no manifest verifies), 3: svn uint ≤ 63, 4: digest bstr 32} */
typedef struct drot_link_fw_slot {
    int32_t status;
    size_t version_len;
    char version[DROT_LINK_FW_VERSION_MAX];
    uint32_t svn;
    uint8_t digest[DROT_LINK_DIGEST_LEN];
} drot_link_fw_slot;

/* {1: running uint 0..1, 2: active uint 0..1, 3: trial uint 0..2,
 *  4: last uint 0..4, 5: slots [exactly 2 slot maps, A then B],
 *  6: svns {component uint → fuse uint ≤ 64} (≤ 8, as GET_INFO's),
 *  7: pending [≤ 4 image maps],
 *  8: session {1: mode uint 0..2 (0 = none open), 2: component tstr 0..16,
 *              3: received uint, 4: size uint (both ≤ 16 MiB, received ≤ size)}} */
typedef struct drot_link_fw_status {
    uint32_t running; /* the slot this boot runs */
    uint32_t active;  /* the confirmed slot */
    uint32_t trial;   /* DROT_LINK_FW_TRIAL_* */
    uint32_t last;    /* DROT_LINK_FW_LAST_* */
    drot_link_fw_slot slots[DROT_LINK_FW_SLOTS];
    size_t num_svns;
    drot_link_svn svns[DROT_LINK_MAX_SVNS];
    size_t num_pending;
    drot_link_fw_image pending[DROT_LINK_FW_PENDING_MAX];
    uint32_t session_mode; /* 0 or DROT_LINK_FW_MODE_* */
    size_t session_component_len;
    char session_component[DROT_LINK_FW_COMPONENT_MAX];
    uint32_t session_received;
    uint32_t session_size;
} drot_link_fw_status;

drot_status drot_link_fw_status_encode(const drot_link_fw_status *m, uint8_t *out, size_t cap,
                                       size_t *out_len);
drot_status drot_link_fw_status_decode(const uint8_t *p, size_t len, drot_link_fw_status *m);

#endif /* DROT_LINK_FW_H */
