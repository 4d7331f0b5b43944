//! Channel calendar sync end to end: both real channel histories replayed fetch by fetch through
//! the real `SyncFeed` job against a local fake channel, fetch failures and their status, 304s,
//! conflicts with their owner alert and health, holds refused over imported nights, the export
//! (stable bytes, ETag/304, no guest data, no echo, parsed by Python `icalendar`), a Vrbo feed,
//! and the admin API.

use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use posada_ical::{FeedEvent, ParseOptions, Tz, parse_with};
use posada_jobs::Job;
use posada_jobs::{JobOptions, JobState};
use posada_server::jobs::sync_feed::SyncFeed;

fn unique_key(feed_id: i64) -> String {
    SyncFeed {
        feed_id,
        as_of: None,
    }
    .unique_key()
    .unwrap_or_default()
}
use posada_store::blocks::BlockRow;
use posada_testkit::{FakeChannel, SmtpSink};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, days_from_now, eventually, health_until};
use crate::on_both;

// ---------------------------------------------------------------------------------------------
// Helpers

async fn body(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The channel fixtures of posada-ical (real feeds, scrubbed), shared rather than copied.
fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ical/tests/fixtures")
}

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(fixtures_dir().join(rel)).unwrap()
}

fn manifest(dir: &str) -> Value {
    serde_json::from_slice(&fixture(&format!("{dir}/manifest.json"))).unwrap()
}

fn behaviour(dir: &str, name: &str) -> Vec<usize> {
    manifest(dir)["behaviours"][name]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect()
}

/// `NNN-YYYYMMDDTHHMMSSZ.ics` → the snapshot's commit time.
fn commit_time(file: &str) -> DateTime<Utc> {
    NaiveDateTime::parse_from_str(&file[4..19], "%Y%m%dT%H%M%S")
        .unwrap()
        .and_utc()
}

