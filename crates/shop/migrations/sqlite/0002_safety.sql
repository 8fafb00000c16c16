-- Who did what: operator actions are recorded with the operator's user id.
ALTER TABLE payment_events ADD COLUMN actor_id INTEGER;

-- Refunds say who asked (an operator, the shop itself, or nobody here: a refund made in the
-- merchant console) and what they give back (refund_items; none for a goodwill refund).
CREATE TABLE refunds_new (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id       INTEGER NOT NULL REFERENCES orders (id),
    out_request_no TEXT    NOT NULL UNIQUE,
    amount_fen     INTEGER NOT NULL CHECK (amount_fen > 0),
    reason         TEXT    NOT NULL DEFAULT '',
    status         TEXT    NOT NULL,
    origin         TEXT    NOT NULL DEFAULT 'operator',
    requested_by   INTEGER,
    created_at     INTEGER NOT NULL,
    completed_at   INTEGER
);
INSERT INTO refunds_new (id, order_id, out_request_no, amount_fen, reason, status, origin, requested_by, created_at, completed_at)
    SELECT id, order_id, out_request_no, amount_fen, reason, status, 'operator', requested_by, created_at, completed_at FROM refunds;
DROP TABLE refunds;
ALTER TABLE refunds_new RENAME TO refunds;
CREATE INDEX refunds_by_order ON refunds (order_id);

CREATE TABLE refund_items (
    refund_id  INTEGER NOT NULL REFERENCES refunds (id),
    course_id  INTEGER NOT NULL,
    amount_fen INTEGER NOT NULL CHECK (amount_fen > 0),
    PRIMARY KEY (refund_id, course_id)
);

-- What Alipay reported that does not fit the books, until an operator resolves it.
CREATE TABLE anomalies (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT    NOT NULL,
    order_id     INTEGER REFERENCES orders (id),
    out_trade_no TEXT,
    amount_fen   INTEGER,
    detail       TEXT    NOT NULL DEFAULT '',
    source       TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    resolved_at  INTEGER,
    resolved_by  INTEGER,
    resolution   TEXT
);
CREATE INDEX anomalies_open ON anomalies (resolved_at, created_at);
CREATE INDEX anomalies_by_order ON anomalies (order_id);

-- Rejected notifications are kept truncated, with the length and digest of the whole body.
ALTER TABLE notifications ADD COLUMN body_len INTEGER;
ALTER TABLE notifications ADD COLUMN body_sha256 TEXT;
ALTER TABLE notifications ADD COLUMN peer TEXT;
CREATE INDEX notifications_by_verdict ON notifications (verdict, received_at);

-- The browser's return asks Alipay about an unpaid order at most once every few seconds.
ALTER TABLE orders ADD COLUMN return_checked_at INTEGER;
