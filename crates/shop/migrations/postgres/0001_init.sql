-- Times are Unix milliseconds (UTC); money is a count of fen. Both as 64-bit integers, the same
-- representation as on PostgreSQL, so one set of queries serves both.
CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL DEFAULT 'user',
    created_at    BIGINT  NOT NULL
);

CREATE TABLE courses (
    id          BIGINT PRIMARY KEY,
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL,
    teacher     TEXT    NOT NULL DEFAULT '',
    lessons     BIGINT  NOT NULL DEFAULT 0,
    level       TEXT    NOT NULL DEFAULT '',
    price_fen   BIGINT  NOT NULL CHECK (price_fen >= 0),
    on_sale     BIGINT  NOT NULL DEFAULT 1
);

CREATE TABLE orders (
    id              BIGSERIAL PRIMARY KEY,
    out_trade_no    TEXT    NOT NULL UNIQUE,
    user_id         BIGINT  NOT NULL REFERENCES users (id),
    subject         TEXT    NOT NULL,
    total_fen       BIGINT  NOT NULL CHECK (total_fen > 0),
    status          TEXT    NOT NULL,
    trade_no        TEXT,
    paid_at         BIGINT,
    refunded_fen    BIGINT  NOT NULL DEFAULT 0,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    expires_at      BIGINT  NOT NULL,
    pay_link_at     BIGINT,
    next_check_at   BIGINT,
    check_attempts  BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX orders_by_user ON orders (user_id, created_at);
CREATE INDEX orders_to_check ON orders (status, next_check_at);
CREATE INDEX orders_to_expire ON orders (status, expires_at);

CREATE TABLE order_items (
    order_id       BIGINT  NOT NULL REFERENCES orders (id),
    course_id      BIGINT  NOT NULL,
    course_name    TEXT    NOT NULL,
    price_fen      BIGINT  NOT NULL,
    real_price_fen BIGINT  NOT NULL,
    PRIMARY KEY (order_id, course_id)
);

-- Fulfilment: who may study what, and through which order.
CREATE TABLE enrollments (
    user_id    BIGINT  NOT NULL,
    course_id  BIGINT  NOT NULL,
    order_id   BIGINT  NOT NULL REFERENCES orders (id),
    granted_at BIGINT  NOT NULL,
    PRIMARY KEY (user_id, course_id)
);

-- Every state change and every anomaly, with what caused it.
CREATE TABLE payment_events (
    id         BIGSERIAL PRIMARY KEY,
    order_id   BIGINT  NOT NULL REFERENCES orders (id),
    kind       TEXT    NOT NULL,
    source     TEXT    NOT NULL,
    detail     TEXT    NOT NULL DEFAULT '',
    created_at BIGINT  NOT NULL
);
CREATE INDEX payment_events_by_order ON payment_events (order_id);

-- Every notification as received, whatever its verdict.
CREATE TABLE notifications (
    id           BIGSERIAL PRIMARY KEY,
    received_at  BIGINT  NOT NULL,
    body         BYTEA   NOT NULL, -- the bytes as received, NUL and invalid UTF-8 included
    verdict      TEXT    NOT NULL,
    notify_id    TEXT,
    out_trade_no TEXT,
    trade_status TEXT,
    detail       TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX notifications_by_order ON notifications (out_trade_no);

CREATE TABLE idempotency_keys (
    user_id      BIGINT  NOT NULL,
    scope        TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    request_hash TEXT    NOT NULL,
    resource     TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    PRIMARY KEY (user_id, scope, key)
);

CREATE TABLE refunds (
    id             BIGSERIAL PRIMARY KEY,
    order_id       BIGINT  NOT NULL REFERENCES orders (id),
    out_request_no TEXT    NOT NULL UNIQUE,
    amount_fen     BIGINT  NOT NULL CHECK (amount_fen > 0),
    reason         TEXT    NOT NULL DEFAULT '',
    status         TEXT    NOT NULL,
    requested_by   BIGINT  NOT NULL,
    created_at     BIGINT  NOT NULL,
    completed_at   BIGINT
);
CREATE INDEX refunds_by_order ON refunds (order_id);

-- The outbox: side effects at Alipay (close, refund), written in the same transaction as the
-- state change that needs them, run (and retried) by the job runner.
CREATE TABLE jobs (
    id           BIGSERIAL PRIMARY KEY,
    kind         TEXT    NOT NULL,
    order_id     BIGINT  NOT NULL,
    payload      TEXT    NOT NULL DEFAULT '',
    run_at       BIGINT  NOT NULL,
    attempts     BIGINT  NOT NULL DEFAULT 0,
    locked_until BIGINT,
    last_error   TEXT,
    done_at      BIGINT,
    created_at   BIGINT  NOT NULL
);
CREATE INDEX jobs_due ON jobs (done_at, run_at);
