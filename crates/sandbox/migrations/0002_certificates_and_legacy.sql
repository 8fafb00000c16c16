-- Certificate mode and the legacy MD5 interface.

-- An app in certificate mode: its certificate (PEM); requests must name it in app_cert_sn.
ALTER TABLE apps ADD COLUMN app_cert TEXT;

-- Alipay certificates issued by rotation (the first one lives in files beside the key). The
-- newest signs for certificate-mode apps; all stay downloadable.
CREATE TABLE alipay_certs (
    sn           TEXT PRIMARY KEY,
    cert_pem     TEXT NOT NULL,      -- leaf, then the intermediate
    key_pem      TEXT NOT NULL,      -- its private key, PKCS#8
    created_ms   INTEGER NOT NULL
);

-- Partners of the legacy MD5 interface (create_direct_pay_by_user).
CREATE TABLE partners (
    partner       TEXT PRIMARY KEY,  -- 2088…, also the trades' app_id
    md5_key       TEXT NOT NULL,
    seller_email  TEXT NOT NULL,
    name          TEXT,
    configured    INTEGER NOT NULL,
    created_ms    INTEGER NOT NULL
);

-- When a notification was last really sent (notify_verify: "a notify_id it sent").
ALTER TABLE notifications ADD COLUMN sent_ms INTEGER;

-- notify_ids handed to the browser in legacy returns.
CREATE TABLE return_notify_ids (
    notify_id     TEXT PRIMARY KEY,
    partner       TEXT NOT NULL,
    out_trade_no  TEXT NOT NULL,
    issued_ms     INTEGER NOT NULL
);
