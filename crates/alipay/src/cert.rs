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

use md5::{Digest, Md5};
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

/// One parsed certificate with the facts certificate mode needs.
#[derive(Clone, Debug)]
pub struct Certificate {
    der: Vec<u8>,
    sn: String,
    issuer: String,
    subject: String,
    rsa_signed: bool,
}

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
        Ok(Certificate {
            der: der.to_vec(),
            sn,
            issuer,
            subject,
            rsa_signed,
        })
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
