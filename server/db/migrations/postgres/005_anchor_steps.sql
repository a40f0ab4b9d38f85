-- 005 trust-anchor rotation steps (PostgreSQL): an anchor job remembers the
-- new authority key from its creation, the step it has reached (0 CONFIRM by
-- the old key, 1 ADD, 2 CONFIRM by the new key, 3 REVOKE the old slot) and the
-- old key's slot (server/src/store.h, "rotation jobs"; docs/storage.md).
-- Keep column names identical to sqlite/005_anchor_steps.sql.
--
-- Anchor jobs created before this version have no key: the open ones are
-- cancelled here (nobody could finish them) and the terminal ones stay as
-- history, so the key is required of every anchor job that is not terminal.
-- ds_job_create_anchor always stores it and nothing clears it.
UPDATE rotation_jobs SET state = 'cancelled', last_error = 'migration 005: anchor job without its key',
       lease_owner = NULL, lease_until = 0
 WHERE kind = 'rotate-anchor' AND state IN ('pending', 'issued');
ALTER TABLE rotation_jobs
    ADD COLUMN anchor_pub BYTEA
        CHECK (anchor_pub IS NULL OR (octet_length(anchor_pub) = 65 AND get_byte(anchor_pub, 0) = 4)),
    ADD COLUMN step BIGINT NOT NULL DEFAULT 0 CHECK (step >= 0 AND step <= 15),
    ADD COLUMN old_slot BIGINT NOT NULL DEFAULT -1 CHECK (old_slot >= -1 AND old_slot <= 3),
    ADD CONSTRAINT rotation_jobs_anchor_key
        CHECK (kind <> 'rotate-anchor' OR anchor_pub IS NOT NULL
               OR state IN ('completed', 'failed', 'cancelled'));
