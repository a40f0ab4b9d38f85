-- 009 audit log (SQLite): the append-only, hash-chained record of every
-- state-changing operation, and the signed checkpoints of its head
-- (server/src/audit.h; docs/audit.md, docs/storage.md).
-- Keep table and column names identical to postgres/009_audit_log.sql.
--
-- seq is assigned by ds_audit_append as head + 1 under the "audit" lock, so
-- the sequence has no gap; hash = SHA-256 of the canonical encoding of the
-- row's fields and prev_hash (server/src/audit_chain.h). The CHECKs bound
-- what the C code already bounds, so a row written by hand that the code
-- could never have written is refused.
CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY CHECK (seq >= 1),
    at        INTEGER NOT NULL,
    actor     TEXT    NOT NULL CHECK (length(actor) BETWEEN 1 AND 128),
    action    TEXT    NOT NULL CHECK (length(action) BETWEEN 1 AND 64),
    subject   TEXT    NOT NULL CHECK (length(CAST(subject AS BLOB)) <= 256),
    detail    TEXT    NOT NULL CHECK (length(CAST(detail AS BLOB)) BETWEEN 2 AND 8192),
    prev_hash BLOB    NOT NULL CHECK (length(prev_hash) = 32),
    hash      BLOB    NOT NULL CHECK (length(hash) = 32)
);

-- A checkpoint: the head (seq, hash) signed by the server's audit key.
-- prev_seq names the checkpoint before it (0 for the first), so removing
-- one from the middle is seen at the next.
CREATE TABLE audit_checkpoints (
    seq       INTEGER PRIMARY KEY CHECK (seq >= 1),
    hash      BLOB    NOT NULL CHECK (length(hash) = 32),
    at        INTEGER NOT NULL,
    prev_seq  INTEGER NOT NULL CHECK (prev_seq >= 0 AND prev_seq < seq),
    key_fpr   TEXT    NOT NULL CHECK (length(key_fpr) = 64),
    signature BLOB    NOT NULL CHECK (length(signature) = 64)
);
