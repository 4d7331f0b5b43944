//! A wrapper that keeps secrets (access tokens, passwords, webhook secrets) out of `Debug` output and
//! therefore out of logs and panic messages.

use std::fmt;

/// A secret string: `Debug` prints `"[redacted]"`, the value is reachable only through `expose()`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(String);

impl Secret {
    pub(crate) fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"[redacted]\"")
    }
}
