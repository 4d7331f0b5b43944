//! Both real feed histories replayed fetch by fetch through `parse_with` and `reconcile`, with
//! the blocks checked after every fetch: no night a current event holds is ever free, real
//! cancellations are freed within two fetches, the empty Booking.com feed removes nothing, and
//! UID churn updates blocks instead of deleting and re-inserting them.

use crate::support::{fixture, manifest};
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use posada_ical::{
    FeedEvent, FeedMemory, ParseOptions, ReconcilePlan, ReconcileWarningKind, StoredBlock, Tz,
    parse_with, reconcile,
};
use std::collections::{BTreeSet, HashSet};

/// One fetch of the replay.
struct Fetch {
    /// 1-based snapshot number (the file's NNN).
    snapshot: usize,
    /// 1-based poll of that snapshot.
    poll: usize,
    today: NaiveDate,
    events: Vec<FeedEvent>,
    plan: ReconcilePlan,
    before: Vec<StoredBlock>,
    after: Vec<StoredBlock>,
}

fn commit_time(file: &str) -> DateTime<Utc> {
    // NNN-YYYYMMDDTHHMMSSZ.ics
    let stamp = &file[4..19];
    NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%S")
        .unwrap()
        .and_utc()
}

/// Replays a history, fetching each snapshot `polls` times five minutes apart (a real poller
/// sees the same content several times between changes).
fn replay(dir: &str, tz: Tz, polls: usize) -> Vec<Fetch> {
    let m = manifest(dir);
    let mut blocks: Vec<StoredBlock> = Vec::new();
    let mut memory = FeedMemory::default();
    let mut next_id = 1;
    let mut fetches = Vec::new();
    for (i, f) in m["files"].as_array().unwrap().iter().enumerate() {
        let name = f["file"].as_str().unwrap();
        let bytes = fixture(&format!("{dir}/{name}"));
        for poll in 1..=polls {
            let now = commit_time(name) + Duration::minutes(5 * (poll as i64 - 1));
            let today = now.with_timezone(&tz).date_naive();
            let feed = parse_with(&bytes, &ParseOptions { tz });
            let plan = reconcile(&blocks, &memory, &feed.events, today, now);
            let after = plan.apply(&blocks, now, &mut next_id);
            memory = plan.new_memory.clone();
            fetches.push(Fetch {
                snapshot: i + 1,
                poll,
                today,
                events: feed.events,
                plan,
                before: std::mem::replace(&mut blocks, after.clone()),
                after,
            });
        }
    }
    fetches
}

fn nights(start: NaiveDate, end: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    start.iter_days().take_while(move |d| *d < end)
}

fn covered(blocks: &[StoredBlock], night: NaiveDate) -> bool {
    blocks.iter().any(|b| b.start <= night && night < b.end)
}

/// Every night from today on that an event of the current snapshot holds is held by a block;
/// block ids and UIDs are unique; outside suspect fetches the blocks seen now are exactly the
/// current events.
fn check_invariants(f: &Fetch, label: &str) {
    for e in f.events.iter().filter(|e| e.end > f.today) {
        for n in nights(e.start.max(f.today), e.end) {
            assert!(
                covered(&f.after, n),
                "{label}: night {n} of {} is free",
                e.uid
            );
        }
    }
    let ids: HashSet<i64> = f.after.iter().map(|b| b.id).collect();
    let uids: HashSet<&str> = f.after.iter().map(|b| b.uid.as_str()).collect();
    assert_eq!(ids.len(), f.after.len(), "{label}: duplicate ids");
    assert_eq!(uids.len(), f.after.len(), "{label}: duplicate UIDs");
    if !f.plan.suspect {
        let seen: BTreeSet<(String, NaiveDate, NaiveDate)> = f
            .after
            .iter()
            .filter(|b| b.missing_count == 0)
            .map(|b| (b.uid.clone(), b.start, b.end))
            .collect();
        let current: BTreeSet<(String, NaiveDate, NaiveDate)> = f
            .events
            .iter()
            .filter(|e| e.end > f.today)
            .map(|e| (e.uid.clone(), e.start, e.end))
            .collect();
        assert_eq!(seen, current, "{label}");
    }
    assert!(
        f.after.iter().all(|b| b.end > f.today),
        "{label}: a past block was kept"
    );
}

