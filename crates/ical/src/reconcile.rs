//! Reconciliation: what to change in one feed's stored blocks after a successful fetch.
//!
//! Pure decision logic, so the sync job only applies a plan. Channel feeds churn UIDs (Booking.com
//! gives a trimmed or moved stay a new UID, Airbnb moves its "Not available" blocks daily), drop
//! past events, and sometimes come back empty for an hour; the rules below keep every night that a
//! booking still holds while letting real cancellations go within two fetches.
//!
//! # Rules
//!
//! 1. Only *current* events count: `end > today` and not `STATUS:CANCELLED`. A UID repeated within
//!    one feed gets a `#2`, `#3`… suffix so that every event keeps its own block.
//! 2. Stored blocks with `end <= today` are deleted: they no longer hold anything.
//! 3. An event whose UID equals a stored block's UID is matched to it.
//! 4. Every other event may *take over* a stored block that no event matched by UID, when their
//!    dates overlap (share at least one night). Candidates are ranked by same end date, then
//!    largest overlap, then same start date; pairs are assigned greedily from the best.
//! 5. A matched block gets the event's UID, dates and safe summary (an update when something
//!    changed, a touch otherwise). An unmatched event is inserted.
//! 6. A block nobody matched is *missing*: its `missing_count` goes up by one, and it is deleted
//!    when the count reaches 2, i.e. after two consecutive successful fetches without it.
//! 7. Suspect feeds. Let *expected* be the live blocks (end > today) that were present in the
//!    previous fetch (`missing_count == 0`) and *lost* those of them nobody matched now. When
//!    `expected > 0` and `2 × lost > expected` (this includes an empty feed), the fetch is
//!    **suspect**: no missing count advances and nothing live is deleted; matched blocks are
//!    updated but never shrink on nights from today on (their dates become the union of old and
//!    new from today); new events are inserted; a `SuspectEmpty`/`SuspectShrink` warning is
//!    raised and the memory records a fingerprint of the current event set.
//!    The shrink is **confirmed** when a later fetch is suspect again with the *same* fingerprint
//!    (the same UIDs and dates), the suspicion is still pending (every fetch in between had that
//!    same set), and at least [`ReconcilePolicy::confirm_suspect_after`] (default 3 hours) has
//!    passed since it began. Then both the first suspect fetch and this one count, so unmatched
//!    blocks get `missing_count + 2` and are deleted in that same plan (a `ShrinkConfirmed`
//!    warning says so). The time floor exists because feeds come back empty for about an hour
//!    while the sync polls every few minutes: "the next fetch" alone would confirm an outage.
//!    Any fetch that is not suspect clears the pending suspicion; a suspect fetch with a
//!    different set restarts it.
//!
//! Together: a real cancellation is freed on the second fetch after it vanished when the feed
//! shrank gently (rule 6), and once the same shrunken feed has stood for the confirmation time
//! when it shrank sharply (rule 7); a one-hour empty feed frees nothing.

use crate::parse::{FeedEvent, fnv1a, safe_summary};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A block imported from one feed, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredBlock {
    /// Database id.
    pub id: i64,
    /// The UID of the event that last matched this block.
    pub uid: String,
    /// First night.
    pub start: NaiveDate,
    /// Checkout day (exclusive).
    pub end: NaiveDate,
    /// Safe summary (see [`crate::safe_summary`]).
    pub summary: String,
    /// When the block was first imported.
    pub first_seen: DateTime<Utc>,
    /// The last successful fetch that contained it.
    pub last_seen: DateTime<Utc>,
    /// Consecutive successful fetches without it.
    pub missing_count: u32,
}

/// What reconciliation remembers about a feed between fetches; store it as JSON next to the feed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FeedMemory {
    /// Current events (`end > today`, not cancelled) in the last successful fetch.
    pub previous_future_event_count: u32,
    /// The last fetch was suspect (empty or sharply shrunken) and nothing was removed.
    pub suspect_pending: bool,
    /// Fingerprint of the suspect fetch's event set; the next fetch confirms the shrink only if
    /// it has the same fingerprint.
    pub suspect_fingerprint: Option<String>,
    /// When the pending suspicion started.
    pub suspect_since: Option<DateTime<Utc>>,
}

