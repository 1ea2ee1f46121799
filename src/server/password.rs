//! Password hashing shared by the seeder (which writes users) and the server (which
//! checks logins): Argon2id, PHC string format.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// Hashes `password` with the given salt (at least 8 bytes of entropy, any bytes).
/// The seeder passes a salt derived from its rng seed so that seeding is deterministic.
pub fn hash_password(password: &str, salt: &[u8]) -> String {
    let salt = SaltString::encode_b64(salt).expect("salt length is valid");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing with default parameters cannot fail")
        .to_string()
}

/// True when `password` matches the PHC `hash`; false for a wrong password or a
/// hash that cannot be parsed.
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
    fn verifies_only_the_right_password() {
        let hash = hash_password("syndic123", b"0123456789abcdef");
        assert!(verify_password("syndic123", &hash));
        assert!(!verify_password("syndic124", &hash));
        assert!(!verify_password("syndic123", "not a hash"));
        assert_eq!(hash, hash_password("syndic123", b"0123456789abcdef"));
    }
}
