//! User names and passwords.

use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};

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

/// An argon2id hash in PHC string form. CPU-heavy: call from a blocking thread.
#[must_use]
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters accepts any password")
        .to_string()
}

/// Whether `password` matches a stored hash (constant time). CPU-heavy.
#[must_use]
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
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
}
