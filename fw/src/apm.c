/*
 * apm.c — the APM device: boot sequence, request dispatch, serve loop,
 * manufacturing (see apm/apm.h).
 *
 * Boot order, and why:
 *   1. core init (HAL checks, DRBG from the TRNG, fuses, record key);
 *   2. tamper init: a TAMPERED lifecycle zeroizes any key left (tamper.h T2)
 *      — before the key store is trusted for anything;
 *   3. key store load: reconcile slots with the epoch fuse (keystore.h K1/K2);
 *   4. pick the firmware slot (fwstate.h: the active one, or a staged trial,
 *      recorded as TRYING first) and verify and measure its APM image
 *      (boot.h): the verdict gates every key use, so it is decided before
 *      the first request is read;
 *   5. boot seed from the DRBG (EAT bootseed: fixed for this boot);
 *   6. a first tamper poll (tamper.h T1), then the link session set up.
 *
 * Requests: every frame gets exactly one answer frame. Before a session
 * exists only HELLO is accepted; a request whose frame does not open in the
 * session (bad tag, replayed or old seq) is answered with an ERROR and
 * changes nothing (drot_link_session_open guarantees the session itself is
 * unchanged). Tamper sensors are polled before every request and while idle.
 *
 * DRoT requests (rotate.h) keep one piece of RAM state across requests, the
 * outstanding rotation nonce (apm_state.rot): GET_ROTATION_NONCE and
 * ROTATE_PROPOSE replace it, and every ROTATE_ROOT / ROTATE_ENDORSE /
 * ROTATE_ANCHOR spends it, even one whose payload does not decode (R1).
 *
 * Firmware install (fwinstall.h) keeps one open session in RAM (apm_state.fw)
 * across FW_BEGIN, FW_CHUNK and FW_FINISH. FW_ACTIVATE may ask for a reset:
 * the answer is sent first, then the port calls apm_device_reset (apm.h).
 */
#include "apm/apm.h"

#include <string.h>

#include "attest.h"
#include "boot.h"
#include "core.h"
#include "drot/link.h"
#include "drot/link_fw.h"
#include "drot/link_msg.h"
#include "fwinstall.h"
#include "fwstate.h"
#include "keystore.h"
#include "layout.h"
#include "manufacture.h"
#include "measure.h"
#include "revocation.h"
#include "rotate.h"
#include "seal.h"
#include "tamper.h"

#define APM_VERSION_STRING "drot-apm 0.1.0"

/* Idle wait between tamper polls, and the longest gap inside one frame. */
#define IDLE_POLL_MS 1000u
#define FRAME_GAP_MS 2000u

typedef struct apm_state {
    apm_core core;
    apm_boot_state boot;
    apm_measurements meas;
    apm_tamper_state tamper;
    uint8_t boot_seed[32];
    drot_link_session link;
    apm_rot_state rot; /* rotate.h: the outstanding rotation nonce (RAM only) */
    apm_fw_state fw;   /* fwstate.h: the firmware record, running slot, install session */
    bool reset;        /* the last answer asked for a reset (FW_ACTIVATE) */
    const char *why;   /* a refusal's reason in words for the ERROR, or NULL */
    uint8_t rx[APM_FRAME_MAX];
    uint8_t tx[APM_FRAME_MAX];
    uint8_t payload[DROT_LINK_MAX_PAYLOAD];
    union { /* one request at a time: large message structs share storage */
        drot_link_info info;
        drot_link_token_req token_req;
        drot_link_measurement measurement;
        drot_link_tamper_log tamper_log;
        drot_link_revocation_resp rev;
        apm_rev_work rev_work; /* SET_REVOCATION_LIST's scratch (revocation.h) */
        apm_tamper_event events[APM_TAMPER_LOG_MAX];
        uint8_t token[APM_TOKEN_MAX];
        struct { /* SEAL / UNSEAL: the request (data and blob point into the frame) and the result */
            union {
                drot_link_seal_req seal;
                drot_link_unseal_req unseal;
            } req;
            uint8_t buf[APM_SEAL_MAX_BLOB];
        } seal;
        uint8_t rot[APM_ROT_MSG_MAX]; /* a receipt or a proposal */
        drot_link_fw_status fw_status;
        drot_link_fw_image fw_image;
    } msg;
} apm_state;

_Static_assert(sizeof(apm_state) <= APM_DEVICE_SIZE, "APM_DEVICE_SIZE too small for apm_state");
_Static_assert(APM_ROT_MSG_MAX == DROT_LINK_ROT_MAX_MSG && APM_ROT_NONCE_LEN == DROT_LINK_ROT_NONCE_LEN,
               "the link's DRoT bounds are rotate.h's");
