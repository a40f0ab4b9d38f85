-- 002 challenges and attestation records (PostgreSQL).
-- A challenge row lives from issue to its single consumption (or purge).
CREATE TABLE challenges (
    challenge  BYTEA   NOT NULL PRIMARY KEY CHECK (octet_length(challenge) = 32),
    device_id  BYTEA   REFERENCES devices (device_id),
    issued_at  BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL
);
CREATE INDEX challenges_expires ON challenges (expires_at);

CREATE TABLE attestations (
    id              BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device_id       BYTEA   NOT NULL REFERENCES devices (device_id),
    at              BIGINT  NOT NULL,
    result          TEXT    NOT NULL CHECK (result IN ('PASS', 'WARN', 'FAIL')),
    reasons         TEXT    NOT NULL,
    evidence_digest BYTEA   NOT NULL CHECK (octet_length(evidence_digest) = 32),
    token           BYTEA
);
CREATE INDEX attestations_device ON attestations (device_id, id);
