-- billkey schema, version 1 (SQLite).
-- Times are INTEGER microseconds since the Unix epoch, UTC; NULL is the zero time.
-- Optional identifiers (imp_uid) are NULL when unknown so that UNIQUE ignores them.

CREATE TABLE billkey_issuances (
    id                  INTEGER PRIMARY KEY,
    merchant_uid        TEXT    NOT NULL,
    customer_uid        TEXT    NOT NULL,
    user_id             TEXT    NOT NULL,
    plan_id             TEXT    NOT NULL DEFAULT '',
    amount              INTEGER NOT NULL DEFAULT 0,
    status              TEXT    NOT NULL,
    imp_uid             TEXT,
    fail_reason         TEXT    NOT NULL DEFAULT '',
    card_name           TEXT    NOT NULL DEFAULT '',
    card_number         TEXT    NOT NULL DEFAULT '',
    charge_merchant_uid TEXT    NOT NULL DEFAULT '',
    created_at          INTEGER,
    expires_at          INTEGER,
    updated_at          INTEGER,
    CONSTRAINT billkey_issuances_merchant_uid_key UNIQUE (merchant_uid),
    CONSTRAINT billkey_issuances_customer_uid_key UNIQUE (customer_uid),
    CONSTRAINT billkey_issuances_imp_uid_key UNIQUE (imp_uid)
);

CREATE INDEX billkey_issuances_status_expires_idx ON billkey_issuances (status, expires_at);
CREATE INDEX billkey_issuances_user_idx ON billkey_issuances (user_id);

CREATE TABLE billkey_billing_keys (
    user_id               TEXT    NOT NULL PRIMARY KEY,
    customer_uid          TEXT    NOT NULL,
    issuance_merchant_uid TEXT    NOT NULL DEFAULT '',
    card_name             TEXT    NOT NULL DEFAULT '',
    card_number           TEXT    NOT NULL DEFAULT '',
    pg_provider           TEXT    NOT NULL DEFAULT '',
    issued_at             INTEGER,
    CONSTRAINT billkey_billing_keys_customer_uid_key UNIQUE (customer_uid)
);

CREATE TABLE billkey_charges (
    id              INTEGER PRIMARY KEY,
    merchant_uid    TEXT    NOT NULL,
    user_id         TEXT    NOT NULL,
    idempotency_key TEXT    NOT NULL,
    customer_uid    TEXT    NOT NULL DEFAULT '',
    plan_id         TEXT    NOT NULL DEFAULT '',
    name            TEXT    NOT NULL DEFAULT '',
    amount          INTEGER NOT NULL DEFAULT 0,
    status          TEXT    NOT NULL,
    imp_uid         TEXT,
    fail_reason     TEXT    NOT NULL DEFAULT '',
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER,
    updated_at      INTEGER,
    paid_at         INTEGER,
    claimed_by      TEXT    NOT NULL DEFAULT '',
    claimed_until   INTEGER,
    CONSTRAINT billkey_charges_merchant_uid_key UNIQUE (merchant_uid),
    CONSTRAINT billkey_charges_imp_uid_key UNIQUE (imp_uid),
    CONSTRAINT billkey_charges_user_idempotency_key UNIQUE (user_id, idempotency_key)
);

CREATE INDEX billkey_charges_status_updated_idx ON billkey_charges (status, updated_at);
CREATE INDEX billkey_charges_user_created_idx ON billkey_charges (user_id, created_at);
