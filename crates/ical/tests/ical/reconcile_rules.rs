//! `reconcile` rule by rule, on small hand-made feeds.

use crate::support::{date, event};
use chrono::{DateTime, Duration, TimeZone, Utc};
use posada_ical::{
    FeedEvent, FeedMemory, ReconcilePlan, ReconcileWarningKind, StoredBlock, reconcile,
};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

/// A feed's blocks and memory, fetched step by step.
struct Feed {
    blocks: Vec<StoredBlock>,
    memory: FeedMemory,
    next_id: i64,
    clock: DateTime<Utc>,
}

impl Feed {
    fn new() -> Self {
        Feed {
            blocks: Vec::new(),
            memory: FeedMemory::default(),
            next_id: 1,
            clock: now(),
        }
    }

    /// One poll, five minutes after the previous one.
    fn fetch(&mut self, events: &[FeedEvent], today: &str) -> ReconcilePlan {
        self.clock += Duration::minutes(5);
        let plan = reconcile(&self.blocks, &self.memory, events, date(today), self.clock);
        self.blocks = plan.apply(&self.blocks, self.clock, &mut self.next_id);
        self.memory = plan.new_memory.clone();
        plan
    }

    fn wait_hours(&mut self, hours: i64) {
        self.clock += Duration::hours(hours);
    }

    fn ranges(&self) -> Vec<(String, String, String)> {
        let mut r: Vec<_> = self
            .blocks
            .iter()
            .map(|b| {
                (
                    b.uid.clone(),
                    b.start.format("%Y%m%d").to_string(),
                    b.end.format("%Y%m%d").to_string(),
                )
            })
            .collect();
        r.sort();
        r
    }
}

fn r(uid: &str, s: &str, e: &str) -> (String, String, String) {
    (uid.to_owned(), s.to_owned(), e.to_owned())
}

const T: &str = "20260301";
const NA: &str = "CLOSED - Not available";

#[test]
fn same_uid_is_touched_or_updated() {
    let mut f = Feed::new();
    let p = f.fetch(&[event("a", "20260310", "20260315", NA)], T);
    assert_eq!(p.inserts.len(), 1);
    let p = f.fetch(&[event("a", "20260310", "20260315", NA)], T);
    assert_eq!((p.touch.len(), p.updates.len(), p.inserts.len()), (1, 0, 0));
    let p = f.fetch(&[event("a", "20260310", "20260320", NA)], T);
    assert_eq!((p.touch.len(), p.updates.len()), (0, 1));
    assert_eq!(f.ranges(), [r("a", "20260310", "20260320")]);
}

#[test]
fn a_new_uid_on_overlapping_dates_takes_over_the_block() {
    let mut f = Feed::new();
    f.fetch(&[event("old", "20260310", "20260315", NA)], T);
    let id = f.blocks[0].id;
    let p = f.fetch(&[event("new", "20260309", "20260315", NA)], T);
    assert!(p.inserts.is_empty() && p.deletes.is_empty());
    assert_eq!(p.updates.len(), 1);
    assert_eq!(p.updates[0].id, id);
    assert_eq!(f.ranges(), [r("new", "20260309", "20260315")]);
}

#[test]
fn takeover_prefers_the_same_end_then_the_largest_overlap() {
    let mut f = Feed::new();
    f.fetch(
        &[
            event("x", "20260301", "20260320", NA),
            event("y", "20260323", "20260325", NA),
        ],
        T,
    );
    let id = |f: &Feed, uid: &str| f.blocks.iter().find(|b| b.uid == uid).unwrap().id;
    let (x_id, y_id) = (id(&f, "x"), id(&f, "y"));
    // z overlaps x by 5 nights and y by 2, but shares y's end; w overlaps only x.
    let p = f.fetch(
        &[
            event("w", "20260301", "20260310", NA),
            event("z", "20260315", "20260325", NA),
        ],
        T,
    );
    assert!(p.inserts.is_empty() && p.deletes.is_empty() && p.mark_missing.is_empty());
    assert_eq!(p.updates.iter().find(|u| u.uid == "z").unwrap().id, y_id);
    assert_eq!(p.updates.iter().find(|u| u.uid == "w").unwrap().id, x_id);

    let mut g = Feed::new();
    g.fetch(
        &[
            event("x", "20260301", "20260310", NA),
            event("y", "20260308", "20260320", NA),
        ],
        T,
    );
    let y_id = id(&g, "y");
    // No shared end: 5 nights with x, 7 with y.
    let p = g.fetch(&[event("z", "20260305", "20260315", NA)], T);
    assert_eq!(p.updates[0].id, y_id);
    assert_eq!(p.mark_missing.len(), 1);
    assert!(!p.suspect);
}

