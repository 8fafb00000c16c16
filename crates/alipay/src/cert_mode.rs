//! Public-key certificate mode (公钥证书模式): the three certificate files, the SNs every request
//! carries, and the Alipay certificates responses and notifications are verified with.
//!
//! An app in certificate mode has no "Alipay public key" to paste. Instead the merchant downloads
//! three files from the Alipay console:
//!
//! * `appCertPublicKey_<app_id>.crt`: the app's own certificate; its SN goes out as `app_cert_sn`
//!   and tells the gateway which key verifies the request;
//! * `alipayCertPublicKey_RSA2.crt`: Alipay's certificate (leaf, then its intermediate); its key
//!   verifies what Alipay signs, and its SN is what responses name in `alipay_cert_sn`;
//! * `alipayRootCert.crt`: Alipay's root bundle; the SNs of its RSA roots go out as
//!   `alipay_root_cert_sn`, and it is the trust anchor for Alipay certificates downloaded later.
//!
//! Alipay renews its certificate from time to time. A response then names an `alipay_cert_sn`
//! the merchant does not have; the client downloads that certificate with
//! `alipay.open.app.alipaycert.download`, checks that it chains to the configured root bundle
//! ([`crate::cert::verify_chain`]), keeps it, and verifies with it (spec §11.4). [`CertMode`]
//! holds every Alipay certificate known so far, by SN; the newest is the one notifications are
//! checked with first.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::RwLock;

use time::OffsetDateTime;

use crate::cert::{self, CertError, Certificate, ChainError};
use crate::keys::{KeyError, PublicKey};

/// What is wrong with certificate-mode configuration or a downloaded certificate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertModeError {
    /// A certificate file could not be read.
    #[error("cannot read {which} {path}: {source}")]
    Io {
        /// Which file ("app certificate", ...).
        which: &'static str,
        /// Its path.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A certificate file does not hold what it should.
    #[error("{which}: {source}")]
    Cert {
        /// Which file.
        which: &'static str,
        /// What is wrong.
        #[source]
        source: CertError,
    },
    /// A certificate's key is not an RSA key Alipay signing can use.
    #[error("{which}: the certified key cannot be used: {source}")]
    Key {
        /// Which file.
        which: &'static str,
        /// What is wrong.
        #[source]
        source: KeyError,
    },
    /// The root bundle has no RSA root, so `alipay_root_cert_sn` would be empty.
    #[error(
        "Alipay root certificate: no RSA-signed root in the bundle; download alipayRootCert.crt again from the Alipay console"
    )]
    NoRsaRoot,
    /// An Alipay certificate does not chain to the root bundle.
    #[error("Alipay certificate {sn} is not trusted: {source}")]
    Untrusted {
        /// Its SN.
        sn: String,
        /// Why.
        #[source]
        source: ChainError,
    },
}

/// The Alipay certificates known so far.
#[derive(Debug)]
struct AlipayCerts {
    /// The SN of the newest one.
    current: String,
    by_sn: HashMap<String, AlipayCert>,
}

#[derive(Clone, Debug)]
struct AlipayCert {
    chain: Vec<Certificate>,
    key: PublicKey,
}

/// An Alipay certificate that chains to the root bundle, not yet in use: see
/// [`CertMode::check_alipay_cert`] and [`CertMode::add_alipay_cert`].
#[derive(Clone, Debug)]
pub struct TrustedAlipayCert {
    sn: String,
    cert: AlipayCert,
}

impl TrustedAlipayCert {
    /// Its SN.
    #[must_use]
    pub fn sn(&self) -> &str {
        &self.sn
    }

    /// Its public key.
    #[must_use]
    pub fn public_key(&self) -> &PublicKey {
        &self.cert.key
    }

    /// The certificate file's certificates, leaf first.
    #[must_use]
    pub fn chain(&self) -> &[Certificate] {
        &self.cert.chain
    }
}

/// The certificates of an app in certificate mode. Shared by every clone of a [`crate::Client`];
/// Alipay certificates learnt by rotation are added in place.
pub struct CertMode {
    app_cert: Certificate,
    root_cert_sn: String,
    roots: Vec<Certificate>,
    alipay: RwLock<AlipayCerts>,
}

impl fmt::Debug for CertMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertMode")
            .field("app_cert_sn", &self.app_cert.sn())
            .field("alipay_root_cert_sn", &self.root_cert_sn)
            .field("alipay_cert_sn", &self.alipay_cert_sn())
            .finish_non_exhaustive()
    }
}

fn parse(which: &'static str, pem: &[u8]) -> Result<Vec<Certificate>, CertModeError> {
    cert::parse_pem(pem).map_err(|source| CertModeError::Cert { which, source })
}

fn read(which: &'static str, path: &Path) -> Result<Vec<u8>, CertModeError> {
    std::fs::read(path).map_err(|source| CertModeError::Io {
        which,
        path: path.display().to_string(),
        source,
    })
}

fn alipay_cert_of(
    which: &'static str,
    chain: Vec<Certificate>,
) -> Result<AlipayCert, CertModeError> {
    let key = chain[0]
        .public_key()
        .map_err(|source| CertModeError::Key { which, source })?;
    Ok(AlipayCert { chain, key })
}

const APP_CERT: &str = "app certificate (app_cert_file)";
const ALIPAY_CERT: &str = "Alipay certificate (alipay_cert_file)";
const ROOT_CERT: &str = "Alipay root certificate (alipay_root_cert_file)";

