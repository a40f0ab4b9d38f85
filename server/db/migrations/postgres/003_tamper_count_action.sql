-- 003 tamper-count baseline and automatic actions (PostgreSQL).
-- devices.tamper_count: the APM's tamper count in the device's last fresh
-- drot-profile token (NULL until one was recorded); the verifier compares the
-- next token's count with it (docs/verifier.md, "Tamper count").
-- attestations.action: what recording that attestation did to the device
-- ('' nothing, 'quarantined' the class's on_fail moved it to quarantined).
ALTER TABLE devices ADD COLUMN tamper_count BIGINT CHECK (tamper_count IS NULL OR tamper_count >= 0);
ALTER TABLE attestations ADD COLUMN action TEXT NOT NULL DEFAULT '' CHECK (action IN ('', 'quarantined'));
