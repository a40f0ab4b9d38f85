/*
 * audit_chain.h — the audit log's hash chain and checkpoint signatures as
 * pure functions, shared by drot-server (audit.c, which writes the chain)
 * and drotctl (audit verify, which recomputes it). No database, no key
 * custody: SHA-256 through the crypto port only. docs/audit.md.
 *
 * Entry hash. Entry n (seq n >= 1) carries
 *
 *   hash_n = SHA-256( LP("drot-audit-entry-v1")
 *                     ‖ U64(seq) ‖ U64(at)
 *                     ‖ LP(actor) ‖ LP(action) ‖ LP(subject) ‖ LP(detail)
 *                     ‖ prev_hash )
 *
 * where U64(x) is x as 8 bytes big-endian (at, a signed unix time, as its
 * two's complement), LP(s) is U32(byte length of s) ‖ the bytes of s (no
 * NUL), and prev_hash is hash_{n-1}, or 32 zero bytes for n = 1. Every
 * variable field is length-prefixed, so no two different entries encode to
 * the same bytes ("ab" ‖ "c" never collides with "a" ‖ "bc"), and the
 * domain string keeps an entry hash from ever being a checkpoint digest.
 *
 * Checkpoint digest. A checkpoint signs the head (seq, hash) at time at;
 * prev_seq is the seq of the checkpoint before it (0 for the first) and
 * key_fpr the signing key's fingerprint (64 lowercase hex digits, SHA-256
 * of its SubjectPublicKeyInfo, docs/keys.md):
 *
 *   digest = SHA-256( LP("drot-audit-checkpoint-v1")
 *                     ‖ U64(seq) ‖ hash ‖ U64(at) ‖ U64(prev_seq) ‖ LP(key_fpr) )
 *
 * and the signature is ECDSA P-256 over that digest, raw r ‖ s (64 bytes).
 */
#ifndef DS_AUDIT_CHAIN_H
#define DS_AUDIT_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drot/status.h"

#define DS_AUDIT_HASH_LEN   32   /* SHA-256 */
#define DS_AUDIT_SIG_LEN    64   /* ECDSA P-256, raw r ‖ s */
#define DS_AUDIT_FPR_LEN    64   /* key fingerprint, lowercase hex */
#define DS_AUDIT_ACTOR_MAX  128  /* bytes: 1..128 of printable ASCII without space (0x21..0x7e) */
#define DS_AUDIT_ACTION_MAX 64   /* bytes: 1..64 of [a-z0-9._-] */
#define DS_AUDIT_SUBJ_MAX   256  /* bytes of UTF-8 without control characters; may be empty */
#define DS_AUDIT_DETAIL_MAX 8192 /* bytes of a JSON object's text, stored canonical (audit.h) */

/* Computes hash_n as above. Every string MUST be non-NULL and NUL-terminated;
 * prev MUST be 32 bytes. DROT_E_ARG on NULL, DROT_E_TOO_LARGE for a string
 * longer than UINT32_MAX, else the crypto port's status. */
drot_status ds_audit_entry_hash(int64_t seq, int64_t at, const char *actor, const char *action,
                                const char *subject, const char *detail,
                                const uint8_t prev[DS_AUDIT_HASH_LEN], uint8_t out[DS_AUDIT_HASH_LEN]);

/* Computes the checkpoint digest as above. key_fpr MUST be NUL-terminated. */
drot_status ds_audit_checkpoint_digest(int64_t seq, const uint8_t hash[DS_AUDIT_HASH_LEN], int64_t at,
                                       int64_t prev_seq, const char *key_fpr, uint8_t out[DS_AUDIT_HASH_LEN]);

/* Field checks, the same on append and wherever input is taken: NULL or
 * outside the bounds above gives false and, if why is not NULL, a reason
 * naming the field in why[0..cap). */
bool ds_audit_actor_ok(const char *actor, char *why, size_t cap);
bool ds_audit_action_ok(const char *action, char *why, size_t cap);
bool ds_audit_subject_ok(const char *subject, char *why, size_t cap);
/* Whether s[0..n) is well-formed UTF-8 (no overlong forms, no surrogates). */
bool ds_audit_utf8_ok(const char *s, size_t n);

#endif /* DS_AUDIT_CHAIN_H */
