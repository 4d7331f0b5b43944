//! How well a part of the system works, as `/healthz` and the owner's pages report it.

use serde::Serialize;

/// Status of one check or of the whole node, from best to worst.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Working as expected.
    Healthy,
    /// Working, but something needs attention.
    Degraded,
    /// Not working.
    Unhealthy,
}

/// Whether this node can reach its database, as requests find out: an outage is logged once when
/// it begins and once when the database answers again, however many requests it refuses in
/// between (each of them is a 503 with `Retry-After`, not a log line).
#[derive(Debug, Default)]
pub struct DatabaseReachability {
    down: std::sync::atomic::AtomicBool,
    outages: std::sync::atomic::AtomicU64,
}

impl DatabaseReachability {
    /// A request found the database unreachable; logs and counts only the first since it last
    /// answered.
    pub fn unreachable(&self) {
        use std::sync::atomic::Ordering;
        if !self.down.swap(true, Ordering::AcqRel) {
            self.outages.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("database_outages_total").increment(1);
            tracing::warn!(
                "the database is unreachable: requests that need it answer 503 until it is back"
            );
        }
    }

    /// The database answered; logs only the first answer after an outage.
    pub fn answered(&self) {
        use std::sync::atomic::Ordering;
        if self.down.load(Ordering::Acquire) && self.down.swap(false, Ordering::AcqRel) {
            tracing::warn!("the database answers again");
        }
    }

    /// Whether the last thing heard was an outage.
    pub fn is_down(&self) -> bool {
        self.down.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Outages begun since start (each logged once).
    pub fn outages(&self) -> u64 {
        self.outages.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::DatabaseReachability;

    #[test]
    fn an_outage_is_counted_once_until_the_database_answers() {
        let db = DatabaseReachability::default();
        db.answered();
        for _ in 0..100 {
            db.unreachable();
        }
        assert_eq!(db.outages(), 1);
        assert!(db.is_down());
        db.answered();
        db.answered();
        assert!(!db.is_down());
        db.unreachable();
        assert_eq!(db.outages(), 2);
    }
}
