-- 002 challenges and attestation records (SQLite).
-- A challenge row lives from issue to its single consumption (or purge).
CREATE TABLE challenges (
    challenge  BLOB    NOT NULL PRIMARY KEY CHECK (length(challenge) = 32),
    device_id  BLOB    REFERENCES devices (device_id),
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX challenges_expires ON challenges (expires_at);

CREATE TABLE attestations (
    id              INTEGER NOT NULL PRIMARY KEY,
    device_id       BLOB    NOT NULL REFERENCES devices (device_id),
    at              INTEGER NOT NULL,
    result          TEXT    NOT NULL CHECK (result IN ('PASS', 'WARN', 'FAIL')),
    reasons         TEXT    NOT NULL,
    evidence_digest BLOB    NOT NULL CHECK (length(evidence_digest) = 32),
    token           BLOB
);
CREATE INDEX attestations_device ON attestations (device_id, id);
