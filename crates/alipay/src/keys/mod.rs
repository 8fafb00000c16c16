//! RSA keys in every form merchants have them, and the signatures made with them.
//!
//! Alipay's key tool prints bare single-line base64 (PKCS#8 by default, PKCS#1 on request), its
//! console shows the Alipay public key as bare base64 SubjectPublicKeyInfo, the Node SDK wants
//! PKCS#1 PEM, Java wants PKCS#8, and people paste all of them wrapped, unwrapped, with stray
//! spaces or with `\n` escapes from an environment variable. [`PrivateKey::parse`] and
//! [`PublicKey::parse`] take any of these, look at what the bytes really are (labels lie: several
//! SDKs wrap PKCS#8 in `RSA PRIVATE KEY` armour) and say precisely what is wrong otherwise,
//! including the classic swap of a public key where the private key belongs.

mod sha1;

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{self as sig, KeyPair as _, ParsedPublicKey};
use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use crate::der;

/// The signature algorithm named by Alipay's `sign_type` parameter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignType {
    /// `RSA2`: SHA256withRSA. Required for apps created since 2018, and the default.
    #[default]
    Rsa2,
    /// `RSA`: SHA1withRSA. Only for old apps that were set up with it.
    Rsa,
}

impl SignType {
    /// The wire name, `RSA2` or `RSA`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            SignType::Rsa2 => "RSA2",
            SignType::Rsa => "RSA",
        }
    }
}

impl fmt::Display for SignType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `sign_type` other than `RSA2` or `RSA`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported sign_type {0:?} (expected RSA2 or RSA)")]
pub struct UnknownSignType(pub String);

impl FromStr for SignType {
    type Err = UnknownSignType;

    fn from_str(s: &str) -> Result<SignType, UnknownSignType> {
        match s {
            "RSA2" => Ok(SignType::Rsa2),
            "RSA" => Ok(SignType::Rsa),
            other => Err(UnknownSignType(other.to_owned())),
        }
    }
}

/// What is wrong with a key. Messages never contain key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Nothing was given.
    #[error("the key is empty")]
    Empty,
    /// The text is neither PEM nor base64.
    #[error(
        "the key is not base64 (unexpected character at position {position}); paste the key as PEM or as the single base64 line Alipay's key tool prints"
    )]
    NotBase64 {
        /// Zero-based index of the first offending character, ignoring whitespace.
        position: usize,
    },
    /// A password-protected key.
    #[error("the key is encrypted with a password; export it unencrypted (openssl pkcs8 -nocrypt)")]
    Encrypted,
    /// A public key (or certificate) was given where the private key belongs.
    #[error(
        "this is a public key, but a private key belongs here; the app private key is the one that never leaves your server"
    )]
    PublicWherePrivateExpected,
    /// A private key was given where a public key belongs.
    #[error(
        "this is a private key, but a public key belongs here; for the Alipay public key copy \"支付宝公钥\" from the Alipay console, never your own key"
    )]
    PrivateWherePublicExpected,
    /// A key for another algorithm.
    #[error("this is an {0} key; Alipay RSA2/RSA signing needs an RSA key")]
    NotRsa(&'static str),
    /// The key is too short for Alipay.
    #[error("the RSA key is shorter than 2048 bits{}; Alipay requires RSA keys of at least 2048 bits for RSA2", .bits.map(|b| format!(" ({b} bits)")).unwrap_or_default())]
    TooShort {
        /// The key's size when it could be read.
        bits: Option<usize>,
    },
    /// The bytes decode but are not an RSA key in any form we know.
    #[error(
        "the data is not an RSA key in PKCS#1, PKCS#8, SubjectPublicKeyInfo or X.509 certificate form"
    )]
    Unrecognised,
    /// The key file could not be read.
    #[error("cannot read key file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The crypto library failed (for example while generating a key).
    #[error("the crypto library failed: {0}")]
    Crypto(&'static str),
}

/// A signature did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("signature does not verify")]
pub struct BadSignature;