/// Nights of a vanished event, from today on, that no current event holds.
fn free_nights_of(f: &Fetch, start: NaiveDate, end: NaiveDate) -> Vec<NaiveDate> {
    nights(start.max(f.today), end)
        .filter(|n| !f.events.iter().any(|e| e.start <= *n && *n < e.end))
        .collect()
}

fn behaviour(dir: &str, name: &str) -> Vec<usize> {
    manifest(dir)["behaviours"][name]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect()
}

/// The manifest events of snapshot `n` (1-based) as (uid, start, end).
fn manifest_events(dir: &str, n: usize) -> Vec<(String, NaiveDate, NaiveDate)> {
    let m = manifest(dir);
    m["files"][n - 1]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let d = |k: &str| NaiveDate::parse_from_str(e[k].as_str().unwrap(), "%Y%m%d").unwrap();
            (
                e["uid"].as_str().unwrap().to_owned(),
                d("dtstart"),
                d("dtend"),
            )
        })
        .collect()
}

fn label(dir: &str, f: &Fetch) -> String {
    format!(
        "{dir} snapshot {:03} poll {} (today {})",
        f.snapshot, f.poll, f.today
    )
}

fn fetch_of(fetches: &[Fetch], snapshot: usize, poll: usize) -> &Fetch {
    fetches
        .iter()
        .find(|f| f.snapshot == snapshot && f.poll == poll)
        .unwrap()
}

const BOOKING: &str = "booking-history";
const AIRBNB: &str = "airbnb-history";

#[test]
fn booking_history_never_frees_a_held_night() {
    for polls in [1, 2, 3] {
        let fetches = replay(BOOKING, Tz::Europe__Rome, polls);
        assert_eq!(fetches.len(), 32 * polls);
        for f in &fetches {
            check_invariants(f, &label(BOOKING, f));
        }
    }
}

#[test]
fn airbnb_history_never_frees_a_held_night() {
    for polls in [1, 2] {
        let fetches = replay(AIRBNB, Tz::UTC, polls);
        assert_eq!(fetches.len(), 19 * polls);
        for f in &fetches {
            check_invariants(f, &label(AIRBNB, f));
        }
    }
}

/// Cancellations (002, 003, 008) and the stay removed mid-stay (020): held on the fetch where
/// they vanish, freed on the next fetch unless they came back.
#[test]
fn booking_cancellations_are_freed_within_two_fetches() {
    let mut cases = behaviour(BOOKING, "booking_disappears_cancellation");
    cases.extend(behaviour(BOOKING, "in_progress_stay_removed_mid_stay"));
    assert_eq!(cases, [2, 3, 8, 20]);
    let single = replay(BOOKING, Tz::Europe__Rome, 1);
    let double = replay(BOOKING, Tz::Europe__Rome, 2);
    let mut freed_checks = 0;
    for n in cases {
        let now_uids: HashSet<String> = manifest_events(BOOKING, n)
            .into_iter()
            .map(|e| e.0)
            .collect();
        let vanished: Vec<_> = manifest_events(BOOKING, n - 1)
            .into_iter()
            .filter(|e| !now_uids.contains(&e.0))
            .collect();
        assert_eq!(vanished.len(), 1, "snapshot {n}");
        let (uid, start, end) = &vanished[0];

        // First fetch without it: still held (it may be a glitch).
        let first = fetch_of(&single, n, 1);
        let held = free_nights_of(first, *start, *end);
        assert!(!held.is_empty(), "snapshot {n}: {uid} has future nights");
        for night in &held {
            assert!(
                covered(&first.after, *night),
                "snapshot {n}: {night} freed on the first fetch"
            );
        }
        assert_eq!(first.plan.mark_missing.len(), 1, "snapshot {n}");

        // Second fetch of the same content (double polling): freed.
        let second = fetch_of(&double, n, 2);
        for night in free_nights_of(second, *start, *end) {
            assert!(
                !covered(&second.after, night),
                "snapshot {n}: {night} still held after two fetches"
            );
            freed_checks += 1;
        }

        // Next snapshot (single polling): freed unless the same UID came back.
        let next = fetch_of(&single, n + 1, 1);
        if next.events.iter().any(|e| &e.uid == uid) {
            assert_eq!(n, 3, "only 282010… comes back (at 004)");
            assert!(
                next.after
                    .iter()
                    .any(|b| &b.uid == uid && b.missing_count == 0)
            );
        } else {
            for night in free_nights_of(next, *start, *end) {
                assert!(
                    !covered(&next.after, night),
                    "snapshot {}: {night} still held",
                    n + 1
                );
                freed_checks += 1;
            }
        }
    }
    assert!(
        freed_checks > 20,
        "the checks looked at real nights ({freed_checks})"
    );
}

