//! Just enough DER to move RSA keys between the containers people paste.
//!
//! `aws-lc-rs` parses every form we accept, but it only *writes* PKCS#8 private keys and X.509
//! SubjectPublicKeyInfo. Alipay's console and the Node SDK want PKCS#1 as well, and both PKCS#1
//! forms are a single field inside the PKCS#8/SPKI wrapper, so unwrapping is a few lines of
//! tag-length-value walking rather than a dependency.

/// One tag-length-value element.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    pub tag: u8,
    pub value: &'a [u8],
}

/// Reads one element from the front of `input`, returning it and the rest.
pub(crate) fn read(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (bytes, after) = rest.split_at(count);
        rest = after;
        bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
    };
    if rest.len() < len {
        return None;
    }
    let (value, rest) = rest.split_at(len);
    Some((Tlv { tag, value }, rest))
}

/// Reads the elements of a SEQUENCE's body in order.
pub(crate) fn children(mut body: &[u8]) -> Option<Vec<Tlv<'_>>> {
    let mut out = Vec::new();
    while !body.is_empty() {
        let (tlv, rest) = read(body)?;
        out.push(tlv);
        body = rest;
    }
    Some(out)
}

/// Writes one element.
pub(crate) fn write(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = value.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(value);
    out
}

pub(crate) const SEQUENCE: u8 = 0x30;
const OCTET_STRING: u8 = 0x04;
const BIT_STRING: u8 = 0x03;

/// `PrivateKeyInfo` (PKCS#8) → the `RSAPrivateKey` (PKCS#1) inside it.
pub(crate) fn pkcs8_to_pkcs1(pkcs8: &[u8]) -> Option<Vec<u8>> {
    let (outer, _) = read(pkcs8)?;
    let fields = children(outer.value)?;
    let key = fields.get(2).filter(|f| f.tag == OCTET_STRING)?;
    Some(key.value.to_vec())
}

/// `SubjectPublicKeyInfo` → the `RSAPublicKey` (PKCS#1) inside its BIT STRING.
pub(crate) fn spki_to_pkcs1(spki: &[u8]) -> Option<Vec<u8>> {
    let (outer, _) = read(spki)?;
    let fields = children(outer.value)?;
    let bits = fields.get(1).filter(|f| f.tag == BIT_STRING)?;
    let (&unused, key) = bits.value.split_first()?;
    (unused == 0).then(|| key.to_vec())
}

/// Object identifiers of key types that are not RSA, as DER bytes (tag and length included), with
/// a name for error messages.
const NON_RSA_ALGORITHMS: &[(&[u8], &str)] = &[
    (
        &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01],
        "EC",
    ),
    (
        &[0x06, 0x08, 0x2a, 0x81, 0x1c, 0xcf, 0x55, 0x01, 0x82, 0x2d],
        "SM2",
    ),
    (&[0x06, 0x03, 0x2b, 0x65, 0x70], "Ed25519"),
    (&[0x06, 0x03, 0x2b, 0x65, 0x71], "Ed448"),
    (
        &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01],
        "DSA",
    ),
];

/// If the key's algorithm identifier names a non-RSA algorithm, which one.
pub(crate) fn non_rsa_algorithm(der: &[u8]) -> Option<&'static str> {
    // The algorithm identifier sits in the first ~30 bytes of a PKCS#8 or SPKI structure; looking
    // only there avoids matching the same bytes by chance inside key material.
    let head = &der[..der.len().min(40)];
    NON_RSA_ALGORITHMS
        .iter()
        .find(|(oid, _)| head.windows(oid.len()).any(|w| w == *oid))
        .map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip() {
        for len in [0usize, 1, 127, 128, 255, 256, 1190, 70_000] {
            let value = vec![7u8; len];
            let encoded = write(OCTET_STRING, &value);
            let (tlv, rest) = read(&encoded).unwrap();
            assert_eq!(tlv.tag, OCTET_STRING);
            assert_eq!(tlv.value.len(), len);
            assert!(rest.is_empty());
        }
    }

    #[test]
    fn truncated_input_is_refused() {
        assert!(read(&[0x30]).is_none());
        assert!(read(&[0x30, 0x05, 0x00]).is_none());
        assert!(read(&[0x30, 0x85, 0, 0, 0, 0, 1]).is_none());
    }
}
