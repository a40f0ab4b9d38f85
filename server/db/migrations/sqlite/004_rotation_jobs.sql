-- 004 rotation jobs and campaigns (SQLite): the orchestrator's state machines
-- (server/src/store.h, "rotation jobs" and "campaigns"; docs/storage.md).
-- Keep table and column names identical to postgres/004_rotation_jobs.sql.
CREATE TABLE rotation_campaigns (
    id             INTEGER NOT NULL PRIMARY KEY,
    class          TEXT    NOT NULL,
    kind           TEXT    NOT NULL CHECK (kind IN ('rotate-root', 'rotate-anchor')),
    mode           TEXT    NOT NULL CHECK (mode IN ('server', 'device')),
    max_parallel   INTEGER NOT NULL CHECK (max_parallel >= 1),
    fail_threshold INTEGER NOT NULL CHECK (fail_threshold >= 0),
    max_attempts   INTEGER NOT NULL CHECK (max_attempts >= 1),
    state          TEXT    NOT NULL CHECK (state IN ('running', 'stopped', 'done', 'cancelled')),
    stop_reason    TEXT    NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE INDEX rotation_campaigns_state ON rotation_campaigns (state, id);

CREATE TABLE rotation_jobs (
    id              INTEGER NOT NULL PRIMARY KEY,
    device_id       BLOB    NOT NULL REFERENCES devices (device_id),
    kind            TEXT    NOT NULL CHECK (kind IN ('rotate-root', 'rotate-anchor')),
    mode            TEXT    NOT NULL CHECK (mode IN ('server', 'device')),
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'issued', 'completed', 'failed',
                                                      'cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER NOT NULL CHECK (max_attempts >= 1),
    from_epoch      INTEGER NOT NULL DEFAULT 0 CHECK (from_epoch >= 0),
    new_pub         BLOB    CHECK (new_pub IS NULL OR length(new_pub) = 65),
    nonce           BLOB    CHECK (nonce IS NULL OR length(nonce) = 32),
    instruction_tbs BLOB    CHECK (instruction_tbs IS NULL OR length(instruction_tbs) = 32),
    lease_owner     TEXT,
    lease_until     INTEGER NOT NULL DEFAULT 0,
    campaign_id     INTEGER REFERENCES rotation_campaigns (id),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    last_error      TEXT    NOT NULL DEFAULT '',
    CHECK (attempts >= 0 AND attempts <= max_attempts),
    -- J2: an issued job has the key, nonce and digest it handed out
    CHECK (state <> 'issued' OR (new_pub IS NOT NULL AND nonce IS NOT NULL AND instruction_tbs IS NOT NULL))
);
-- J1: at most one open job per device, also when servers race to create one
CREATE UNIQUE INDEX rotation_jobs_one_open ON rotation_jobs (device_id) WHERE state IN ('pending', 'issued');
CREATE INDEX rotation_jobs_device ON rotation_jobs (device_id, id);
CREATE INDEX rotation_jobs_campaign ON rotation_jobs (campaign_id, state);
CREATE INDEX rotation_jobs_state ON rotation_jobs (state, id);