#[test]
fn a_block_matched_by_uid_is_not_taken_over() {
    let mut f = Feed::new();
    f.fetch(
        &[
            event("long", "20260301", "20260320", NA),
            event("in", "20260305", "20260306", NA),
        ],
        T,
    );
    let p = f.fetch(
        &[
            event("long", "20260301", "20260320", NA),
            event("in", "20260305", "20260306", NA),
            event("new", "20260310", "20260312", NA),
        ],
        T,
    );
    assert_eq!(p.inserts.len(), 1);
    assert_eq!(p.touch.len(), 2);
}

#[test]
fn a_vanished_event_goes_after_two_fetches_and_comes_back_if_it_reappears() {
    let mut f = Feed::new();
    let all = [
        event("a", "20260310", "20260312", NA),
        event("b", "20260320", "20260322", NA),
        event("c", "20260401", "20260405", NA),
    ];
    f.fetch(&all, T);
    let without_a = &all[1..];
    let p = f.fetch(without_a, T);
    assert!(!p.suspect);
    assert_eq!(p.mark_missing.len(), 1);
    assert!(p.deletes.is_empty());
    assert_eq!(f.blocks.len(), 3, "kept after one fetch");
    // It comes back: the counter resets.
    let p = f.fetch(&all, T);
    assert_eq!(p.touch.len(), 3);
    assert!(f.blocks.iter().all(|b| b.missing_count == 0));
    f.fetch(without_a, T);
    let p = f.fetch(without_a, T);
    assert_eq!(p.deletes.len(), 1);
    assert_eq!(
        f.ranges(),
        [
            r("b", "20260320", "20260322"),
            r("c", "20260401", "20260405")
        ]
    );
}

#[test]
fn past_events_are_ignored_and_past_blocks_deleted() {
    let mut f = Feed::new();
    f.fetch(
        &[
            event("p", "20260220", "20260301", NA),
            event("q", "20260225", "20260303", NA),
        ],
        T,
    );
    assert_eq!(f.ranges(), [r("q", "20260225", "20260303")]);
    let p = f.fetch(&[event("q", "20260225", "20260303", NA)], "20260303");
    assert_eq!(p.deletes.len(), 1);
    assert!(f.blocks.is_empty());
    assert!(!p.suspect, "a feed whose events all ended is not suspect");
}

#[test]
fn an_empty_feed_removes_nothing_until_it_has_stood_for_the_confirmation_time() {
    let mut f = Feed::new();
    f.fetch(&[event("a", "20260310", "20260312", NA)], T);
    // An hour of empty polls every five minutes, like Booking.com's outage: nothing goes.
    for _ in 0..12 {
        let p = f.fetch(&[], T);
        assert!(p.suspect);
        assert!(p.deletes.is_empty() && p.mark_missing.is_empty());
        assert_eq!(p.warnings[0].kind, ReconcileWarningKind::SuspectEmpty);
        assert!(f.memory.suspect_pending);
        assert_eq!(f.blocks.len(), 1);
        assert_eq!(f.blocks[0].missing_count, 0);
    }
    // Confirmed: the same empty feed three hours after it began; both the first suspect fetch
    // and this one count, so the block goes now.
    f.wait_hours(2);
    let p = f.fetch(&[], T);
    assert!(!p.suspect);
    assert_eq!(p.deletes.len(), 1);
    assert_eq!(p.warnings[0].kind, ReconcileWarningKind::ShrinkConfirmed);
    assert!(!f.memory.suspect_pending);
}