_Static_assert(APM_FRAME_MAX == DROT_LINK_MAX_FRAME, "APM_FRAME_MAX must equal DROT_LINK_MAX_FRAME");
_Static_assert(APM_SEAL_MAX_DATA == DROT_LINK_SEAL_MAX_DATA && APM_SEAL_MAX_BLOB == DROT_LINK_SEAL_MAX_BLOB &&
                   APM_SEAL_OVERHEAD == DROT_LINK_SEAL_MIN_BLOB &&
                   APM_SEAL_MAX_LABEL == DROT_LINK_SEAL_MAX_LABEL,
               "the link's SEAL / UNSEAL bounds are the sealing code's");
_Static_assert(DROT_LINK_FW_MANIFEST_MAX == APM_BOOT_MANIFEST_MAX &&
                   DROT_LINK_FW_IMAGE_MAX == DROT_MANIFEST_MAX_IMAGE &&
                   DROT_LINK_FW_COMPONENT_MAX == DROT_MANIFEST_MAX_COMPONENT &&
                   DROT_LINK_FW_VERSION_MAX == DROT_MANIFEST_MAX_VERSION &&
                   DROT_LINK_FW_SVN_MAX == DROT_MANIFEST_MAX_SVN,
               "the link's firmware bounds are the manifest's and the boot's");

static apm_state *state_of(apm_device *dev)
{
    return (apm_state *)(void *)dev->opaque.b;
}

/* ---- boot ------------------------------------------------------------------ */

/* see apm/apm.h */
apm_status apm_device_boot(apm_device *dev, const apm_hal *hal)
{
    if (dev == NULL || hal == NULL)
        return APM_E_ARG;
    memset(dev, 0, sizeof *dev);
    apm_state *s = state_of(dev);
    apm_status st = apm_core_init(&s->core, hal);
    if (st != APM_OK)
        return st;
    st = apm_tamper_init(&s->core, &s->tamper);
    if (st == APM_E_POWER)
        return st;
    /* tamper.h T2: a TAMPERED device holds no key. If zeroizing failed (a
     * flash error), the key must not be loaded into RAM either. */
    if (st == APM_OK && s->core.otp.lifecycle != APM_LC_TAMPERED) {
        st = apm_ks_load(&s->core);
        if (st == APM_E_POWER)
            return st;
    }
    /* Any other key-store error leaves core.drk absent: key use is then
     * refused with APM_E_NO_KEY, and GET_INFO still answers. */
    apm_measure_reset(&s->meas);
    /* fwstate.h: the slot to run (a trial is recorded as TRYING before it
     * runs); the verdict and reason are in s->boot. */
    st = apm_fw_boot(&s->core, &s->fw, &s->boot);
    if (st == APM_E_POWER)
        return st;
    size_t index;
    (void)apm_measure_add(&s->meas, "APM", 3, s->boot.version, strlen(s->boot.version), s->boot.digest,
                          s->boot.signer_id, &index);
    st = apm_core_random(&s->core, s->boot_seed, sizeof s->boot_seed);
    if (st != APM_OK)
        return st;
    /* tamper.h T1: the sensors are read at boot, before the first request. */
    if (apm_tamper_poll(&s->core, &s->tamper) == APM_E_POWER)
        return APM_E_POWER;
    if (drot_link_session_init_apm(&s->link, s->core.otp.link_key) != DROT_OK)
        return APM_E_ARG;
    return APM_OK;
}

/* see apm/apm.h */
void apm_device_shutdown(apm_device *dev)
{
    if (dev == NULL)
        return;
    apm_state *s = state_of(dev);
    drot_link_session_wipe(&s->link);
    apm_fw_state_wipe(&s->fw);
    apm_core_wipe(&s->core);
    drot_wipe(dev, sizeof *dev);
}

/* see apm/apm.h */
bool apm_device_reset_requested(const apm_device *dev)
{
    return dev != NULL && ((const apm_state *)(const void *)dev->opaque.b)->reset;
}

/* see apm/apm.h */
apm_status apm_device_reset(apm_device *dev)
{
    if (dev == NULL)
        return APM_E_ARG;
    const apm_hal *hal = state_of(dev)->core.hal;
    if (hal == NULL)
        return APM_E_ARG;
    apm_device_shutdown(dev);
    return apm_device_boot(dev, hal);
}

/* ---- answers ------------------------------------------------------------- */

/* An ERROR payload {code, message} into s->payload. */
static size_t error_payload(apm_state *s, apm_status code, const char *why)
{
    drot_link_error e;
    size_t len = 0;
    memset(&e, 0, sizeof e);
    e.code = code;
    e.message_len = strlen(why);
    if (e.message_len > sizeof e.message)
        e.message_len = sizeof e.message;
    memcpy(e.message, why, e.message_len);
    if (drot_link_error_encode(&e, s->payload, sizeof s->payload, &len) != DROT_OK)
        len = 0;
    return len;
}