fn ymd(s: &str) -> String {
    s.replace('-', "")
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// A small Airbnb-style feed with all-day events `(uid, first night, checkout)`.
pub(crate) fn ics(events: &[(&str, String, String)]) -> String {
    let mut out = String::from(
        "BEGIN:VCALENDAR\r\nPRODID:-//Airbnb Inc//Hosting Calendar 1.0//EN\r\nCALSCALE:GREGORIAN\r\nVERSION:2.0\r\n",
    );
    for (uid, start, end) in events {
        out.push_str(&format!(
            "BEGIN:VEVENT\r\nDTEND;VALUE=DATE:{}\r\nDTSTART;VALUE=DATE:{}\r\nUID:{uid}\r\nSUMMARY:Reserved\r\nDESCRIPTION:Reservation URL: https://www.airbnb.com/hosting/reservations/details/HMX\\nPhone Number (Last 4 Digits): 1234\r\nEND:VEVENT\r\n",
            ymd(end),
            ymd(start)
        ));
    }
    out.push_str("END:VCALENDAR\r\n");
    out
}

async fn accommodation(app: &TestApp, slug: &str) -> i64 {
    app.create_accommodation(slug, 50_000).await["id"]
        .as_i64()
        .unwrap()
}

async fn add_feed(app: &TestApp, acc: i64, channel: &str, url: &str) -> i64 {
    let (status, feed) = body(
        app.admin_post(
            "/api/v1/admin/feeds",
            &json!({"accommodation_id": acc, "channel": channel, "url": url}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{feed}");
    assert_eq!(feed["enabled"], true);
    feed["id"].as_i64().unwrap()
}

async fn feed_status(app: &TestApp, feed_id: i64) -> Value {
    let (status, feed) = body(
        app.admin_get(&format!("/api/v1/admin/feeds/{feed_id}"))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{feed}");
    feed
}

/// Run one `SyncFeed` job through the engine (enqueue, wait until it completed) and return the
/// feed's status afterwards.
async fn sync(app: &TestApp, feed_id: i64, as_of: Option<DateTime<Utc>>) -> Value {
    let job_id = app
        .state
        .jobs()
        .enqueue(
            &SyncFeed { feed_id, as_of },
            JobOptions::unique(unique_key(feed_id)),
        )
        .await
        .unwrap()
        .expect("no other sync of this feed is live");
    let admin = app.state.jobs().admin();
    eventually(Duration::from_secs(60), || {
        let admin = admin.clone();
        async move {
            let job = admin.get(job_id).await.unwrap()?;
            assert_ne!(job.job.state, JobState::Discarded, "{:?}", job.errors);
            (job.job.state == JobState::Completed).then_some(())
        }
    })
    .await;
    feed_status(app, feed_id).await
}

async fn channel_blocks(app: &TestApp, acc: i64) -> Vec<BlockRow> {
    posada_store::blocks::list(app.state.db(), Some(acc), Some("channel"))
        .await
        .unwrap()
}

fn covered(blocks: &[BlockRow], night: NaiveDate) -> bool {
    blocks
        .iter()
        .any(|b| b.start_date <= night && night < b.end_date)
}

fn nights(start: NaiveDate, end: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    start.iter_days().take_while(move |d| *d < end)
}

// ---------------------------------------------------------------------------------------------
// History replays

/// One fetch of a replay, as the database saw it afterwards.
struct Step {
    snapshot: usize,
    poll: usize,
    today: NaiveDate,
    events: Vec<FeedEvent>,
    blocks: Vec<BlockRow>,
    feed: Value,
}

impl Step {
    fn label(&self) -> String {
        format!(
            "snapshot {:03} poll {} (today {})",
            self.snapshot, self.poll, self.today
        )
    }

    fn suspect(&self) -> bool {
        self.feed["warning"]
            .as_str()
            .is_some_and(|w| w.contains("nothing removed"))
    }

    fn current(&self) -> impl Iterator<Item = &FeedEvent> {
        self.events
            .iter()
            .filter(|e| e.blocks_dates() && e.end > self.today)
    }
}

/// Serves each snapshot of `dir` in turn at one path of a fake channel and syncs it `polls(n)`
/// times, five minutes apart from the snapshot's commit time, through the real job.
/// A feed under test: the app, the fake channel serving it at `path`, its id and accommodation.
struct Served<'a> {
    app: &'a TestApp,
    channel: &'a FakeChannel,
    path: &'a str,
    feed_id: i64,
    acc: i64,
}

async fn replay(
    served: &Served<'_>,
    dir: &str,
    tz: Tz,
    polls: impl Fn(usize) -> usize,
) -> Vec<Step> {
    let Served {
        app,
        channel,
        path,
        feed_id,
        acc,
    } = *served;
    let m = manifest(dir);
    let mut steps = Vec::new();
    for (i, f) in m["files"].as_array().unwrap().iter().enumerate() {
        let name = f["file"].as_str().unwrap();
        let bytes = fixture(&format!("{dir}/{name}"));
        channel.set_feed(path, bytes.clone());
        for poll in 1..=polls(i + 1) {
            let now = commit_time(name) + chrono::Duration::minutes(5 * (poll as i64 - 1));
            let feed = sync(app, feed_id, Some(now)).await;
            assert!(
                feed["last_error"].is_null(),
                "{dir} {name} poll {poll}: {feed}"
            );
            steps.push(Step {
                snapshot: i + 1,
                poll,
                today: now.with_timezone(&tz).date_naive(),
                events: parse_with(&bytes, &ParseOptions { tz }).events,
                blocks: channel_blocks(app, acc).await,
                feed,
            });
        }
    }
    steps
}

/// After every fetch: every night from today on that a current event holds is held; no block
/// ended; UIDs unique; labels generic; outside suspect fetches the blocks seen now are exactly
/// the current events.
fn check_invariants(s: &Step, label_prefix: &str) {
    let l = s.label();
    for e in s.current() {
        for n in nights(e.start.max(s.today), e.end) {
            assert!(covered(&s.blocks, n), "{l}: night {n} of {} is free", e.uid);
        }
    }
    assert!(
        s.blocks.iter().all(|b| b.end_date > s.today),
        "{l}: a past block was kept"
    );
    let uids: HashSet<&str> = s.blocks.iter().filter_map(|b| b.uid.as_deref()).collect();
    assert_eq!(uids.len(), s.blocks.len(), "{l}: duplicate UIDs");
    for b in &s.blocks {
        assert!(b.reason.starts_with(label_prefix), "{l}: {}", b.reason);
    }
    assert_eq!(
        s.feed["blocks_held"].as_i64().unwrap(),
        s.blocks.len() as i64,
        "{l}"
    );
    if !s.suspect() {
        let seen: BTreeSet<(String, NaiveDate, NaiveDate)> = s
            .blocks
            .iter()
            .filter(|b| b.missing_count == 0)
            .map(|b| (b.uid.clone().unwrap(), b.start_date, b.end_date))
            .collect();
        let current: BTreeSet<(String, NaiveDate, NaiveDate)> = s
            .current()
            .map(|e| (e.uid.clone(), e.start, e.end))
            .collect();
        assert_eq!(seen, current, "{l}");
        assert_eq!(
            s.feed["events_seen"].as_i64().unwrap(),
            current.len() as i64,
            "{l}"
        );
    }
}

fn step(steps: &[Step], snapshot: usize, poll: usize) -> &Step {
    steps
        .iter()
        .find(|s| s.snapshot == snapshot && s.poll == poll)
        .unwrap()
}

/// The manifest's events of snapshot `n` as (uid, start, end).
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

const BOOKING: &str = "booking-history";
const AIRBNB: &str = "airbnb-history";

async fn booking_history_replays_through_the_sync_job(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.timezone = "Europe/Rome".into();
        s.enable_scheduled_tasks = false;
    })
    .await;
    let channel = FakeChannel::start().await;
    let acc = accommodation(&app, "vita").await;
    let path = "/booking/vita.ics";
    let feed_id = add_feed(&app, acc, "booking", &channel.url(path)).await;
    // Every snapshot is polled twice (the second answer is a 304); the empty feed (030) four
    // times over fifteen minutes.
    let empty = behaviour(BOOKING, "empty_feed_zero_events");
    assert_eq!(empty, [30]);
    let served = Served {
        app: &app,
        channel: &channel,
        path,
        feed_id,
        acc,
    };
    let steps = replay(&served, BOOKING, Tz::Europe__Rome, |n| {
        if n == 30 { 4 } else { 2 }
    })
    .await;
    assert_eq!(steps.len(), 31 * 2 + 4);
    for s in &steps {
        check_invariants(s, "Booking.com: ");
    }

    // The second poll of each snapshot went out conditionally and came back 304.
    let requests = channel.requests_to(path);
    assert_eq!(requests.len(), steps.len());
    let not_modified = requests.iter().filter(|r| r.status == 304).count();
    assert_eq!(not_modified, 31 + 3, "one 304 per repeated poll");
    assert!(
        requests
            .iter()
            .filter(|r| r.status == 304)
            .all(|r| r.request.header("if-none-match").is_some())
    );

    // Cancellations: held on the first fetch without them, freed on the second (a 304 replaying
    // the same content), unless they came back.
    let mut cases = behaviour(BOOKING, "booking_disappears_cancellation");
    cases.extend(behaviour(BOOKING, "in_progress_stay_removed_mid_stay"));
    assert_eq!(cases, [2, 3, 8, 20]);
    let mut freed = 0;
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
        let first = step(&steps, n, 1);
        let free_now: Vec<NaiveDate> = nights((*start).max(first.today), *end)
            .filter(|d| !first.current().any(|e| e.start <= *d && *d < e.end))
            .collect();
        assert!(!free_now.is_empty(), "snapshot {n}: {uid}");
        for night in &free_now {
            assert!(
                covered(&first.blocks, *night),
                "snapshot {n}: {night} of {uid} freed on the first fetch"
            );
        }
        assert_eq!(
            first.blocks.iter().filter(|b| b.missing_count == 1).count(),
            1,
            "snapshot {n}"
        );
        let second = step(&steps, n, 2);
        for night in nights((*start).max(second.today), *end)
            .filter(|d| !second.current().any(|e| e.start <= *d && *d < e.end))
        {
            assert!(
                !covered(&second.blocks, night),
                "snapshot {n}: {night} of {uid} still held after two fetches"
            );
            freed += 1;
        }
        // And on the next snapshot's first fetch, unless the same UID came back.
        let next = step(&steps, n + 1, 1);
        if next.events.iter().any(|e| &e.uid == uid) {
            assert_eq!(n, 3, "only 282010… comes back (at 004)");
            assert!(
                next.blocks
                    .iter()
                    .any(|b| b.uid.as_ref() == Some(uid) && b.missing_count == 0)
            );
        } else {
            for night in nights((*start).max(next.today), *end)
                .filter(|d| !next.current().any(|e| e.start <= *d && *d < e.end))
            {
                assert!(
                    !covered(&next.blocks, night),
                    "snapshot {}: {night} of {uid} still held",
                    n + 1
                );
                freed += 1;
            }
        }
    }
    assert!(freed > 20, "the checks looked at real nights ({freed})");

    // The empty feed: nothing removed over four polls, a warning recorded; the next snapshot
    // takes the block over with its new UID and clears the warning.
    let before = step(&steps, 29, 2);
    for poll in 1..=4 {
        let s = step(&steps, 30, poll);
        assert!(s.events.is_empty());
        assert!(s.suspect(), "poll {poll}: {}", s.feed);
        assert_eq!(s.feed["events_seen"], 0);
        let ids = |b: &[BlockRow]| {
            b.iter()
                .map(|b| (b.id, b.start_date, b.end_date))
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&s.blocks), ids(&before.blocks), "poll {poll}");
        assert!(covered(&s.blocks, s.today));
    }
    let back = step(&steps, 31, 1);
    assert!(back.feed["warning"].is_null(), "{}", back.feed);
    assert_eq!(back.blocks.len(), 1);
    assert_eq!(
        back.blocks[0].uid.as_deref(),
        Some("ee790bf215f826f92677263a2d187bf6@booking.com")
    );
    assert_eq!(
        back.blocks[0].id, before.blocks[0].id,
        "updated, not churned"
    );
    assert_eq!(back.feed["consecutive_failures"], 0);
}

