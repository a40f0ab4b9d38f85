/*
 * store_internal.h — what store.c shares with the two backends
 * (store_sqlite.c, store_pg.c). Not for use outside server/src/store*.c.
 *
 * store.c validates every argument (NULL, lengths, ranges, names) before it
 * dispatches, so a backend receives only well-formed input and does only the
 * database work. Each backend embeds struct ds_store as its first member.
 */
#ifndef DS_STORE_INTERNAL_H
#define DS_STORE_INTERNAL_H

#include <stdarg.h>

#include "store.h"

/* One embedded migration (generated from server/db/migrations/<backend>/NNN_name.sql
 * at build time by server/db/embed_migrations.cmake). */
typedef struct ds_migration {
    int version;
    const char *name;
    const char *sql;
} ds_migration;

extern const ds_migration ds_migrations_sqlite[];
extern const size_t ds_migrations_sqlite_count;
extern const ds_migration ds_migrations_postgres[];
extern const size_t ds_migrations_postgres_count;

/* The backend operations table. Every function gets validated arguments;
 * "now" values are supplied by store.c so that both backends agree. */
typedef struct ds_store_ops {
    const char *name;
    void (*close)(ds_store *s);
    ds_status (*migrate)(ds_store *s, const ds_migration *m, size_t n, int64_t now, int *version_out);
    ds_status (*schema_version)(ds_store *s, int *version_out);
    ds_status (*check)(ds_store *s);
    ds_status (*device_register_bulk)(ds_store *s, const ds_device_new *devs,
                                      const uint8_t (*instance_ids)[DS_INSTANCE_ID_LEN], size_t n,
                                      int64_t now, size_t *dup_index);
    /* by_instance: key is an instance id, else a device id */
    ds_status (*device_get)(ds_store *s, const uint8_t *key, bool by_instance, ds_device *out);
    ds_status (*device_list)(ds_store *s, const ds_device_filter *f, ds_device_cb cb, void *ctx);
    ds_status (*device_set_status)(ds_store *s, const uint8_t *device_id, ds_device_status to,
                                   const char *reason, int64_t now);
    ds_status (*device_set_key)(ds_store *s, const uint8_t *device_id, const uint8_t *new_pub,
                                const uint8_t *new_instance, uint64_t new_epoch, int64_t now);
    ds_status (*device_key_history)(ds_store *s, const uint8_t *device_id, ds_key_cb cb, void *ctx);
    ds_status (*challenge_issue)(ds_store *s, const uint8_t *challenge, const uint8_t *device_id,
                                 int64_t issued_at, int64_t expires_at);
    ds_status (*challenge_consume)(ds_store *s, const uint8_t *challenge, int64_t now, uint8_t *device_id_out,
                                   bool *bound_out);
    ds_status (*challenge_purge_expired)(ds_store *s, int64_t now, uint64_t *purged);
    /* upd is never NULL (a zeroed one when the caller gave none); out is
     * never NULL either */
    ds_status (*attestation_record)(ds_store *s, const ds_attestation *att, const ds_attest_update *upd,
                                    int64_t now, ds_attest_outcome *out);
    ds_status (*attestation_list)(ds_store *s, const uint8_t *device_id, size_t limit, ds_attestation_cb cb,
                                  void *ctx);
} ds_store_ops;

#define DS_ERR_MAX 512

struct ds_store {
    const ds_store_ops *ops;
    char err[DS_ERR_MAX];
};

/* Records a formatted message as the store's last error and returns st. */
ds_status ds_store_fail(ds_store *s, ds_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Backend constructors, called by ds_store_open. target is the path (SQLite)
 * or the whole URL (PostgreSQL). On failure they write err and return NULL
 * through *out. */
ds_status ds_store_sqlite_open(const char *path, ds_store **out, char *err, size_t errlen);
ds_status ds_store_pg_open(const char *url, ds_store **out, char *err, size_t errlen);

/* The one allocation wrapper of the storage layer: zeroed memory or NULL. */
void *ds_calloc(size_t n, size_t size);
void ds_free(void *p);

/* The consistency query of ds_store_check, valid on both backends: one row
 * of DS_CHECK_COLS counts, all zero in a consistent database (orphan
 * attestation, key-history, status-log and challenge rows; devices whose
 * attest_count / last_attest_at / last_result disagree with their rows). */
#define DS_CHECK_COLS 5
#define DS_SQL_CHECK                                                                                         \
    "SELECT "                                                                                                \
    "(SELECT count(*) FROM attestations a WHERE NOT EXISTS "                                                 \
    "  (SELECT 1 FROM devices d WHERE d.device_id = a.device_id)), "                                         \
    "(SELECT count(*) FROM device_keys k WHERE NOT EXISTS "                                                  \
    "  (SELECT 1 FROM devices d WHERE d.device_id = k.device_id)), "                                         \
    "(SELECT count(*) FROM device_status_log l WHERE NOT EXISTS "                                            \
    "  (SELECT 1 FROM devices d WHERE d.device_id = l.device_id)), "                                         \
    "(SELECT count(*) FROM challenges c WHERE c.device_id IS NOT NULL AND NOT EXISTS "                       \
    "  (SELECT 1 FROM devices d WHERE d.device_id = c.device_id)), "                                         \
    "(SELECT count(*) FROM devices d WHERE "                                                                 \
    "  d.attest_count <> (SELECT count(*) FROM attestations a WHERE a.device_id = d.device_id) "             \
    "  OR coalesce(d.last_attest_at, -1) <> coalesce((SELECT a.at FROM attestations a "                      \
    "     WHERE a.device_id = d.device_id ORDER BY a.id DESC LIMIT 1), -1) "                                 \
    "  OR coalesce(d.last_result, '') <> coalesce((SELECT a.result FROM attestations a "                     \
    "     WHERE a.device_id = d.device_id ORDER BY a.id DESC LIMIT 1), ''))"

/* Turns the DS_SQL_CHECK counts into DS_OK or DS_E_CORRUPT with a message. */
ds_status ds_check_verdict(ds_store *s, const int64_t counts[DS_CHECK_COLS]);

/* Lower-case hex of len bytes into out (2*len+1 bytes). */
void ds_hex(const uint8_t *in, size_t len, char *out);

/* Copies a NUL-terminated text of at most cap-1 bytes (truncating). */
void ds_copy_text(char *dst, size_t cap, const char *src, size_t src_len);

#endif