/*
 * Two kinds of ERROR, and why they must not be confused:
 *
 *   answer_error    the answer to a request that opened in the session (it
 *                   was refused by the dispatcher): sealed in the session, so
 *                   it consumes one APM sequence number, exactly like a
 *                   successful answer would have.
 *   refuse_frame    the answer to anything that did NOT open in the session
 *                   (bad header, bad tag, replayed or old seq, bad CBOR, a
 *                   refused HELLO, no session yet): sealed under k_hello and
 *                   never in the session, and the session is not touched.
 *
 * The host sends one request and reads one answer. If a frame injected by
 * someone without the link key could make the APM emit a session-sealed
 * frame, that frame would sit in the byte stream and be taken as the answer
 * to the host's next request, and every later answer would be one request
 * late (an UNSEAL of label B answered with label A's secret). So every
 * session-sealed frame the APM sends answers exactly one session request.
 */
static apm_status answer_error(apm_state *s, apm_status code, const char *why, uint8_t *out, size_t cap,
                               size_t *out_len)
{
    size_t len = error_payload(s, code, why);
    drot_status st = drot_link_session_seal(&s->link, DROT_LINK_T_ERROR, s->payload, len, out, cap, out_len);
    return st == DROT_OK ? APM_OK : (apm_status)st;
}

static apm_status refuse_frame(apm_state *s, apm_status code, const char *why, uint8_t *out, size_t cap,
                               size_t *out_len)
{
    size_t len = error_payload(s, code, why);
    drot_status st = drot_link_apm_seal_hello_error(&s->link, s->payload, len, out, cap, out_len);
    return st == DROT_OK ? APM_OK : (apm_status)st;
}

static apm_status do_get_info(apm_state *s, size_t *len)
{
    drot_link_info *info = &s->msg.info;
    memset(info, 0, sizeof *info);
    memcpy(info->device_id, s->core.otp.device_id, sizeof info->device_id);
    info->epoch = s->core.otp.epoch;
    info->lifecycle = (uint32_t)s->core.otp.lifecycle;
    if (s->core.drk.present) {
        memcpy(info->drk_pub, s->core.drk.pub.q, sizeof info->drk_pub);
        info->instance_id[0] = 0x01;
        if (drot_sha256(s->core.drk.pub.q, sizeof s->core.drk.pub.q, info->instance_id + 1) != DROT_OK)
            return APM_E_ARG;
    }
    for (uint32_t c = 0; c < 3; c++) {
        info->svns[info->num_svns].component = c;
        info->svns[info->num_svns].svn = s->core.otp.svn[c];
        info->num_svns++;
    }
    info->tamper_state = s->tamper.bits;
    info->tamper_count = s->tamper.count;
    info->boot_status =
        s->boot.verdict == APM_VERDICT_PASS ? 0 : (s->boot.reason != APM_OK ? s->boot.reason : APM_E_BOOT);
    info->apm_version_len = strlen(APM_VERSION_STRING);
    memcpy(info->apm_version, APM_VERSION_STRING, info->apm_version_len);
    for (size_t i = 0; i < s->meas.count && i < DROT_LINK_MAX_MEASUREMENTS; i++) {
        drot_link_measurement *m = &info->measurements[i];
        m->type_len = strlen(s->meas.m[i].type);
        memcpy(m->type, s->meas.m[i].type, m->type_len);
        m->version_len = strlen(s->meas.m[i].version);
        memcpy(m->version, s->meas.m[i].version, m->version_len);
        memcpy(m->digest, s->meas.m[i].digest, sizeof m->digest);
        memcpy(m->signer, s->meas.m[i].signer_id, sizeof m->signer);
        info->num_measurements++;
    }
    info->revocation_version = s->core.rev.version;
    drot_status st = drot_link_info_encode(info, s->payload, sizeof s->payload, len);
    return st == DROT_OK ? APM_OK : (apm_status)st;
}

static apm_status do_get_token(apm_state *s, const drot_link_frame *req, size_t *len)
{
    drot_link_token_req *tr = &s->msg.token_req;
    drot_status ds = drot_link_token_req_decode(req->payload, req->payload_len, tr);
    if (ds != DROT_OK)
        return (apm_status)ds;
    /* Copy the request out of the union before the token overwrites it. */
    uint8_t nonce[DROT_LINK_TOKEN_NONCE_MAX];
    size_t nonce_len = tr->nonce_len;
    uint32_t profile = tr->profile;
    memcpy(nonce, tr->nonce, nonce_len);

    apm_attest_inputs in = {&s->boot, &s->meas, &s->tamper, s->boot_seed};
    size_t token_len = 0;
    apm_status st = apm_attest_token(&s->core, &in, nonce, nonce_len, profile, s->msg.token,
                                     sizeof s->msg.token, &token_len);
    if (st != APM_OK)
        return st;
    ds = drot_link_token_resp_encode(s->msg.token, token_len, s->payload, sizeof s->payload, len);
    return ds == DROT_OK ? APM_OK : (apm_status)ds;
}

