-- billkey schema, version 2 (PostgreSQL).
-- Charges remember why they failed (fail_code). Leases (claimed_until) are taken from the
-- database's clock and every active charge holds one while somebody works on it, so the
-- reconciler claims by lease alone. Issuances remember whether the key an unfinished
-- issuance may have left at iamport was removed there.

ALTER TABLE billkey_charges ADD COLUMN fail_code TEXT NOT NULL DEFAULT '';
ALTER TABLE billkey_issuances ADD COLUMN key_removed BOOLEAN NOT NULL DEFAULT FALSE;

-- Active rows written by version 1 hold no lease: give them the default wait, counted
-- from their last write, so none is taken up while its `again` may be in flight.
UPDATE billkey_charges SET claimed_until = updated_at + interval '2 minutes'
WHERE claimed_until IS NULL AND status IN ('pending', 'charging', 'unknown') AND updated_at IS NOT NULL;

DROP INDEX IF EXISTS billkey_charges_status_updated_idx;
CREATE INDEX billkey_charges_status_claimed_idx ON billkey_charges (status, claimed_until);
CREATE INDEX billkey_issuances_user_plan_idx ON billkey_issuances (user_id, plan_id, status, created_at);
CREATE INDEX billkey_issuances_ended_idx ON billkey_issuances (status, key_removed, updated_at);
