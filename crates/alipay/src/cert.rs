//! Public-key certificate mode (公钥证书模式): certificate serial numbers as Alipay computes them.
//!
//! In certificate mode every request carries `app_cert_sn` and `alipay_root_cert_sn`, and
//! responses name the signing certificate in `alipay_cert_sn`. An "SN" is
//! `md5(issuer DN + decimal serial number)` in lower-case hex, where the issuer DN is the RFC 2253
//! string Java's `X500Principal.getName()` produces: RDNs in *reverse* DER order, `CN=…,OU=…`,
//! comma-joined without spaces. The root SN joins the SNs of the RSA-signed certificates of
//! Alipay's root bundle with `_` (the bundle also holds SM2 and ECDSA roots, which do not count).
//!
//! Alipay's `.crt` files use 76-character base64 lines and CRLF line ends, which strict RFC 7468
//! parsers refuse; the PEM reader used here accepts them.
//!
//! [`verify_chain`] checks that a certificate (a downloaded Alipay certificate, say) was issued,
//! through the intermediates of its own file, by one of the configured root certificates, with
//! signatures checked by aws-lc-rs and every certificate on the way within its validity dates.
//! Certificate mode itself (SNs on every request, verification keys by SN, rotation) is
//! [`crate::cert_mode`].

use md5::{Digest, Md5};
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::{FromDer, X509Name};

use crate::keys::PublicKey;

/// What is wrong with a certificate file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    /// No certificate in the input.
    #[error("no certificate found (expected PEM \"-----BEGIN CERTIFICATE-----\" blocks)")]
    Empty,
    /// A block is not a readable X.509 certificate.
    #[error("certificate {index} is not a valid X.509 certificate: {reason}")]
    Invalid {
        /// Zero-based position in the file.
        index: usize,
        /// The parser's complaint.
        reason: String,
    },
}

/// Why a certificate is not trusted (see [`verify_chain`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// There is no certificate to check.
    #[error("no certificate to check")]
    Empty,
    /// A certificate on the path has expired.
    #[error("certificate {subject} expired on {not_after}")]
    Expired {
        /// The certificate's subject.
        subject: String,
        /// Its last valid day (`yyyy-MM-dd HH:mm:ss`, Beijing time).
        not_after: String,
    },
    /// A certificate on the path is not valid yet.
    #[error("certificate {subject} is not valid before {not_before}")]
    NotYetValid {
        /// The certificate's subject.
        subject: String,
        /// Its first valid day (`yyyy-MM-dd HH:mm:ss`, Beijing time).
        not_before: String,
    },
    /// The issuer is neither in the chain nor among the trusted roots.
    #[error(
        "certificate {subject} is issued by {issuer}, which is neither in its file nor among the root certificates"
    )]
    UnknownIssuer {
        /// The certificate's subject.
        subject: String,
        /// Its issuer.
        issuer: String,
    },
    /// The issuer's key does not verify the certificate's signature.
    #[error("the signature of certificate {subject} does not verify with the key of {issuer}")]
    BadSignature {
        /// The certificate's subject.
        subject: String,
        /// The issuer whose key was tried.
        issuer: String,
    },
    /// The path goes round in circles or is absurdly long.
    #[error("the certificate chain of {0} is longer than 8 certificates")]
    TooLong(String),
}

/// One parsed certificate with the facts certificate mode needs.
#[derive(Clone, Debug)]
pub struct Certificate {
    der: Vec<u8>,
    sn: String,
    issuer: String,
    subject: String,
    serial: String,
    rsa_signed: bool,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Certificate) -> bool {
        self.der == other.der
    }
}

impl Eq for Certificate {}