static apm_status do_extend(apm_state *s, const drot_link_frame *req, size_t *len)
{
    drot_link_measurement *m = &s->msg.measurement;
    drot_status ds = drot_link_extend_req_decode(req->payload, req->payload_len, m);
    if (ds != DROT_OK)
        return (apm_status)ds;
    size_t index = 0;
    apm_status st = apm_measure_add(&s->meas, m->type, m->type_len, m->version, m->version_len, m->digest,
                                    m->signer, &index);
    if (st != APM_OK)
        return st;
    ds = drot_link_extend_resp_encode((uint32_t)index, s->payload, sizeof s->payload, len);
    return ds == DROT_OK ? APM_OK : (apm_status)ds;
}

static apm_status do_tamper_log(apm_state *s, size_t *len)
{
    size_t n = 0;
    uint64_t total = 0;
    apm_status st = apm_tamper_log(&s->core, s->msg.events, APM_TAMPER_LOG_MAX, &n, &total);
    if (st != APM_OK)
        return st;
    /* Move the events into the reply struct; the two share the union, so
     * copy through the stack one event at a time, newest last. */
    apm_tamper_event ev[APM_TAMPER_LOG_MAX];
    memcpy(ev, s->msg.events, n * sizeof ev[0]);
    drot_link_tamper_log *log = &s->msg.tamper_log;
    memset(log, 0, sizeof *log);
    for (size_t i = 0; i < n && i < DROT_LINK_MAX_TAMPER; i++) {
        log->events[i].kind = ev[i].kind;
        log->events[i].tick_ms = ev[i].tick_ms;
        log->events[i].value = ev[i].value;
        log->num_events++;
    }
    log->total_count = total;
    drot_status ds = drot_link_tamper_log_encode(log, s->payload, sizeof s->payload, len);
    return ds == DROT_OK ? APM_OK : (apm_status)ds;
}

static apm_status do_seal(apm_state *s, const drot_link_frame *req, size_t *len)
{
    const drot_link_seal_req *r = &s->msg.seal.req.seal;
    drot_status ds = drot_link_seal_req_decode(req->payload, req->payload_len, &s->msg.seal.req.seal);
    if (ds != DROT_OK)
        return (apm_status)ds;
    size_t blob_len = 0;
    apm_status st = apm_seal_seal(&s->core, &s->boot, &s->tamper, r->label, r->label_len, r->data,
                                  r->data_len, s->msg.seal.buf, sizeof s->msg.seal.buf, &blob_len);
    if (st != APM_OK)
        return st;
    ds = drot_link_blob_resp_encode(s->msg.seal.buf, blob_len, s->payload, sizeof s->payload, len);
    return ds == DROT_OK ? APM_OK : (apm_status)ds;
}

/* The plaintext is in the answer by design (the host asked for it); the
 * copy in the message buffer is wiped as soon as it is encoded. */
static apm_status do_unseal(apm_state *s, const drot_link_frame *req, size_t *len)
{
    const drot_link_unseal_req *r = &s->msg.seal.req.unseal;
    drot_status ds = drot_link_unseal_req_decode(req->payload, req->payload_len, &s->msg.seal.req.unseal);
    if (ds != DROT_OK)
        return (apm_status)ds;
    size_t data_len = 0;
    apm_status st = apm_seal_unseal(&s->core, &s->boot, &s->tamper, r->label, r->label_len, r->blob,
                                    r->blob_len, s->msg.seal.buf, sizeof s->msg.seal.buf, &data_len);
    if (st == APM_OK) {
        ds = drot_link_data_resp_encode(s->msg.seal.buf, data_len, s->payload, sizeof s->payload, len);
        st = ds == DROT_OK ? APM_OK : (apm_status)ds;
    }
    drot_wipe(s->msg.seal.buf, sizeof s->msg.seal.buf);
    return st;
}

/* ---- DRoT (rotate.h) ------------------------------------------------------ */

static apm_rot_env rot_env(apm_state *s)
{
    apm_rot_env env = {&s->boot, &s->tamper};
    return env;
}

