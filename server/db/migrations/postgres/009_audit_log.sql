-- 009 audit log (PostgreSQL): the append-only, hash-chained record of every
-- state-changing operation, and the signed checkpoints of its head
-- (server/src/audit.h; docs/audit.md, docs/storage.md).
-- Keep table and column names identical to sqlite/009_audit_log.sql.
--
-- seq is assigned by ds_audit_append as head + 1 under the "audit" advisory
-- lock (several servers share the database), so the sequence has no gap;
-- hash = SHA-256 of the canonical encoding of the row's fields and
-- prev_hash (server/src/audit_chain.h).
CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY CHECK (seq >= 1),
    at        BIGINT NOT NULL,
    actor     TEXT   NOT NULL CHECK (octet_length(actor) BETWEEN 1 AND 128),
    action    TEXT   NOT NULL CHECK (octet_length(action) BETWEEN 1 AND 64),
    subject   TEXT   NOT NULL CHECK (octet_length(subject) <= 256),
    detail    TEXT   NOT NULL CHECK (octet_length(detail) BETWEEN 2 AND 8192),
    prev_hash BYTEA  NOT NULL CHECK (octet_length(prev_hash) = 32),
    hash      BYTEA  NOT NULL CHECK (octet_length(hash) = 32)
);

-- A checkpoint: the head (seq, hash) signed by the server's audit key.
-- prev_seq names the checkpoint before it (0 for the first), so removing
-- one from the middle is seen at the next.
CREATE TABLE audit_checkpoints (
    seq       BIGINT PRIMARY KEY CHECK (seq >= 1),
    hash      BYTEA  NOT NULL CHECK (octet_length(hash) = 32),
    at        BIGINT NOT NULL,
    prev_seq  BIGINT NOT NULL CHECK (prev_seq >= 0 AND prev_seq < seq),
    key_fpr   TEXT   NOT NULL CHECK (octet_length(key_fpr) = 64),
    signature BYTEA  NOT NULL CHECK (octet_length(signature) = 64)
);
