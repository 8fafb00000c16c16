//! SHA1withRSA signing for `sign_type=RSA`, straight from AWS-LC.
//!
//! `aws-lc-rs` verifies SHA-1 PKCS#1 v1.5 signatures but, like *ring*, deliberately offers no way
//! to *make* one. Alipay still accepts `sign_type=RSA` from apps created before RSA2, and the
//! sandbox must sign notifications for such apps, so this module calls AWS-LC's `RSA_sign` (the
//! same constant-time, blinded implementation `aws-lc-rs` uses) through `aws-lc-sys`. It is the
//! only unsafe code in the crate.
#![allow(unsafe_code)]

use std::ptr::NonNull;

use aws_lc_sys as ffi;

/// An AWS-LC `RSA` private key, owned.
pub(crate) struct Sha1Signer {
    rsa: NonNull<ffi::RSA>,
}

// SAFETY: AWS-LC documents `RSA` objects as safe to use from several threads for private-key
// operations (blinding state is locked internally); the pointer is never mutated after creation.
unsafe impl Send for Sha1Signer {}
// SAFETY: see above.
unsafe impl Sync for Sha1Signer {}

impl Sha1Signer {
    /// Parses a PKCS#1 `RSAPrivateKey`.
    pub(crate) fn from_pkcs1_der(der: &[u8]) -> Option<Sha1Signer> {
        // SAFETY: the pointer and length describe a live slice; AWS-LC copies what it needs and
        // returns either null or a new object we own.
        let rsa = unsafe { ffi::RSA_private_key_from_bytes(der.as_ptr(), der.len()) };
        NonNull::new(rsa).map(|rsa| Sha1Signer { rsa })
    }

    /// Signs `message` with RSASSA-PKCS1-v1_5 over SHA-1.
    pub(crate) fn sign(&self, message: &[u8]) -> Option<Vec<u8>> {
        let digest =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, message);
        let digest = digest.as_ref();
        // SAFETY: `self.rsa` is a valid key for the life of `self`.
        let size = unsafe { ffi::RSA_size(self.rsa.as_ptr()) } as usize;
        let mut signature = vec![0u8; size];
        let mut written: std::os::raw::c_uint = 0;
        // SAFETY: `signature` has room for RSA_size bytes as RSA_sign requires; `digest` is a live
        // 20-byte SHA-1 digest; `written` receives the length.
        let ok = unsafe {
            ffi::RSA_sign(
                ffi::NID_sha1 as std::os::raw::c_int,
                digest.as_ptr(),
                digest.len(),
                signature.as_mut_ptr(),
                &mut written,
                self.rsa.as_ptr(),
            )
        };
        if ok != 1 {
            return None;
        }
        signature.truncate(written as usize);
        Some(signature)
    }
}

impl Drop for Sha1Signer {
    fn drop(&mut self) {
        // SAFETY: we own the only reference, created by RSA_private_key_from_bytes.
        unsafe { ffi::RSA_free(self.rsa.as_ptr()) }
    }
}