static apm_status do_rot_nonce(apm_state *s, const drot_link_frame *req, size_t *len)
{
    uint8_t nonce[APM_ROT_NONCE_LEN];
    apm_rot_wipe(&s->rot); /* a request for a nonce replaces the old one, even a malformed one */
    if (drot_link_empty_decode(req->payload, req->payload_len) != DROT_OK)
        return APM_E_ARG;
    apm_rot_env env = rot_env(s);
    apm_status st = apm_rot_nonce(&s->core, &env, &s->rot, nonce);
    if (st != APM_OK)
        return st;
    drot_status ds = drot_link_rot_nonce_encode(nonce, s->payload, sizeof s->payload, len);
    return ds == DROT_OK ? APM_OK : (apm_status)ds;
}

/* ROTATE_ROOT, ROTATE_ENDORSE, ROTATE_ANCHOR. rotate.h R1: the nonce is
 * spent by any instruction, a payload that does not decode included. */
static apm_status do_rot_instruction(apm_state *s, const drot_link_frame *req, size_t *len)
{
    const uint8_t *msg = NULL;
    size_t msg_len = 0, out_len = 0;
    drot_status ds = drot_link_rot_msg_decode(req->payload, req->payload_len, &msg, &msg_len);
    if (ds != DROT_OK) {
        apm_rot_wipe(&s->rot);
        return (apm_status)ds;
    }
    apm_rot_env env = rot_env(s);
    apm_status st;
    if (req->type == DROT_LINK_T_ROTATE_ANCHOR && s->fw.rec.trial == APM_FW_TRIAL_TRYING) {
        /* A trial image runs; the slot it reverts to may be signed by
         * another anchor, which rotate.h R5 does not protect (it knows only
         * the running image). No anchor change until the trial is confirmed
         * or aborted (docs/firmware.md). R1: the nonce is spent. */
        apm_rot_wipe(&s->rot);
        s->why = "an APM image is on trial: confirm or abort it before changing anchors";
        return APM_E_FW_STATE;
    }
    if (req->type == DROT_LINK_T_ROTATE_ANCHOR) {
        drot_link_anchor_resp r = {0, 0};
        st = apm_rot_anchor(&s->core, &env, &s->rot, msg, msg_len, &r.op, &r.slot);
        if (st != APM_OK)
            return st;
        ds = drot_link_anchor_resp_encode(&r, s->payload, sizeof s->payload, len);
        return ds == DROT_OK ? APM_OK : (apm_status)ds;
    }
    if (req->type == DROT_LINK_T_ROTATE_ROOT)
        st = apm_rot_root(&s->core, &env, &s->rot, msg, msg_len, s->msg.rot, sizeof s->msg.rot, &out_len);
    else
        st = apm_rot_endorse(&s->core, &env, &s->rot, msg, msg_len, s->msg.rot, sizeof s->msg.rot, &out_len);
    if (st != APM_OK)
        return st;
    ds = drot_link_rot_msg_encode(s->msg.rot, out_len, s->payload, sizeof s->payload, len);
    return ds == DROT_OK ? APM_OK : (apm_status)ds;
}

static apm_status do_rot_propose(apm_state *s, const drot_link_frame *req, size_t *len)
{
    size_t out_len = 0;
    apm_rot_wipe(&s->rot); /* replaces the outstanding state, even when malformed */
    if (drot_link_empty_decode(req->payload, req->payload_len) != DROT_OK)
        return APM_E_ARG;
    apm_rot_env env = rot_env(s);
    apm_status st = apm_rot_propose(&s->core, &env, &s->rot, s->msg.rot, sizeof s->msg.rot, &out_len);
    if (st != APM_OK)
        return st;
    drot_status ds = drot_link_rot_msg_encode(s->msg.rot, out_len, s->payload, sizeof s->payload, len);
    return ds == DROT_OK ? APM_OK : (apm_status)ds;
}

/* ---- firmware install (fwinstall.h) ----------------------------------------- */

static apm_fw_env fw_env(apm_state *s)
{
    apm_fw_env env = {&s->boot, &s->tamper, &s->meas};
    return env;
}

/* A refusal by fwinstall.c, with its reason in words. */
static apm_status fw_refused(apm_state *s, apm_status st)
{
    s->why = s->fw.why;
    return st;
}

static apm_status encoded(drot_status ds)
{
    return ds == DROT_OK ? APM_OK : (apm_status)ds;
}

static apm_status do_fw_begin(apm_state *s, const drot_link_frame *req, size_t *len)
{
    drot_link_fw_begin b;
    drot_link_fw_begin_resp r;
    drot_status ds = drot_link_fw_begin_decode(req->payload, req->payload_len, &b);
    if (ds != DROT_OK)
        return (apm_status)ds; /* malformed: the open session, if any, is untouched */
    apm_fw_env env = fw_env(s);
    apm_status st = apm_fw_begin(&s->core, &env, &s->fw, b.manifest, b.manifest_len, b.mode, &r);
    if (st != APM_OK)
        return fw_refused(s, st);
    return encoded(drot_link_fw_begin_resp_encode(&r, s->payload, sizeof s->payload, len));
}

