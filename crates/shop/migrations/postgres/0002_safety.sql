-- Who did what: operator actions are recorded with the operator's user id.
ALTER TABLE payment_events ADD COLUMN actor_id BIGINT;

-- Refunds say who asked (an operator, the shop itself, or nobody here: a refund made in the
-- merchant console) and what they give back (refund_items; none for a goodwill refund).
ALTER TABLE refunds ADD COLUMN origin TEXT NOT NULL DEFAULT 'operator';
ALTER TABLE refunds ALTER COLUMN requested_by DROP NOT NULL;

CREATE TABLE refund_items (
    refund_id  BIGINT  NOT NULL REFERENCES refunds (id),
    course_id  BIGINT  NOT NULL,
    amount_fen BIGINT  NOT NULL CHECK (amount_fen > 0),
    PRIMARY KEY (refund_id, course_id)
);

-- What Alipay reported that does not fit the books, until an operator resolves it.
CREATE TABLE anomalies (
    id           BIGSERIAL PRIMARY KEY,
    kind         TEXT    NOT NULL,
    order_id     BIGINT  REFERENCES orders (id),
    out_trade_no TEXT,
    amount_fen   BIGINT,
    detail       TEXT    NOT NULL DEFAULT '',
    source       TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    resolved_at  BIGINT,
    resolved_by  BIGINT,
    resolution   TEXT
);
CREATE INDEX anomalies_open ON anomalies (resolved_at, created_at);
CREATE INDEX anomalies_by_order ON anomalies (order_id);

-- Rejected notifications are kept truncated, with the length and digest of the whole body.
ALTER TABLE notifications ADD COLUMN body_len BIGINT;
ALTER TABLE notifications ADD COLUMN body_sha256 TEXT;
ALTER TABLE notifications ADD COLUMN peer TEXT;
CREATE INDEX notifications_by_verdict ON notifications (verdict, received_at);

-- The browser's return asks Alipay about an unpaid order at most once every few seconds.
ALTER TABLE orders ADD COLUMN return_checked_at BIGINT;
