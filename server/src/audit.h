/*
 * audit.h — drot-server's audit log (DESIGN.md §6; docs/audit.md): every
 * state-changing operation, by an operator, a policy, a device or the server
 * itself, appended to one hash chain in the database, with signed
 * checkpoints of its head.
 *
 * An entry is (seq, at, actor, action, subject, detail, prev_hash, hash):
 *
 *   actor    who: "operator:<client certificate CN>", "device:<32 hex id>",
 *            "policy:<class>@<version>", "server" (ds_audit_actor_ok)
 *   action   what, "<object>.<verb>": "device.register", "device.status",
 *            "rotation.create"… (ds_audit_action_ok; docs/audit.md lists them)
 *   subject  on what: a device id in hex, "job:7", "campaign:3", a class…
 *            (may be empty)
 *   detail   a JSON object with the operation's parameters and outcome,
 *            stored in canonical form (compact, keys sorted), at most
 *            DS_AUDIT_DETAIL_MAX bytes
 *   hash     SHA-256 of the entry's canonical encoding with prev_hash
 *            (audit_chain.h)
 *
 * Invariants:
 *   L1. seq runs 1..n without a gap, in the order of the appends, however
 *       many servers share the database: every append reads the head and
 *       inserts head + 1 in one transaction holding the "audit" lock
 *       (ds_sql_lock), so the chain never forks.
 *   L2. hash_n = ds_audit_entry_hash(entry n, hash_{n-1}), hash_0 = 32 zero
 *       bytes (ds_audit_check recomputes it).
 *   L3. drot code never updates or deletes an entry or a checkpoint: both
 *       tables are append-only. Any change made behind its back breaks L1,
 *       L2 or a checkpoint signature, and `drotctl audit verify` says where.
 *   L4. A checkpoint signs (seq, hash) of a head whose entries the server
 *       has just recomputed back to the previous checkpoint; it names that
 *       checkpoint (prev_seq), so checkpoints form a chain of their own.
 *   L5. Checkpoint seqs only increase; a checkpoint of an unchanged head is
 *       not repeated (the existing one is returned).
 *
 * Transactions: ds_audit_append joins the caller's transaction when one is
 * open on the store (ds_sql_begin): the entry then commits or rolls back
 * with the operation it records, and the "audit" lock is held until that
 * transaction ends (every other append, on every server, waits: append
 * last, just before the commit). That includes a store operation's own
 * backend transaction, reached through the in_tx hook of
 * ds_attestation_record_update (attestations are recorded this way; the
 * caller then runs ds_audit_committed after the commit). Otherwise it runs
 * its own transaction, and a crash between the caller's commit and the
 * append loses that entry (the operation happened, its entry is missing;
 * docs/audit.md says which operations are recorded this way).
 *
 * Same threading rules as store.h: one store, one thread at a time. The
 * automatic checkpoint signer (ds_audit_auto_checkpoint) is process-wide and
 * MUST be thread-safe.
 */
#ifndef DS_AUDIT_H
#define DS_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit_chain.h"
#include "store.h"

#define DS_AUDIT_LIST_MAX 1000 /* entries or checkpoints per ds_audit_list / ds_audit_checkpoint_list */

/* Appends one entry (see above): actor, action and subject are checked
 * (ds_audit_*_ok), detail_json MUST be a JSON object (NULL means {}), and
 * is stored canonical; at = now. DS_E_ARG (nothing written, the reason in
 * ds_store_error) for a field out of bounds or a detail that is not a JSON
 * object of at most DS_AUDIT_DETAIL_MAX bytes once canonical; DS_E_BUSY,
 * DS_E_DB, DS_E_SCHEMA from the database. In its own transaction, an
 * append that meets DS_E_BUSY is retried up to three times. */
ds_status ds_audit_append(ds_store *s, const char *actor, const char *action, const char *subject,
                          const char *detail_json);

/* As ds_audit_append; *seq_out and hash_out (each may be NULL) receive
 * the new entry's seq and hash. */
ds_status ds_audit_append_ex(ds_store *s, const char *actor, const char *action, const char *subject,
                             const char *detail_json, int64_t *seq_out, uint8_t hash_out[DS_AUDIT_HASH_LEN]);

/* The head: the highest seq and its hash (0 and 32 zero bytes when the log
 * is empty). */
ds_status ds_audit_head(ds_store *s, int64_t *seq, uint8_t hash[DS_AUDIT_HASH_LEN]);

