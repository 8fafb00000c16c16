//! Certificate SNs and chains on certificates the tests make (rcgen), checked against an
//! independent computation of Alipay's rule, plus the real files Alipay published.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

mod support;

use std::path::PathBuf;

use alipay::PrivateKey;
use alipay::cert::{self, ChainError};
use alipay::cert_mode::{CertMode, CertModeError};
use md5::{Digest, Md5};
use support::{alipay_pki, ecdsa_root, intermediate, leaf, leaf_between, name, rsa_root};
use time::OffsetDateTime;

/// Alipay's rule written out by hand: md5(issuer in RFC 2253 order + decimal serial).
fn expected_sn(issuer_rfc2253: &str, serial: &[u8]) -> String {
    let decimal = serial.iter().fold(0u128, |n, b| n * 256 + u128::from(*b));
    Md5::digest(format!("{issuer_rfc2253}{decimal}").as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn real(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/real")
        .join(name)
}

#[test]
fn sns_of_generated_chains_follow_alipays_rule() {
    let root = rsa_root(
        name("CN", "Test Ant", "Certification Authority", "Test Root R1"),
        &[0x01, 0x23, 0x45],
    );
    // A name that needs RFC 2253 escaping, and a serial with its high bit set (DER adds a 0x00).
    let class2 = intermediate(
        name("CN", "Ant, Financial+Test", "CA \"2\"", "Class 2; R1"),
        &[0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, 0x88],
        &root,
    );
    let key = PrivateKey::generate().unwrap();
    let leaf_pem = leaf(
        &key,
        name(
            "CN",
            "shop@example.com",
            "Alipay",
            "2088000000000000-2021000000000001",
        ),
        &[0x20, 0x00, 0x02],
        &class2,
    );
    let file = format!("{leaf_pem}{}", class2.pem);

    // The leaf's SN names the intermediate as issuer, reversed and escaped as Java prints it.
    assert_eq!(
        cert::cert_sn(file.as_bytes()).unwrap(),
        expected_sn(
            r#"CN=Class 2\; R1,OU=CA \"2\",O=Ant\, Financial\+Test,C=CN"#,
            &[0x20, 0x00, 0x02]
        )
    );
    let chain = cert::parse_pem(file.as_bytes()).unwrap();
    assert_eq!(chain[0].serial(), "2097154");
    assert_eq!(
        chain[1].sn(),
        expected_sn(
            "CN=Test Root R1,OU=Certification Authority,O=Test Ant,C=CN",
            &[0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, 0x88]
        )
    );
    assert_eq!(chain[1].serial(), "18441921395520346504");
    assert_eq!(
        chain[0].subject(),
        "CN=2088000000000000-2021000000000001,OU=Alipay,O=shop@example.com,C=CN"
    );
    assert_eq!(chain[0].public_key().unwrap(), *key.public_key());
}

#[test]
fn root_sns_count_rsa_roots_only_in_file_order() {
    let r1 = rsa_root(name("CN", "Test", "CA", "Root One"), &[0x05]);
    let e1 = ecdsa_root(name("CN", "Test", "CA", "Root E1"));
    let r2 = rsa_root(name("CN", "Test", "CA", "Root Two"), &[0x01, 0x00]);
    let bundle = format!(
        "{}\r\n\r\n{}\r\n{}",
        r1.pem.replace('\n', "\r\n"),
        e1.pem,
        r2.pem
    );
    let sn1 = expected_sn("CN=Root One,OU=CA,O=Test,C=CN", &[0x05]);
    let sn2 = expected_sn("CN=Root Two,OU=CA,O=Test,C=CN", &[0x01, 0x00]);
    assert_eq!(
        cert::root_cert_sn(bundle.as_bytes()).unwrap(),
        format!("{sn1}_{sn2}")
    );
    let reversed = format!("{}{}{}", r2.pem, e1.pem, r1.pem);
    assert_eq!(
        cert::root_cert_sn(reversed.as_bytes()).unwrap(),
        format!("{sn2}_{sn1}")
    );
    let certs = cert::parse_pem(bundle.as_bytes()).unwrap();
    assert_eq!(certs.len(), 3);
    assert!(!certs[1].is_rsa_signed());
    // A bundle with no RSA root cannot make alipay_root_cert_sn.
    let pki = alipay_pki();
    let error = CertMode::from_pem(
        pki.app_cert.as_bytes(),
        pki.alipay_cert.as_bytes(),
        e1.pem.as_bytes(),
    )
    .unwrap_err();
    assert!(matches!(error, CertModeError::NoRsaRoot), "{error}");
}

#[test]
fn chains_verify_up_to_the_roots_and_say_why_not() {
    let pki = alipay_pki();
    let roots = cert::parse_pem(pki.root_bundle.as_bytes()).unwrap();
    let chain = cert::parse_pem(pki.alipay_cert.as_bytes()).unwrap();
    let now = OffsetDateTime::now_utc();
    assert_eq!(cert::verify_chain(&chain, &roots, now), Ok(()));
    // A root trusts itself.
    assert_eq!(cert::verify_chain(&roots[..1], &roots, now), Ok(()));

    // Without its intermediate the leaf's issuer is unknown.
    assert_eq!(
        cert::verify_chain(&chain[..1], &roots, now),
        Err(ChainError::UnknownIssuer {
            subject: chain[0].subject().to_owned(),
            issuer: "CN=Test Class 2 R1,OU=Certification Authority,O=Test Ant,C=CN".into(),
        })
    );

    // An impostor root with the same name but another key.
    let impostor = rsa_root(
        name("CN", "Test Ant", "Certification Authority", "Test Root R1"),
        &[0x01, 0x23, 0x45],
    );
    let impostor_roots = cert::parse_pem(impostor.pem.as_bytes()).unwrap();
    assert!(matches!(
        cert::verify_chain(&chain, &impostor_roots, now),
        Err(ChainError::BadSignature { .. })
    ));

    // Validity dates, on the leaf and on the way up.
    let expired = leaf_between(
        &pki.alipay_key,
        name("CN", "Alipay", "Alipay", "expired"),
        &[0x09],
        &pki.class2,
        now - time::Duration::days(400),
        now - time::Duration::days(1),
    );
    let expired = cert::parse_pem(format!("{expired}{}", pki.class2.pem).as_bytes()).unwrap();
    assert!(matches!(
        cert::verify_chain(&expired, &roots, now),
        Err(ChainError::Expired { .. })
    ));
    assert_eq!(
        cert::verify_chain(&expired, &roots, now - time::Duration::days(10)),
        Ok(())
    );
    let future = leaf_between(
        &pki.alipay_key,
        name("CN", "Alipay", "Alipay", "future"),
        &[0x0a],
        &pki.class2,
        now + time::Duration::days(1),
        now + time::Duration::days(400),
    );
    let future = cert::parse_pem(format!("{future}{}", pki.class2.pem).as_bytes()).unwrap();
    let error = cert::verify_chain(&future, &roots, now).unwrap_err();
    assert!(matches!(error, ChainError::NotYetValid { .. }));
    assert!(error.to_string().contains("is not valid before"), "{error}");
    assert!(cert::verify_chain(&[], &roots, now).is_err());
}

#[test]
fn the_real_sandbox_chain_verifies_its_leaf_but_not_against_the_production_roots() {
    let chain = cert::parse_pem(
        &std::fs::read(real("alipay_sandbox_public_cert_from_yansongda.crt")).unwrap(),
    )
    .unwrap();
    assert!(chain[0].is_signed_by(&chain[1]));
    assert!(!chain[1].is_signed_by(&chain[0]));
    let roots =
        cert::parse_pem(&std::fs::read(real("alipay_root_cert_prod_bundle.crt")).unwrap()).unwrap();
    // The sandbox's intermediate comes from the "R1 test" root, not in the production bundle.
    let at = chain[0].not_before() + time::Duration::days(1);
    match cert::verify_chain(&chain, &roots, at) {
        Err(ChainError::UnknownIssuer { issuer, .. }) => {
            assert!(
                issuer.contains("Ant Financial Certification Authority R1 test"),
                "{issuer}"
            );
        }
        other => panic!("{other:?}"),
    }
    // The production roots are self-signed; the SM2 one cannot be checked by aws-lc-rs and so is
    // never a trust anchor by signature, only by being in the bundle.
    let rsa_root = roots.iter().find(|c| c.is_rsa_signed()).unwrap();
    assert!(rsa_root.is_self_issued() && rsa_root.is_signed_by(rsa_root));
}

#[test]
fn cert_mode_reads_the_three_files_and_trusts_only_chained_downloads() {
    let pki = alipay_pki();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let certs = CertMode::from_files(
        write("app.crt", &pki.app_cert),
        write("alipay.crt", &pki.alipay_cert),
        write("root.crt", &pki.root_bundle),
    )
    .unwrap();
    assert_eq!(
        certs.app_cert_sn(),
        cert::cert_sn(pki.app_cert.as_bytes()).unwrap()
    );
    assert_eq!(
        certs.alipay_root_cert_sn(),
        cert::cert_sn(pki.root.pem.as_bytes()).unwrap(),
        "only the RSA root counts"
    );
    let first_sn = cert::cert_sn(pki.alipay_cert.as_bytes()).unwrap();
    assert_eq!(certs.alipay_cert_sn(), first_sn);
    assert_eq!(certs.alipay_public_key(), *pki.alipay_key.public_key());

    // A renewed Alipay certificate with a new key, from the same intermediate: trusted.
    let new_key = PrivateKey::generate().unwrap();
    let renewed = format!(
        "{}{}",
        leaf(
            &new_key,
            name("CN", "Alipay", "Alipay", "renewed"),
            &[0x11],
            &pki.class2
        ),
        pki.class2.pem
    );
    let trusted = certs
        .check_alipay_cert(renewed.as_bytes(), OffsetDateTime::now_utc())
        .unwrap();
    let new_sn = trusted.sn().to_owned();
    certs.add_alipay_cert(trusted);
    assert_eq!(certs.alipay_cert_sn(), new_sn);
    assert_eq!(
        certs.alipay_public_key_for(&first_sn).unwrap(),
        *pki.alipay_key.public_key()
    );
    assert_eq!(certs.alipay_public_keys()[0], *new_key.public_key());
    assert_eq!(certs.known_alipay_cert_sns().len(), 2);

    // One from another authority: refused.
    let other_root = rsa_root(name("CN", "Evil", "CA", "Evil Root"), &[0x01]);
    let forged = leaf(
        &new_key,
        name("CN", "Alipay", "Alipay", "forged"),
        &[0x12],
        &other_root,
    );
    let error = certs
        .check_alipay_cert(forged.as_bytes(), OffsetDateTime::now_utc())
        .unwrap_err();
    assert!(matches!(error, CertModeError::Untrusted { .. }), "{error}");
    assert!(error.to_string().contains("Evil Root"), "{error}");

    // A file that is not a certificate names the file.
    let error = CertMode::from_pem(
        b"nope",
        pki.alipay_cert.as_bytes(),
        pki.root_bundle.as_bytes(),
    )
    .unwrap_err();
    assert!(error.to_string().starts_with("app certificate"), "{error}");
    let error = CertMode::from_files(dir.path().join("missing.crt"), "x", "y").unwrap_err();
    assert!(error.to_string().contains("missing.crt"), "{error}");
}