static apm_status do_fw_chunk(apm_state *s, const drot_link_frame *req, size_t *len)
{
    drot_link_fw_chunk c;
    uint32_t received = 0;
    drot_status ds = drot_link_fw_chunk_decode(req->payload, req->payload_len, &c);
    if (ds != DROT_OK)
        return (apm_status)ds;
    apm_fw_env env = fw_env(s);
    apm_status st = apm_fw_chunk(&s->core, &env, &s->fw, c.offset, c.data, c.data_len, &received);
    if (st != APM_OK)
        return fw_refused(s, st);
    return encoded(drot_link_fw_received_encode(received, s->payload, sizeof s->payload, len));
}

static apm_status do_fw_finish(apm_state *s, const drot_link_frame *req, size_t *len)
{
    if (drot_link_empty_decode(req->payload, req->payload_len) != DROT_OK)
        return APM_E_ARG;
    apm_fw_env env = fw_env(s);
    apm_status st = apm_fw_finish(&s->core, &env, &s->fw, &s->msg.fw_image);
    if (st != APM_OK)
        return fw_refused(s, st);
    return encoded(drot_link_fw_image_encode(&s->msg.fw_image, s->payload, sizeof s->payload, len));
}

static apm_status do_fw_confirm(apm_state *s, const drot_link_frame *req, size_t *len)
{
    drot_link_fw_confirm c;
    uint32_t svn = 0;
    drot_status ds = drot_link_fw_confirm_req_decode(req->payload, req->payload_len, &c);
    if (ds != DROT_OK)
        return (apm_status)ds;
    apm_fw_env env = fw_env(s);
    apm_status st = apm_fw_confirm(&s->core, &env, &s->fw, c.component, c.component_len, &svn);
    if (st != APM_OK)
        return fw_refused(s, st);
    c.svn = svn;
    return encoded(drot_link_fw_confirm_resp_encode(&c, s->payload, sizeof s->payload, len));
}

static apm_status do_fw_activate(apm_state *s, const drot_link_frame *req, size_t *len)
{
    uint32_t action = 0;
    bool reset = false;
    drot_status ds = drot_link_fw_activate_decode(req->payload, req->payload_len, &action);
    if (ds != DROT_OK)
        return (apm_status)ds;
    apm_fw_env env = fw_env(s);
    apm_status st = apm_fw_activate(&s->core, &env, &s->fw, action, &reset);
    if (st != APM_OK)
        return fw_refused(s, st);
    st = encoded(drot_link_fw_activate_resp_encode(reset, s->payload, sizeof s->payload, len));
    if (st == APM_OK)
        s->reset = reset; /* apm.h: the port resets once this answer is out */
    return st;
}

static apm_status do_fw_status(apm_state *s, const drot_link_frame *req, size_t *len)
{
    if (drot_link_empty_decode(req->payload, req->payload_len) != DROT_OK)
        return APM_E_ARG;
    apm_status st = apm_fw_status(&s->core, &s->fw, &s->msg.fw_status);
    if (st != APM_OK)
        return st;
    return encoded(drot_link_fw_status_encode(&s->msg.fw_status, s->payload, sizeof s->payload, len));
}

/* ---- revocation list (revocation.h) ------------------------------------------ */

static apm_status do_set_revocation(apm_state *s, const drot_link_frame *req, size_t *len)
{
    const uint8_t *list = NULL;
    size_t list_len = 0;
    apm_rev_result res;
    drot_status ds = drot_link_revocation_req_decode(req->payload, req->payload_len, &list, &list_len);
    if (ds != DROT_OK)
        return (apm_status)ds;
    if (s->fw.rec.trial == APM_FW_TRIAL_TRYING) {
        /* As for ROTATE_ANCHOR: the slot a trial reverts to may be signed
         * by an anchor the list revokes, and revocation.c step 5 protects
         * only the running image's signer (docs/revocation.md §3). */
        s->why = "an APM image is on trial: confirm or abort it before changing the revocation list";
        return APM_E_FW_STATE;
    }
    apm_status st = apm_rev_set(&s->core, &s->boot, list, list_len, &s->msg.rev_work, &res);
    if (st != APM_OK)
        return st;
    drot_link_revocation_resp *r = &s->msg.rev;
    r->version = res.version;
    r->changed = res.changed;
    r->drk_revoked = res.drk_revoked;
    ds = drot_link_revocation_resp_encode(r, s->payload, sizeof s->payload, len);
    return ds == DROT_OK ? APM_OK : (apm_status)ds;
}

