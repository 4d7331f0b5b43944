//! `posada bench ical`: how fast channel sync is, on this machine, without the network.
//!
//! Two figures: parse throughput of one generated 10,000-event feed (MB/s), and the wall time to
//! sync 200 feeds served by a local HTTP server through the real sync path (fetch, parse,
//! reconcile, one write transaction per feed) into a fresh SQLite file, with bounded concurrency,
//! first with full answers and then with every feed answering 304.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::app::{Clock, SystemClock};
use anyhow::Context;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::NaiveDate;
use clap::Args;
use posada_db::{ConnectOptions, Db};
use posada_ical::{ParseOptions, Tz, parse_with};
use serde_json::json;

use crate::config::Settings;
use crate::state::AppState;

/// Options of `posada bench ical`.
#[derive(Debug, Clone, Args)]
pub struct IcalBench {
    /// Events in the feed whose parsing is measured.
    #[arg(long, default_value_t = 10_000)]
    pub events: usize,
    /// Feeds to sync from the local server.
    #[arg(long, default_value_t = 200)]
    pub feeds: usize,
    /// Events per synced feed.
    #[arg(long, default_value_t = 20)]
    pub events_per_feed: usize,
    /// Syncs running at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Print one JSON object instead of lines.
    #[arg(long)]
    pub json: bool,
}

/// An Airbnb-style feed: CRLF, folded DESCRIPTION lines, all-day events from `first` on.
fn feed(seed: usize, events: usize, first: NaiveDate) -> String {
    let mut out = String::with_capacity(events * 330 + 200);
    out.push_str("BEGIN:VCALENDAR\r\nPRODID:-//Airbnb Inc//Hosting Calendar 1.0//EN\r\nCALSCALE:GREGORIAN\r\nVERSION:2.0\r\n");
    for i in 0..events {
        let start = first + chrono::Duration::days((i * 3) as i64);
        let end = start + chrono::Duration::days(2);
        out.push_str(&format!(
            "BEGIN:VEVENT\r\nDTSTAMP:20250809T072409Z\r\nDTSTART;VALUE=DATE:{}\r\nDTEND;VALUE=DATE:{}\r\nSUMMARY:Reserved\r\nUID:{seed:012x}-{i:032x}@airbnb.com\r\nDESCRIPTION:Reservation URL: https://www.airbnb.com/hosting/reservations/det\r\n ails/HM{i:08}\\nPhone Number (Last 4 Digits): {:04}\r\nEND:VEVENT\r\n",
            start.format("%Y%m%d"),
            end.format("%Y%m%d"),
            i % 10_000
        ));
    }
    out.push_str("END:VCALENDAR\r\n");
    out
}

struct Feeds {
    bodies: Vec<String>,
}

async fn serve_feed(
    State(feeds): State<Arc<Feeds>>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(i) = file
        .strip_suffix(".ics")
        .and_then(|n| n.parse::<usize>().ok())
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(body) = feeds.bodies.get(i) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = format!("\"feed-{i}\"");
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str())
    {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    (
        [
            (
                header::CONTENT_TYPE,
                "text/calendar; charset=utf-8".to_string(),
            ),
            (header::ETAG, etag),
        ],
        body.clone(),
    )
        .into_response()
}

/// Sync every feed once with at most `concurrency` at a time; returns the wall time and how
/// many syncs did not end `synced`.
async fn sync_all(
    state: &AppState,
    ids: &[i64],
    concurrency: usize,
) -> anyhow::Result<(Duration, usize)> {
    let permits = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for &id in ids {
        let permit = permits.clone().acquire_owned().await?;
        let state = state.clone();
        set.spawn(async move {
            let report = crate::app::channels::sync_feed(&state, id, state.now()).await;
            drop(permit);
            report
        });
    }
    let mut failed = 0;
    while let Some(done) = set.join_next().await {
        let report = done??;
        if !matches!(
            report.outcome,
            crate::app::channels::SyncOutcome::Synced { .. }
        ) {
            failed += 1;
        }
    }
    Ok((started.elapsed(), failed))
}

