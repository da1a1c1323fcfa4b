-- billkey schema, version 3 (PostgreSQL).
-- Subscriptions: one row each, changed by compare-and-set on version and claimed by the
-- renewal engine with a lease on the database's clock, as charges are. Charges name the
-- subscription period they pay for.

CREATE TABLE billkey_subscriptions (
    id                   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscription_id      TEXT        NOT NULL,
    user_id              TEXT        NOT NULL,
    idempotency_key      TEXT        NOT NULL,
    plan_id              TEXT        NOT NULL DEFAULT '',
    next_plan_id         TEXT        NOT NULL DEFAULT '',
    slot                 TEXT,
    status               TEXT        NOT NULL,
    anchor               TIMESTAMPTZ,
    period               INTEGER     NOT NULL DEFAULT 0,
    period_start         TIMESTAMPTZ,
    period_end           TIMESTAMPTZ,
    trial_end            TIMESTAMPTZ,
    cancel_at_period_end BOOLEAN     NOT NULL DEFAULT FALSE,
    canceled_at          TIMESTAMPTZ,
    ended_at             TIMESTAMPTZ,
    end_reason           TEXT        NOT NULL DEFAULT '',
    retries              INTEGER     NOT NULL DEFAULT 0,
    charge_merchant_uid  TEXT        NOT NULL DEFAULT '',
    next_action_at       TIMESTAMPTZ,
    notices              BIGINT      NOT NULL DEFAULT 0,
    created_at           TIMESTAMPTZ,
    updated_at           TIMESTAMPTZ,
    version              INTEGER     NOT NULL,
    claimed_by           TEXT        NOT NULL DEFAULT '',
    claimed_until        TIMESTAMPTZ,
    CONSTRAINT billkey_subscriptions_subscription_id_key UNIQUE (subscription_id),
    CONSTRAINT billkey_subscriptions_user_idempotency_key UNIQUE (user_id, idempotency_key)
);

-- A slot is unique per user while it is set; a subscription without one (NULL) is in no slot.
CREATE UNIQUE INDEX billkey_subscriptions_user_slot_key ON billkey_subscriptions (user_id, slot)
WHERE slot IS NOT NULL;
-- Claims walk the due subscriptions in next_action_at order and stop at their limit;
-- subscriptions with nothing to do (NULL) are not in the index at all.
CREATE INDEX billkey_subscriptions_next_action_idx ON billkey_subscriptions (next_action_at, subscription_id)
WHERE next_action_at IS NOT NULL;
CREATE INDEX billkey_subscriptions_user_created_idx ON billkey_subscriptions (user_id, created_at);

ALTER TABLE billkey_charges ADD COLUMN subscription_id TEXT NOT NULL DEFAULT '';
ALTER TABLE billkey_charges ADD COLUMN period INTEGER NOT NULL DEFAULT 0;
