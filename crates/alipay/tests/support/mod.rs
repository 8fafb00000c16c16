//! Test certificate authorities made with rcgen (aws-lc-rs): roots, intermediates and leaves in
//! Alipay's shapes, so certificate mode is tested on chains the tests control.

#![allow(dead_code)] // Each test crate uses a part.

use alipay::PrivateKey;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SerialNumber,
};
use time::OffsetDateTime;

/// A certificate with the key that signs what it issues.
pub struct Ca {
    pub key: KeyPair,
    pub params: CertificateParams,
    pub pem: String,
}

impl Ca {
    pub fn issuer(&self) -> Issuer<'_, &KeyPair> {
        Issuer::from_params(&self.params, &self.key)
    }
}

/// `C`, `O`, `OU`, `CN` in this order in the DER (Java prints them reversed).
pub fn name(c: &str, o: &str, ou: &str, cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, c);
    dn.push(DnType::OrganizationName, o);
    dn.push(DnType::OrganizationalUnitName, ou);
    dn.push(DnType::CommonName, cn);
    dn
}

pub fn rsa_key_pair() -> KeyPair {
    let key = PrivateKey::generate().unwrap();
    KeyPair::try_from(key.to_pkcs8_der().as_slice()).unwrap()
}

pub fn key_pair_of(key: &PrivateKey) -> KeyPair {
    KeyPair::try_from(key.to_pkcs8_der().as_slice()).unwrap()
}

fn ca_params(dn: DistinguishedName, serial: &[u8]) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = dn;
    params.serial_number = Some(SerialNumber::from_slice(serial));
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = OffsetDateTime::now_utc() - time::Duration::days(365);
    params.not_after = OffsetDateTime::now_utc() + time::Duration::days(3650);
    params
}

/// A self-signed RSA (sha256WithRSA) root.
pub fn rsa_root(dn: DistinguishedName, serial: &[u8]) -> Ca {
    let key = rsa_key_pair();
    let params = ca_params(dn, serial);
    let pem = params.self_signed(&key).unwrap().pem();
    Ca { key, params, pem }
}

/// A self-signed ECDSA P-256 root, like the `…E1` root in Alipay's bundle: it does not count in
/// `alipay_root_cert_sn`.
pub fn ecdsa_root(dn: DistinguishedName) -> Ca {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let params = ca_params(dn, &[0x42]);
    let pem = params.self_signed(&key).unwrap().pem();
    Ca { key, params, pem }
}

/// An RSA intermediate issued by `issuer`.
pub fn intermediate(dn: DistinguishedName, serial: &[u8], issuer: &Ca) -> Ca {
    let key = rsa_key_pair();
    let params = ca_params(dn, serial);
    let pem = params.signed_by(&key, &issuer.issuer()).unwrap().pem();
    Ca { key, params, pem }
}

/// A leaf for `key`, valid between the two instants.
pub fn leaf_between(
    key: &PrivateKey,
    dn: DistinguishedName,
    serial: &[u8],
    issuer: &Ca,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> String {
    let mut params = CertificateParams::default();
    params.distinguished_name = dn;
    params.serial_number = Some(SerialNumber::from_slice(serial));
    params.not_before = not_before;
    params.not_after = not_after;
    params
        .signed_by(&key_pair_of(key), &issuer.issuer())
        .unwrap()
        .pem()
}

/// A leaf for `key`, valid from a year ago for two years.
pub fn leaf(key: &PrivateKey, dn: DistinguishedName, serial: &[u8], issuer: &Ca) -> String {
    let now = OffsetDateTime::now_utc();
    leaf_between(
        key,
        dn,
        serial,
        issuer,
        now - time::Duration::days(365),
        now + time::Duration::days(365),
    )
}

/// Alipay's layout: a root bundle (RSA root + ECDSA root), an intermediate, an Alipay leaf
/// (leaf then intermediate in its file) and an app leaf.
pub struct AlipayPki {
    pub root: Ca,
    pub ecdsa_root: Ca,
    pub class2: Ca,
    pub alipay_key: PrivateKey,
    pub app_key: PrivateKey,
    /// `alipayCertPublicKey_RSA2.crt`: leaf + intermediate.
    pub alipay_cert: String,
    /// `appCertPublicKey_<app_id>.crt`.
    pub app_cert: String,
    /// `alipayRootCert.crt`: RSA root, ECDSA root.
    pub root_bundle: String,
}

pub fn alipay_pki() -> AlipayPki {
    let root = rsa_root(
        name("CN", "Test Ant", "Certification Authority", "Test Root R1"),
        &[0x01, 0x23, 0x45],
    );
    let ecdsa_root = ecdsa_root(name(
        "CN",
        "Test Ant",
        "Certification Authority",
        "Test Root E1",
    ));
    let class2 = intermediate(
        name(
            "CN",
            "Test Ant",
            "Certification Authority",
            "Test Class 2 R1",
        ),
        &[0x7f, 0x01],
        &root,
    );
    let alipay_key = PrivateKey::generate().unwrap();
    let app_key = PrivateKey::generate().unwrap();
    let alipay_leaf = leaf(
        &alipay_key,
        name(
            "CN",
            "Alipay",
            "Alipay",
            "支付宝(中国)网络技术有限公司-2088000000000000",
        ),
        &[0x10, 0x00, 0x01],
        &class2,
    );
    let app_cert = leaf(
        &app_key,
        name(
            "CN",
            "shop@example.com",
            "Alipay",
            "2088000000000000-2021000000000001",
        ),
        &[0x20, 0x00, 0x02],
        &class2,
    );
    AlipayPki {
        alipay_cert: format!("{alipay_leaf}{}", class2.pem),
        root_bundle: format!("{}\r\n{}", root.pem.replace('\n', "\r\n"), ecdsa_root.pem),
        root,
        ecdsa_root,
        class2,
        alipay_key,
        app_key,
        app_cert,
    }
}