/// Run the benchmark and print its figures.
pub async fn run(args: IcalBench) -> anyhow::Result<()> {
    if args.events == 0 || args.feeds == 0 || args.concurrency == 0 {
        anyhow::bail!("--events, --feeds and --concurrency must be at least 1");
    }
    let today = SystemClock.now().date_naive();

    // 1. Parse throughput.
    let big = feed(1, args.events, today);
    let opts = ParseOptions { tz: Tz::UTC };
    let warm = parse_with(big.as_bytes(), &opts);
    anyhow::ensure!(
        warm.events.len() == args.events,
        "the generated feed parsed to {} events",
        warm.events.len()
    );
    let mut rounds = 0u32;
    let started = Instant::now();
    while rounds < 3 || started.elapsed() < Duration::from_secs(2) {
        std::hint::black_box(parse_with(std::hint::black_box(big.as_bytes()), &opts));
        rounds += 1;
    }
    let parse_secs = started.elapsed().as_secs_f64() / f64::from(rounds);
    let mb_per_s = big.len() as f64 / 1e6 / parse_secs;

    // 2. Sync of many feeds from a local server into a fresh SQLite file.
    let feeds = Arc::new(Feeds {
        bodies: (0..args.feeds)
            .map(|i| feed(i + 2, args.events_per_feed, today))
            .collect(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        let app = Router::new()
            .route("/feed/{file}", get(serve_feed))
            .with_state(feeds);
        axum::serve(listener, app).await
    });
    let dir = std::env::temp_dir().join(format!("posada-bench-ical-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite://{}", dir.join("bench.db").display());
    let result = sync_bench(&args, &url, addr).await;
    server.abort();
    let _ = std::fs::remove_dir_all(&dir);
    let (first, failed_first, second, failed_second, blocks) = result?;

    if args.json {
        println!(
            "{}",
            json!({
                "parse": {"events": args.events, "bytes": big.len(), "seconds": parse_secs, "mb_per_s": mb_per_s},
                "sync": {"feeds": args.feeds, "events_per_feed": args.events_per_feed, "concurrency": args.concurrency,
                         "full_seconds": first.as_secs_f64(), "not_modified_seconds": second.as_secs_f64(),
                         "failed": failed_first + failed_second, "blocks": blocks},
            })
        );
    } else {
        println!(
            "parse: {} events, {:.2} MB in {:.1} ms → {:.0} MB/s",
            args.events,
            big.len() as f64 / 1e6,
            parse_secs * 1e3,
            mb_per_s
        );
        println!(
            "sync: {} feeds × {} events, concurrency {}: {:.3} s (full answers), {:.3} s (all 304); {} blocks, {} failed",
            args.feeds,
            args.events_per_feed,
            args.concurrency,
            first.as_secs_f64(),
            second.as_secs_f64(),
            blocks,
            failed_first + failed_second
        );
    }
    Ok(())
}

type SyncFigures = (Duration, usize, Duration, usize, usize);

async fn sync_bench(
    args: &IcalBench,
    url: &str,
    addr: std::net::SocketAddr,
) -> anyhow::Result<SyncFigures> {
    let settings = Settings {
        database_url: url.to_string(),
        ..Settings::default()
    };
    let db = Db::connect(
        url,
        &ConnectOptions {
            max_connections: 32,
            ..ConnectOptions::default()
        },
    )
    .await?;
    crate::migrations::run(&db).await?;
    let state = AppState::new(db.clone(), settings, crate::startup::metrics_handle());
    let new: posada_domain::NewAccommodation = serde_json::from_value(json!({
        "name": "Cabaña de prueba",
        "slug": "bench",
        "kind": "cabin",
        "capacity": 4,
        "pricing": {"base_nightly": {"minor": 5_000_000, "currency": "ARS"}},
    }))
    .context("building the bench accommodation")?;
    let mut tx = db.begin().await?;
    let now = SystemClock.now();
    let acc = posada_store::accommodations::insert(tx.conn(), &new, "", now).await?;
    let mut ids = Vec::with_capacity(args.feeds);
    for i in 0..args.feeds {
        let f = posada_store::feeds::insert(
            tx.conn(),
            &posada_store::feeds::FeedInput {
                accommodation_id: acc.accommodation.id,
                channel: "airbnb",
                url: &format!("http://{addr}/feed/{i}.ics"),
                enabled: true,
            },
            now,
        )
        .await?;
        ids.push(f.id);
    }
    tx.commit().await?;
    let (first, failed_first) = sync_all(&state, &ids, args.concurrency).await?;
    let (second, failed_second) = sync_all(&state, &ids, args.concurrency).await?;
    let blocks = posada_store::blocks::list(&db, Some(acc.accommodation.id), Some("channel"))
        .await?
        .len();
    db.close().await;
    Ok((first, failed_first, second, failed_second, blocks))
}
