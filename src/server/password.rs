//! Password hashing shared by the seeder (which writes users) and the server (which
//! checks logins): bcrypt, like KoproGo.
//!
//! bcrypt needs 4 KiB per check where Argon2's defaults need 19 MiB: with Argon2, each
//! of the 100 logins that open a load run left ~19 MiB behind in the allocator and the
//! server's resident memory — a number the guide targets at 80 MB — grew past 500 MB.

/// Cost factor: 2^10 rounds, about 60 ms of one core in a release build. KoproGo uses
/// bcrypt's default (12, four times slower); 10 keeps a 100-user run's logins to a few
/// seconds while still being a real password hash.
pub const COST: u32 = 10;

/// Hashes `password` with a salt made of the first 16 bytes of `salt` (cycled when
/// shorter). The seeder passes a salt derived from its rng seed so that seeding is
/// deterministic.
pub fn hash_password(password: &str, salt: &[u8]) -> String {
    let mut bytes = [0u8; 16];
    if !salt.is_empty() {
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = salt[i % salt.len()];
        }
    }
    bcrypt::hash_with_salt(password, COST, bytes)
        .expect("bcrypt with a valid cost and a 16-byte salt cannot fail")
        .format_for_version(bcrypt::Version::TwoB)
}

/// True when `password` matches the bcrypt `hash`; false for a wrong password or a
/// hash that cannot be parsed.
pub fn verify_password(password: &str, hash: &str) -> bool {
    bcrypt::verify(password, hash).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_only_the_right_password() {
        let hash = hash_password("syndic123", b"0123456789abcdef");
        assert!(hash.starts_with("$2b$10$"), "{hash}");
        assert!(verify_password("syndic123", &hash));
        assert!(!verify_password("syndic124", &hash));
        assert!(!verify_password("syndic123", "not a hash"));
        assert_eq!(hash, hash_password("syndic123", b"0123456789abcdef"));
        assert_ne!(hash, hash_password("syndic123", b"fedcba9876543210"));
    }
}