async fn airbnb_history_replays_through_the_sync_job(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.timezone = "UTC".into();
        s.enable_scheduled_tasks = false;
    })
    .await;
    let channel = FakeChannel::start().await;
    let acc = accommodation(&app, "casa-airbnb").await;
    let path = "/airbnb/listing.ics";
    let feed_id = add_feed(&app, acc, "airbnb", &channel.url(path)).await;
    let served = Served {
        app: &app,
        channel: &channel,
        path,
        feed_id,
        acc,
    };
    let steps = replay(&served, AIRBNB, Tz::UTC, |_| 2).await;
    assert_eq!(steps.len(), 19 * 2);
    for s in &steps {
        check_invariants(s, "Airbnb: ");
        assert!(!s.suspect(), "{}: {}", s.label(), s.feed);
    }
    // The moving "Not available" block is updated in place (same block id) while its start moves.
    let moving = behaviour(
        AIRBNB,
        "not_available_block_covering_today_dtstart_moves_daily_new_uid",
    );
    let mut moved = 0;
    for n in &moving {
        let prev = step(&steps, n - 1, 2);
        let now = step(&steps, *n, 1);
        let prev_ids: HashSet<i64> = prev.blocks.iter().map(|b| b.id).collect();
        let new_uid_blocks: Vec<&BlockRow> = now
            .blocks
            .iter()
            .filter(|b| !prev.blocks.iter().any(|p| p.uid == b.uid))
            .collect();
        for b in new_uid_blocks {
            moved += 1;
            assert!(
                prev_ids.contains(&b.id),
                "{}: new UID {:?} got a new block instead of taking one over",
                now.label(),
                b.uid
            );
        }
    }
    // 005–013 move the block; at 014 and 015 it has ended and simply goes.
    assert_eq!(moved, 9);
    let last = steps.last().unwrap();
    assert_eq!(last.blocks.len(), 3);
    assert!(channel.requests_to(path).iter().all(|r| {
        r.request
            .header("user-agent")
            .is_some_and(|ua| ua.contains("Mozilla"))
    }));
}

// ---------------------------------------------------------------------------------------------
// Fetch failures and status

async fn fetch_failures_update_the_status_and_remove_nothing(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.enable_scheduled_tasks = false;
        s.ical_fetch_timeout_seconds = 1;
    })
    .await;
    let channel = FakeChannel::start().await;
    let acc = accommodation(&app, "lago").await;
    let path = "/a.ics";
    let good = ics(&[
        ("a1@airbnb.com", days_from_now(3), days_from_now(6)),
        ("a2@airbnb.com", days_from_now(20), days_from_now(25)),
    ]);
    channel.set_feed(path, good.clone());
    let feed_id = add_feed(&app, acc, "airbnb", &channel.url(path)).await;

    let first = sync(&app, feed_id, None).await;
    assert!(first["last_error"].is_null(), "{first}");
    assert_eq!(first["blocks_held"], 2);
    assert_eq!(first["events_seen"], 2);
    assert_eq!(first["consecutive_failures"], 0);
    assert!(first["etag"].is_string());
    assert!(first["last_success_at"].is_string());
    let reasons: Vec<String> = channel_blocks(&app, acc)
        .await
        .into_iter()
        .map(|b| b.reason)
        .collect();
    assert_eq!(reasons, ["Airbnb: reservado", "Airbnb: reservado"]);

    // Unchanged: a conditional GET answered 304 counts as a success.
    let second = sync(&app, feed_id, None).await;
    let last = channel.requests_to(path).pop().unwrap();
    assert_eq!(last.status, 304);
    assert_eq!(last.request.header("if-none-match"), first["etag"].as_str());
    assert!(second["last_error"].is_null());
    assert_eq!(second["blocks_held"], 2);
    let success_at = second["last_success_at"].clone();
    assert_ne!(success_at, first["last_success_at"]);

    let expect_failure = |feed: &Value, kind: &str, failures: i64| {
        assert_eq!(feed["last_error_kind"], kind, "{feed}");
        assert!(feed["last_error"].is_string(), "{feed}");
        assert_eq!(feed["consecutive_failures"], failures, "{feed}");
        assert_eq!(feed["blocks_held"], 2, "{feed}");
        assert_eq!(feed["last_success_at"], success_at, "{feed}");
    };

    channel.set_status(path, 503);
    expect_failure(&sync(&app, feed_id, None).await, "http_status", 1);
    channel.set_slow(path, Duration::from_secs(3), good.clone());
    expect_failure(&sync(&app, feed_id, None).await, "timeout", 2);
    channel.set_huge(path, 6 * 1024 * 1024, true);
    expect_failure(&sync(&app, feed_id, None).await, "too_large", 3);
    channel.set_huge(path, 6 * 1024 * 1024, false);
    expect_failure(&sync(&app, feed_id, None).await, "too_large", 4);
    channel.set_feed(path, "<html><body>Mantenimiento</body></html>");
    expect_failure(&sync(&app, feed_id, None).await, "parse", 5);

    let put = |url: String| {
        let app = &app;
        async move {
            let (status, feed) = body(
                app.admin_put(
                    &format!("/api/v1/admin/feeds/{feed_id}"),
                    &json!({"accommodation_id": acc, "channel": "airbnb", "url": url}),
                )
                .await,
            )
            .await;
            assert_eq!(status, 200, "{feed}");
            assert!(feed["etag"].is_null(), "a new URL forgets the validators");
        }
    };
    put(posada_testkit::unreachable_url()).await;
    expect_failure(&sync(&app, feed_id, None).await, "connect", 6);
    channel.set_feed(path, good.clone());
    put(channel.redirect_chain("/loop", 7, path)).await;
    expect_failure(&sync(&app, feed_id, None).await, "redirect", 7);

    // Two redirects to a good feed: success, the status is clean again.
    put(channel.redirect_chain("/moved", 2, path)).await;
    let ok = sync(&app, feed_id, None).await;
    assert!(ok["last_error"].is_null(), "{ok}");
    assert!(ok["last_error_kind"].is_null());
    assert_eq!(ok["consecutive_failures"], 0);
    assert_eq!(ok["blocks_held"], 2);

    // An empty calendar with 200: suspect, nothing removed, a warning recorded.
    channel.set_feed(path, ics(&[]));
    let empty = sync(&app, feed_id, None).await;
    assert!(empty["last_error"].is_null(), "{empty}");
    assert_eq!(empty["blocks_held"], 2);
    assert_eq!(empty["events_seen"], 0);
    assert!(
        empty["warning"]
            .as_str()
            .unwrap()
            .contains("nothing removed"),
        "{empty}"
    );

    // The list shows every status field.
    let (status, list) = body(app.admin_get("/api/v1/admin/feeds").await).await;
    assert_eq!(status, 200);
    let f = &list["feeds"][0];
    for key in [
        "last_attempt_at",
        "last_success_at",
        "last_error",
        "last_error_kind",
        "consecutive_failures",
        "events_seen",
        "blocks_held",
        "warning",
    ] {
        assert!(f.get(key).is_some(), "{key} missing in {f}");
    }
    assert!(f.get("memory").is_none() && f.get("last_events").is_none());

    let metrics = app.state.metrics().render();
    assert!(
        metrics.contains(&format!(
            "ical_sync_errors_total{{accommodation_id=\"{acc}\",error_type=\"timeout\"}}"
        )),
        "{metrics}"
    );
    assert!(metrics.contains("ical_sync_duration_seconds"));
}

