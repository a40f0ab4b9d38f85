-- 001 registry (PostgreSQL): devices, their retired keys, their status changes.
-- Keep table and column names identical to sqlite/001_registry.sql.
CREATE TABLE devices (
    device_id      BYTEA   NOT NULL PRIMARY KEY CHECK (octet_length(device_id) = 16),
    class          TEXT    NOT NULL,
    drk_pub        BYTEA   NOT NULL CHECK (octet_length(drk_pub) = 65),
    instance_id    BYTEA   NOT NULL UNIQUE CHECK (octet_length(instance_id) = 33),
    epoch          BIGINT  NOT NULL CHECK (epoch >= 0),
    status         TEXT    NOT NULL CHECK (status IN ('registered', 'enrolled', 'active', 'quarantined',
                                                      'revoked', 'decommissioned')),
    status_reason  TEXT    NOT NULL DEFAULT '',
    registered_at  BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL,
    last_attest_at BIGINT,
    last_result    TEXT    CHECK (last_result IN ('PASS', 'WARN', 'FAIL')),
    attest_count   BIGINT  NOT NULL DEFAULT 0 CHECK (attest_count >= 0)
);
CREATE INDEX devices_class_status ON devices (class, status);
CREATE INDEX devices_status ON devices (status);

CREATE TABLE device_keys (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device_id   BYTEA   NOT NULL REFERENCES devices (device_id),
    epoch       BIGINT  NOT NULL,
    drk_pub     BYTEA   NOT NULL CHECK (octet_length(drk_pub) = 65),
    instance_id BYTEA   NOT NULL CHECK (octet_length(instance_id) = 33),
    retired_at  BIGINT  NOT NULL,
    UNIQUE (device_id, epoch)
);
CREATE INDEX device_keys_instance ON device_keys (instance_id);

CREATE TABLE device_status_log (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device_id   BYTEA   NOT NULL REFERENCES devices (device_id),
    from_status TEXT    NOT NULL,
    to_status   TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    at          BIGINT  NOT NULL
);
CREATE INDEX device_status_log_device ON device_status_log (device_id, id);