/// Makes the signature for a content string.
///
/// [`PrivateKey`] implements it; implement it yourself to keep the app key in a KMS or an HSM.
/// It is synchronous on purpose: signing happens inside request building, which is synchronous,
/// and the pay-link hot path must not allocate a future per signature. A remote signer can block
/// (call it from `tokio::task::spawn_blocking` or `block_in_place`).
pub trait Signer: Send + Sync + fmt::Debug {
    /// Signs the UTF-8 bytes of `content` with RSASSA-PKCS1-v1_5 using the digest of `sign_type`.
    fn sign(&self, sign_type: SignType, content: &[u8]) -> Result<Vec<u8>, SignError>;
}

/// A signer could not sign.
#[derive(Debug, thiserror::Error)]
#[error("signing failed: {0}")]
pub struct SignError(pub String);

/// An RSA private key: the app private key (应用私钥), or the emulator's "Alipay" key.
pub struct PrivateKey {
    pair: KeyPair,
    legacy: sha1::Sha1Signer,
    public: PublicKey,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey(RSA-{}, ..)", self.bits())
    }
}

impl PrivateKey {
    /// Parses a private key in any accepted text form: PKCS#1 PEM, PKCS#8 PEM, or bare base64
    /// of either (wrapped or not, with stray whitespace or `\n` escapes).
    pub fn parse(text: &str) -> Result<PrivateKey, KeyError> {
        let der = decode_text(text)?;
        PrivateKey::from_der(&der)
    }

    /// Reads a private key from a file holding any accepted text form, or DER.
    pub fn from_file(path: impl AsRef<Path>) -> Result<PrivateKey, KeyError> {
        let der = read_key_file(path.as_ref())?;
        PrivateKey::from_der(&der)
    }

    /// Parses DER: PKCS#8 `PrivateKeyInfo` or PKCS#1 `RSAPrivateKey`.
    pub fn from_der(der: &[u8]) -> Result<PrivateKey, KeyError> {
        let pair = match KeyPair::from_pkcs8(der).or_else(|_| KeyPair::from_der(der)) {
            Ok(pair) => pair,
            Err(rejected) => return Err(classify_rejected_private(der, rejected)),
        };
        PrivateKey::from_pair(pair)
    }

    fn from_pair(pair: KeyPair) -> Result<PrivateKey, KeyError> {
        let pkcs8 = pair
            .as_der()
            .map_err(|_| KeyError::Crypto("cannot encode the private key"))?;
        let pkcs1 = der::pkcs8_to_pkcs1(pkcs8.as_ref()).ok_or(KeyError::Unrecognised)?;
        let legacy = sha1::Sha1Signer::from_pkcs1_der(&pkcs1).ok_or(KeyError::Unrecognised)?;
        let public = PublicKey::from_der(pair.public_key().as_ref())?;
        Ok(PrivateKey {
            pair,
            legacy,
            public,
        })
    }

    /// A fresh RSA-2048 key from the operating system's random source.
    pub fn generate() -> Result<PrivateKey, KeyError> {
        let pair = KeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| KeyError::Crypto("RSA key generation failed"))?;
        PrivateKey::from_pair(pair)
    }

    /// The matching public key.
    #[must_use]
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The modulus size in bits.
    #[must_use]
    pub fn bits(&self) -> usize {
        self.pair.public_modulus_len() * 8
    }

    /// Signs `content` (RSASSA-PKCS1-v1_5 with SHA-256 for RSA2, SHA-1 for RSA).
    pub fn sign_bytes(&self, sign_type: SignType, content: &[u8]) -> Vec<u8> {
        match sign_type {
            SignType::Rsa2 => {
                let mut signature = vec![0u8; self.pair.public_modulus_len()];
                self.pair
                    .sign(
                        &sig::RSA_PKCS1_SHA256,
                        &aws_lc_rs::rand::SystemRandom::new(),
                        content,
                        &mut signature,
                    )
                    .expect("signing with a validated RSA key and a correctly sized buffer");
                signature
            }
            SignType::Rsa => self
                .legacy
                .sign(content)
                .expect("SHA1withRSA signing with a validated RSA key"),
        }
    }

    /// PKCS#8 DER. Handle with care: this is the secret.
    #[must_use]
    pub fn to_pkcs8_der(&self) -> Vec<u8> {
        self.pair
            .as_der()
            .expect("a parsed key encodes")
            .as_ref()
            .to_vec()
    }

    /// PKCS#1 DER. Handle with care: this is the secret.
    #[must_use]
    pub fn to_pkcs1_der(&self) -> Vec<u8> {
        der::pkcs8_to_pkcs1(&self.to_pkcs8_der()).expect("aws-lc writes well-formed PKCS#8")
    }

    /// `-----BEGIN PRIVATE KEY-----` (PKCS#8), the form Java and the key tool's default use.
    #[must_use]
    pub fn to_pkcs8_pem(&self) -> String {
        pem("PRIVATE KEY", &self.to_pkcs8_der())
    }

    /// `-----BEGIN RSA PRIVATE KEY-----` (PKCS#1), the form the Node SDK and PHP use by default.
    #[must_use]
    pub fn to_pkcs1_pem(&self) -> String {
        pem("RSA PRIVATE KEY", &self.to_pkcs1_der())
    }

    /// PKCS#8 as one base64 line, as Alipay's key tool prints it ("JAVA适用").
    #[must_use]
    pub fn to_pkcs8_base64(&self) -> String {
        STANDARD.encode(self.to_pkcs8_der())
    }
}

