//! A short-lived in-process cache of accommodations by slug.
//!
//! Every calendar, quote and hold starts by reading the accommodation (two queries: the row and
//! its photos). The catalogue changes rarely, so each node keeps what it read for a couple of
//! seconds; admin writes on this node clear it at once, and writes on other nodes are seen
//! within [`TTL`].
//!
//! [`TakenCache`] does the same for the nights taken that the public availability calendar shows
//! (`AVAILABILITY_CACHE_MS`). It is never used to decide a hold, a quote or a block: those read the
//! database, holds under the calendar lock.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::NaiveDate;
use posada_db::Db;
use posada_domain::Stay;
use posada_store::StoreError;
use posada_store::accommodations::{self, StoredAccommodation};
use posada_store::reservations;

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

type TakenKey = (i64, NaiveDate, NaiveDate);
type TakenCell = Arc<tokio::sync::OnceCell<Arc<Vec<Stay>>>>;

/// One cached read: when it began, under which generation, and its result (filled once; callers
/// arriving while the read runs wait for it instead of querying too).
struct Slot {
    started: Instant,
    generation: u64,
    cell: TakenCell,
}

/// Nights taken per (accommodation, from, until), as the availability calendar last read them.
///
/// An entry is used while it is younger than the TTL and no calendar write happened on this node
/// since the read began ([`TakenCache::changed`] moves a generation counter after each such commit;
/// an entry read under an older generation is a miss). Writes made by other nodes are seen within
/// the TTL. Concurrent misses for one key share a single database read.
pub struct TakenCache {
    ttl: Duration,
    generation: AtomicU64,
    entries: RwLock<HashMap<TakenKey, Slot>>,
}

impl TakenCache {
    /// A cache trusting entries for `ttl` (zero: never cache).
    pub fn new(ttl: Duration) -> TakenCache {
        TakenCache {
            ttl,
            generation: AtomicU64::new(0),
            entries: RwLock::new(HashMap::new()),
        }
    }

    /// Nights taken on `accommodation_id` between `from` and `until`.
    pub async fn taken(
        &self,
        db: &Db,
        accommodation_id: i64,
        from: NaiveDate,
        until: NaiveDate,
    ) -> Result<Arc<Vec<Stay>>, StoreError> {
        if self.ttl.is_zero() {
            let stays = reservations::taken_stays_db(db, accommodation_id, from, until).await?;
            return Ok(Arc::new(stays));
        }
        let key = (accommodation_id, from, until);
        let generation = self.generation.load(Ordering::Acquire);
        let usable =
            |slot: &Slot| slot.generation == generation && slot.started.elapsed() < self.ttl;
        let cached = {
            let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
            entries
                .get(&key)
                .filter(|s| usable(s))
                .map(|s| s.cell.clone())
        };
        let cell = match cached {
            Some(cell) => cell,
            None => {
                let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
                match entries.get(&key).filter(|s| usable(s)) {
                    Some(slot) => slot.cell.clone(),
                    None => {
                        if entries.len() > 10_000 {
                            entries.clear();
                        }
                        let cell = TakenCell::default();
                        entries.insert(
                            key,
                            Slot {
                                started: Instant::now(),
                                generation,
                                cell: cell.clone(),
                            },
                        );
                        cell
                    }
                }
            }
        };
        if let Some(stays) = cell.get() {
            metrics::counter!("availability_cache_hits_total").increment(1);
            return Ok(stays.clone());
        }
        let stays = cell
            .get_or_try_init(|| async {
                reservations::taken_stays_db(db, accommodation_id, from, until)
                    .await
                    .map(Arc::new)
            })
            .await?;
        Ok(stays.clone())
    }

    /// A calendar write committed on this node: nothing read before it is used again.
    pub fn changed(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}
