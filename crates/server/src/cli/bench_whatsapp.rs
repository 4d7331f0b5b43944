//! `posada bench whatsapp`: the guest side of WhatsApp under load.
//!
//! Starts posada in this process (HTTP, workers) on the chosen database with WhatsApp pointed at a
//! local stand-in for the Graph API, then sends signed webhook deliveries — one guest message
//! each, from distinct phones — at a fixed rate. It measures two things: how long the webhook
//! takes to acknowledge a delivery, and how long from sending a guest's message until the first
//! reply to that guest reaches the Graph API (the assistant's answer, through the job and the
//! outbox). Nothing leaves the machine.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::bench::BenchBackend;
use crate::app::accommodations::AccommodationIn;
use crate::config::{Secret, Settings};
use crate::startup::{Application, Roles};

/// Options of `posada bench whatsapp`.
#[derive(Debug, clap::Args)]
pub struct WhatsappBench {
    /// Database kind.
    #[arg(long, value_enum, default_value = "sqlite")]
    backend: BenchBackend,
    /// Database to use (default: a temporary SQLite file; required for PostgreSQL — use a
    /// scratch database, the bench writes into it).
    #[arg(long)]
    database_url: Option<String>,
    /// Webhook deliveries to send (one guest message each, from distinct phones).
    #[arg(long, default_value_t = 2_000)]
    deliveries: usize,
    /// Deliveries per second.
    #[arg(long, default_value_t = 200)]
    rate: u32,
    /// What each guest writes.
    #[arg(
        long,
        default_value = "hola! tienen lugar del 15 al 20 de marzo para 2?"
    )]
    text: String,
    /// Share of the deliveries (0 to 0.9) that repeat an earlier delivery byte for byte, as Meta
    /// does when it redelivers; the rest come from distinct phones. A flood:
    /// `--deliveries 10000 --rate 2000 --duplicates 0.3`.
    #[arg(long, default_value_t = 0.0)]
    duplicates: f64,
    /// Start the workers only once every delivery was acknowledged: the API node is measured
    /// alone, as when the workers run on other machines (the replies then wait for the flood to
    /// end, so their latency means nothing in this mode).
    #[arg(long)]
    workers_after: bool,
    /// How long to wait for the last replies after the last delivery, in seconds.
    #[arg(long, default_value_t = 60)]
    wait_seconds: u64,
}

const PHONE_NUMBER_ID: &str = "106540352242922";
const APP_SECRET: &str = "bench-app-secret";

/// First message the stand-in Graph API received for each recipient.
type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

async fn graph_messages(
    State(arrivals): State<Arrivals>,
    body: axum::Json<Value>,
) -> axum::Json<Value> {
    let to = body
        .get("to")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let now = Instant::now();
    let n = {
        let mut map = arrivals.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.len();
        map.entry(to.clone()).or_insert(now);
        n
    };
    axum::Json(json!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": to, "wa_id": to}],
        "messages": [{"id": format!("wamid.bench.out.{n}.{}", uuid::Uuid::new_v4().simple())}],
    }))
}

async fn start_graph(arrivals: Arrivals) -> anyhow::Result<SocketAddr> {
    let app = Router::new()
        .route("/{version}/{phone}/messages", post(graph_messages))
        .with_state(arrivals);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("bench graph stand-in stopped: {e}");
        }
    });
    Ok(addr)
}

fn sign(body: &[u8]) -> anyhow::Result<String> {
    let mut mac = Hmac::<Sha256>::new_from_slice(APP_SECRET.as_bytes())
        .map_err(|e| anyhow::anyhow!("hmac key: {e}"))?;
    mac.update(body);
    Ok(format!(
        "sha256={}",
        hex::encode(mac.finalize().into_bytes())
    ))
}

