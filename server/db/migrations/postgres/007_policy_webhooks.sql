-- 007 policies, continuous attestation and webhooks (PostgreSQL): the policy
-- engine's tables (server/src/policy_store.h; docs/storage.md, docs/policy.md).
-- Keep table and column names identical to sqlite/007_policy_webhooks.sql;
-- the queries on them are written once (server/src/sql.h).

-- Every version of every class's policy; the highest version of a class is
-- the live one. Rows are never changed or deleted.
CREATE TABLE policies (
    class      TEXT    NOT NULL,
    version    BIGINT  NOT NULL CHECK (version >= 1),
    document   TEXT    NOT NULL,
    applied_at BIGINT  NOT NULL,
    applied_by TEXT    NOT NULL,
    PRIMARY KEY (class, version)
);

-- A device's standing under its class's policy. stale: it missed its
-- attestations (stale_since, the episode number); failed: an attestation was
-- FAIL, and a later PASS does not clear it (docs/policy.md "FAIL stays failed").
CREATE TABLE device_policy_state (
    device_id             BYTEA    NOT NULL PRIMARY KEY REFERENCES devices (device_id)
                                  CHECK (octet_length(device_id) = 16),
    stale                 BIGINT  NOT NULL DEFAULT 0 CHECK (stale IN (0, 1)),
    stale_since           BIGINT  NOT NULL DEFAULT 0,
    stale_episodes        BIGINT  NOT NULL DEFAULT 0 CHECK (stale_episodes >= 0),
    failed                BIGINT  NOT NULL DEFAULT 0 CHECK (failed IN (0, 1)),
    failed_at             BIGINT  NOT NULL DEFAULT 0,
    failed_attestation_id BIGINT  NOT NULL DEFAULT 0,
    failed_tamper         BIGINT  NOT NULL DEFAULT 0 CHECK (failed_tamper IN (0, 1)),
    failed_reasons        TEXT    NOT NULL DEFAULT '',
    cleared_at            BIGINT  NOT NULL DEFAULT 0,
    cleared_by            TEXT    NOT NULL DEFAULT '',
    clear_reason          TEXT    NOT NULL DEFAULT '',
    updated_at            BIGINT  NOT NULL DEFAULT 0,
    CHECK (stale = 0 OR stale_since > 0),
    CHECK (failed = 0 OR failed_at > 0)
);
CREATE INDEX device_policy_state_stale ON device_policy_state (stale);
CREATE INDEX device_policy_state_failed ON device_policy_state (failed);

-- Every action the policy engine took or is about to take. dedupe (when not
-- NULL) makes an action unique: a stale episode's actions run once.
CREATE TABLE policy_actions (
    id             BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device_id      BYTEA    REFERENCES devices (device_id),
    class          TEXT    NOT NULL,
    policy_version BIGINT  NOT NULL,
    cause          TEXT    NOT NULL CHECK (cause IN ('on_fail', 'on_tamper', 'on_missed', 'apply', 'key_age',
                                                       'operator')),
    action         TEXT    NOT NULL CHECK (action IN ('quarantine', 'revoke', 'notify', 'rotate', 'update',
                                                      'clear')),
    target         TEXT    NOT NULL DEFAULT '',
    state          TEXT    NOT NULL CHECK (state IN ('pending', 'done', 'failed', 'skipped')),
    result         TEXT    NOT NULL DEFAULT '',
    attestation_id BIGINT  NOT NULL DEFAULT 0,
    dedupe         TEXT    UNIQUE,
    lease_owner    TEXT,
    lease_until    BIGINT  NOT NULL DEFAULT 0,
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL
);
CREATE INDEX policy_actions_state ON policy_actions (state, id);
CREATE INDEX policy_actions_device ON policy_actions (device_id, id);
CREATE INDEX policy_actions_class ON policy_actions (class, id);

-- The rotation campaigns the policy engine made for key age (one running per
-- class at a time, so keys.max_parallel holds across the class).
CREATE TABLE policy_campaigns (
    campaign_id    BIGINT  NOT NULL PRIMARY KEY REFERENCES rotation_campaigns (id),
    class          TEXT    NOT NULL,
    policy_version BIGINT  NOT NULL,
    created_at     BIGINT  NOT NULL
);
CREATE INDEX policy_campaigns_class ON policy_campaigns (class, campaign_id);

-- Webhook events: a queue in the database, delivered with back-off; the
-- secret is never here (secret_file names a file on each server).
CREATE TABLE webhook_deliveries (
    id             BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id    TEXT    NOT NULL UNIQUE,
    webhook        TEXT    NOT NULL,
    class          TEXT    NOT NULL,
    policy_version BIGINT  NOT NULL,
    url            TEXT    NOT NULL,
    secret_file    TEXT    NOT NULL,
    event          TEXT    NOT NULL,
    device_id      BYTEA    REFERENCES devices (device_id),
    payload        TEXT    NOT NULL,
    max_attempts   BIGINT  NOT NULL CHECK (max_attempts >= 1),
    backoff_s      BIGINT  NOT NULL CHECK (backoff_s >= 1),
    attempts       BIGINT  NOT NULL DEFAULT 0,
    state          TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    next_at        BIGINT  NOT NULL,
    lease_owner    TEXT,
    lease_until    BIGINT  NOT NULL DEFAULT 0,
    last_status    BIGINT  NOT NULL DEFAULT 0,
    last_error     TEXT    NOT NULL DEFAULT '',
    created_at     BIGINT  NOT NULL,
    delivered_at   BIGINT  NOT NULL DEFAULT 0,
    CHECK (attempts >= 0 AND attempts <= max_attempts),
    CHECK (state <> 'delivered' OR delivered_at > 0)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_at);

-- Every attempt of every delivery.
CREATE TABLE webhook_attempts (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery    BIGINT  NOT NULL REFERENCES webhook_deliveries (id),
    attempt     BIGINT  NOT NULL CHECK (attempt >= 1),
    at          BIGINT  NOT NULL,
    http_status BIGINT  NOT NULL DEFAULT 0,
    error       TEXT    NOT NULL DEFAULT '',
    duration_ms BIGINT  NOT NULL DEFAULT 0,
    UNIQUE (delivery, attempt)
);
