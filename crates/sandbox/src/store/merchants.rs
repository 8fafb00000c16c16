//! Merchants: open-API apps, legacy partners, and the rotated Alipay certificates.

use alipay::PublicKey;
use sqlx::{FromRow, SqliteConnection};

use super::to_ms;
use crate::apps::{App, Partner};
use crate::error::SandboxError;

// ---------------------------------------------------------------------------------------------
// Apps

#[derive(FromRow)]
struct AppRow {
    app_id: String,
    public_key: String,
    sign_type: String,
    seller_id: String,
    name: Option<String>,
    configured: bool,
    app_cert: Option<String>,
    aes_key: Option<String>,
}

impl AppRow {
    fn into_app(self) -> Result<App, SandboxError> {
        let app_cert = self
            .app_cert
            .as_deref()
            .map(|pem| {
                alipay::cert::parse_pem(pem.as_bytes())
                    .map(|mut certs| certs.remove(0))
                    .map_err(|e| SandboxError::Corrupt(format!("app {}: {e}", self.app_id)))
            })
            .transpose()?;
        let aes_key = self
            .aes_key
            .as_deref()
            .map(alipay::aes::AesKey::from_base64)
            .transpose()
            .map_err(|e| SandboxError::Corrupt(format!("app {}: {e}", self.app_id)))?;
        Ok(App {
            app_cert,
            aes_key,
            public_key: PublicKey::parse(&self.public_key)
                .map_err(|e| SandboxError::Corrupt(format!("app {}: {e}", self.app_id)))?,
            sign_type: self
                .sign_type
                .parse()
                .map_err(|e: alipay::keys::UnknownSignType| SandboxError::Corrupt(e.to_string()))?,
            app_id: self.app_id,
            seller_id: self.seller_id,
            name: self.name,
            configured: self.configured,
        })
    }
}

/// Inserts or replaces an app.
pub async fn upsert_app(conn: &mut SqliteConnection, app: &App) -> Result<(), SandboxError> {
    sqlx::query(
        "INSERT INTO apps (app_id, public_key, sign_type, seller_id, name, configured, created_ms,
             app_cert, aes_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (app_id) DO UPDATE SET public_key = $2, sign_type = $3, seller_id = $4,
             name = $5, configured = MAX(configured, $6), app_cert = $8, aes_key = $9",
    )
    .bind(&app.app_id)
    .bind(app.public_key.to_base64())
    .bind(app.sign_type.as_str())
    .bind(&app.seller_id)
    .bind(&app.name)
    .bind(app.configured)
    .bind(to_ms(alipay::time::now()))
    .bind(app.app_cert.as_ref().map(alipay::cert::Certificate::to_pem))
    .bind(app.aes_key.as_ref().map(alipay::aes::AesKey::to_base64))
    .execute(conn)
    .await?;
    Ok(())
}

/// One app.
pub async fn app(conn: &mut SqliteConnection, app_id: &str) -> Result<Option<App>, SandboxError> {
    sqlx::query_as::<_, AppRow>("SELECT * FROM apps WHERE app_id = $1")
        .bind(app_id)
        .fetch_optional(conn)
        .await?
        .map(AppRow::into_app)
        .transpose()
}

/// Every app, oldest first.
pub async fn apps(conn: &mut SqliteConnection) -> Result<Vec<App>, SandboxError> {
    sqlx::query_as::<_, AppRow>("SELECT * FROM apps ORDER BY created_ms, app_id")
        .fetch_all(conn)
        .await?
        .into_iter()
        .map(AppRow::into_app)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Legacy partners

#[derive(FromRow)]
struct PartnerRow {
    partner: String,
    md5_key: String,
    seller_email: String,
    name: Option<String>,
    configured: bool,
}

impl PartnerRow {
    fn into_partner(self) -> Result<Partner, SandboxError> {
        Ok(Partner {
            md5_key: alipay::legacy::Md5Key::new(&self.md5_key)
                .map_err(|e| SandboxError::Corrupt(format!("partner {}: {e}", self.partner)))?,
            partner: self.partner,
            seller_email: self.seller_email,
            name: self.name,
            configured: self.configured,
        })
    }
}

/// Inserts or replaces a partner.
pub async fn upsert_partner(
    conn: &mut SqliteConnection,
    partner: &Partner,
) -> Result<(), SandboxError> {
    sqlx::query(
        "INSERT INTO partners (partner, md5_key, seller_email, name, configured, created_ms)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (partner) DO UPDATE SET md5_key = $2, seller_email = $3, name = $4,
             configured = MAX(configured, $5)",
    )
    .bind(&partner.partner)
    .bind(partner.md5_key.expose_secret())
    .bind(&partner.seller_email)
    .bind(&partner.name)
    .bind(partner.configured)
    .bind(to_ms(alipay::time::now()))
    .execute(conn)
    .await?;
    Ok(())
}

/// One partner.
pub async fn partner(
    conn: &mut SqliteConnection,
    partner: &str,
) -> Result<Option<Partner>, SandboxError> {
    sqlx::query_as::<_, PartnerRow>("SELECT * FROM partners WHERE partner = $1")
        .bind(partner)
        .fetch_optional(conn)
        .await?
        .map(PartnerRow::into_partner)
        .transpose()
}

/// Every partner, oldest first.
pub async fn partners(conn: &mut SqliteConnection) -> Result<Vec<Partner>, SandboxError> {
    sqlx::query_as::<_, PartnerRow>("SELECT * FROM partners ORDER BY created_ms, partner")
        .fetch_all(conn)
        .await?
        .into_iter()
        .map(PartnerRow::into_partner)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Rotated Alipay certificates

/// Every rotated Alipay certificate, oldest first: (certificate file, private key PEM).
pub async fn alipay_certs(
    conn: &mut SqliteConnection,
) -> Result<Vec<(String, String)>, SandboxError> {
    Ok(sqlx::query_as::<_, (String, String)>(
        "SELECT cert_pem, key_pem FROM alipay_certs ORDER BY created_ms, sn",
    )
    .fetch_all(conn)
    .await?)
}

/// Keeps a rotated Alipay certificate.
pub async fn insert_alipay_cert(
    conn: &mut SqliteConnection,
    sn: &str,
    cert_pem: &str,
    key_pem: &str,
) -> Result<(), SandboxError> {
    sqlx::query(
        "INSERT INTO alipay_certs (sn, cert_pem, key_pem, created_ms) VALUES ($1, $2, $3, $4)",
    )
    .bind(sn)
    .bind(cert_pem)
    .bind(key_pem)
    .bind(to_ms(alipay::time::now()))
    .execute(conn)
    .await?;
    Ok(())
}