impl Certificate {
    /// Parses one DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Certificate, CertError> {
        Certificate::parse(der, 0)
    }

    fn parse(der: &[u8], index: usize) -> Result<Certificate, CertError> {
        let invalid = |reason: String| CertError::Invalid { index, reason };
        let (_, cert) = X509Certificate::from_der(der).map_err(|e| invalid(e.to_string()))?;
        let issuer = rfc2253(cert.issuer()).map_err(invalid)?;
        let subject = rfc2253(cert.subject()).map_err(invalid)?;
        let serial = cert.tbs_certificate.serial.to_str_radix(10);
        let sn = hex(&Md5::digest(format!("{issuer}{serial}").as_bytes()));
        let rsa_signed = cert
            .signature_algorithm
            .algorithm
            .to_id_string()
            .starts_with("1.2.840.113549.1.1");
        let validity = cert.validity();
        Ok(Certificate {
            der: der.to_vec(),
            sn,
            issuer,
            subject,
            serial,
            rsa_signed,
            not_before: validity.not_before.to_datetime(),
            not_after: validity.not_after.to_datetime(),
        })
    }

    /// The serial number in decimal, as it enters the SN.
    #[must_use]
    pub fn serial(&self) -> &str {
        &self.serial
    }

    /// The first instant the certificate is valid.
    #[must_use]
    pub fn not_before(&self) -> OffsetDateTime {
        self.not_before
    }

    /// The last instant the certificate is valid.
    #[must_use]
    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }

    /// Whether issuer and subject are the same name (a root, or a self-signed certificate).
    #[must_use]
    pub fn is_self_issued(&self) -> bool {
        self.issuer == self.subject
    }

    /// Checks the validity dates at `at`.
    pub fn check_validity(&self, at: OffsetDateTime) -> Result<(), ChainError> {
        if at < self.not_before {
            return Err(ChainError::NotYetValid {
                subject: self.subject.clone(),
                not_before: crate::time::format(self.not_before),
            });
        }
        if at > self.not_after {
            return Err(ChainError::Expired {
                subject: self.subject.clone(),
                not_after: crate::time::format(self.not_after),
            });
        }
        Ok(())
    }

    /// Whether `issuer`'s key verifies this certificate's signature (names are not compared).
    /// Signature algorithms aws-lc-rs does not implement (SM2) never verify.
    #[must_use]
    pub fn is_signed_by(&self, issuer: &Certificate) -> bool {
        let (Ok((_, child)), Ok((_, parent))) = (
            X509Certificate::from_der(&self.der),
            X509Certificate::from_der(&issuer.der),
        ) else {
            return false;
        };
        child.verify_signature(Some(parent.public_key())).is_ok()
    }

    /// `-----BEGIN CERTIFICATE-----` PEM, 64-character lines.
    #[must_use]
    pub fn to_pem(&self) -> String {
        crate::keys::pem("CERTIFICATE", &self.der)
    }

    /// The certificate SN: `md5(issuer + serial)`, 32 lower-case hex digits.
    #[must_use]
    pub fn sn(&self) -> &str {
        &self.sn
    }

    /// The issuer as Java prints it (RFC 2253).
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The subject as Java prints it (RFC 2253).
    #[must_use]
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Whether the certificate is signed with an RSA algorithm (and so counts in a root SN).
    #[must_use]
    pub fn is_rsa_signed(&self) -> bool {
        self.rsa_signed
    }

    /// The DER encoding.
    #[must_use]
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The certified public key, when it is an RSA key.
    pub fn public_key(&self) -> Result<PublicKey, crate::KeyError> {
        PublicKey::from_der(&self.der)
    }
}

/// Reads every certificate of a PEM file (a chain or a bundle), in file order.
pub fn parse_pem(text: &[u8]) -> Result<Vec<Certificate>, CertError> {
    let mut certs = Vec::new();
    for (index, block) in x509_parser::pem::Pem::iter_from_buffer(text).enumerate() {
        let block = block.map_err(|e| CertError::Invalid {
            index,
            reason: e.to_string(),
        })?;
        certs.push(Certificate::parse(&block.contents, index)?);
    }
    if certs.is_empty() {
        return Err(CertError::Empty);
    }
    Ok(certs)
}