impl CertMode {
    /// Reads the three files' contents (PEM, as Alipay's console gives them).
    ///
    /// The configured Alipay certificate is trusted as configured (like a pasted Alipay public
    /// key); only certificates downloaded later must chain to the root bundle. `alipay doctor`
    /// checks the configured one too.
    pub fn from_pem(
        app_cert: &[u8],
        alipay_cert: &[u8],
        alipay_root_cert: &[u8],
    ) -> Result<CertMode, CertModeError> {
        let app_cert = parse(APP_CERT, app_cert)?.remove(0);
        app_cert.public_key().map_err(|source| CertModeError::Key {
            which: APP_CERT,
            source,
        })?;
        let alipay = alipay_cert_of(ALIPAY_CERT, parse(ALIPAY_CERT, alipay_cert)?)?;
        let roots = parse(ROOT_CERT, alipay_root_cert)?;
        let root_cert_sn = roots
            .iter()
            .filter(|c| c.is_rsa_signed())
            .map(Certificate::sn)
            .collect::<Vec<_>>()
            .join("_");
        if root_cert_sn.is_empty() {
            return Err(CertModeError::NoRsaRoot);
        }
        let sn = alipay.chain[0].sn().to_owned();
        Ok(CertMode {
            app_cert,
            root_cert_sn,
            roots,
            alipay: RwLock::new(AlipayCerts {
                current: sn.clone(),
                by_sn: HashMap::from([(sn, alipay)]),
            }),
        })
    }

    /// Reads the three files.
    pub fn from_files(
        app_cert: impl AsRef<Path>,
        alipay_cert: impl AsRef<Path>,
        alipay_root_cert: impl AsRef<Path>,
    ) -> Result<CertMode, CertModeError> {
        CertMode::from_pem(
            &read(APP_CERT, app_cert.as_ref())?,
            &read(ALIPAY_CERT, alipay_cert.as_ref())?,
            &read(ROOT_CERT, alipay_root_cert.as_ref())?,
        )
    }

    /// The app certificate.
    #[must_use]
    pub fn app_cert(&self) -> &Certificate {
        &self.app_cert
    }

    /// `app_cert_sn`, sent with every request.
    #[must_use]
    pub fn app_cert_sn(&self) -> &str {
        self.app_cert.sn()
    }

    /// `alipay_root_cert_sn`, sent with every request: the SNs of the bundle's RSA roots joined
    /// with `_` (the SM2 and ECDSA roots do not count).
    #[must_use]
    pub fn alipay_root_cert_sn(&self) -> &str {
        &self.root_cert_sn
    }

    /// The root bundle, the anchor downloaded Alipay certificates must chain to.
    #[must_use]
    pub fn roots(&self) -> &[Certificate] {
        &self.roots
    }

    fn certs(&self) -> std::sync::RwLockReadGuard<'_, AlipayCerts> {
        // Only whole insertions happen under the write lock; a poisoned map is still consistent.
        self.alipay
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The SN of the newest Alipay certificate known.
    #[must_use]
    pub fn alipay_cert_sn(&self) -> String {
        self.certs().current.clone()
    }

    /// The key of the newest Alipay certificate known.
    #[must_use]
    pub fn alipay_public_key(&self) -> PublicKey {
        let certs = self.certs();
        certs.by_sn[&certs.current].key.clone()
    }

    /// The key of the Alipay certificate with this SN, if it is known.
    #[must_use]
    pub fn alipay_public_key_for(&self, sn: &str) -> Option<PublicKey> {
        self.certs().by_sn.get(sn).map(|c| c.key.clone())
    }

    /// Every known Alipay key, the newest first: what notifications (which carry no SN) are
    /// checked against.
    #[must_use]
    pub fn alipay_public_keys(&self) -> Vec<PublicKey> {
        let certs = self.certs();
        let mut keys = vec![certs.by_sn[&certs.current].key.clone()];
        keys.extend(
            certs
                .by_sn
                .iter()
                .filter(|(sn, _)| **sn != certs.current)
                .map(|(_, c)| c.key.clone()),
        );
        keys
    }

    /// The SNs of every known Alipay certificate.
    #[must_use]
    pub fn known_alipay_cert_sns(&self) -> Vec<String> {
        let mut sns: Vec<String> = self.certs().by_sn.keys().cloned().collect();
        sns.sort();
        sns
    }

    /// Parses an Alipay certificate file (leaf first) and checks that it chains to the root
    /// bundle at `at`; nothing changes until [`CertMode::add_alipay_cert`].
    pub fn check_alipay_cert(
        &self,
        pem: &[u8],
        at: OffsetDateTime,
    ) -> Result<TrustedAlipayCert, CertModeError> {
        const DOWNLOADED: &str = "downloaded Alipay certificate";
        let cert = alipay_cert_of(DOWNLOADED, parse(DOWNLOADED, pem)?)?;
        let sn = cert.chain[0].sn().to_owned();
        cert::verify_chain(&cert.chain, &self.roots, at).map_err(|source| {
            CertModeError::Untrusted {
                sn: sn.clone(),
                source,
            }
        })?;
        Ok(TrustedAlipayCert { sn, cert })
    }

    /// Adds a checked Alipay certificate; it becomes the newest.
    pub fn add_alipay_cert(&self, trusted: TrustedAlipayCert) {
        let mut certs = self
            .alipay
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        certs.current.clone_from(&trusted.sn);
        certs.by_sn.insert(trusted.sn, trusted.cert);
    }
}