/* One entry as stored; the strings are valid only during the callback. A
 * stored hash that is not 32 bytes (only by tampering) leaves the array
 * zero and hashes_ok false. */
typedef struct ds_audit_entry {
    int64_t seq;
    int64_t at;
    const char *actor;
    const char *action;
    const char *subject;
    const char *detail;
    uint8_t prev_hash[DS_AUDIT_HASH_LEN];
    uint8_t hash[DS_AUDIT_HASH_LEN];
    bool hashes_ok;
} ds_audit_entry;

/* Return 0 to go on, non-zero to stop (the call still succeeds). MUST NOT
 * use the same store. */
typedef int (*ds_audit_cb)(const ds_audit_entry *e, void *ctx);

/* Calls cb for the entries with seq > after, in seq order, at most limit
 * (1..DS_AUDIT_LIST_MAX; DS_E_ARG otherwise). */
ds_status ds_audit_list(ds_store *s, int64_t after, size_t limit, ds_audit_cb cb, void *ctx);

/* Recomputes the whole chain (L1, L2) in pages: DS_OK, or DS_E_CORRUPT with
 * the first bad seq in *bad_seq (may be NULL) and what is wrong in
 * ds_store_error(). Checks no signature (drotctl audit verify does). */
ds_status ds_audit_check(ds_store *s, int64_t *bad_seq);

/* ---- checkpoints -------------------------------------------------------------- */

typedef struct ds_audit_checkpoint {
    int64_t seq; /* the head it signs */
    uint8_t hash[DS_AUDIT_HASH_LEN];
    int64_t at;
    int64_t prev_seq; /* the checkpoint before it, 0 for the first */
    char key_fpr[DS_AUDIT_FPR_LEN + 1];
    uint8_t signature[DS_AUDIT_SIG_LEN];
} ds_audit_checkpoint;

typedef int (*ds_audit_checkpoint_cb)(const ds_audit_checkpoint *c, void *ctx);

/* Who signs checkpoints: the key's fingerprint and a function that signs a
 * digest with it (ECDSA P-256, raw r ‖ s). drot-server's signer uses the
 * audit key of its key custody (audit_server.c). log (may be NULL) hears of
 * automatic checkpoints that failed. */
typedef struct ds_audit_signer {
    char key_fpr[DS_AUDIT_FPR_LEN + 1];
    ds_status (*sign)(void *ctx, const uint8_t digest[DS_AUDIT_HASH_LEN], uint8_t sig[DS_AUDIT_SIG_LEN]);
    void (*log)(void *ctx, const char *msg);
    void *ctx;
} ds_audit_signer;

/* Signs the current head (L4, L5): recomputes the entries since the last
 * checkpoint (DS_E_CORRUPT, nothing signed, if they do not chain onto it),
 * signs outside any transaction, then inserts the checkpoint in one
 * transaction under the "audit" lock provided no other checkpoint came in
 * between (else it starts over, at most three times). When the head already
 * has a checkpoint, that one is returned. out (may be NULL) receives the
 * checkpoint. DS_E_NOT_FOUND when the log is empty; DS_E_ARG when the
 * signer fails (its message in ds_store_error). */
ds_status ds_audit_sign_head(ds_store *s, const ds_audit_signer *signer, ds_audit_checkpoint *out);

/* Calls cb for the checkpoints with seq > after, in seq order, at most
 * limit (1..DS_AUDIT_LIST_MAX). */
ds_status ds_audit_checkpoint_list(ds_store *s, int64_t after, size_t limit, ds_audit_checkpoint_cb cb,
                                   void *ctx);

/* Process-wide: after an append that ran in its own transaction, when the
 * head is at least `every` entries past the last checkpoint this process
 * knows of, sign a checkpoint with signer (whose sign function MUST then
 * be thread-safe). A failure is passed to signer->log and never fails the
 * append. signer NULL or every 0 turns it off. Call before any thread
 * appends; signer MUST outlive every append. */
void ds_audit_auto_checkpoint(const ds_audit_signer *signer, uint32_t every);

/* After the caller committed a transaction in which it appended entries
 * (joined appends never sign, since the head is not yet durable): the
 * automatic checkpoint, as an append in its own transaction would have
 * done, for seq, the last entry appended. Never fails the caller. */
void ds_audit_committed(ds_store *s, int64_t seq);

#endif /* DS_AUDIT_H */
