-- Settlement against Alipay's daily bill: one row per day, and what differed.
CREATE TABLE settlements (
    bill_date        TEXT    PRIMARY KEY,
    status           TEXT    NOT NULL,
    alipay_count     BIGINT NOT NULL DEFAULT 0,
    alipay_total_fen BIGINT NOT NULL DEFAULT 0,
    shop_count       BIGINT NOT NULL DEFAULT 0,
    shop_total_fen   BIGINT NOT NULL DEFAULT 0,
    detail           TEXT    NOT NULL DEFAULT '',
    run_by           BIGINT,
    started_at       BIGINT,
    finished_at      BIGINT,
    lease_until      BIGINT
);

CREATE TABLE settlement_differences (
    id             BIGSERIAL PRIMARY KEY,
    bill_date      TEXT    NOT NULL,
    kind           TEXT    NOT NULL,
    out_trade_no   TEXT    NOT NULL,
    trade_no       TEXT    NOT NULL DEFAULT '',
    out_request_no TEXT    NOT NULL DEFAULT '',
    amount_fen     BIGINT NOT NULL,
    action         TEXT    NOT NULL,
    detail         TEXT    NOT NULL DEFAULT '',
    found_at       BIGINT NOT NULL,
    UNIQUE (bill_date, kind, out_trade_no, out_request_no)
);

-- An anomaly found again (a settlement run twice) is recorded once.
ALTER TABLE anomalies ADD COLUMN dedupe_key TEXT;
CREATE UNIQUE INDEX anomalies_dedupe ON anomalies (dedupe_key);

CREATE INDEX orders_by_paid_at ON orders (paid_at);
CREATE INDEX refunds_by_completion ON refunds (status, completed_at);