impl Signer for PrivateKey {
    fn sign(&self, sign_type: SignType, content: &[u8]) -> Result<Vec<u8>, SignError> {
        Ok(self.sign_bytes(sign_type, content))
    }
}

impl<S: Signer + ?Sized> Signer for std::sync::Arc<S> {
    fn sign(&self, sign_type: SignType, content: &[u8]) -> Result<Vec<u8>, SignError> {
        (**self).sign(sign_type, content)
    }
}

impl FromStr for PrivateKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<PrivateKey, KeyError> {
        PrivateKey::parse(s)
    }
}

/// An RSA public key: the Alipay public key (支付宝公钥) that verifies what Alipay signs, or an app
/// public key.
#[derive(Clone)]
pub struct PublicKey {
    spki: Vec<u8>,
    bits: usize,
    sha256: std::sync::Arc<ParsedPublicKey>,
    sha1: std::sync::Arc<ParsedPublicKey>,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey(RSA-{}, {})", self.bits, self.fingerprint())
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &PublicKey) -> bool {
        self.spki == other.spki
    }
}

impl Eq for PublicKey {}

impl PublicKey {
    /// Parses a public key in any accepted text form: SubjectPublicKeyInfo PEM (`PUBLIC KEY`),
    /// PKCS#1 PEM (`RSA PUBLIC KEY`), an X.509 certificate (its key is used), or bare base64 of
    /// any of these.
    pub fn parse(text: &str) -> Result<PublicKey, KeyError> {
        let der = decode_text(text)?;
        PublicKey::from_der(&der)
    }

    /// Reads a public key from a file holding any accepted text form, or DER.
    pub fn from_file(path: impl AsRef<Path>) -> Result<PublicKey, KeyError> {
        let der = read_key_file(path.as_ref())?;
        PublicKey::from_der(&der)
    }

    /// Parses DER: SubjectPublicKeyInfo, PKCS#1 `RSAPublicKey`, or an X.509 certificate.
    pub fn from_der(der: &[u8]) -> Result<PublicKey, KeyError> {
        let der = certificate_spki(der).unwrap_or_else(|| der.to_vec());
        let Ok(key) = aws_lc_rs::rsa::PublicKey::from_der(&der) else {
            if let Some(algorithm) = der::non_rsa_algorithm(&der) {
                return Err(KeyError::NotRsa(algorithm));
            }
            if KeyPair::from_pkcs8(&der).is_ok() || KeyPair::from_der(&der).is_ok() {
                return Err(KeyError::PrivateWherePublicExpected);
            }
            if der::read(&der).is_some_and(|(tlv, _)| tlv.tag == der::SEQUENCE)
                && is_rsa_private_structure(&der)
            {
                return Err(KeyError::PrivateWherePublicExpected);
            }
            return Err(KeyError::Unrecognised);
        };
        let spki = key
            .as_der()
            .map_err(|_| KeyError::Crypto("cannot encode the public key"))?
            .as_ref()
            .to_vec();
        let bits = modulus_bits(&spki).ok_or(KeyError::Unrecognised)?;
        let sha1 = ParsedPublicKey::new(&sig::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY, &spki)
            .map_err(|_| KeyError::TooShort { bits: Some(bits) })?;
        // Keys below 2048 bits can still verify legacy `RSA` signatures; RSA2 refuses them when
        // verifying (see `verify`), which is where the sign type is known.
        let sha256 =
            ParsedPublicKey::new(&sig::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY, &spki)
                .map_err(|_| KeyError::TooShort { bits: Some(bits) })?;
        Ok(PublicKey {
            spki,
            bits,
            sha256: std::sync::Arc::new(sha256),
            sha1: std::sync::Arc::new(sha1),
        })
    }

