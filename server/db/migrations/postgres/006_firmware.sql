-- 006 firmware repository, releases, rollouts and per-device firmware jobs
-- (PostgreSQL; server/src/firmware.h, docs/storage.md "Firmware", docs/firmware.md).
-- Keep table and column names identical to sqlite/006_firmware.sql.

-- Content-addressed images: the SHA-256 of the bytes is the key. The bytes
-- live in the database (firmware_image_chunks), so that every server sharing
-- the database serves the same images. complete = 1 only once every chunk is
-- there and the SHA-256 of their concatenation was checked (F7).
CREATE TABLE firmware_images (
    digest       BYTEA   NOT NULL PRIMARY KEY CHECK (octet_length(digest) = 32),
    size         BIGINT  NOT NULL CHECK (size BETWEEN 1 AND 16777216),
    chunk_size   BIGINT  NOT NULL CHECK (chunk_size >= 1),
    complete     BIGINT  NOT NULL DEFAULT 0 CHECK (complete IN (0, 1)),
    created_at   BIGINT  NOT NULL,
    completed_at BIGINT  NOT NULL DEFAULT 0,
    created_by   TEXT    NOT NULL DEFAULT ''
);

CREATE TABLE firmware_image_chunks (
    digest BYTEA   NOT NULL REFERENCES firmware_images (digest) ON DELETE CASCADE,
    idx    BIGINT  NOT NULL CHECK (idx >= 0),
    data   BYTEA   NOT NULL,
    PRIMARY KEY (digest, idx)
);

-- A release: one signed manifest for one complete image (F8). Never updated.
CREATE TABLE firmware_releases (
    id           BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    component    TEXT    NOT NULL,
    version      TEXT    NOT NULL,
    svn          BIGINT  NOT NULL CHECK (svn BETWEEN 0 AND 63),
    image_digest BYTEA   NOT NULL REFERENCES firmware_images (digest),
    size         BIGINT  NOT NULL CHECK (size BETWEEN 1 AND 16777216),
    manifest     BYTEA   NOT NULL CHECK (octet_length(manifest) BETWEEN 1 AND 1024),
    signer       BYTEA   NOT NULL CHECK (octet_length(signer) = 32),
    published_at BIGINT  NOT NULL,
    published_by TEXT    NOT NULL,
    UNIQUE (component, version)
);

CREATE TABLE firmware_rollouts (
    id            BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    class         TEXT    NOT NULL,
    component     TEXT    NOT NULL,
    release_id    BIGINT  NOT NULL REFERENCES firmware_releases (id),
    max_in_flight BIGINT  NOT NULL CHECK (max_in_flight >= 1),
    max_attempts  BIGINT  NOT NULL CHECK (max_attempts >= 1),
    job_timeout   BIGINT  NOT NULL CHECK (job_timeout >= 1),
    state         TEXT    NOT NULL CHECK (state IN ('running', 'paused', 'done', 'cancelled')),
    state_reason  TEXT    NOT NULL DEFAULT '',
    created_by    TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);
-- F4: one open rollout per class and component
CREATE UNIQUE INDEX firmware_rollouts_one_open ON firmware_rollouts (class, component)
    WHERE state IN ('running', 'paused');
CREATE INDEX firmware_rollouts_state ON firmware_rollouts (state, id);

CREATE TABLE firmware_jobs (
    id           BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device_id    BYTEA   NOT NULL REFERENCES devices (device_id),
    rollout_id   BIGINT  NOT NULL REFERENCES firmware_rollouts (id),
    release_id   BIGINT  NOT NULL REFERENCES firmware_releases (id),
    state        TEXT    NOT NULL CHECK (state IN ('pending', 'offered', 'installed', 'confirmed',
                                                   'failed', 'cancelled')),
    attempts     BIGINT  NOT NULL DEFAULT 0,
    max_attempts BIGINT  NOT NULL CHECK (max_attempts >= 1),
    deadline     BIGINT  NOT NULL DEFAULT 0,
    offered_at   BIGINT  NOT NULL DEFAULT 0,
    installed_at BIGINT  NOT NULL DEFAULT 0,
    last_error   TEXT    NOT NULL DEFAULT '',
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL,
    -- F5
    CHECK (attempts >= 0 AND attempts <= max_attempts),
    -- an offered or installed job has a deadline
    CHECK (state NOT IN ('offered', 'installed') OR deadline > 0),
    -- F3: one job per device and rollout (a retry reuses it)
    UNIQUE (rollout_id, device_id)
);
-- F2: at most one firmware job in flight per device
CREATE UNIQUE INDEX firmware_jobs_one_in_flight ON firmware_jobs (device_id)
    WHERE state IN ('offered', 'installed');
CREATE INDEX firmware_jobs_rollout ON firmware_jobs (rollout_id, state);
CREATE INDEX firmware_jobs_device ON firmware_jobs (device_id, state, id);
