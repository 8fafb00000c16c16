//! User names and passwords.

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString, rand_core::OsRng};
use argon2::{Algorithm, Argon2, Block, Params, Version};

/// What a user may do. Read from the database on every request that needs it: a token says who
/// you are, never what you may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A buyer.
    Buyer,
    /// An operator: refunds, the back office. Granted only on the command line.
    Operator,
}

impl Role {
    /// Stored (and API) name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Buyer => "user",
            Role::Operator => "admin",
        }
    }

    /// From the stored name; anything unknown is a buyer (least privilege).
    #[must_use]
    pub fn from_stored(text: &str) -> Role {
        if text == Role::Operator.as_str() {
            Role::Operator
        } else {
            Role::Buyer
        }
    }
}

/// A user account.
#[derive(Clone, Debug)]
pub struct User {
    /// Id.
    pub id: i64,
    /// Name.
    pub username: String,
    /// argon2id hash (PHC string).
    pub password_hash: String,
    /// What the user may do.
    pub role: Role,
}

/// Why a registration is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    /// Bad user name.
    #[error("username must be 3 to 32 letters, digits, '_', '-' or '.'")]
    Username,
    /// Bad password.
    #[error("password must be 8 to 128 characters")]
    Password,
}

/// A checked user name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// 3..=32 of `[A-Za-z0-9_.-]`.
    pub fn parse(name: &str) -> Result<Username, UserError> {
        let ok = (3..=32).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        ok.then(|| Username(name.to_owned()))
            .ok_or(UserError::Username)
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks a new password's length.
pub fn check_password(password: &str) -> Result<(), UserError> {
    if (8..=128).contains(&password.chars().count()) {
        Ok(())
    } else {
        Err(UserError::Password)
    }
}

/// argon2id's working memory (~19 MiB with the default parameters), kept and reused by a
/// thread that hashes many passwords: allocating and freeing it per hash fragments the
/// allocator's arenas, and resident memory grows by megabytes per hash (measured: +214 MiB
/// for 64 sequential hashes).
#[derive(Default)]
pub struct Workspace {
    blocks: Vec<Block>,
}

impl std::fmt::Debug for Workspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Workspace({} blocks)", self.blocks.len())
    }
}

impl Workspace {
    fn blocks(&mut self, params: &Params) -> &mut [Block] {
        let count = params.block_count();
        if self.blocks.len() != count {
            self.blocks = vec![Block::default(); count];
        }
        &mut self.blocks
    }

    /// An argon2id hash (default parameters) of `password` in PHC string form. CPU-heavy:
    /// call from a thread that may block.
    #[must_use]
    pub fn hash_password(&mut self, password: &str) -> String {
        let salt = SaltString::generate(&mut OsRng);
        let params = Params::default();
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let mut salt_bytes = [0u8; 64];
        let salt_raw = salt
            .as_salt()
            .decode_b64(&mut salt_bytes)
            .expect("a generated salt decodes");
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        argon2
            .hash_password_into_with_memory(
                password.as_bytes(),
                salt_raw,
                &mut out,
                self.blocks(&params),
            )
            .expect("argon2 with default parameters accepts any password and salt");
        PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params).expect("default parameters encode"),
            salt: Some(salt.as_salt()),
            hash: Some(Output::new(&out).expect("a 32-byte output is valid")),
        }
        .to_string()
    }

    /// Whether `password` matches a stored argon2 hash (compared in constant time). CPU-heavy.
    #[must_use]
    pub fn verify_password(&mut self, password: &str, hash: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(hash) else {
            return false;
        };
        let (Ok(algorithm), Ok(params), Some(salt), Some(expected)) = (
            Algorithm::try_from(parsed.algorithm),
            Params::try_from(&parsed),
            parsed.salt,
            parsed.hash,
        ) else {
            return false;
        };
        let version = parsed
            .version
            .map_or(Ok(Version::V0x13), Version::try_from)
            .unwrap_or(Version::V0x13);
        let mut salt_bytes = [0u8; 64];
        let Ok(salt_raw) = salt.decode_b64(&mut salt_bytes) else {
            return false;
        };
        let argon2 = Argon2::new(algorithm, version, params.clone());
        let mut out = vec![0u8; expected.len()];
        if argon2
            .hash_password_into_with_memory(
                password.as_bytes(),
                salt_raw,
                &mut out,
                self.blocks(&params),
            )
            .is_err()
        {
            return false;
        }
        Output::new(&out).is_ok_and(|computed| computed == expected)
    }
}

/// An argon2id hash in PHC string form, with fresh working memory. CPU-heavy: call from a
/// blocking thread; for many, use a [`Workspace`].
#[must_use]
pub fn hash_password(password: &str) -> String {
    Workspace::default().hash_password(password)
}

/// Whether `password` matches a stored hash (constant time), with fresh working memory.
#[must_use]
pub fn verify_password(password: &str, hash: &str) -> bool {
    Workspace::default().verify_password(password, hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert!(Username::parse("alice_01").is_ok());
        for bad in ["al", "a b", "张三", "x".repeat(33).as_str(), "a;drop"] {
            assert_eq!(Username::parse(bad), Err(UserError::Username), "{bad}");
        }
    }

    #[test]
    fn passwords_hash_and_verify() {
        assert!(check_password("short").is_err());
        let hash = hash_password("correct horse");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn a_reused_workspace_agrees_with_the_reference_implementation() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let mut workspace = Workspace::default();
        let ours = workspace.hash_password("correct horse");
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &PasswordHash::new(&ours).unwrap())
                .is_ok()
        );
        let salt = SaltString::generate(&mut OsRng);
        let theirs = Argon2::default()
            .hash_password(b"battery staple", &salt)
            .unwrap()
            .to_string();
        assert!(workspace.verify_password("battery staple", &theirs));
        assert!(!workspace.verify_password("battery", &theirs));
    }
}
