/*
 * firmware_internal.h — what firmware.c (images, releases) shares with
 * firmware_rollout.c (rollouts, jobs). Not for use outside those two.
 */
#ifndef DS_FIRMWARE_INTERNAL_H
#define DS_FIRMWARE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "drot/eat.h"
#include "firmware.h"
#include "sql.h"
#include "store_internal.h"

/* Lower-case hex of p[0..n) into out (2n + 1 bytes). */
void fw_hex(const uint8_t *p, size_t n, char *out);
/* 1..max printable ASCII bytes. */
bool fw_text_ok(const char *s, size_t max);
/* A class name as the store accepts it. */
bool fw_class_ok(const char *s);

/* An actor as the audit log accepts it (audit_chain.h). */
bool fw_actor_ok(const char *actor);

/* Appends an audit entry inside the caller's transaction (audit.h): it
 * commits or rolls back with the operation. detail is consumed (NULL: {}). */
ds_status fw_audit(ds_store *s, const char *actor, const char *action, const char *subject, json_t *detail);
/* "device:<32 hex>" */
void fw_device_actor(const uint8_t id[DS_DEVICE_ID_LEN], char out[48]);

/* Takes the named lock "<prefix><hex of p>" (ds_sql_lock). */
ds_status fw_lock_hex(ds_store *s, const char *prefix, const uint8_t *p, size_t n);
ds_status fw_lock_id(ds_store *s, const char *prefix, int64_t id);

/* What an attestation token says about one component: the LAST software
 * component whose measurement type is `component` (a host measures a stage
 * again after an update without a reboot; the last one is what runs). */
typedef struct fw_measured {
    bool found;
    uint8_t digest[DS_DIGEST_LEN]; /* only a 32-byte (SHA-256) measurement counts */
    bool digest_ok;
    char version[DROT_EAT_MAX_TEXT + 1]; /* printable copy, "" when absent */
    uint8_t signer[DS_DIGEST_LEN];       /* the signer id (anchor hash) of a 32-byte one */
    bool signer_ok;
} fw_measured;

/* Decodes token (COSE_Sign1 + EAT, no signature check: see firmware.h) and
 * fills *m for component. False when the token does not decode. */
bool fw_token_component(const uint8_t *token, size_t len, const char *component, fw_measured *m);

/* Reads the release columns FW_RELEASE_COLS of a row from column `at`. */
#define FW_RELEASE_COLS                                                                                      \
    "r.id, r.component, r.version, r.svn, r.image_digest, r.size, r.manifest, r.signer, r.published_at, "    \
    "r.published_by"
void fw_release_from_row(const ds_sql_row *row, size_t at, fw_release *out);

#endif