// ---------------------------------------------------------------------------------------------
// Conflicts and holds

async fn imported_block_over_a_reservation_is_a_conflict(backend: Backend) {
    let smtp = SmtpSink::start().await;
    let (smtp_host, smtp_port) = (smtp.host(), smtp.port());
    let app = TestApp::spawn_with(backend, |s| {
        s.enable_scheduled_tasks = false;
        s.owner_email = Some("duena@example.com".into());
        s.smtp_host = Some(smtp_host);
        s.smtp_port = smtp_port;
        s.smtp_security = "plain".into();
        s.smtp_from = Some("Cabañas del Lago <reservas@posada.example>".into());
    })
    .await;
    // The owner's conflict alerts the sink received.
    let alert_mails = |code: &str| {
        let subject = format!("⚠ Conflicto de fechas · reserva {code}");
        smtp.messages()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t == "duena@example.com"))
            .filter_map(|m| m.parsed())
            .filter(|m| m.subject.as_deref() == Some(subject.as_str()))
            .collect::<Vec<_>>()
    };
    let channel = FakeChannel::start().await;
    let acc = accommodation(&app, "bosque").await;
    let res = app
        .pre_reserve("bosque", &days_from_now(10), &days_from_now(13))
        .await;
    let (status, hold) = body(res).await;
    assert_eq!(status, 201, "{hold}");
    let reservation =
        posada_store::reservations::get_by_code(app.state.db(), hold["code"].as_str().unwrap())
            .await
            .unwrap()
            .unwrap();

    let healthy: Value = app.get("/api/v1/healthz").await.json().await.unwrap();
    assert_eq!(healthy["checks"]["ical"]["status"], "healthy", "{healthy}");

    let path = "/conflict.ics";
    channel.set_feed(
        path,
        ics(&[
            ("over@airbnb.com", days_from_now(11), days_from_now(12)),
            ("later@airbnb.com", days_from_now(20), days_from_now(25)),
        ]),
    );
    let feed_id = add_feed(&app, acc, "airbnb", &channel.url(path)).await;
    let feed = sync(&app, feed_id, None).await;
    assert_eq!(
        feed["blocks_held"], 2,
        "stored although it overlaps: {feed}"
    );

    let (status, conflicts) = body(app.admin_get("/api/v1/admin/conflicts").await).await;
    assert_eq!(status, 200);
    let list = conflicts["conflicts"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{conflicts}");
    assert_eq!(list[0]["reservation_id"], reservation.id);
    assert_eq!(list[0]["reservation_code"], hold["code"]);
    assert_eq!(list[0]["block_start"], days_from_now(11));
    assert_eq!(list[0]["feed_id"], feed_id);

    let alerts = |app: &TestApp| {
        let db = app.state.db().clone();
        let id = reservation.id;
        async move {
            posada_store::notifications::for_reservation(&db, id)
                .await
                .unwrap()
                .into_iter()
                .filter(|n| n.template == "owner_conflict_alert")
                .collect::<Vec<_>>()
        }
    };
    // The owner gets the alert by mail, not only a row saying one is due.
    app.run_pending_jobs().await;
    let code = hold["code"].as_str().unwrap();
    let mails = alert_mails(code);
    assert_eq!(
        mails.len(),
        1,
        "the owner's conflict alert was not delivered"
    );
    let text = mails[0].text.as_deref().unwrap_or_default();
    assert!(text.contains("Airbnb informa ocupado"), "{text}");
    let sent = alerts(&app).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].status, "sent", "{:?}", sent[0]);
    assert_eq!(sent[0].audience, "owner");
    assert_eq!(sent[0].channel, "email");
    assert_eq!(sent[0].recipient.as_deref(), Some("duena@example.com"));
    let data: Value = serde_json::from_str(&sent[0].data).unwrap();
    assert_eq!(data["code"], hold["code"]);
    assert_eq!(
        data["block_start"],
        chrono::NaiveDate::parse_from_str(&days_from_now(11), "%Y-%m-%d")
            .unwrap()
            .format("%d/%m/%Y")
            .to_string()
    );
    assert!(
        data["problem"]
            .as_str()
            .unwrap()
            .starts_with("Airbnb informa ocupado")
    );

    let health = health_until(&app, |h| h["checks"]["ical"]["open_conflicts"] == 1).await;
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["checks"]["ical"]["status"], "degraded");
    assert_eq!(health["checks"]["ical"]["open_conflicts"], 1);
    assert!(
        app.state
            .metrics()
            .render()
            .contains("ical_conflicts_total")
    );

    // Seen again: still one conflict, still one alert.
    channel.set_feed(
        path,
        ics(&[
            ("over@airbnb.com", days_from_now(11), days_from_now(12)),
            ("later@airbnb.com", days_from_now(20), days_from_now(26)),
        ]),
    );
    sync(&app, feed_id, None).await;
    assert_eq!(alerts(&app).await.len(), 1);
    app.run_pending_jobs().await;
    assert_eq!(alert_mails(code).len(), 1, "no second mail");
    let (_, conflicts) = body(app.admin_get("/api/v1/admin/conflicts").await).await;
    assert_eq!(conflicts["conflicts"].as_array().unwrap().len(), 1);

    // A hold over the imported nights is refused like any taken night.
    let (status, problem) = body(
        app.pre_reserve("bosque", &days_from_now(21), &days_from_now(23))
            .await,
    )
    .await;
    assert_eq!(status, 409, "{problem}");

    // The channel drops the overlapping event; after two fetches without it the block goes and
    // the conflict closes, health is back to healthy.
    channel.set_feed(
        path,
        ics(&[("later@airbnb.com", days_from_now(20), days_from_now(26))]),
    );
    sync(&app, feed_id, None).await;
    let (_, conflicts) = body(app.admin_get("/api/v1/admin/conflicts").await).await;
    assert_eq!(
        conflicts["conflicts"].as_array().unwrap().len(),
        1,
        "kept one fetch"
    );
    let feed = sync(&app, feed_id, None).await;
    assert_eq!(feed["blocks_held"], 1);
    let (_, conflicts) = body(app.admin_get("/api/v1/admin/conflicts").await).await;
    assert!(conflicts["conflicts"].as_array().unwrap().is_empty());
    let health = health_until(&app, |h| h["checks"]["ical"]["open_conflicts"] == 0).await;
    assert_eq!(health["checks"]["ical"]["status"], "healthy", "{health}");
}

