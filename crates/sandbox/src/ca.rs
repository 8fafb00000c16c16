//! The sandbox's own certificate authority, for apps in certificate mode (spec §11).
//!
//! Alipay's layout, in miniature: an RSA root and an ECDSA root make the root bundle
//! (`alipayRootCert.crt`; only the RSA one counts in `alipay_root_cert_sn`), an RSA "Class 2"
//! intermediate issues the Alipay certificate (`alipayCertPublicKey_RSA2.crt`: leaf, then the
//! intermediate) and, on request, app certificates. The first Alipay certificate certifies the
//! sandbox's own signing key, so a merchant in public-key mode and one in certificate mode verify
//! the same signatures until a test rotates the certificate
//! ([`CertAuthority::rotate`]): the new one has a new key and signs for certificate-mode apps
//! from then on; every one stays downloadable with `alipay.open.app.alipaycert.download`.
//!
//! Names are `C`, `O`, `OU`, `CN` like Alipay's, so even python-alipay-sdk's fixed issuer format
//! computes the right SNs. It is made on first use; with a key file it is kept beside it in
//! `<key file stem>.certs/` (private keys mode 0600) and loaded from there afterwards, so SNs
//! survive restarts; rotated certificates are kept in the database. Without a key file it lives
//! in memory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use alipay::cert::{self, Certificate};
use alipay::{PrivateKey, PublicKey};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SerialNumber, SubjectPublicKeyInfo,
};
use serde::Serialize;
use time::OffsetDateTime;

use crate::error::SandboxError;

/// One Alipay certificate and the key it certifies.
#[derive(Debug)]
pub(crate) struct AlipaySigner {
    /// Its SN (`alipay_cert_sn`).
    pub sn: String,
    /// The certificate file: leaf, then the intermediate.
    pub chain_pem: String,
    /// The signing key.
    pub key: Arc<PrivateKey>,
}

#[derive(Debug)]
struct Signers {
    current: Arc<AlipaySigner>,
    by_sn: HashMap<String, Arc<AlipaySigner>>,
}

/// The authority: roots, intermediate, Alipay certificates.
pub(crate) struct CertAuthority {
    class2_key: KeyPair,
    class2_pem: String,
    root_bundle_pem: String,
    root_cert_sn: String,
    first_sn: String,
    dir: Option<PathBuf>,
    signers: RwLock<Signers>,
}

impl std::fmt::Debug for CertAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertAuthority")
            .field("root_cert_sn", &self.root_cert_sn)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// What `GET /api/certs` shows: everything a merchant needs to configure certificate mode.
#[derive(Clone, Debug, Serialize)]
pub struct CertsView {
    /// `alipayCertPublicKey_RSA2.crt` of the current certificate.
    pub alipay_cert: String,
    /// Its SN.
    pub alipay_cert_sn: String,
    /// `alipayRootCert.crt`.
    pub alipay_root_cert: String,
    /// What `alipay_root_cert_sn` must say.
    pub alipay_root_cert_sn: String,
    /// Every Alipay certificate issued, oldest first.
    pub alipay_cert_sns: Vec<String>,
    /// Where the files are kept, when they are.
    pub dir: Option<String>,
}

const ORGANIZATION: &str = "alipay-sandbox";

fn dn(ou: &str, cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "CN");
    dn.push(DnType::OrganizationName, ORGANIZATION);
    dn.push(DnType::OrganizationalUnitName, ou);
    dn.push(DnType::CommonName, cn);
    dn
}

fn ca_error(what: &str, error: impl std::fmt::Display) -> SandboxError {
    SandboxError::Config(format!("sandbox certificate authority: {what}: {error}"))
}

fn serial() -> SerialNumber {
    let mut bytes: [u8; 8] = rand::random();
    bytes[0] &= 0x7f; // positive
    bytes[0] |= 0x10; // and never short
    SerialNumber::from_slice(&bytes)
}

