//! The owner's own account: the dashboard password.

use argon2::Argon2;
use argon2::password_hash::PasswordHasher;

/// Hash a password for storage (argon2id, random salt, PHC string).
pub fn hash_password(password: &str) -> Result<String, String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}
