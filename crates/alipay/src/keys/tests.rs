use super::*;

macro_rules! key {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/keys/",
            $name
        ))
    };
}
macro_rules! key_bytes {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/keys/",
            $name
        ))
    };
}

fn app_public() -> PublicKey {
    PublicKey::parse(key!("app_public_spki.pem")).unwrap()
}

#[test]
fn every_private_form_gives_the_same_key() {
    let forms = [
        key!("app_private_pkcs1.pem"),
        key!("app_private_pkcs8.pem"),
        key!("app_private_pkcs1.b64"),
        key!("app_private_pkcs8.b64"),
    ];
    for form in forms {
        let key = PrivateKey::parse(form).unwrap();
        assert_eq!(key.public_key(), &app_public());
        assert_eq!(key.bits(), 2048);
    }
    for der in [
        &key_bytes!("app_private_pkcs1.der")[..],
        &key_bytes!("app_private_pkcs8.der")[..],
    ] {
        assert_eq!(
            PrivateKey::from_der(der).unwrap().public_key(),
            &app_public()
        );
    }
}

#[test]
fn every_public_form_gives_the_same_key() {
    for form in [
        key!("app_public_spki.pem"),
        key!("app_public_pkcs1.pem"),
        key!("app_public_spki.b64"),
        key!("app_public_pkcs1.b64"),
        key!("odd/app_self_signed_cert.pem"),
    ] {
        assert_eq!(PublicKey::parse(form).unwrap(), app_public(), "{form}");
    }
}

#[test]
fn mangled_text_still_parses() {
    let b64 = key!("app_private_pkcs8.b64").trim();
    // Wrapped at 76 like Java's MIME encoder, with stray spaces and CRLF.
    let wrapped: String = b64
        .as_bytes()
        .chunks(76)
        .map(|c| format!("  {}\r\n", std::str::from_utf8(c).unwrap()))
        .collect();
    assert_eq!(
        PrivateKey::parse(&wrapped).unwrap().public_key(),
        &app_public()
    );
    // A PEM pasted into an environment variable with literal \n.
    let escaped = key!("app_private_pkcs1.pem").replace('\n', "\\n");
    assert_eq!(
        PrivateKey::parse(&escaped).unwrap().public_key(),
        &app_public()
    );
    // PKCS#8 body in PKCS#1 armour, as gopay and yansongda write it.
    let mislabelled = key!("app_private_pkcs8.pem").replace("PRIVATE KEY", "RSA PRIVATE KEY");
    assert_eq!(
        PrivateKey::parse(&mislabelled).unwrap().public_key(),
        &app_public()
    );
    // Quoted, as in a TOML or JSON value copied whole.
    let quoted = format!("\"{}\"", key!("app_public_spki.b64").trim());
    assert_eq!(PublicKey::parse(&quoted).unwrap(), app_public());
}

#[test]
fn a_public_key_where_the_private_key_belongs_is_named() {
    for form in [
        key!("app_public_spki.pem"),
        key!("app_public_pkcs1.b64"),
        key!("alipay_public_spki.b64"),
        key!("odd/app_self_signed_cert.pem"),
    ] {
        let err = PrivateKey::parse(form).unwrap_err();
        assert!(
            matches!(err, KeyError::PublicWherePrivateExpected),
            "{err:?}"
        );
        assert!(err.to_string().contains("public key"));
    }
}

#[test]
fn a_private_key_where_the_public_key_belongs_is_named() {
    for form in [key!("app_private_pkcs8.pem"), key!("app_private_pkcs1.b64")] {
        let err = PublicKey::parse(form).unwrap_err();
        assert!(
            matches!(err, KeyError::PrivateWherePublicExpected),
            "{err:?}"
        );
    }
}

#[test]
fn garbage_is_not_base64() {
    let err = PrivateKey::parse("MIIEvQIBADAN!!notbase64").unwrap_err();
    assert!(
        matches!(err, KeyError::NotBase64 { position: 12 }),
        "{err:?}"
    );
    assert!(matches!(
        PrivateKey::parse("   \n").unwrap_err(),
        KeyError::Empty
    ));
    assert!(matches!(
        PublicKey::parse("aGVsbG8gd29ybGQ=").unwrap_err(),
        KeyError::Unrecognised
    ));
}