fn params(dn: DistinguishedName, ca: bool, years: i64) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = dn;
    params.serial_number = Some(serial());
    let now = OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(365 * years);
    if ca {
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    } else {
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    }
    params
}

fn root_params() -> CertificateParams {
    params(
        dn("Certification Authority", "Alipay Sandbox Root CA R1"),
        true,
        20,
    )
}

fn class2_params() -> CertificateParams {
    params(
        dn("Certification Authority", "Alipay Sandbox Class 2 CA R1"),
        true,
        10,
    )
}

fn rsa_key_pair(key: &PrivateKey) -> Result<KeyPair, SandboxError> {
    KeyPair::try_from(key.to_pkcs8_der().as_slice()).map_err(|e| ca_error("key", e))
}

fn spki(key: &PublicKey) -> Result<SubjectPublicKeyInfo, SandboxError> {
    SubjectPublicKeyInfo::from_der(key.to_spki_der()).map_err(|e| ca_error("public key", e))
}

/// The SN of the first certificate of a PEM text.
fn sn_of(pem: &str) -> Result<String, SandboxError> {
    cert::cert_sn(pem.as_bytes()).map_err(|e| ca_error("certificate", e))
}

const ROOT_BUNDLE: &str = "alipayRootCert.crt";
const ALIPAY_CERT: &str = "alipayCertPublicKey_RSA2.crt";
const CLASS2_CERT: &str = "class2_ca.crt";
const ROOT_KEY: &str = "root_ca_key.pem";
const CLASS2_KEY: &str = "class2_ca_key.pem";

fn class2_issuer<'a>(pem: &str, key: &'a KeyPair) -> Result<Issuer<'a, &'a KeyPair>, SandboxError> {
    Issuer::from_ca_cert_pem(pem, key).map_err(|e| ca_error("intermediate", e))
}

/// Issues an Alipay certificate for `key` (not yet in use).
fn issue_alipay_cert(
    class2_key: &KeyPair,
    class2_pem: &str,
    key: Arc<PrivateKey>,
) -> Result<Arc<AlipaySigner>, SandboxError> {
    let leaf = params(
        dn("Alipay", "支付宝(中国)网络技术有限公司-Sandbox"),
        false,
        5,
    )
    .signed_by(
        &spki(key.public_key())?,
        &class2_issuer(class2_pem, class2_key)?,
    )
    .map_err(|e| ca_error("Alipay certificate", e))?
    .pem();
    let chain_pem = format!("{leaf}{class2_pem}");
    Ok(Arc::new(AlipaySigner {
        sn: sn_of(&chain_pem)?,
        chain_pem,
        key,
    }))
}

/// `<dir>/<stem>.certs` for a key file `<dir>/<stem>.pem`.
#[must_use]
pub fn dir_for(key_file: &Path) -> PathBuf {
    let stem = key_file
        .file_stem()
        .map_or_else(|| "alipay".into(), |s| s.to_string_lossy().into_owned());
    key_file.with_file_name(format!("{stem}.certs"))
}

