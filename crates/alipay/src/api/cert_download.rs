use serde::{Deserialize, Serialize};

use super::ApiRequest;
use crate::error::Error;

/// `alipay.open.app.alipaycert.download`: the Alipay certificate with a given SN (certificate
/// mode, spec §7.11).
///
/// [`crate::Client::execute`] calls it by itself when a response names an `alipay_cert_sn` it does
/// not know, and trusts the certificate only if it chains to the configured root bundle; see
/// [`crate::Client::download_alipay_cert`] to call it directly.
#[derive(Clone, Debug, Serialize)]
pub struct AlipayCertDownload {
    /// The SN of the certificate wanted.
    pub alipay_cert_sn: String,
}

impl AlipayCertDownload {
    /// The method name.
    pub const METHOD_NAME: &'static str = "alipay.open.app.alipaycert.download";

    /// The certificate with this SN.
    pub fn new(alipay_cert_sn: impl Into<String>) -> AlipayCertDownload {
        AlipayCertDownload {
            alipay_cert_sn: alipay_cert_sn.into(),
        }
    }
}

impl ApiRequest for AlipayCertDownload {
    const METHOD: &'static str = AlipayCertDownload::METHOD_NAME;
    // Read before anything else can be trusted: kept in clear, as the official SDKs send it.
    const ENCRYPTABLE: bool = false;
    type Response = AlipayCertDownloadResponse;
    const SAFE_TO_REPEAT: bool = true;

    fn validate(&self) -> Result<(), Error> {
        if self.alipay_cert_sn.len() != 32
            || !self.alipay_cert_sn.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(Error::InvalidRequest(format!(
                "alipay_cert_sn {:?} is not a certificate SN (32 hex digits)",
                self.alipay_cert_sn
            )));
        }
        Ok(())
    }
}

/// The node of `alipay.open.app.alipaycert.download`.
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct AlipayCertDownloadResponse {
    /// Base64 of the certificate file's PEM text.
    pub alipay_cert_content: String,
}
