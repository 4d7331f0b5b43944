//! The owner's own account: the dashboard password.

use argon2::Argon2;
use argon2::password_hash::PasswordHasher;

/// The shortest owner password accepted (the CLI and the web app alike).
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Hash a password for storage (argon2id, random salt, PHC string).
pub fn hash_password(password: &str) -> Result<String, String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}