#[test]
fn booking_empty_feed_removes_nothing_and_warns() {
    assert_eq!(behaviour(BOOKING, "empty_feed_zero_events"), [30]);
    // Polled 12 times (an hour at five-minute intervals) the empty feed still removes nothing.
    let fetches = replay(BOOKING, Tz::Europe__Rome, 12);
    for poll in 1..=12 {
        let f = fetch_of(&fetches, 30, poll);
        assert!(f.events.is_empty());
        assert!(f.plan.suspect);
        assert!(f.plan.deletes.is_empty() && f.plan.mark_missing.is_empty());
        assert_eq!(f.plan.warnings.len(), 1);
        assert_eq!(f.plan.warnings[0].kind, ReconcileWarningKind::SuspectEmpty);
        assert_eq!(f.after, f.before, "poll {poll}");
        assert_eq!(f.after.len(), 1);
        assert!(covered(&f.after, f.today));
    }
    // 031 comes back with a new UID: it takes the block over; the suspicion clears.
    let back = fetch_of(&fetches, 31, 1);
    assert!(!back.plan.suspect);
    assert!(back.plan.inserts.is_empty() && back.plan.deletes.is_empty());
    assert_eq!(back.plan.updates.len(), 1);
    assert_eq!(
        back.plan.updates[0].uid,
        "ee790bf215f826f92677263a2d187bf6@booking.com"
    );
    assert!(!back.plan.new_memory.suspect_pending);
}

/// Stays extended or trimmed with a new UID, closure blocks moving with new UIDs and adjacent
/// events replaced by one: every time an update of an existing block, never delete + insert.
#[test]
fn booking_uid_churn_updates_blocks() {
    let fetches = replay(BOOKING, Tz::Europe__Rome, 1);
    let mut steps = Vec::new();
    for b in [
        "stay_extended_earlier_new_uid",
        "in_progress_stay_dtstart_trimmed_daily_new_uid",
        "closure_block_dtstart_trimmed_daily_new_uid",
        "far_future_block_dtstart_moved_later_new_uid",
        "two_adjacent_events_replaced_by_one_new_uid",
        "uid_reused_for_same_dtstart",
    ] {
        steps.extend(behaviour(BOOKING, b));
    }
    steps.sort_unstable();
    steps.dedup();
    assert_eq!(steps, [5, 12, 13, 14, 15, 16, 17, 18, 19, 26, 27, 28, 32]);
    for n in steps {
        let f = fetch_of(&fetches, n, 1);
        let l = label(BOOKING, f);
        assert!(f.plan.inserts.is_empty(), "{l}: {:?}", f.plan.inserts);
        // Only blocks that ended before today are deleted.
        for id in &f.plan.deletes {
            let b = f.before.iter().find(|b| b.id == *id).unwrap();
            assert!(b.end <= f.today, "{l}: deleted live block {}", b.uid);
        }
        assert!(f.plan.mark_missing.is_empty(), "{l}");
        // Every new UID of this snapshot took over a block that existed before.
        let before_uids: HashSet<&str> = f.before.iter().map(|b| b.uid.as_str()).collect();
        for e in f
            .events
            .iter()
            .filter(|e| e.end > f.today && !before_uids.contains(e.uid.as_str()))
        {
            let u = f.plan.updates.iter().find(|u| u.uid == e.uid);
            let u = u.unwrap_or_else(|| panic!("{l}: {} {:?}", e.uid, f.plan));
            assert!(f.before.iter().any(|b| b.id == u.id), "{l}");
        }
    }
    // Over the whole replay, inserts happen only for bookings that really appeared.
    let inserted: Vec<(usize, usize)> = fetches
        .iter()
        .filter(|f| !f.plan.inserts.is_empty())
        .map(|f| (f.snapshot, f.plan.inserts.len()))
        .collect();
    // 001 has 5 events but ed1729… ended that morning; 004's returning UID was still held.
    assert_eq!(inserted, [(1, 4), (6, 1), (7, 1), (9, 3), (10, 1), (22, 1)]);
}