/// A block to insert (`first_seen = last_seen = now`, `missing_count = 0`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewBlock {
    /// Event UID.
    pub uid: String,
    /// First night.
    pub start: NaiveDate,
    /// Checkout day (exclusive).
    pub end: NaiveDate,
    /// Safe summary.
    pub summary: String,
}

/// New values for an existing block (also `last_seen = now`, `missing_count = 0`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockUpdate {
    /// The block to change.
    pub id: i64,
    /// Its (possibly new) UID.
    pub uid: String,
    /// First night.
    pub start: NaiveDate,
    /// Checkout day (exclusive).
    pub end: NaiveDate,
    /// Safe summary.
    pub summary: String,
}

/// Why a fetch deserves the operator's attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReconcileWarningKind {
    /// The feed has no current events while blocks were held: nothing removed.
    SuspectEmpty,
    /// The feed lost more than half its current events at once: nothing removed.
    SuspectShrink,
    /// The same shrunken feed came twice in a row: the removals went ahead.
    ShrinkConfirmed,
    /// A `STATUS:CANCELLED` event was ignored.
    CancelledIgnored,
    /// Several events shared one UID; they were kept apart with a suffix.
    DuplicateUid,
}

/// A warning produced by [`reconcile`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconcileWarning {
    /// What happened.
    pub kind: ReconcileWarningKind,
    /// A readable description.
    pub message: String,
}

/// Everything to change after one successful fetch. Each stored block appears in at most one of
/// `deletes`, `updates`, `touch` and `mark_missing`; a block in none of them stays as it is.
/// Apply deletes first, then updates, then inserts (UIDs stay unique per feed in that order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconcilePlan {
    /// Blocks to create.
    pub inserts: Vec<NewBlock>,
    /// Blocks whose UID, dates or summary change (and which were seen now).
    pub updates: Vec<BlockUpdate>,
    /// Blocks seen again unchanged: `last_seen = now`, `missing_count = 0`.
    pub touch: Vec<i64>,
    /// Blocks missing from this fetch but kept: set `missing_count` to the given value.
    pub mark_missing: Vec<(i64, u32)>,
    /// Blocks to delete (past, or missing from two consecutive fetches).
    pub deletes: Vec<i64>,
    /// The feed memory to store for the next fetch.
    pub new_memory: FeedMemory,
    /// Things to record in the feed status and logs.
    pub warnings: Vec<ReconcileWarning>,
    /// Whether this fetch was judged suspect (nothing live removed).
    pub suspect: bool,
    /// Current events in this fetch.
    pub current_event_count: u32,
}

impl ReconcilePlan {
    /// Applies the plan to a list of blocks in memory, giving inserted blocks ids from
    /// `next_id` on. This is the reference for what the database apply must do.
    pub fn apply(
        &self,
        prev: &[StoredBlock],
        now: DateTime<Utc>,
        next_id: &mut i64,
    ) -> Vec<StoredBlock> {
        let updates: HashMap<i64, &BlockUpdate> = self.updates.iter().map(|u| (u.id, u)).collect();
        let missing: HashMap<i64, u32> = self.mark_missing.iter().copied().collect();
        let mut out: Vec<StoredBlock> = prev
            .iter()
            .filter(|b| !self.deletes.contains(&b.id))
            .map(|b| {
                let mut b = b.clone();
                if let Some(u) = updates.get(&b.id) {
                    b.uid.clone_from(&u.uid);
                    b.start = u.start;
                    b.end = u.end;
                    b.summary.clone_from(&u.summary);
                    b.last_seen = now;
                    b.missing_count = 0;
                } else if self.touch.contains(&b.id) {
                    b.last_seen = now;
                    b.missing_count = 0;
                } else if let Some(&count) = missing.get(&b.id) {
                    b.missing_count = count;
                }
                b
            })
            .collect();
        for insert in &self.inserts {
            out.push(StoredBlock {
                id: *next_id,
                uid: insert.uid.clone(),
                start: insert.start,
                end: insert.end,
                summary: insert.summary.clone(),
                first_seen: now,
                last_seen: now,
                missing_count: 0,
            });
            *next_id += 1;
        }
        out
    }
}

/// Tunables of [`reconcile_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconcilePolicy {
    /// How long the same suspect (empty or sharply shrunken) feed must stand before its
    /// removals go ahead. Default 3 hours: observed empty-feed outages last about one.
    pub confirm_suspect_after: Duration,
}

