-- 008 revocations (SQLite): what the fleet owner no longer trusts, and the
-- signed lists published from it (server/src/revocation.h; docs/revocation.md,
-- docs/storage.md). Keep table and column names identical to
-- postgres/008_revocations.sql: server/src/revocation.c runs the same SQL on
-- both (server/src/sql.h).
--
-- revocations: one row per revoked thing, never deleted or changed but for
-- list_version (set in the transaction that inserts it). value is the
-- SHA-256 of the key (drk, authority) or the certificate serial as a
-- minimal big-endian integer (cert, 1..20 bytes, no leading zero byte).
CREATE TABLE revocations (
    id           INTEGER NOT NULL PRIMARY KEY,
    kind         TEXT    NOT NULL CHECK (kind IN ('drk', 'cert', 'authority')),
    value        BLOB    NOT NULL CHECK ((kind <> 'cert' AND length(value) = 32) OR
                                         (kind = 'cert' AND length(value) BETWEEN 1 AND 20)),
    reason       TEXT    NOT NULL,
    revoked_by   TEXT    NOT NULL,
    revoked_at   INTEGER NOT NULL,
    device_id    BLOB    CHECK (device_id IS NULL OR length(device_id) = 16),
    list_version INTEGER NOT NULL CHECK (list_version >= 1),
    UNIQUE (kind, value)
);

-- revocation_lists: every list ever published, version 1, 2, 3, …; the
-- highest is the current one. payload is the canonical CBOR the devices
-- compare (digest = its SHA-256); signed is the COSE_Sign1 by signer.
CREATE TABLE revocation_lists (
    version    INTEGER NOT NULL PRIMARY KEY CHECK (version >= 1),
    issued_at  INTEGER NOT NULL,
    payload    BLOB    NOT NULL,
    digest     BLOB    NOT NULL CHECK (length(digest) = 32),
    signer     TEXT    NOT NULL,
    signed     BLOB    NOT NULL,
    entries    INTEGER NOT NULL CHECK (entries >= 0)
);

-- device_certs: the serial of every device certificate issued at
-- enrollment, so that revoking a certificate finds its device.
CREATE TABLE device_certs (
    serial     BLOB    NOT NULL PRIMARY KEY CHECK (length(serial) BETWEEN 1 AND 20),
    device_id  BLOB    NOT NULL REFERENCES devices (device_id),
    issued_at  INTEGER NOT NULL,
    not_after  INTEGER NOT NULL
);
CREATE INDEX device_certs_device ON device_certs (device_id);
