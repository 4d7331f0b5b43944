//! How well a part of the system works, as `/healthz` and the owner's pages report it.

use serde::Serialize;

/// Status of one check or of the whole node, from best to worst.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Working as expected.
    Healthy,
    /// Working, but something needs attention.
    Degraded,
    /// Not working.
    Unhealthy,
}
