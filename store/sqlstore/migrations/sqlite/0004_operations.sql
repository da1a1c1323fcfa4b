-- billkey schema, version 4 (SQLite).
-- Times are INTEGER microseconds since the Unix epoch, UTC; NULL is the zero time.
-- Operations: charges remember how much of them was refunded, iamport's receipt and a
-- bounded history (notes, a JSON array of {"at", "text"}, at most 32 entries, oldest
-- first); refunds are rows of their own, claimed by lease on the store's clock as
-- charges are; every webhook received is kept in an inbox, one row per distinct
-- notification counting its copies.
-- Listings run newest first (created_at DESC, then the record's id DESC: SQLite orders a
-- NULL, the zero time, below every value, so it comes last), and every listing has an
-- index in exactly that order, so that a page reads the rows it returns and no more,
-- however large the table.

ALTER TABLE billkey_charges ADD COLUMN refunded INTEGER NOT NULL DEFAULT 0;
ALTER TABLE billkey_charges ADD COLUMN receipt_url TEXT NOT NULL DEFAULT '';
ALTER TABLE billkey_charges ADD COLUMN notes TEXT NOT NULL DEFAULT '[]';

DROP INDEX IF EXISTS billkey_charges_user_created_idx;
CREATE INDEX billkey_charges_user_newest_idx ON billkey_charges (user_id, created_at DESC, merchant_uid DESC);
CREATE INDEX billkey_charges_newest_idx ON billkey_charges (created_at DESC, merchant_uid DESC);
CREATE INDEX billkey_charges_status_newest_idx ON billkey_charges (status, created_at DESC, merchant_uid DESC);
CREATE INDEX billkey_charges_subscription_newest_idx ON billkey_charges (subscription_id, created_at DESC, merchant_uid DESC);

DROP INDEX IF EXISTS billkey_subscriptions_user_created_idx;
CREATE INDEX billkey_subscriptions_user_newest_idx ON billkey_subscriptions (user_id, created_at DESC, subscription_id DESC);
CREATE INDEX billkey_subscriptions_newest_idx ON billkey_subscriptions (created_at DESC, subscription_id DESC);
CREATE INDEX billkey_subscriptions_status_newest_idx ON billkey_subscriptions (status, created_at DESC, subscription_id DESC);

CREATE TABLE billkey_refunds (
    id              INTEGER PRIMARY KEY,
    refund_id       TEXT    NOT NULL,
    merchant_uid    TEXT    NOT NULL,
    user_id         TEXT    NOT NULL DEFAULT '',
    idempotency_key TEXT    NOT NULL,
    amount          INTEGER NOT NULL DEFAULT 0,
    checksum        INTEGER NOT NULL DEFAULT 0,
    reason          TEXT    NOT NULL DEFAULT '',
    operator        TEXT    NOT NULL DEFAULT '',
    status          TEXT    NOT NULL,
    fail_reason     TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER,
    updated_at      INTEGER,
    claimed_by      TEXT    NOT NULL DEFAULT '',
    claimed_until   INTEGER,
    CONSTRAINT billkey_refunds_refund_id_key UNIQUE (refund_id),
    CONSTRAINT billkey_refunds_charge_idempotency_key UNIQUE (merchant_uid, idempotency_key)
);

-- A charge's refunds, oldest first (a NULL created_at, the zero time, first of all).
CREATE INDEX billkey_refunds_charge_created_idx ON billkey_refunds (merchant_uid, created_at, refund_id);
-- The reconciler's claims of refunds still being sent or of unknown outcome.
CREATE INDEX billkey_refunds_status_claimed_idx ON billkey_refunds (status, claimed_until);

-- received_at and last_at are never NULL: every notification has a time of arrival.
CREATE TABLE billkey_inbox (
    id              INTEGER PRIMARY KEY,
    notification_id TEXT    NOT NULL,
    dedupe_key      TEXT    NOT NULL,
    received_at     INTEGER NOT NULL,
    last_at         INTEGER NOT NULL,
    copies          INTEGER NOT NULL DEFAULT 1,
    source          TEXT    NOT NULL DEFAULT '',
    content_type    TEXT    NOT NULL DEFAULT '',
    imp_uid         TEXT    NOT NULL DEFAULT '',
    merchant_uid    TEXT    NOT NULL DEFAULT '',
    status          TEXT    NOT NULL DEFAULT '',
    result          TEXT    NOT NULL,
    error_text      TEXT    NOT NULL DEFAULT '',
    applied_at      INTEGER,
    CONSTRAINT billkey_inbox_notification_id_key UNIQUE (notification_id),
    CONSTRAINT billkey_inbox_dedupe_key_key UNIQUE (dedupe_key)
);

CREATE INDEX billkey_inbox_newest_idx ON billkey_inbox (received_at DESC, notification_id DESC);
CREATE INDEX billkey_inbox_charge_newest_idx ON billkey_inbox (merchant_uid, received_at DESC, notification_id DESC);
CREATE INDEX billkey_inbox_payment_newest_idx ON billkey_inbox (imp_uid, received_at DESC, notification_id DESC);
-- Purges take the entries whose latest copy is oldest.
CREATE INDEX billkey_inbox_last_idx ON billkey_inbox (last_at);
