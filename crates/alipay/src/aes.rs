//! AES content encryption (接口内容加密): with an AES key set in Alipay's console, requests carry
//! `encrypt_type=AES` and a `biz_content` that is the base64 of its JSON text encrypted with
//! AES-CBC, PKCS#7 padding and an all-zero IV (what every Alipay SDK does, so the ciphertext of a
//! given text is always the same); the response node is then a JSON string of the same form.
//!
//! The order matters and is easy to get wrong: a request is encrypted first and signed over the
//! ciphertext; a response is verified over the node's text (quotes included) first and
//! decrypted after.

use std::fmt;

use aws_lc_rs::cipher::{
    AES_128, AES_192, AES_256, DecryptionContext, EncryptionContext, PaddedBlockDecryptingKey,
    PaddedBlockEncryptingKey, UnboundCipherKey,
};
use aws_lc_rs::iv::FixedLength;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Why an AES key or ciphertext was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AesError {
    /// The key is not base64 of 16, 24 or 32 bytes.
    #[error(
        "the AES key must be the base64 text Alipay's console shows (16, 24 or 32 bytes), got {0}"
    )]
    Key(String),
    /// The ciphertext is not base64, or does not decrypt with this key.
    #[error("the content does not decrypt with this AES key")]
    Decrypt,
    /// The decrypted bytes are not UTF-8 text.
    #[error("the decrypted content is not UTF-8")]
    NotText,
}

/// An app's AES content-encryption key (接口内容加密密钥). Its `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct AesKey {
    bytes: Vec<u8>,
}

impl fmt::Debug for AesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AesKey(AES-{}, redacted)", self.bytes.len() * 8)
    }
}

const ZERO_IV: [u8; 16] = [0; 16];

impl AesKey {
    /// The key as Alipay's console shows it: base64, e.g. `iotxR/d99T9Awom/UaSqiQ==`.
    pub fn from_base64(text: &str) -> Result<AesKey, AesError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| AesError::Key("text that is not base64".into()))?;
        if !matches!(bytes.len(), 16 | 24 | 32) {
            return Err(AesError::Key(format!("{} bytes", bytes.len())));
        }
        Ok(AesKey { bytes })
    }

    /// The key as base64, for storing it where keys are kept (never for logs).
    #[must_use]
    pub fn to_base64(&self) -> String {
        STANDARD.encode(&self.bytes)
    }

    fn cipher_key(&self) -> UnboundCipherKey {
        let algorithm = match self.bytes.len() {
            16 => &AES_128,
            24 => &AES_192,
            _ => &AES_256,
        };
        UnboundCipherKey::new(algorithm, &self.bytes).expect("a checked key length")
    }

    /// Encrypts `plaintext` (a `biz_content` JSON text) to the base64 Alipay expects.
    #[must_use]
    pub fn encrypt(&self, plaintext: &str) -> String {
        let key =
            PaddedBlockEncryptingKey::cbc_pkcs7(self.cipher_key()).expect("AES-CBC is supported");
        let mut data = plaintext.as_bytes().to_vec();
        key.less_safe_encrypt(
            &mut data,
            EncryptionContext::Iv128(FixedLength::from(ZERO_IV)),
        )
        .expect("AES-CBC encryption of a padded buffer");
        STANDARD.encode(data)
    }

    /// Decrypts a base64 ciphertext to its text.
    pub fn decrypt(&self, ciphertext: &str) -> Result<String, AesError> {
        let mut data = STANDARD
            .decode(ciphertext.trim())
            .map_err(|_| AesError::Decrypt)?;
        let key =
            PaddedBlockDecryptingKey::cbc_pkcs7(self.cipher_key()).expect("AES-CBC is supported");
        let plain = key
            .decrypt(
                &mut data,
                DecryptionContext::Iv128(FixedLength::from(ZERO_IV)),
            )
            .map_err(|_| AesError::Decrypt)?;
        String::from_utf8(plain.to_vec()).map_err(|_| AesError::NotText)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_worked_example() {
        // Protocol notes §12, checked there with Python `cryptography` and Node's aes-128-cbc.
        let key = AesKey::from_base64("iotxR/d99T9Awom/UaSqiQ==").unwrap();
        let plaintext = r#"{"out_trade_no":"ORDER_20240501_0001"}"#;
        let ciphertext = "YkCCfwQGoXkJ7vcDu8jhRulEL4ArhquhyJLaid0MiaYnMA92lXhtcLumTHVtysfZ";
        assert_eq!(key.encrypt(plaintext), ciphertext);
        assert_eq!(key.decrypt(ciphertext).unwrap(), plaintext);
        assert_eq!(key.decrypt(&key.encrypt("课程")).unwrap(), "课程");
        assert_eq!(key.decrypt("bm90IGEgYmxvY2s="), Err(AesError::Decrypt));
        assert_eq!(key.decrypt("%%%"), Err(AesError::Decrypt));
        assert!(!format!("{key:?}").contains("iotx"));
        assert!(AesKey::from_base64("c2hvcnQ=").is_err());
        assert!(AesKey::from_base64("not base64!").is_err());
    }
}