/// `app_cert_sn` / `alipay_cert_sn`: the SN of the first certificate of a PEM file (the leaf).
pub fn cert_sn(pem: &[u8]) -> Result<String, CertError> {
    Ok(parse_pem(pem)?.remove(0).sn)
}

/// `alipay_root_cert_sn`: the SNs of the bundle's RSA-signed certificates, joined with `_`.
pub fn root_cert_sn(pem: &[u8]) -> Result<String, CertError> {
    let sns: Vec<String> = parse_pem(pem)?
        .into_iter()
        .filter(Certificate::is_rsa_signed)
        .map(|c| c.sn)
        .collect();
    Ok(sns.join("_"))
}

/// Checks that `chain[0]` (the leaf) was issued by one of `roots`, through the other certificates
/// of `chain` (the intermediates an Alipay certificate file carries after its leaf), every
/// signature verifying and every certificate on the path valid at `at`.
///
/// This is how a downloaded Alipay certificate earns trust in certificate mode: the root bundle
/// is configured by the merchant, everything else must chain to it.
pub fn verify_chain(
    chain: &[Certificate],
    roots: &[Certificate],
    at: OffsetDateTime,
) -> Result<(), ChainError> {
    let mut current = chain.first().ok_or(ChainError::Empty)?;
    for _ in 0..8 {
        current.check_validity(at)?;
        if roots.contains(current) {
            return Ok(());
        }
        let candidates: Vec<&Certificate> = roots
            .iter()
            .chain(chain.iter())
            .filter(|c| c.subject == current.issuer && *c != current)
            .collect();
        if candidates.is_empty() {
            return Err(ChainError::UnknownIssuer {
                subject: current.subject.clone(),
                issuer: current.issuer.clone(),
            });
        }
        let Some(issuer) = candidates.into_iter().find(|c| current.is_signed_by(c)) else {
            return Err(ChainError::BadSignature {
                subject: current.subject.clone(),
                issuer: current.issuer.clone(),
            });
        };
        current = issuer;
    }
    Err(ChainError::TooLong(
        chain.first().map(|c| c.subject.clone()).unwrap_or_default(),
    ))
}

/// RFC 2253 string of a name as Java writes it: RDNs last to first, attributes by keyword.
fn rfc2253(name: &X509Name<'_>) -> Result<String, String> {
    let mut rdns = Vec::new();
    for rdn in name.iter() {
        let mut attributes = Vec::new();
        for attribute in rdn.iter() {
            let oid = attribute.attr_type().to_id_string();
            let keyword = match oid.as_str() {
                "2.5.4.3" => Some("CN"),
                "2.5.4.6" => Some("C"),
                "2.5.4.7" => Some("L"),
                "2.5.4.8" => Some("ST"),
                "2.5.4.9" => Some("STREET"),
                "2.5.4.10" => Some("O"),
                "2.5.4.11" => Some("OU"),
                "0.9.2342.19200300.100.1.1" => Some("UID"),
                "0.9.2342.19200300.100.1.25" => Some("DC"),
                _ => None,
            };
            let text = match (keyword, attribute.as_str()) {
                (Some(keyword), Ok(value)) => format!("{keyword}={}", escape(value)),
                // Java writes unknown attributes (and non-string values) as OID=#<hex of the DER>.
                _ => format!("{oid}=#{}", hex(attribute.attr_value().as_bytes())),
            };
            attributes.push(text);
        }
        rdns.push(attributes.join("+"));
    }
    rdns.reverse();
    Ok(rdns.join(","))
}

/// RFC 2253 §2.4 escaping.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2253_escaping() {
        assert_eq!(escape("a,b+c"), "a\\,b\\+c");
        assert_eq!(escape(" lead"), "\\ lead");
        assert_eq!(escape("#x"), "\\#x");
        assert_eq!(
            escape("支付宝(中国)网络技术有限公司"),
            "支付宝(中国)网络技术有限公司"
        );
    }

    #[test]
    fn refuses_what_is_not_a_certificate() {
        assert_eq!(parse_pem(b"hello").unwrap_err(), CertError::Empty);
    }
}
