-- Times are Unix milliseconds (UTC); money is a count of fen. Both as 64-bit integers, the same
-- representation as on PostgreSQL, so one set of queries serves both.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL DEFAULT 'user',
    created_at    INTEGER NOT NULL
);

CREATE TABLE courses (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL,
    teacher     TEXT    NOT NULL DEFAULT '',
    lessons     INTEGER NOT NULL DEFAULT 0,
    level       TEXT    NOT NULL DEFAULT '',
    price_fen   INTEGER NOT NULL CHECK (price_fen >= 0),
    on_sale     INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE orders (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    out_trade_no    TEXT    NOT NULL UNIQUE,
    user_id         INTEGER NOT NULL REFERENCES users (id),
    subject         TEXT    NOT NULL,
    total_fen       INTEGER NOT NULL CHECK (total_fen > 0),
    status          TEXT    NOT NULL,
    trade_no        TEXT,
    paid_at         INTEGER,
    refunded_fen    INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    pay_link_at     INTEGER,
    next_check_at   INTEGER,
    check_attempts  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX orders_by_user ON orders (user_id, created_at);
CREATE INDEX orders_to_check ON orders (status, next_check_at);
CREATE INDEX orders_to_expire ON orders (status, expires_at);

CREATE TABLE order_items (
    order_id       INTEGER NOT NULL REFERENCES orders (id),
    course_id      INTEGER NOT NULL,
    course_name    TEXT    NOT NULL,
    price_fen      INTEGER NOT NULL,
    real_price_fen INTEGER NOT NULL,
    PRIMARY KEY (order_id, course_id)
);

-- Fulfilment: who may study what, and through which order.
CREATE TABLE enrollments (
    user_id    INTEGER NOT NULL,
    course_id  INTEGER NOT NULL,
    order_id   INTEGER NOT NULL REFERENCES orders (id),
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, course_id)
);

-- Every state change and every anomaly, with what caused it.
CREATE TABLE payment_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id   INTEGER NOT NULL REFERENCES orders (id),
    kind       TEXT    NOT NULL,
    source     TEXT    NOT NULL,
    detail     TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);
CREATE INDEX payment_events_by_order ON payment_events (order_id);

-- Every notification as received, whatever its verdict.
CREATE TABLE notifications (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at  INTEGER NOT NULL,
    body         BLOB    NOT NULL, -- the bytes as received, NUL and invalid UTF-8 included
    verdict      TEXT    NOT NULL,
    notify_id    TEXT,
    out_trade_no TEXT,
    trade_status TEXT,
    detail       TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX notifications_by_order ON notifications (out_trade_no);

CREATE TABLE idempotency_keys (
    user_id      INTEGER NOT NULL,
    scope        TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    request_hash TEXT    NOT NULL,
    resource     TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (user_id, scope, key)
);

CREATE TABLE refunds (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id       INTEGER NOT NULL REFERENCES orders (id),
    out_request_no TEXT    NOT NULL UNIQUE,
    amount_fen     INTEGER NOT NULL CHECK (amount_fen > 0),
    reason         TEXT    NOT NULL DEFAULT '',
    status         TEXT    NOT NULL,
    requested_by   INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    completed_at   INTEGER
);
CREATE INDEX refunds_by_order ON refunds (order_id);

-- The outbox: side effects at Alipay (close, refund), written in the same transaction as the
-- state change that needs them, run (and retried) by the job runner.
CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT    NOT NULL,
    order_id     INTEGER NOT NULL,
    payload      TEXT    NOT NULL DEFAULT '',
    run_at       INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    locked_until INTEGER,
    last_error   TEXT,
    done_at      INTEGER,
    created_at   INTEGER NOT NULL
);
CREATE INDEX jobs_due ON jobs (done_at, run_at);
