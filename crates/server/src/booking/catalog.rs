//! A short-lived in-process cache of accommodations by slug.
//!
//! Every calendar, quote and hold starts by reading the accommodation (two queries: the row and
//! its photos). The catalogue changes rarely, so each node keeps what it read for a couple of
//! seconds; admin writes on this node clear it at once, and writes on other nodes are seen
//! within [`TTL`]. Availability itself is never cached.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use posada_db::Db;
use posada_store::StoreError;
use posada_store::accommodations::{self, StoredAccommodation};

/// How long an entry is trusted.
pub const TTL: Duration = Duration::from_secs(2);

/// Accommodations by slug, with the instant they were read.
#[derive(Default)]
pub struct Catalog {
    entries: RwLock<HashMap<String, (Instant, Arc<StoredAccommodation>)>>,
}

impl Catalog {
    /// The accommodation with `slug`, from the cache when fresh, else from the database.
    pub async fn by_slug(
        &self,
        db: &Db,
        slug: &str,
    ) -> Result<Option<Arc<StoredAccommodation>>, StoreError> {
        if let Some((_, acc)) = self.read().get(slug).filter(|(at, _)| at.elapsed() < TTL) {
            return Ok(Some(acc.clone()));
        }
        let Some(acc) = accommodations::get_by_slug(db, slug).await? else {
            return Ok(None);
        };
        let acc = Arc::new(acc);
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() > 10_000 {
            entries.clear();
        }
        entries.insert(slug.to_string(), (Instant::now(), acc.clone()));
        Ok(Some(acc))
    }

    /// Forget everything (after an admin write).
    pub fn clear(&self) {
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    fn read(
        &self,
    ) -> std::sync::RwLockReadGuard<'_, HashMap<String, (Instant, Arc<StoredAccommodation>)>> {
        self.entries.read().unwrap_or_else(|p| p.into_inner())
    }
}