#[test]
fn non_rsa_keys_are_refused_by_name() {
    for (form, name) in [
        (key!("odd/ec_private_pkcs8.pem"), "EC"),
        (key!("odd/ec_private_sec1.pem"), "EC"),
        (key!("odd/ed25519_private.pem"), "Ed25519"),
    ] {
        match PrivateKey::parse(form).unwrap_err() {
            KeyError::NotRsa(got) => assert_eq!(got, name),
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(
        PublicKey::parse(key!("odd/ec_public.pem")).unwrap_err(),
        KeyError::NotRsa("EC")
    ));
}

#[test]
fn short_and_encrypted_keys_are_refused() {
    let err = PrivateKey::parse(key!("odd/rsa1024_private_pkcs8.pem")).unwrap_err();
    assert!(
        matches!(err, KeyError::TooShort { bits: Some(1024) }),
        "{err:?}"
    );
    assert!(err.to_string().contains("2048"));
    assert!(matches!(
        PrivateKey::parse(key!("odd/app_private_encrypted.pem")).unwrap_err(),
        KeyError::Encrypted
    ));
    // A 1024-bit public key loads (old RSA apps) but never verifies an RSA2 signature.
    let short = PublicKey::parse(key!("odd/rsa1024_public.pem")).unwrap();
    assert_eq!(short.bits(), 1024);
    assert_eq!(
        short.verify(SignType::Rsa2, b"x", &[0; 128]),
        Err(BadSignature)
    );
}

#[test]
fn sign_and_verify_both_sign_types() {
    let key = PrivateKey::parse(key!("app_private_pkcs1.pem")).unwrap();
    for sign_type in [SignType::Rsa2, SignType::Rsa] {
        let signature = key.sign_bytes(sign_type, "内容 content".as_bytes());
        assert_eq!(signature.len(), 256);
        assert!(
            app_public()
                .verify(sign_type, "内容 content".as_bytes(), &signature)
                .is_ok()
        );
        assert!(
            app_public()
                .verify(sign_type, b"other", &signature)
                .is_err()
        );
        let other = if sign_type == SignType::Rsa2 {
            SignType::Rsa
        } else {
            SignType::Rsa2
        };
        assert!(
            app_public()
                .verify(other, "内容 content".as_bytes(), &signature)
                .is_err()
        );
    }
    let rogue = PublicKey::parse(key!("rogue_public_spki.pem")).unwrap();
    let signature = key.sign_bytes(SignType::Rsa2, b"x");
    assert!(rogue.verify(SignType::Rsa2, b"x", &signature).is_err());
}

#[test]
fn sha1_signature_matches_openssl() {
    // `printf 'abc' | openssl dgst -sha1 -sign app_private_pkcs1.pem | base64 -w0`
    let key = PrivateKey::parse(key!("app_private_pkcs1.pem")).unwrap();
    let expected = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/keys/odd/abc.sha1.sig.b64"
    ));
    assert_eq!(
        encode_signature(&key.sign_bytes(SignType::Rsa, b"abc")),
        expected.trim()
    );
}

#[test]
fn generated_keys_export_in_every_form() {
    let key = generate().unwrap();
    assert_eq!(key.bits(), 2048);
    for form in [
        key.to_pkcs8_pem(),
        key.to_pkcs1_pem(),
        key.to_pkcs8_base64(),
    ] {
        assert_eq!(
            PrivateKey::parse(&form).unwrap().public_key(),
            key.public_key()
        );
    }
    let public = key.public_key();
    assert!(!public.to_base64().contains('\n'));
    for form in [public.to_pem(), public.to_pkcs1_pem(), public.to_base64()] {
        assert_eq!(&PublicKey::parse(&form).unwrap(), public);
    }
    assert!(
        key.to_pkcs1_pem()
            .starts_with("-----BEGIN RSA PRIVATE KEY-----\n")
    );
    // Nothing secret in Debug.
    assert_eq!(format!("{key:?}"), "PrivateKey(RSA-2048, ..)");
}

#[test]
fn sign_type_names() {
    assert_eq!("RSA2".parse(), Ok(SignType::Rsa2));
    assert_eq!("RSA".parse(), Ok(SignType::Rsa));
    assert!("rsa2".parse::<SignType>().is_err());
    assert_eq!(SignType::Rsa2.to_string(), "RSA2");
}
