-- The sandbox's state. Instants are Unix epoch milliseconds; amounts are integer fen.

CREATE TABLE apps (
    app_id      TEXT PRIMARY KEY,
    public_key  TEXT NOT NULL,          -- SubjectPublicKeyInfo, base64
    sign_type   TEXT NOT NULL,          -- RSA2 | RSA
    seller_id   TEXT NOT NULL,
    name        TEXT,
    configured  INTEGER NOT NULL,       -- 1: from the configuration (kept by a reset)
    created_ms  INTEGER NOT NULL
);

CREATE TABLE buyers (
    logon_id             TEXT PRIMARY KEY,
    user_id              TEXT NOT NULL,
    password             TEXT NOT NULL,
    balance_fen          INTEGER NOT NULL,
    initial_balance_fen  INTEGER NOT NULL
);

CREATE TABLE trades (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id           TEXT NOT NULL,
    out_trade_no     TEXT NOT NULL,
    trade_no         TEXT NOT NULL UNIQUE,
    origin           TEXT NOT NULL,
    state            TEXT NOT NULL,
    total_amount_fen INTEGER NOT NULL,
    subject          TEXT NOT NULL,
    body             TEXT,
    product_code     TEXT,
    passback_params  TEXT,
    notify_url       TEXT,
    return_url       TEXT,
    quit_url         TEXT,
    timeout_express  TEXT,
    time_expire      TEXT,
    qr_token         TEXT UNIQUE,
    expires_ms       INTEGER NOT NULL,
    created_ms       INTEGER NOT NULL,
    paid_ms          INTEGER,
    closed_ms        INTEGER,
    close_reason     TEXT,
    buyer_user_id    TEXT,
    buyer_logon_id   TEXT,
    refund_fee_fen   INTEGER NOT NULL DEFAULT 0,
    warning          TEXT,
    UNIQUE (app_id, out_trade_no)
);
CREATE INDEX trades_unpaid_by_expiry ON trades (expires_ms) WHERE state IN ('CREATED', 'WAIT_BUYER_PAY');

CREATE TABLE refunds (
    trade_id        INTEGER NOT NULL REFERENCES trades (id) ON DELETE CASCADE,
    out_request_no  TEXT NOT NULL,
    amount_fen      INTEGER NOT NULL,
    reason          TEXT,
    refunded_ms     INTEGER NOT NULL,
    PRIMARY KEY (trade_id, out_request_no)
);

-- One row per notification; its attempts are in deliveries.
CREATE TABLE notifications (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    notify_id       TEXT NOT NULL UNIQUE,
    app_id          TEXT NOT NULL,
    out_trade_no    TEXT NOT NULL,
    trade_status    TEXT NOT NULL,
    notify_url      TEXT NOT NULL,
    fields          TEXT NOT NULL,      -- JSON object: every field but notify_time, sign_type, sign
    sign_type       TEXT NOT NULL,
    state           TEXT NOT NULL,      -- pending | acknowledged | exhausted
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER,
    created_ms      INTEGER NOT NULL
);
CREATE INDEX notifications_due ON notifications (next_attempt_ms) WHERE state = 'pending';

CREATE TABLE deliveries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    notification_id  INTEGER NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    attempt          INTEGER NOT NULL,  -- 1..8 on the schedule, 0 for a manual redelivery
    body             TEXT NOT NULL,
    status           INTEGER,           -- HTTP status; NULL when nothing came back
    response         TEXT,
    error            TEXT,
    fault            TEXT,
    acknowledged     INTEGER NOT NULL,
    attempted_ms     INTEGER NOT NULL
);