// ---------------------------------------------------------------------------------------------
// Export

fn python_parse(body: &[u8]) -> Value {
    use std::io::Write;
    let script = r#"
import icalendar, json, sys
cal = icalendar.Calendar.from_ical(sys.stdin.buffer.read())
out = {"version": str(cal.get("VERSION")), "method": str(cal.get("METHOD")), "prodid": str(cal.get("PRODID")), "events": []}
for ev in cal.walk("VEVENT"):
    out["events"].append({
        "uid": str(ev.get("UID")),
        "start": ev.decoded("DTSTART").isoformat(),
        "end": ev.decoded("DTEND").isoformat(),
        "summary": str(ev.get("SUMMARY")),
        "has_dtstamp": ev.get("DTSTAMP") is not None,
    })
print(json.dumps(out))
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs (scripts/test installs .ci/requirements.txt)");
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python icalendar failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn path_of(url: &str) -> String {
    let i = url.find("/ical/").unwrap();
    url[i..].to_string()
}

async fn export_is_stable_private_and_leaves_out_the_channels_own_blocks(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.enable_scheduled_tasks = false).await;
    let channel = FakeChannel::start().await;
    let acc = accommodation(&app, "montana").await;
    let (status, hold) = body(
        app.pre_reserve("montana", &days_from_now(5), &days_from_now(7))
            .await,
    )
    .await;
    assert_eq!(status, 201, "{hold}");
    let res_id =
        posada_store::reservations::get_by_code(app.state.db(), hold["code"].as_str().unwrap())
            .await
            .unwrap()
            .unwrap()
            .id;
    let (status, owner_block) = body(
        app.admin_post(
            "/api/v1/admin/blocks",
            &json!({"accommodation_id": acc, "check_in": days_from_now(8), "check_out": days_from_now(9), "reason": "pintura del deck"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{owner_block}");
    let owner_block_id = owner_block["id"].as_i64().unwrap();

    channel.set_feed(
        "/airbnb.ics",
        ics(&[("air@airbnb.com", days_from_now(12), days_from_now(14))]),
    );
    channel.set_feed(
        "/booking.ics",
        ics(&[("bk@booking.com", days_from_now(15), days_from_now(17))]),
    );
    let airbnb_feed = add_feed(&app, acc, "airbnb", &channel.url("/airbnb.ics")).await;
    let booking_feed = add_feed(&app, acc, "booking", &channel.url("/booking.ics")).await;
    sync(&app, airbnb_feed, None).await;
    sync(&app, booking_feed, None).await;
    let blocks = channel_blocks(&app, acc).await;
    let block_of = |feed: i64| blocks.iter().find(|b| b.feed_id == Some(feed)).unwrap().id;
    let (airbnb_block, booking_block) = (block_of(airbnb_feed), block_of(booking_feed));

    let (status, exports) = body(
        app.admin_get(&format!("/api/v1/admin/accommodations/{acc}/ical-exports"))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{exports}");
    let list = exports["exports"].as_array().unwrap();
    let channels: Vec<&str> = list
        .iter()
        .map(|e| e["channel"].as_str().unwrap())
        .collect();
    assert_eq!(channels, ["airbnb", "booking", "other", "vrbo"]);
    let url_of = |ch: &str| {
        list.iter().find(|e| e["channel"] == ch).unwrap()["url"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(url_of("airbnb").starts_with("http://127.0.0.1:8080/ical/"));
    assert!(url_of("airbnb").ends_with(".ics"));
    // The secret is stored hashed: asking again shows no URL, only when it was made and how to
    // make a new one (the URLs shown once keep working).
    let (_, again) = body(
        app.admin_get(&format!("/api/v1/admin/accommodations/{acc}/ical-exports"))
            .await,
    )
    .await;
    for (first, later) in list.iter().zip(again["exports"].as_array().unwrap()) {
        assert_eq!(later["channel"], first["channel"]);
        assert_eq!(later["created_at"], first["created_at"]);
        assert_eq!(later["url"], Value::Null, "{again}");
        assert_eq!(
            later["rotate"],
            format!(
                "/api/v1/admin/accommodations/{acc}/ical-exports/{}/rotate",
                first["channel"].as_str().unwrap()
            )
        );
    }
    let token = url_of("airbnb")
        .rsplit('/')
        .next()
        .unwrap()
        .trim_end_matches(".ics")
        .to_string();
    assert!(
        posada_store::feeds::find_export_token(app.state.db(), &token)
            .await
            .unwrap()
            .is_none(),
        "the plain token is not what is stored"
    );

    let airbnb_path = path_of(&url_of("airbnb"));
    let first = app.get(&airbnb_path).await;
    assert_eq!(first.status(), 200);
    assert_eq!(
        first.headers()["content-type"],
        "text/calendar; charset=utf-8"
    );
    let etag = first.headers()["etag"].to_str().unwrap().to_string();
    assert!(etag.starts_with('"') && !etag.starts_with("W/"));
    let bytes = first.bytes().await.unwrap();
    let second = app.get(&airbnb_path).await;
    assert_eq!(second.headers()["etag"].to_str().unwrap(), etag);
    assert_eq!(
        second.bytes().await.unwrap(),
        bytes,
        "two fetches, same bytes"
    );
    let cached = app
        .client
        .get(app.url(&airbnb_path))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), 304);
    assert!(cached.bytes().await.unwrap().is_empty());

    let text = String::from_utf8(bytes.to_vec()).unwrap();
    for secret in [
        "Ana",
        "Pérez",
        "ana@example.com",
        "5555",
        "1234",
        "pintura",
        "Reservation URL",
    ] {
        assert!(!text.contains(secret), "the export leaks {secret}:\n{text}");
    }
    assert!(text.contains("\r\nMETHOD:PUBLISH\r\n"));
    assert!(text.lines().all(|l| l.len() <= 76), "folded at 75 octets");

    let parsed = python_parse(&bytes);
    assert_eq!(parsed["version"], "2.0");
    assert_eq!(parsed["method"], "PUBLISH");
    let events: BTreeSet<(String, String, String)> = parsed["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["has_dtstamp"], true);
            (
                e["uid"].as_str().unwrap().to_string(),
                e["start"].as_str().unwrap().to_string(),
                e["end"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: BTreeSet<(String, String, String)> = [
        (
            format!("res-{res_id}@posada"),
            days_from_now(5),
            days_from_now(7),
        ),
        (
            format!("block-{owner_block_id}@posada"),
            days_from_now(8),
            days_from_now(9),
        ),
        (
            format!("block-{booking_block}@posada"),
            days_from_now(15),
            days_from_now(17),
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(
        events, expected,
        "Airbnb's export leaves out Airbnb's blocks"
    );
    assert!(!text.contains(&format!("block-{airbnb_block}@posada")));
    let summaries: HashSet<&str> = parsed["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["summary"].as_str().unwrap())
        .collect();
    assert_eq!(summaries, HashSet::from(["Reservado", "No disponible"]));

    // Booking.com's export has Airbnb's block and not its own.
    let booking_text = app
        .get(&path_of(&url_of("booking")))
        .await
        .text()
        .await
        .unwrap();
    assert!(booking_text.contains(&format!("block-{airbnb_block}@posada")));
    assert!(!booking_text.contains(&format!("block-{booking_block}@posada")));
    assert!(booking_text.contains(&format!("res-{res_id}@posada")));

    // Rotating the Airbnb URL: the old one is gone, the new one works, the others are untouched.
    let (status, rotated) = body(
        app.admin_post(
            &format!("/api/v1/admin/accommodations/{acc}/ical-exports/airbnb/rotate"),
            &json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    let new_path = path_of(rotated["url"].as_str().unwrap());
    assert_ne!(new_path, airbnb_path);
    let gone = app.get(&airbnb_path).await;
    assert_eq!(gone.status(), 404);
    assert_eq!(gone.headers()["content-type"], "application/problem+json");
    let fresh = app.get(&new_path).await;
    assert_eq!(fresh.status(), 200);
    assert_eq!(fresh.bytes().await.unwrap(), bytes);
    assert_eq!(app.get(&path_of(&url_of("booking"))).await.status(), 200);
    assert_eq!(app.get("/ical/not-a-token.ics").await.status(), 404);
    assert_eq!(
        app.admin_post(
            &format!("/api/v1/admin/accommodations/{acc}/ical-exports/expedia/rotate"),
            &json!({})
        )
        .await
        .status(),
        404
    );
}

// ---------------------------------------------------------------------------------------------
// Vrbo and the admin API

async fn vrbo_feed_imports_without_guest_names(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.enable_scheduled_tasks = false).await;
    let channel = FakeChannel::start().await;
    let acc = accommodation(&app, "vrbo-house").await;
    channel.set_feed("/vrbo.ics", fixture("vrbo.ics"));
    let feed_id = add_feed(&app, acc, "vrbo", &channel.url("/vrbo.ics")).await;
    let as_of = date("2026-01-01").and_hms_opt(12, 0, 0).unwrap().and_utc();
    let feed = sync(&app, feed_id, Some(as_of)).await;
    assert!(feed["last_error"].is_null(), "{feed}");
    assert_eq!(feed["events_seen"], 4);
    let blocks = channel_blocks(&app, acc).await;
    let got: Vec<(NaiveDate, NaiveDate, &str)> = blocks
        .iter()
        .map(|b| (b.start_date, b.end_date, b.reason.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (date("2026-01-10"), date("2026-01-15"), "Vrbo: reservado"),
            (
                date("2026-01-20"),
                date("2026-01-22"),
                "Vrbo: reserva tentativa"
            ),
            (date("2026-02-01"), date("2026-02-05"), "Vrbo: bloqueado"),
            // 1 March 16:00 to 5 March 10:00 New York time: the 5th is the check-out day.
            (date("2026-03-01"), date("2026-03-05"), "Vrbo: reservado"),
        ]
    );
    assert_eq!(
        blocks[0].uid.as_deref(),
        Some("6f1c2a4e-8b3d-4f5a-9c7e-2d1b0a9e8f71")
    );
    // Nothing a guest wrote is stored, not even in the events kept for 304 replays.
    let stored = sqlx_text(&app, feed_id).await;
    for name in ["Maria", "Lucas", "Sofia"] {
        assert!(!stored.contains(name), "{name} stored: {stored}");
        assert!(blocks.iter().all(|b| !b.reason.contains(name)));
    }
}

/// Issue 15 #13: a channel stay written with times (15:00 arrival, 11:00 departure) blocks its
/// nights up to the one before its check-out day; a guest can check in on that day.
async fn a_timed_channel_stay_leaves_its_check_out_day_free(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.enable_scheduled_tasks = false).await;
    let channel = FakeChannel::start().await;
    let acc = accommodation(&app, "timed-house").await;
    let (arrival, checkout) = (days_from_now(20), days_from_now(23));
    let feed = format!(
        "BEGIN:VCALENDAR\r\nPRODID:-//HomeAway.com, Inc.//EN\r\nVERSION:2.0\r\n\
BEGIN:VEVENT\r\nUID:timed-1\r\nDTSTART;TZID=America/Argentina/Buenos_Aires:{}T150000\r\n\
DTEND;TZID=America/Argentina/Buenos_Aires:{}T110000\r\nSUMMARY:Reserved - Ana\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n",
        ymd(&arrival),
        ymd(&checkout)
    );
    channel.set_feed("/timed.ics", feed.into_bytes());
    let feed_id = add_feed(&app, acc, "vrbo", &channel.url("/timed.ics")).await;
    let status = sync(&app, feed_id, None).await;
    assert!(status["last_error"].is_null(), "{status}");
    let blocks = channel_blocks(&app, acc).await;
    let got: Vec<(NaiveDate, NaiveDate)> =
        blocks.iter().map(|b| (b.start_date, b.end_date)).collect();
    assert_eq!(got, [(date(&arrival), date(&checkout))]);
    // The check-out day is free for the next guest; the night before it is not.
    let res = app
        .pre_reserve("timed-house", &checkout, &days_from_now(25))
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let res = app
        .pre_reserve("timed-house", &days_from_now(22), &days_from_now(23))
        .await;
    assert_eq!(res.status(), 409, "{}", res.text().await.unwrap());
}

/// The feed's stored JSON columns (memory and replay events), as text.
async fn sqlx_text(app: &TestApp, feed_id: i64) -> String {
    let sql = "SELECT memory || COALESCE(last_events, '') FROM feeds WHERE id = $1";
    match app.state.db() {
        posada_db::Db::Sqlite(p) => sqlx::query_scalar(sql)
            .bind(feed_id)
            .fetch_one(p)
            .await
            .unwrap(),
        posada_db::Db::Postgres(p) => sqlx::query_scalar(sql)
            .bind(feed_id)
            .fetch_one(p)
            .await
            .unwrap(),
    }
}

async fn admin_feed_api_validates_syncs_now_and_deletes(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.enable_scheduled_tasks = false).await;
    let channel = FakeChannel::start().await;
    let acc = accommodation(&app, "rio").await;

    let (status, p) = body(
        app.admin_post(
            "/api/v1/admin/feeds",
            &json!({"accommodation_id": acc, "channel": "expedia", "url": "ftp://example.com/x.ics"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422, "{p}");
    let fields: HashSet<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, HashSet::from(["channel", "url"]));
    let (status, p) = body(
        app.admin_post(
            "/api/v1/admin/feeds",
            &json!({"accommodation_id": 9999, "channel": "airbnb", "url": "https://example.com/x.ics"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(p["errors"][0]["field"], "accommodation_id");
    let (status, p) = body(
        app.admin_post("/api/v1/admin/feeds", &json!({"channel": "airbnb"}))
            .await,
    )
    .await;
    assert_eq!(status, 422, "{p}");
    // Unauthenticated and read-only callers.
    assert_eq!(app.get("/api/v1/admin/feeds").await.status(), 401);
    let ro = app
        .client
        .post(app.url("/api/v1/admin/feeds"))
        .bearer_auth(&app.read_token)
        .json(&json!({"accommodation_id": acc, "channel": "airbnb", "url": "https://example.com/x.ics"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ro.status(), 403);

    channel.set_feed(
        "/rio.ics",
        ics(&[("r1@airbnb.com", days_from_now(2), days_from_now(4))]),
    );
    let feed_id = add_feed(&app, acc, "airbnb", &channel.url("/rio.ics")).await;
    // "Sync now" runs the job on the workers.
    let (status, queued) = body(
        app.admin_post(&format!("/api/v1/admin/feeds/{feed_id}/sync"), &json!({}))
            .await,
    )
    .await;
    assert_eq!(status, 202, "{queued}");
    assert!(queued["job_id"].is_i64());
    let feed = eventually(Duration::from_secs(30), || {
        let app = &app;
        async move {
            let f = feed_status(app, feed_id).await;
            (f["blocks_held"] == 1).then_some(f)
        }
    })
    .await;
    assert!(feed["last_success_at"].is_string());

    // Filtered list.
    let (_, list) = body(
        app.admin_get(&format!("/api/v1/admin/feeds?accommodation_id={acc}"))
            .await,
    )
    .await;
    assert_eq!(list["feeds"].as_array().unwrap().len(), 1);
    let (_, list) = body(
        app.admin_get("/api/v1/admin/feeds?accommodation_id=9999")
            .await,
    )
    .await;
    assert!(list["feeds"].as_array().unwrap().is_empty());

    // Disabled feeds are not synced on demand.
    let (status, _) = body(
        app.admin_put(
            &format!("/api/v1/admin/feeds/{feed_id}"),
            &json!({"accommodation_id": acc, "channel": "airbnb", "url": channel.url("/rio.ics"), "enabled": false}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = body(
        app.admin_post(&format!("/api/v1/admin/feeds/{feed_id}/sync"), &json!({}))
            .await,
    )
    .await;
    assert_eq!(status, 409);

    // The periodic pass enqueues only enabled feeds, under the feed's unique key, jittered
    // within 10 % of the interval; a feed with a live sync is not enqueued twice.
    let other = add_feed(&app, acc, "booking", &channel.url("/rio.ics")).await;
    let before = chrono::Utc::now();
    let n = posada_server::app::channels::enqueue_all_syncs(&app.state)
        .await
        .unwrap();
    assert_eq!(n, 1);
    let again = posada_server::app::channels::enqueue_all_syncs(&app.state)
        .await
        .unwrap();
    let jobs = app
        .state
        .jobs()
        .admin()
        .list(
            &posada_jobs::ListFilter {
                kind: Some("ical.sync_feed".into()),
                ..Default::default()
            },
            posada_jobs::Page::default(),
        )
        .await
        .unwrap();
    let periodic: Vec<_> = jobs
        .iter()
        .filter(|j| j.unique_key.as_deref() == Some(unique_key(other).as_str()))
        .collect();
    assert!(!periodic.is_empty());
    assert_eq!(periodic.len() as u64, 1 + again);
    assert!(
        periodic.iter().filter(|j| j.state.is_live()).count() <= 1,
        "at most one live sync per feed"
    );
    let first = periodic.last().unwrap();
    assert!(first.run_at >= before - chrono::Duration::seconds(1));
    assert!(
        first.run_at <= before + chrono::Duration::seconds(31),
        "{:?}",
        first.run_at
    );
    assert!(
        jobs.iter().all(
            |j| j.unique_key.as_deref() != Some(unique_key(feed_id).as_str()) || j.run_at < before
        ),
        "the disabled feed was not enqueued"
    );

    // Deleting the feed frees its nights.
    assert_eq!(
        app.admin_delete(&format!("/api/v1/admin/feeds/{feed_id}"))
            .await
            .status(),
        204
    );
    assert!(
        channel_blocks(&app, acc)
            .await
            .iter()
            .all(|b| b.feed_id != Some(feed_id))
    );
    assert_eq!(
        app.admin_get(&format!("/api/v1/admin/feeds/{feed_id}"))
            .await
            .status(),
        404
    );
    assert_eq!(
        app.admin_delete(&format!("/api/v1/admin/feeds/{feed_id}"))
            .await
            .status(),
        404
    );
}

// ---------------------------------------------------------------------------------------------
// Deleting an accommodation that has export URLs and feeds (issue 15 #5)

async fn deleting_an_accommodation_takes_its_exports_and_feeds_with_it(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.enable_scheduled_tasks = false).await;
    let acc = accommodation(&app, "arrayan").await;
    let feed = add_feed(
        &app,
        acc,
        "airbnb",
        "https://www.airbnb.com/calendar/ical/1.ics",
    )
    .await;
    let (status, exports) = body(
        app.admin_get(&format!("/api/v1/admin/accommodations/{acc}/ical-exports"))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{exports}");

    let (status, deleted) = body(
        app.admin_delete(&format!("/api/v1/admin/accommodations/{acc}"))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(deleted["deleted"], true, "{deleted}");
    let gone = app
        .admin_get(&format!("/api/v1/admin/accommodations/{acc}"))
        .await;
    assert_eq!(gone.status(), 404);
    let feed_gone = app.admin_get(&format!("/api/v1/admin/feeds/{feed}")).await;
    assert_eq!(feed_gone.status(), 404);
    for export in exports["exports"].as_array().unwrap() {
        if let Some(url) = export["url"].as_str() {
            assert_eq!(app.get(&path_of(url)).await.status(), 404, "{url}");
        }
    }

    // With a block it has history: it is deactivated, its feeds and exports kept.
    let kept = accommodation(&app, "maiten").await;
    add_feed(
        &app,
        kept,
        "booking",
        "https://admin.booking.com/ical/2.ics",
    )
    .await;
    let res = app
        .admin_post(
            "/api/v1/admin/blocks",
            &json!({"accommodation_id": kept, "check_in": days_from_now(3), "check_out": days_from_now(5), "reason": "pintura"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let (status, deactivated) = body(
        app.admin_delete(&format!("/api/v1/admin/accommodations/{kept}"))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{deactivated}");
    assert_eq!(deactivated["deactivated"], true, "{deactivated}");
}

// ---------------------------------------------------------------------------------------------
// "Sync now" while a sync runs (issue 15 #12)

/// A "sync now" that arrives while a sync is fetching names a new job that fetches after it, and
/// the older fetch never overwrites the newer one's blocks, whichever finishes first.
async fn sync_now_while_a_sync_runs_fetches_again(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.enable_scheduled_tasks = false).await;
    let channel = FakeChannel::start().await;
    let acc = accommodation(&app, "radal").await;
    let first_stay = (days_from_now(10), days_from_now(12));
    let later_stay = (days_from_now(20), days_from_now(23));
    channel.set_feed(
        "/radal.ics",
        ics(&[("a@airbnb.com", first_stay.0.clone(), first_stay.1.clone())]),
    );
    let feed = add_feed(&app, acc, "airbnb", &channel.url("/radal.ics")).await;
    app.run_pending_jobs().await;
    let before = channel.requests_to("/radal.ics").len();

    let mut held = channel.hold_next("/radal.ics");
    let sync_url = format!("/api/v1/admin/feeds/{feed}/sync");
    let (status, running) = body(app.admin_post(&sync_url, &json!({})).await).await;
    assert_eq!(status, 202, "{running}");
    assert_eq!(running["already_queued"], false);
    let running_job = running["job_id"].as_i64().unwrap();
    held.arrived().await;
    // The channel changes while that sync's request is in flight, and the owner asks again.
    channel.set_feed(
        "/radal.ics",
        ics(&[
            ("a@airbnb.com", first_stay.0.clone(), first_stay.1.clone()),
            ("b@airbnb.com", later_stay.0.clone(), later_stay.1.clone()),
        ]),
    );
    let (status, again) = body(app.admin_post(&sync_url, &json!({})).await).await;
    assert_eq!(status, 202, "{again}");
    let follow_up = again["job_id"].as_i64().expect("the answer names the job");
    assert_ne!(follow_up, running_job, "{again}");
    assert_eq!(again["already_queued"], false, "{again}");
    held.release();
    app.run_pending_jobs().await;

    assert_eq!(channel.requests_to("/radal.ics").len(), before + 2);
    let blocks = channel_blocks(&app, acc).await;
    assert!(covered(&blocks, date(&first_stay.0)), "{blocks:?}");
    assert!(
        covered(&blocks, date(&later_stay.0)),
        "the newer fetch's stay is kept: {blocks:?}"
    );
}

on_both!(
    sync_now_while_a_sync_runs_fetches_again,
    deleting_an_accommodation_takes_its_exports_and_feeds_with_it,
    booking_history_replays_through_the_sync_job,
    airbnb_history_replays_through_the_sync_job,
    fetch_failures_update_the_status_and_remove_nothing,
    imported_block_over_a_reservation_is_a_conflict,
    export_is_stable_private_and_leaves_out_the_channels_own_blocks,
    vrbo_feed_imports_without_guest_names,
    a_timed_channel_stay_leaves_its_check_out_day_free,
    admin_feed_api_validates_syncs_now_and_deletes,
);