static apm_status dispatch(apm_state *s, const drot_link_frame *req, size_t *len)
{
    switch (req->type) {
    case DROT_LINK_T_GET_INFO:
        if (drot_link_empty_decode(req->payload, req->payload_len) != DROT_OK)
            return APM_E_ARG;
        return do_get_info(s, len);
    case DROT_LINK_T_GET_TOKEN: return do_get_token(s, req, len);
    case DROT_LINK_T_EXTEND_MEASUREMENT: return do_extend(s, req, len);
    case DROT_LINK_T_TAMPER_LOG:
        if (drot_link_empty_decode(req->payload, req->payload_len) != DROT_OK)
            return APM_E_ARG;
        return do_tamper_log(s, len);
    case DROT_LINK_T_SEAL: return do_seal(s, req, len);
    case DROT_LINK_T_UNSEAL: return do_unseal(s, req, len);
    case DROT_LINK_T_GET_ROTATION_NONCE: return do_rot_nonce(s, req, len);
    case DROT_LINK_T_ROTATE_ROOT:
    case DROT_LINK_T_ROTATE_ENDORSE:
    case DROT_LINK_T_ROTATE_ANCHOR: return do_rot_instruction(s, req, len);
    case DROT_LINK_T_ROTATE_PROPOSE: return do_rot_propose(s, req, len);
    case DROT_LINK_T_FW_BEGIN: return do_fw_begin(s, req, len);
    case DROT_LINK_T_FW_CHUNK: return do_fw_chunk(s, req, len);
    case DROT_LINK_T_FW_FINISH: return do_fw_finish(s, req, len);
    case DROT_LINK_T_FW_CONFIRM: return do_fw_confirm(s, req, len);
    case DROT_LINK_T_FW_ACTIVATE: return do_fw_activate(s, req, len);
    case DROT_LINK_T_FW_STATUS: return do_fw_status(s, req, len);
    case DROT_LINK_T_SET_REVOCATION_LIST: return do_set_revocation(s, req, len);
    default: return (apm_status)DROT_E_UNSUPPORTED;
    }
}

/* see apm/apm.h */
apm_status apm_device_handle(apm_device *dev, const uint8_t *in, size_t in_len, uint8_t *out, size_t cap,
                             size_t *out_len)
{
    if (dev == NULL || in == NULL || out == NULL || out_len == NULL || cap < APM_FRAME_MAX)
        return APM_E_ARG;
    apm_state *s = state_of(dev);
    *out_len = 0;
    s->reset = false;

    /* T1: the sensors are read before anything else; an intrusion is acted
     * on now, whatever the request. */
    apm_status st = apm_tamper_poll(&s->core, &s->tamper);
    if (st == APM_E_POWER)
        return st;

    uint8_t type = 0;
    if (drot_link_parse_header(in, in_len, &type, NULL, NULL) != DROT_OK)
        return refuse_frame(s, APM_E_ARG, "unusable frame header", out, cap, out_len);

    if (type == DROT_LINK_T_HELLO) {
        drot_rng rng = apm_core_rng(&s->core);
        drot_status ds = drot_link_apm_accept_hello(&s->link, &rng, in, in_len, out, cap, out_len);
        if (ds == DROT_OK)
            return APM_OK;
        return refuse_frame(s, (apm_status)ds, "HELLO refused (wrong link key or malformed)", out, cap,
                            out_len);
    }
    if (!s->link.established)
        return refuse_frame(s, (apm_status)DROT_E_STATE, "no session: send HELLO first", out, cap, out_len);

    drot_link_frame req;
    drot_status ds = drot_link_session_open(&s->link, in, in_len, &req);
    if (ds != DROT_OK) {
        const char *why = ds == DROT_E_VERIFY  ? "frame tag does not verify"
                          : ds == DROT_E_STATE ? "replayed or out-of-order frame"
                                               : "malformed frame";
        return refuse_frame(s, (apm_status)ds, why, out, cap, out_len);
    }

    size_t len = 0;
    s->why = NULL;
    st = dispatch(s, &req, &len);
    if (st == APM_E_POWER)
        return st;
    if (st != APM_OK)
        return answer_error(s, st, s->why != NULL ? s->why : apm_status_str(st), out, cap, out_len);
    ds =
        drot_link_session_seal(&s->link, DROT_LINK_RESPONSE_TO(req.type), s->payload, len, out, cap, out_len);
    if (req.type == DROT_LINK_T_SEAL || req.type == DROT_LINK_T_UNSEAL)
        drot_wipe(s->payload, sizeof s->payload); /* it held the plaintext; out is the caller's to wipe */
    return ds == DROT_OK ? APM_OK : (apm_status)ds;
}