    /// Verifies an RSASSA-PKCS1-v1_5 signature over `content`.
    ///
    /// RSA2 signatures are refused outright for keys shorter than 2048 bits.
    pub fn verify(
        &self,
        sign_type: SignType,
        content: &[u8],
        signature: &[u8],
    ) -> Result<(), BadSignature> {
        let key = match sign_type {
            SignType::Rsa2 if self.bits < 2048 => return Err(BadSignature),
            SignType::Rsa2 => &self.sha256,
            SignType::Rsa => &self.sha1,
        };
        key.verify_sig(content, signature).map_err(|_| BadSignature)
    }

    /// The modulus size in bits.
    #[must_use]
    pub fn bits(&self) -> usize {
        self.bits
    }

    /// SubjectPublicKeyInfo DER.
    #[must_use]
    pub fn to_spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// SubjectPublicKeyInfo as one base64 line: what Alipay's console shows and wants pasted.
    #[must_use]
    pub fn to_base64(&self) -> String {
        STANDARD.encode(&self.spki)
    }

    /// `-----BEGIN PUBLIC KEY-----` PEM.
    #[must_use]
    pub fn to_pem(&self) -> String {
        pem("PUBLIC KEY", &self.spki)
    }

    /// `-----BEGIN RSA PUBLIC KEY-----` PEM (PKCS#1).
    #[must_use]
    pub fn to_pkcs1_pem(&self) -> String {
        pem(
            "RSA PUBLIC KEY",
            &der::spki_to_pkcs1(&self.spki).expect("aws-lc writes well-formed SPKI"),
        )
    }

    /// A short, stable identifier for logs and messages: the first 8 bytes of SHA-256 of the SPKI.
    #[must_use]
    pub fn fingerprint(&self) -> String {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &self.spki);
        digest.as_ref()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<PublicKey, KeyError> {
        PublicKey::parse(s)
    }
}

/// A fresh RSA-2048 app key pair. See [`PrivateKey::to_pkcs8_base64`] and
/// [`PublicKey::to_base64`] for the forms Alipay's console wants.
pub fn generate() -> Result<PrivateKey, KeyError> {
    PrivateKey::generate()
}

const STANDARD: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Text (PEM or bare base64, however mangled) → DER.
fn decode_text(text: &str) -> Result<Vec<u8>, KeyError> {
    // Keys copied out of JSON or a .env file often carry literal `\n` instead of line breaks.
    let text = text.replace("\\n", "\n").replace("\\r", "");
    let text = text.trim().trim_matches(|c| c == '"' || c == '\'').trim();
    if text.is_empty() {
        return Err(KeyError::Empty);
    }
    let body: String = if let Some(begin) = text.find("-----BEGIN ") {
        let after = &text[begin + "-----BEGIN ".len()..];
        let label = after.split("-----").next().unwrap_or_default().trim();
        match label {
            "ENCRYPTED PRIVATE KEY" => return Err(KeyError::Encrypted),
            "EC PRIVATE KEY" => return Err(KeyError::NotRsa("EC")),
            "DSA PRIVATE KEY" => return Err(KeyError::NotRsa("DSA")),
            _ => {}
        }
        let mut body = String::new();
        let mut lines = after.lines().skip(1);
        for line in lines.by_ref() {
            let line = line.trim();
            if line.starts_with("-----END") {
                break;
            }
            if line.starts_with("Proc-Type:") && line.contains("ENCRYPTED") {
                return Err(KeyError::Encrypted);
            }
            // RFC 1421 headers such as `DEK-Info:` are not base64.
            if line.contains(':') {
                continue;
            }
            body.push_str(line);
        }
        body
    } else {
        text.to_owned()
    };
    let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.is_empty() {
        return Err(KeyError::Empty);
    }
    if let Some(position) = compact
        .chars()
        .position(|c| !(c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '='))
    {
        return Err(KeyError::NotBase64 { position });
    }
    STANDARD
        .decode(compact.as_bytes())
        .map_err(|e| KeyError::NotBase64 {
            position: match e {
                base64::DecodeError::InvalidByte(p, _)
                | base64::DecodeError::InvalidLastSymbol(p, _) => p,
                _ => compact.len(),
            },
        })
}