impl Default for ReconcilePolicy {
    fn default() -> Self {
        ReconcilePolicy {
            confirm_suspect_after: Duration::hours(3),
        }
    }
}

/// Fetches a block must be missing from before it is deleted.
pub const MISSING_FETCHES_BEFORE_DELETE: u32 = 2;

struct Current {
    uid: String,
    start: NaiveDate,
    end: NaiveDate,
    summary: String,
}

fn overlap_nights(a: (NaiveDate, NaiveDate), b: (NaiveDate, NaiveDate)) -> i64 {
    let start = a.0.max(b.0);
    let end = a.1.min(b.1);
    (end - start).num_days().max(0)
}

/// Decides what to change in one feed's blocks after a successful fetch, with the default
/// [`ReconcilePolicy`]. See the module documentation for the rules. `today` is the property's
/// local date; `now` is the fetch time.
pub fn reconcile(
    prev: &[StoredBlock],
    memory: &FeedMemory,
    fetched: &[FeedEvent],
    today: NaiveDate,
    now: DateTime<Utc>,
) -> ReconcilePlan {
    reconcile_with(
        prev,
        memory,
        fetched,
        today,
        now,
        &ReconcilePolicy::default(),
    )
}

/// [`reconcile`] with explicit tunables.
pub fn reconcile_with(
    prev: &[StoredBlock],
    memory: &FeedMemory,
    fetched: &[FeedEvent],
    today: NaiveDate,
    now: DateTime<Utc>,
    policy: &ReconcilePolicy,
) -> ReconcilePlan {
    let mut warnings = Vec::new();

    // Rule 1: current events, UIDs made unique.
    let mut uid_counts: HashMap<&str, u32> = HashMap::new();
    let mut events: Vec<Current> = Vec::new();
    for e in fetched {
        if !e.blocks_dates() {
            warnings.push(ReconcileWarning {
                kind: ReconcileWarningKind::CancelledIgnored,
                message: format!("event {} is cancelled and takes no nights", e.uid),
            });
            continue;
        }
        if e.end <= today {
            continue;
        }
        let n = uid_counts.entry(e.uid.as_str()).or_insert(0);
        *n += 1;
        let uid = if *n == 1 {
            e.uid.clone()
        } else {
            warnings.push(ReconcileWarning {
                kind: ReconcileWarningKind::DuplicateUid,
                message: format!("UID {} appears {} times; kept apart", e.uid, n),
            });
            format!("{}#{}", e.uid, n)
        };
        events.push(Current {
            uid,
            start: e.start,
            end: e.end,
            summary: safe_summary(e),
        });
    }

    // Rule 2: past blocks go.
    let mut deletes: Vec<i64> = Vec::new();
    let mut live: Vec<&StoredBlock> = Vec::new();
    for b in prev {
        if b.end <= today {
            deletes.push(b.id);
        } else {
            live.push(b);
        }
    }

    // Rule 3: exact UID.
    let mut block_of_event: Vec<Option<usize>> = vec![None; events.len()];
    let mut claimed: Vec<bool> = vec![false; live.len()];
    let mut by_uid: HashMap<&str, usize> = HashMap::new();
    for (i, b) in live.iter().enumerate() {
        by_uid.entry(b.uid.as_str()).or_insert(i);
    }
    for (ei, e) in events.iter().enumerate() {
        if let Some(&bi) = by_uid.get(e.uid.as_str())
            && !claimed[bi]
        {
            claimed[bi] = true;
            block_of_event[ei] = Some(bi);
        }
    }

    // Rule 4: takeover by overlapping dates.
    let mut pairs: Vec<(bool, i64, bool, usize, usize)> = Vec::new();
    for (ei, e) in events.iter().enumerate() {
        if block_of_event[ei].is_some() {
            continue;
        }
        for (bi, b) in live.iter().enumerate() {
            if claimed[bi] {
                continue;
            }
            let nights = overlap_nights((e.start, e.end), (b.start, b.end));
            if nights > 0 {
                pairs.push((e.end == b.end, nights, e.start == b.start, ei, bi));
            }
        }
    }
    pairs.sort_by(|a, b| {
        (b.0, b.1, b.2)
            .cmp(&(a.0, a.1, a.2))
            .then(a.3.cmp(&b.3))
            .then(a.4.cmp(&b.4))
    });
    for (_, _, _, ei, bi) in pairs {
        if block_of_event[ei].is_none() && !claimed[bi] {
            claimed[bi] = true;
            block_of_event[ei] = Some(bi);
        }
    }

    // Rule 7: suspect detection.
    let expected = live.iter().filter(|b| b.missing_count == 0).count();
    let lost = live
        .iter()
        .zip(&claimed)
        .filter(|(b, c)| b.missing_count == 0 && !**c)
        .count();
    let fingerprint = fingerprint(&events);
    let shrink = expected > 0 && 2 * lost > expected;
    let same_suspicion = memory.suspect_pending
        && memory.suspect_fingerprint.as_deref() == Some(fingerprint.as_str());
    let since = if same_suspicion {
        memory.suspect_since
    } else {
        None
    }
    .unwrap_or(now);
    let confirmed = shrink && same_suspicion && now - since >= policy.confirm_suspect_after;
    let suspect = shrink && !confirmed;
    let current_event_count = u32::try_from(events.len()).unwrap_or(u32::MAX);
    let new_memory = if suspect {
        let kind = if events.is_empty() {
            ReconcileWarningKind::SuspectEmpty
        } else {
            ReconcileWarningKind::SuspectShrink
        };
        warnings.push(ReconcileWarning {
            kind,
            message: format!(
                "feed has {} current events where {expected} blocks were held ({lost} would go); nothing removed until the same feed stands since {} for {} minutes",
                events.len(),
                since.format("%Y-%m-%dT%H:%M:%SZ"),
                policy.confirm_suspect_after.num_minutes()
            ),
        });
        FeedMemory {
            // Keep the pre-suspect count: it describes the feed we still believe.
            previous_future_event_count: memory.previous_future_event_count,
            suspect_pending: true,
            suspect_fingerprint: Some(fingerprint),
            suspect_since: Some(since),
        }
    } else {
        if confirmed {
            warnings.push(ReconcileWarning {
                kind: ReconcileWarningKind::ShrinkConfirmed,
                message: format!(
                    "the shrunken feed ({} current events) came again; removing {lost} blocks",
                    events.len()
                ),
            });
        }
        FeedMemory {
            previous_future_event_count: current_event_count,
            suspect_pending: false,
            suspect_fingerprint: None,
            suspect_since: None,
        }
    };

    // Rule 5: updates, touches and inserts.
    let mut inserts = Vec::new();
    let mut updates = Vec::new();
    let mut touch = Vec::new();
    for (ei, e) in events.into_iter().enumerate() {
        match block_of_event[ei] {
            Some(bi) => {
                let b = live[bi];
                let (start, end) = if suspect {
                    // Never shrink from today on while the feed is in doubt.
                    let keep_from = b.start.max(today);
                    (e.start.min(keep_from), e.end.max(b.end))
                } else {
                    (e.start, e.end)
                };
                if b.uid == e.uid && b.start == start && b.end == end && b.summary == e.summary {
                    touch.push(b.id);
                } else {
                    updates.push(BlockUpdate {
                        id: b.id,
                        uid: e.uid,
                        start,
                        end,
                        summary: e.summary,
                    });
                }
            }
            None => inserts.push(NewBlock {
                uid: e.uid,
                start: e.start,
                end: e.end,
                summary: e.summary,
            }),
        }
    }

    // Rule 6: missing blocks.
    let mut mark_missing = Vec::new();
    if !suspect {
        let step = if confirmed { 2 } else { 1 };
        for (b, c) in live.iter().zip(&claimed) {
            if *c {
                continue;
            }
            let count = b.missing_count.saturating_add(step);
            if count >= MISSING_FETCHES_BEFORE_DELETE {
                deletes.push(b.id);
            } else {
                mark_missing.push((b.id, count));
            }
        }
    }

    ReconcilePlan {
        inserts,
        updates,
        touch,
        mark_missing,
        deletes,
        new_memory,
        warnings,
        suspect,
        current_event_count,
    }
}

fn fingerprint(events: &[Current]) -> String {
    let mut keys: Vec<String> = events
        .iter()
        .map(|e| format!("{}|{}|{}", e.uid, e.start, e.end))
        .collect();
    keys.sort();
    let parts: Vec<&[u8]> = keys.iter().map(|k| k.as_bytes()).collect();
    format!("{:016x}", fnv1a(&parts))
}