impl CertAuthority {
    /// Loads the authority kept beside `key_file`, or makes one (and keeps it there when
    /// `key_file` is given). `signing_key` is the sandbox's own key: the first Alipay
    /// certificate certifies it.
    pub(crate) fn load_or_create(
        key_file: Option<&Path>,
        signing_key: &Arc<PrivateKey>,
    ) -> Result<CertAuthority, SandboxError> {
        let dir = key_file.map(dir_for);
        if let Some(dir) = &dir
            && dir.join(ROOT_BUNDLE).exists()
        {
            return CertAuthority::load(dir, signing_key);
        }
        let root_key = PrivateKey::generate().map_err(SandboxError::Key)?;
        let root_pair = rsa_key_pair(&root_key)?;
        let root_params = root_params();
        let root_pem = root_params
            .self_signed(&root_pair)
            .map_err(|e| ca_error("root", e))?
            .pem();
        let ecdsa =
            KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|e| ca_error("key", e))?;
        let ecdsa_pem = params(
            dn("Certification Authority", "Alipay Sandbox Root CA E1"),
            true,
            20,
        )
        .self_signed(&ecdsa)
        .map_err(|e| ca_error("ECDSA root", e))?
        .pem();
        let class2_key = PrivateKey::generate().map_err(SandboxError::Key)?;
        let class2_pair = rsa_key_pair(&class2_key)?;
        let class2_pem = class2_params()
            .signed_by(&class2_pair, &Issuer::new(root_params, &root_pair))
            .map_err(|e| ca_error("intermediate", e))?
            .pem();
        // Alipay's bundle separates its certificates with a blank line (and python-alipay-sdk
        // splits on it).
        let root_bundle_pem = format!("{}\n\n{ecdsa_pem}", root_pem.trim_end());
        let first = issue_alipay_cert(&class2_pair, &class2_pem, Arc::clone(signing_key))?;
        let authority =
            CertAuthority::assemble(class2_pair, class2_pem, root_bundle_pem, dir.clone(), first)?;
        let first = authority.current();
        if let Some(dir) = &dir {
            let io = |source| SandboxError::Io {
                path: dir.clone(),
                source,
            };
            std::fs::create_dir_all(dir).map_err(io)?;
            crate::files::write_secret(&dir.join(ROOT_KEY), root_key.to_pkcs8_pem().as_bytes())
                .map_err(io)?;
            crate::files::write_secret(&dir.join(CLASS2_KEY), class2_key.to_pkcs8_pem().as_bytes())
                .map_err(io)?;
            std::fs::write(dir.join(CLASS2_CERT), &authority.class2_pem).map_err(io)?;
            std::fs::write(dir.join(ALIPAY_CERT), &first.chain_pem).map_err(io)?;
            // Written last: its presence means the folder is complete.
            std::fs::write(dir.join(ROOT_BUNDLE), &authority.root_bundle_pem).map_err(io)?;
            tracing::info!(dir = %dir.display(), "created the sandbox's certificate authority");
        }
        Ok(authority)
    }

    fn load(dir: &Path, signing_key: &Arc<PrivateKey>) -> Result<CertAuthority, SandboxError> {
        let read = |name: &str| {
            std::fs::read_to_string(dir.join(name)).map_err(|source| SandboxError::Io {
                path: dir.join(name),
                source,
            })
        };
        let class2_pair =
            rsa_key_pair(&PrivateKey::parse(&read(CLASS2_KEY)?).map_err(SandboxError::Key)?)?;
        let class2_pem = read(CLASS2_CERT)?;
        let chain_pem = read(ALIPAY_CERT)?;
        let leaf = cert::parse_pem(chain_pem.as_bytes()).map_err(|e| ca_error(ALIPAY_CERT, e))?;
        let first = if leaf[0].public_key().ok().as_ref() == Some(signing_key.public_key()) {
            Arc::new(AlipaySigner {
                sn: leaf[0].sn().to_owned(),
                chain_pem,
                key: Arc::clone(signing_key),
            })
        } else {
            // The key file was replaced: certify the new key.
            let first = issue_alipay_cert(&class2_pair, &class2_pem, Arc::clone(signing_key))?;
            std::fs::write(dir.join(ALIPAY_CERT), &first.chain_pem).map_err(|source| {
                SandboxError::Io {
                    path: dir.join(ALIPAY_CERT),
                    source,
                }
            })?;
            first
        };
        CertAuthority::assemble(
            class2_pair,
            class2_pem,
            read(ROOT_BUNDLE)?,
            Some(dir.to_path_buf()),
            first,
        )
    }

    fn assemble(
        class2_key: KeyPair,
        class2_pem: String,
        root_bundle_pem: String,
        dir: Option<PathBuf>,
        first: Arc<AlipaySigner>,
    ) -> Result<CertAuthority, SandboxError> {
        let root_cert_sn =
            cert::root_cert_sn(root_bundle_pem.as_bytes()).map_err(|e| ca_error(ROOT_BUNDLE, e))?;
        Ok(CertAuthority {
            class2_key,
            class2_pem,
            root_bundle_pem,
            root_cert_sn,
            first_sn: first.sn.clone(),
            dir,
            signers: RwLock::new(Signers {
                by_sn: HashMap::from([(first.sn.clone(), Arc::clone(&first))]),
                current: first,
            }),
        })
    }

    fn class2(&self) -> Result<Issuer<'_, &KeyPair>, SandboxError> {
        class2_issuer(&self.class2_pem, &self.class2_key)
    }

    /// Issues an app certificate for `public_key`, as Alipay's console does from a CSR.
    pub(crate) fn issue_app_cert(
        &self,
        app_id: &str,
        seller_id: &str,
        public_key: &PublicKey,
    ) -> Result<Certificate, SandboxError> {
        let pem = params(dn("Alipay", &format!("{seller_id}-{app_id}")), false, 5)
            .signed_by(&spki(public_key)?, &self.class2()?)
            .map_err(|e| ca_error("app certificate", e))?
            .pem();
        cert::parse_pem(pem.as_bytes())
            .map(|mut certs| certs.remove(0))
            .map_err(|e| ca_error("app certificate", e))
    }

    /// A new Alipay certificate with a new key; it signs for certificate-mode apps from now on.
    /// Returns it with its private key in PKCS#8 PEM, for the database.
    pub(crate) fn rotate(&self) -> Result<(Arc<AlipaySigner>, String), SandboxError> {
        let key = PrivateKey::generate().map_err(SandboxError::Key)?;
        let key_pem = key.to_pkcs8_pem();
        let signer = issue_alipay_cert(&self.class2_key, &self.class2_pem, Arc::new(key))?;
        self.install(Arc::clone(&signer));
        Ok((signer, key_pem))
    }

    /// Puts a (stored) Alipay certificate back in use; the last installed is current.
    pub(crate) fn restore(&self, chain_pem: String, key_pem: &str) -> Result<(), SandboxError> {
        let key = PrivateKey::parse(key_pem).map_err(SandboxError::Key)?;
        let sn = sn_of(&chain_pem)?;
        self.install(Arc::new(AlipaySigner {
            sn,
            chain_pem,
            key: Arc::new(key),
        }));
        Ok(())
    }

    fn install(&self, signer: Arc<AlipaySigner>) {
        let mut signers = self
            .signers
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        signers.by_sn.insert(signer.sn.clone(), Arc::clone(&signer));
        signers.current = signer;
    }

    fn signers(&self) -> std::sync::RwLockReadGuard<'_, Signers> {
        self.signers
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The certificate that signs for certificate-mode apps now.
    pub(crate) fn current(&self) -> Arc<AlipaySigner> {
        Arc::clone(&self.signers().current)
    }

    /// An Alipay certificate by SN.
    pub(crate) fn by_sn(&self, sn: &str) -> Option<Arc<AlipaySigner>> {
        self.signers().by_sn.get(sn).cloned()
    }

    /// The SN of the first Alipay certificate (kept in the files).
    pub(crate) fn first_sn(&self) -> &str {
        &self.first_sn
    }

    /// `alipay_root_cert_sn`.
    pub(crate) fn root_cert_sn(&self) -> &str {
        &self.root_cert_sn
    }

    /// The configuration view.
    pub(crate) fn view(&self, issued_order: &[String]) -> CertsView {
        let current = self.current();
        CertsView {
            alipay_cert: current.chain_pem.clone(),
            alipay_cert_sn: current.sn.clone(),
            alipay_root_cert: self.root_bundle_pem.clone(),
            alipay_root_cert_sn: self.root_cert_sn.clone(),
            alipay_cert_sns: issued_order.to_vec(),
            dir: self.dir.as_ref().map(|d| d.display().to_string()),
        }
    }
}