fn delivery(phone: &str, wamid: &str, text: &str) -> Value {
    let message = json!({
        "from": phone, "id": wamid, "timestamp": chrono::Utc::now().timestamp().to_string(),
        "type": "text", "text": {"body": text},
    });
    json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "5491100000000", "phone_number_id": PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": "Huésped"}, "wa_id": phone}],
        "messages": [message],
    }}]}]})
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Run the benchmark.
pub async fn run(opts: WhatsappBench) -> anyhow::Result<()> {
    if opts.deliveries == 0 || opts.rate == 0 {
        anyhow::bail!("--deliveries and --rate must be at least 1");
    }
    if !(0.0..=0.9).contains(&opts.duplicates) {
        anyhow::bail!("--duplicates must be between 0 and 0.9 (a share of the deliveries)");
    }
    let tmp = tempfile::tempdir()?;
    let url = match (opts.backend, opts.database_url) {
        (_, Some(url)) => url,
        (BenchBackend::Sqlite, None) => {
            format!("sqlite://{}", tmp.path().join("bench.db").display())
        }
        (BenchBackend::Postgres, None) => {
            anyhow::bail!(
                "--database-url postgres://… is required for --backend postgres (a scratch database)"
            )
        }
    };
    let arrivals: Arrivals = Arc::default();
    let graph = start_graph(arrivals.clone()).await?;
    let settings = Settings {
        database_url: url,
        posada_listen: "127.0.0.1:0".into(),
        whatsapp_access_token: Some(Secret::new("bench-token")),
        whatsapp_phone_number_id: Some(PHONE_NUMBER_ID.into()),
        whatsapp_app_secret: Some(Secret::new(APP_SECRET)),
        whatsapp_graph_url: format!("http://{graph}"),
        rate_limit_webhooks_per_minute: 10_000_000,
        rate_limit_public_per_minute: 10_000_000,
        ..Settings::default()
    };
    let worker_settings = settings.clone();
    let app = Application::build(
        settings,
        Some("127.0.0.1:0".parse()?),
        Roles {
            http: true,
            workers: !opts.workers_after,
        },
    )
    .await?;
    let addr = app
        .local_addr()
        .ok_or_else(|| anyhow::anyhow!("the bench server has no address"))?;
    let state = app.state().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    // One unit with a photo, so availability answers carry the image as they would for an owner.
    let unit: AccommodationIn = serde_json::from_value(json!({
        "name": "Cabaña del Lago", "slug": "lago", "kind": "cabin", "capacity": 4,
        "photos": [{"url": "https://img.example/lago.jpg", "caption": "Frente", "position": 1, "primary": true}],
        "pricing": {"base_nightly": {"minor": 5_000_000, "currency": "ARS"}},
    }))?;
    crate::app::accommodations::create(&state, &unit)
        .await
        .map_err(|e| anyhow::anyhow!("creating the bench unit: {e}"))?;

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let webhook = format!("http://{addr}/api/v1/webhooks/whatsapp");
    let run_id = &uuid::Uuid::new_v4().simple().to_string()[..6];
    let sent_at: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let mut interval = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(opts.rate)));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(opts.deliveries);
    // Bodies already sent, for the repeats (Meta redelivers a recent delivery unchanged).
    let mut sent_bodies: Vec<(Vec<u8>, String)> = Vec::new();
    let mut lcg: u64 = 0x2545_F491_4F6C_DD1D;
    for i in 0..opts.deliveries {
        interval.tick().await;
        let repeat = !sent_bodies.is_empty()
            && ((i + 1) as f64 * opts.duplicates).floor() > (i as f64 * opts.duplicates).floor();
        let (phone, body, signature) = if repeat {
            lcg = lcg
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let back = ((lcg >> 33) as usize % 50).min(sent_bodies.len() - 1);
            let (body, signature) = sent_bodies[sent_bodies.len() - 1 - back].clone();
            (None, body, signature)
        } else {
            let u = sent_bodies.len();
            let phone = format!("549{:010}", 1_100_000_000u64 + u as u64);
            let body = serde_json::to_vec(&delivery(
                &phone,
                &format!("wamid.bench.{run_id}.{u}"),
                &opts.text,
            ))?;
            let signature = sign(&body)?;
            sent_bodies.push((body.clone(), signature.clone()));
            (Some(phone), body, signature)
        };
        let (client, webhook, sent_at) = (client.clone(), webhook.clone(), sent_at.clone());
        tasks.push(tokio::spawn(async move {
            let t0 = Instant::now();
            if let Some(phone) = phone {
                sent_at
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(phone, t0);
            }
            let res = client
                .post(&webhook)
                .header("content-type", "application/json")
                .header("x-hub-signature-256", signature)
                .body(body)
                .send()
                .await;
            let ok = matches!(&res, Ok(r) if r.status().is_success());
            (t0.elapsed().as_secs_f64() * 1000.0, ok)
        }));
    }
    let unique = sent_bodies.len();
    let mut acks = Vec::with_capacity(tasks.len());
    let mut failed = 0usize;
    for t in tasks {
        let (ms, ok) = t.await?;
        if ok {
            acks.push(ms);
        } else {
            failed += 1;
        }
    }
    let send_seconds = started.elapsed().as_secs_f64();
    let (worker_stop, worker_stopped) = tokio::sync::oneshot::channel::<()>();
    let workers = if opts.workers_after {
        let workers = Application::build(
            worker_settings,
            None,
            Roles {
                http: false,
                workers: true,
            },
        )
        .await?;
        Some(tokio::spawn(workers.run_until_stopped(async move {
            let _ = worker_stopped.await;
        })))
    } else {
        None
    };
    let deadline = Instant::now() + Duration::from_secs(opts.wait_seconds);
    loop {
        let answered = arrivals.lock().unwrap_or_else(|p| p.into_inner()).len();
        if answered >= unique || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut replies: Vec<f64> = {
        let sent = sent_at.lock().unwrap_or_else(|p| p.into_inner());
        let got = arrivals.lock().unwrap_or_else(|p| p.into_inner());
        got.iter()
            .filter_map(|(phone, at)| {
                sent.get(phone)
                    .map(|t0| at.saturating_duration_since(*t0).as_secs_f64() * 1000.0)
            })
            .collect()
    };
    acks.sort_by(f64::total_cmp);
    replies.sort_by(f64::total_cmp);
    println!(
        "whatsapp bench ({}): {} deliveries ({} distinct, {} repeated) at {}/s sent in {:.1} s ({:.0}/s); {} refused",
        state.db().backend().as_str(),
        opts.deliveries,
        unique,
        opts.deliveries - unique,
        opts.rate,
        send_seconds,
        opts.deliveries as f64 / send_seconds,
        failed
    );
    println!(
        "  webhook acknowledgement: p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&acks, 50.0),
        percentile(&acks, 95.0),
        percentile(&acks, 99.0),
        acks.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "  message received → first reply handed to WhatsApp: {} of {} answered; p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms",
        replies.len(),
        unique,
        percentile(&replies, 50.0),
        percentile(&replies, 95.0),
        percentile(&replies, 99.0)
    );
    // Effects: one stored message per distinct delivery, and every guest the same replies.
    let stored = posada_store::conversations::count_inbound(state.db()).await?;
    let (fewest, most) =
        posada_store::conversations::outbox_per_recipient_range(state.db()).await?;
    println!(
        "  effects: {stored} guest messages stored for {unique} distinct deliveries; replies written per guest: {fewest} to {most}"
    );
    let exact = stored == unique as i64 && fewest == most && failed == 0;
    let _ = stop.send(());
    let _ = worker_stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(30), server).await;
    if let Some(workers) = workers {
        let _ = tokio::time::timeout(Duration::from_secs(30), workers).await;
    }
    if !exact {
        anyhow::bail!(
            "not exactly one effect per distinct delivery (stored {stored} of {unique}, replies per guest {fewest}..{most}, {failed} refused)"
        );
    }
    Ok(())
}