#[test]
fn an_empty_feed_that_recovers_keeps_everything() {
    let mut f = Feed::new();
    let events = [
        event("a", "20260310", "20260312", NA),
        event("b", "20260315", "20260316", NA),
    ];
    f.fetch(&events, T);
    f.fetch(&[], T);
    let p = f.fetch(&events, T);
    assert_eq!(p.touch.len(), 2);
    assert!(!f.memory.suspect_pending);
    assert_eq!(f.blocks.len(), 2);
}

#[test]
fn a_sharp_shrink_is_suspect_and_a_different_shrink_is_not_a_confirmation() {
    let mut f = Feed::new();
    let four: Vec<FeedEvent> = (0..4)
        .map(|i| {
            event(
                &format!("e{i}"),
                &format!("2026031{i}"),
                &format!("2026031{}", i + 1),
                NA,
            )
        })
        .collect();
    f.fetch(&four, T);
    let p = f.fetch(&four[..1], T);
    assert!(p.suspect);
    assert_eq!(p.warnings[0].kind, ReconcileWarningKind::SuspectShrink);
    f.wait_hours(3);
    let p = f.fetch(&four[1..2], T);
    assert!(p.suspect, "another shrunken set restarts the suspicion");
    assert!(p.deletes.is_empty());
    f.wait_hours(3);
    let p = f.fetch(&four[1..2], T);
    assert!(!p.suspect);
    assert_eq!(p.deletes.len(), 3);
    assert_eq!(f.ranges(), [r("e1", "20260311", "20260312")]);
    // Losing exactly half is not suspect.
    let mut g = Feed::new();
    g.fetch(&four, T);
    assert!(!g.fetch(&four[..2], T).suspect);
}

#[test]
fn a_suspect_fetch_never_shrinks_a_block_from_today_on() {
    let mut f = Feed::new();
    let events = [
        event("a", "20260310", "20260320", NA),
        event("b", "20260401", "20260402", NA),
        event("c", "20260403", "20260404", NA),
    ];
    f.fetch(&events, T);
    let p = f.fetch(&[event("a2", "20260315", "20260318", NA)], T);
    assert!(p.suspect);
    assert_eq!(f.ranges()[0], r("a2", "20260310", "20260320"));
    // The same shrunken feed again, three hours on: now the new dates apply and the rest goes.
    f.wait_hours(3);
    f.fetch(&[event("a2", "20260315", "20260318", NA)], T);
    assert_eq!(f.ranges(), [r("a2", "20260315", "20260318")]);
}

#[test]
fn duplicate_uids_keep_one_block_each_and_cancelled_events_take_nothing() {
    let mut f = Feed::new();
    let mut cancelled = event("c", "20260320", "20260322", NA);
    cancelled.status = Some("CANCELLED".to_owned());
    let p = f.fetch(
        &[
            event("d", "20260310", "20260312", NA),
            event("d", "20260314", "20260316", NA),
            cancelled,
        ],
        T,
    );
    let kinds: Vec<_> = p.warnings.iter().map(|w| w.kind).collect();
    assert_eq!(
        kinds,
        [
            ReconcileWarningKind::DuplicateUid,
            ReconcileWarningKind::CancelledIgnored
        ]
    );
    assert_eq!(
        f.ranges(),
        [
            r("d", "20260310", "20260312"),
            r("d#2", "20260314", "20260316")
        ]
    );
}

#[test]
fn stored_summaries_are_safe_labels() {
    let mut f = Feed::new();
    let mut vrbo = event("v", "20260310", "20260312", "Reserved - John Smith");
    vrbo.channel = posada_ical::Channel::Vrbo;
    f.fetch(&[vrbo], T);
    assert_eq!(f.blocks[0].summary, "Vrbo: reservado");
}

#[test]
fn memory_serialises() {
    let m = FeedMemory {
        previous_future_event_count: 3,
        suspect_pending: true,
        suspect_fingerprint: Some("00ff".to_owned()),
        suspect_since: Some(now()),
    };
    let json = serde_json::to_string(&m).unwrap();
    assert_eq!(serde_json::from_str::<FeedMemory>(&json).unwrap(), m);
    assert_eq!(serde_json::from_str::<FeedMemory>("{\"previous_future_event_count\":0,\"suspect_pending\":false,\"suspect_fingerprint\":null,\"suspect_since\":null}").unwrap(), FeedMemory::default());
}
