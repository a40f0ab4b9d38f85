-- 001 registry (SQLite): devices, their retired keys, their status changes.
-- Keep table and column names identical to postgres/001_registry.sql.
CREATE TABLE devices (
    device_id      BLOB    NOT NULL PRIMARY KEY CHECK (length(device_id) = 16),
    class          TEXT    NOT NULL,
    drk_pub        BLOB    NOT NULL CHECK (length(drk_pub) = 65),
    instance_id    BLOB    NOT NULL UNIQUE CHECK (length(instance_id) = 33),
    epoch          INTEGER NOT NULL CHECK (epoch >= 0),
    status         TEXT    NOT NULL CHECK (status IN ('registered', 'enrolled', 'active', 'quarantined',
                                                      'revoked', 'decommissioned')),
    status_reason  TEXT    NOT NULL DEFAULT '',
    registered_at  INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    last_attest_at INTEGER,
    last_result    TEXT    CHECK (last_result IN ('PASS', 'WARN', 'FAIL')),
    attest_count   INTEGER NOT NULL DEFAULT 0 CHECK (attest_count >= 0)
);
CREATE INDEX devices_class_status ON devices (class, status);
CREATE INDEX devices_status ON devices (status);

CREATE TABLE device_keys (
    id          INTEGER NOT NULL PRIMARY KEY,
    device_id   BLOB    NOT NULL REFERENCES devices (device_id),
    epoch       INTEGER NOT NULL,
    drk_pub     BLOB    NOT NULL CHECK (length(drk_pub) = 65),
    instance_id BLOB    NOT NULL CHECK (length(instance_id) = 33),
    retired_at  INTEGER NOT NULL,
    UNIQUE (device_id, epoch)
);
CREATE INDEX device_keys_instance ON device_keys (instance_id);

CREATE TABLE device_status_log (
    id          INTEGER NOT NULL PRIMARY KEY,
    device_id   BLOB    NOT NULL REFERENCES devices (device_id),
    from_status TEXT    NOT NULL,
    to_status   TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    at          INTEGER NOT NULL
);
CREATE INDEX device_status_log_device ON device_status_log (device_id, id);