/* see apm/apm.h */
apm_status apm_device_tick(apm_device *dev)
{
    if (dev == NULL)
        return APM_E_ARG;
    apm_state *s = state_of(dev);
    apm_status st = apm_tamper_poll(&s->core, &s->tamper);
    return st == APM_E_POWER ? st : APM_OK;
}

/* ---- serve loop ------------------------------------------------------------- */

/* see apm/apm.h */
apm_status apm_device_serve(apm_device *dev)
{
    if (dev == NULL)
        return APM_E_ARG;
    apm_state *s = state_of(dev);
    const apm_hal *hal = s->core.hal;

    for (;;) {
        apm_hal_status hs = hal->link_read(hal->ctx, s->rx, DROT_LINK_HEADER_LEN, IDLE_POLL_MS);
        if (hs == APM_HAL_E_TIMEOUT) {
            if (apm_device_tick(dev) == APM_E_POWER)
                return APM_E_POWER;
            continue;
        }
        if (hs != APM_HAL_OK)
            return APM_OK; /* the host hung up */

        size_t payload_len = 0, out_len = 0;
        bool resync_lost =
            drot_link_parse_header(s->rx, DROT_LINK_HEADER_LEN, NULL, NULL, &payload_len) != DROT_OK;
        size_t total = DROT_LINK_HEADER_LEN;
        if (!resync_lost) {
            hs = hal->link_read(hal->ctx, s->rx + total, (uint32_t)(payload_len + DROT_LINK_TAG_LEN),
                                FRAME_GAP_MS);
            if (hs != APM_HAL_OK)
                return APM_OK; /* stalled or closed mid-frame: drop the connection */
            total += payload_len + DROT_LINK_TAG_LEN;
        }
        apm_status st = apm_device_handle(dev, s->rx, total, s->tx, sizeof s->tx, &out_len);
        if (st == APM_E_POWER)
            return st;
        hs = out_len > 0 ? hal->link_write(hal->ctx, s->tx, (uint32_t)out_len) : APM_HAL_OK;
        /* Requests and answers may carry sealed plaintext (SEAL, UNSEAL). */
        drot_wipe(s->rx, total);
        drot_wipe(s->tx, out_len);
        if (apm_device_reset_requested(dev)) {
            /* FW_ACTIVATE: the answer is out; boot again in place. The host
             * starts a new session with HELLO. */
            st = apm_device_reset(dev);
            if (st != APM_OK)
                return st;
        }
        if (hs != APM_HAL_OK)
            return APM_OK;
        if (resync_lost)
            return APM_OK; /* the stream cannot be trusted to be in step any more */
    }
}

/* ---- manufacturing ------------------------------------------------------------ */

/* see apm/apm.h */
apm_status apm_device_manufacture(const apm_hal *hal, const apm_manufacture_params *p, apm_identity *out)
{
    apm_core core;
    apm_status st;

    if (hal == NULL || p == NULL || out == NULL || p->n_anchors == 0 || p->n_anchors > APM_ANCHOR_SLOTS ||
        p->anchors == NULL || p->manifest == NULL || p->image == NULL ||
        p->manifest_len > APM_FW_MANIFEST_MAX || p->image_len > APM_FW_IMAGE_MAX || p->image_len == 0)
        return APM_E_ARG;
    memset(out, 0, sizeof *out);
    st = apm_core_init(&core, hal);
    if (st != APM_OK)
        goto out;
    if (core.otp.lifecycle != APM_LC_MANUFACTURING) {
        /* Already committed: only an identical re-run is a no-op. */
        if (drot_ct_equal(core.otp.device_id, p->device_id, sizeof p->device_id) != DROT_OK) {
            st = APM_E_OTP;
            goto out;
        }
    } else {
        /* The image first: the lifecycle commit (last step of the storage
         * sequence) must never precede a complete install. */
        st = apm_boot_install_slot_a(&core, p->manifest, (uint32_t)p->manifest_len, p->image,
                                     (uint32_t)p->image_len);
        if (st != APM_OK)
            goto out;
        st = apm_manufacture_storage(&core, p->device_id, p->uds, p->link_key, p->anchors, p->n_anchors);
        if (st != APM_OK)
            goto out;
    }
    st = apm_ks_load(&core);
    if (st != APM_OK)
        goto out;
    if (!core.drk.present) {
        st = APM_E_NO_KEY;
        goto out;
    }
    memcpy(out->device_id, core.otp.device_id, sizeof out->device_id);
    memcpy(out->drk_pub, core.drk.pub.q, sizeof out->drk_pub);
    out->instance_id[0] = 0x01;
    st = drot_sha256(core.drk.pub.q, sizeof core.drk.pub.q, out->instance_id + 1) == DROT_OK ? APM_OK
                                                                                             : APM_E_ARG;
    out->epoch = core.drk.epoch;
out:
    apm_core_wipe(&core);
    return st;
}