#[test]
fn booking_far_future_block_keeps_its_uid_while_its_end_moves() {
    let fetches = replay(BOOKING, Tz::Europe__Rome, 1);
    for n in behaviour(BOOKING, "far_future_block_dtend_moves_uid_kept") {
        let f = fetch_of(&fetches, n, 1);
        let prev = fetch_of(&fetches, n - 1, 1);
        let changed: Vec<_> = f
            .plan
            .updates
            .iter()
            .filter(|u| {
                prev.after
                    .iter()
                    .any(|b| b.id == u.id && b.uid == u.uid && b.end != u.end)
            })
            .collect();
        assert_eq!(changed.len(), 1, "{} {:?}", label(BOOKING, f), f.plan);
    }
    // 024: the merge extends 4884fa… over the far-future block, which then goes after two fetches.
    let merge = fetch_of(&fetches, 24, 1);
    assert!(merge.plan.inserts.is_empty());
    assert_eq!(
        merge.plan.mark_missing.len(),
        1,
        "{:?} {:?}",
        merge.plan,
        merge.before
    );
    let far = merge.plan.mark_missing[0].0;
    assert_eq!(
        merge.before.iter().find(|b| b.id == far).unwrap().uid,
        "3d7da1f395dfe68633b956a1c8093ffc@booking.com"
    );
    let gone = fetch_of(&fetches, 25, 1);
    assert!(gone.plan.deletes.contains(&far));
    assert!(gone.after.iter().all(|b| b.id != far));
}

#[test]
fn airbnb_moving_not_available_block_and_window_are_updated_not_churned() {
    let fetches = replay(AIRBNB, Tz::UTC, 1);
    let moving = behaviour(
        AIRBNB,
        "not_available_block_covering_today_dtstart_moves_daily_new_uid",
    );
    let window = behaviour(AIRBNB, "far_future_window_block_dtend_moves_uid_kept");
    for n in moving.iter().chain(&window) {
        let f = fetch_of(&fetches, *n, 1);
        let l = label(AIRBNB, f);
        assert!(f.plan.inserts.is_empty(), "{l}");
        assert!(f.plan.mark_missing.is_empty(), "{l}");
        for id in &f.plan.deletes {
            let b = f.before.iter().find(|b| b.id == *id).unwrap();
            assert!(b.end <= f.today, "{l}: deleted live block {}", b.uid);
        }
    }
    let mut moved = 0;
    for n in moving {
        let f = fetch_of(&fetches, n, 1);
        let l = label(AIRBNB, f);
        let before_uids: HashSet<&str> = f.before.iter().map(|b| b.uid.as_str()).collect();
        for e in f
            .events
            .iter()
            .filter(|e| e.end > f.today && !before_uids.contains(e.uid.as_str()))
        {
            let u = f.plan.updates.iter().find(|u| u.uid == e.uid).unwrap();
            let old = f.before.iter().find(|b| b.id == u.id).unwrap();
            assert_eq!((old.end, u.end), (e.end, e.end), "{l}");
            assert!(u.start > old.start, "{l}");
            moved += 1;
        }
    }
    // 005–013 move the block; at 014 and 015 it has ended (DTEND 20250822) and simply goes.
    assert_eq!(moved, 9);
    let appears = fetch_of(
        &fetches,
        behaviour(AIRBNB, "far_future_window_block_appears")[0],
        1,
    );
    assert_eq!(appears.plan.inserts.len(), 1);
    let reserved = fetch_of(&fetches, behaviour(AIRBNB, "reserved_appears")[0], 1);
    assert_eq!(reserved.plan.inserts.len(), 1);
    assert_eq!(reserved.plan.inserts[0].summary, "Airbnb: reservado");
    // Past-drops: the block ended, so it goes at once, without waiting for missing fetches.
    for n in behaviour(AIRBNB, "reserved_drops_out_once_past")
        .into_iter()
        .chain(behaviour(AIRBNB, "not_available_block_drops_after_end"))
    {
        let f = fetch_of(&fetches, n, 1);
        assert!(!f.plan.suspect);
        assert!(f.plan.mark_missing.is_empty(), "{}", label(AIRBNB, f));
    }
    let last = fetches.last().unwrap();
    let mut held: Vec<_> = last
        .after
        .iter()
        .map(|b| (b.start, b.end, b.summary.as_str()))
        .collect();
    held.sort();
    assert_eq!(held.len(), 3);
    assert!(held.iter().all(|(_, _, s)| s.starts_with("Airbnb: ")));
}