fn read_key_file(path: &Path) -> Result<Vec<u8>, KeyError> {
    let bytes = std::fs::read(path).map_err(|source| KeyError::Io {
        path: path.display().to_string(),
        source,
    })?;
    if bytes.first() == Some(&der::SEQUENCE) && der::read(&bytes).is_some() {
        return Ok(bytes);
    }
    match std::str::from_utf8(&bytes) {
        Ok(text) => decode_text(text),
        Err(_) => Err(KeyError::Unrecognised),
    }
}

/// Why aws-lc refused bytes as a private key, in words a merchant can act on.
fn classify_rejected_private(der: &[u8], rejected: aws_lc_rs::error::KeyRejected) -> KeyError {
    if let Some(algorithm) = der::non_rsa_algorithm(der) {
        return KeyError::NotRsa(algorithm);
    }
    if let Some(bits) = private_modulus_bits(der).filter(|&bits| bits < 2048) {
        return KeyError::TooShort { bits: Some(bits) };
    }
    if rejected.description_() == "TooSmall" {
        return KeyError::TooShort { bits: None };
    }
    if aws_lc_rs::rsa::PublicKey::from_der(der).is_ok() || certificate_spki(der).is_some() {
        return KeyError::PublicWherePrivateExpected;
    }
    KeyError::Unrecognised
}

/// A PKCS#1 `RSAPrivateKey` is SEQUENCE { version INTEGER, n INTEGER, e INTEGER, d INTEGER, ... }.
fn is_rsa_private_structure(der: &[u8]) -> bool {
    private_modulus_bits(der).is_some()
}

fn private_modulus_bits(der: &[u8]) -> Option<usize> {
    let (outer, _) = der::read(der)?;
    let fields = der::children(outer.value)?;
    // PKCS#8 wraps PKCS#1 in an OCTET STRING at index 2.
    if let Some(inner) = fields.get(2).filter(|f| f.tag == 0x04) {
        return private_modulus_bits(inner.value);
    }
    if fields.len() >= 9 && fields.iter().take(9).all(|f| f.tag == 0x02) {
        return Some(integer_bits(fields[1].value));
    }
    None
}

fn modulus_bits(spki: &[u8]) -> Option<usize> {
    let pkcs1 = der::spki_to_pkcs1(spki)?;
    let (outer, _) = der::read(&pkcs1)?;
    let fields = der::children(outer.value)?;
    Some(integer_bits(fields.first()?.value))
}

fn integer_bits(bytes: &[u8]) -> usize {
    let bytes = match bytes.iter().position(|&b| b != 0) {
        Some(start) => &bytes[start..],
        None => return 0,
    };
    bytes.len() * 8 - bytes[0].leading_zeros() as usize
}

/// If `der` is an X.509 certificate, its SubjectPublicKeyInfo (re-encoded with tag and length).
fn certificate_spki(der: &[u8]) -> Option<Vec<u8>> {
    let (cert, _) = der::read(der)?;
    let parts = der::children(cert.value)?;
    let tbs = parts.first().filter(|p| p.tag == der::SEQUENCE)?;
    if parts.len() != 3 {
        return None;
    }
    let fields = der::children(tbs.value)?;
    let offset = usize::from(fields.first()?.tag == 0xa0);
    let spki = fields.get(offset + 5).filter(|f| f.tag == der::SEQUENCE)?;
    Some(der::write(spki.tag, spki.value))
}

pub(crate) fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Base64 (standard alphabet, padded, one line) as Alipay writes `sign`.
#[must_use]
pub fn encode_signature(signature: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(signature)
}

/// Decodes a `sign` value; `None` when it is not base64.
#[must_use]
pub fn decode_signature(sign: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(sign.trim())
        .ok()
}

#[cfg(test)]
mod tests;
