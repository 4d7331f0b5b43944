//! After the day: wait until the system settles, then check every promise on the database and on
//! what the fakes received.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use sqlx::{PgPool, Row};

use crate::proxy::lock;
use crate::traffic::{Window, quantile};
use crate::workload::{Counts, Setup};
use crate::{Disruptions, Report, World};

/// Longest wait for the system to settle after the day (holds live one minute; a job of a
/// killed node is rescued after its 30 s lease).
const SETTLE_WITHIN: Duration = Duration::from_secs(180);

async fn pool(world: &World) -> anyhow::Result<PgPool> {
    Ok(sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&world.db_url)
        .await?)
}

async fn count(db: &PgPool, sql: &str) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar::<_, i64>(sql).fetch_one(db).await?)
}

/// Jobs that should have run by now: due more than 5 s ago and not running, or running for more
/// than a minute.
const STUCK_JOBS: &str = "SELECT count(*) FROM jobs WHERE \
    (state IN ('available','scheduled','retryable') AND run_at < now() - interval '5 seconds') \
    OR (state = 'running' AND attempted_at < now() - interval '60 seconds')";

/// Wait until no hold is left, no job is overdue and no message is queued.
pub(crate) async fn drain(world: &World) -> anyhow::Result<()> {
    let db = pool(world).await?;
    let until = Instant::now() + SETTLE_WITHIN;
    loop {
        let held = count(
            &db,
            "SELECT count(*) FROM reservations WHERE state = 'pre_reserved'",
        )
        .await?;
        let stuck = count(&db, STUCK_JOBS).await?;
        let queued = count(
            &db,
            "SELECT count(*) FROM notifications WHERE status = 'queued'",
        )
        .await?;
        if held == 0 && stuck == 0 && queued == 0 {
            return Ok(());
        }
        if Instant::now() > until {
            anyhow::bail!(
                "after {SETTLE_WITHIN:?}: {held} holds still held, {stuck} jobs overdue, {queued} messages queued"
            );
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn window_text(w: Option<Window>) -> String {
    match w {
        Some(Window {
            start,
            end: Some(end),
        }) => format!("{start:.1}–{end:.1} s ({:.1} s)", end - start),
        Some(Window { start, end: None }) => format!("from {start:.1} s"),
        None => "did not happen".into(),
    }
}

/// Check every promise and fill the report.
pub(crate) async fn check(
    world: &World,
    setup: &Setup,
    counts: &Counts,
    d: &Disruptions,
    report: &mut Report,
) -> anyhow::Result<()> {
    let db = pool(world).await?;
    report.figure(
        "nodes",
        "2 × posada serve, 2 × posada worker, one PostgreSQL database (through a TCP proxy)",
    );
    report.figure("kill -9 worker-1", window_text(d.worker_kill));
    report.figure("kill -9 api-2 (until ready)", window_text(d.api_kill));
    report.figure("database refusing connections", window_text(d.db_outage));
    report.figure("WhatsApp API hanging", window_text(d.provider_hang));

    requests(world, d, report);
    holds(&db, setup, counts, report).await?;
    messages(world, &db, report).await?;
    inbound(&db, counts, report).await?;
    payments(&db, counts, report).await?;
    jobs(&db, report).await?;
    let feed_fetches = world.channel.requests().len();
    report.figure(
        "channel feeds",
        format!(
            "{} changes, {} \"sync now\", {} fetches by posada",
            counts.feed_changes, counts.sync_now, feed_fetches
        ),
    );
    if feed_fetches == 0 {
        report.violation("posada never fetched a channel feed");
    }
    Ok(())
}

/// p50, p95, p99 and max of `ms`.
fn latency_text(mut ms: Vec<f64>) -> String {
    ms.sort_by(f64::total_cmp);
    format!(
        "p50 {:.1}, p95 {:.1}, p99 {:.1}, max {:.1}",
        quantile(&ms, 0.5),
        quantile(&ms, 0.95),
        quantile(&ms, 0.99),
        ms.last().copied().unwrap_or(0.0)
    )
}

fn requests(world: &World, d: &Disruptions, report: &mut Report) {
    let st = lock(&world.traffic.stats);
    let answered: u64 = st.statuses.values().flat_map(|m| m.values()).sum();
    report.figure("requests", st.requests);
    report.figure("answered", answered);
    for (route, statuses) in &st.statuses {
        let text: Vec<String> = statuses.iter().map(|(s, n)| format!("{s}×{n}")).collect();
        report.figure(&format!("  {route}"), text.join(" "));
    }
    let all: Vec<f64> = st.latencies.values().flatten().copied().collect();
    report.figure("latency, all answers (ms)", latency_text(all));
    if let Some(holds) = st.latencies.get("hold") {
        report.figure("latency, holds (ms)", latency_text(holds.clone()));
    }
    report.figure("client timeouts (no answer in 20 s)", st.timeouts.len());
    for (t, route) in &st.timeouts {
        report.violation(format!(
            "{route} at {t:.1} s: no answer within 20 s (a hang)"
        ));
    }
    report.figure(
        "connections refused by a down node, sent to the other",
        st.failovers,
    );
    report.figure("requests cut by kill -9 of an API node", st.cut.len());
    for (t, route, e) in &st.cut {
        if !d.api_kill.is_some_and(|w| w.contains(*t, 1.0, 3.0)) {
            report.violation(format!(
                "{route} at {t:.1} s: connection cut outside the API node's kill ({e})"
            ));
        }
    }
    let in_outage = st
        .server_errors
        .iter()
        .filter(|(t, _, s)| *s == 503 && d.db_outage.is_some_and(|w| w.contains(*t, 0.0, 5.0)))
        .count();
    report.figure("503 during the database outage", in_outage);
    for (t, route, status) in &st.server_errors {
        if *status != 503 {
            report.violation(format!("{route} at {t:.1} s answered {status}"));
        } else if !d.db_outage.is_some_and(|w| w.contains(*t, 0.0, 5.0)) {
            report.violation(format!(
                "{route} at {t:.1} s answered 503 outside the database outage"
            ));
        }
    }
    for (t, route, status, body) in &st.unexpected {
        report.violation(format!("{route} at {t:.1} s answered {status}: {body}"));
    }
}

async fn holds(
    db: &PgPool,
    setup: &Setup,
    counts: &Counts,
    report: &mut Report,
) -> anyhow::Result<()> {
    report.figure(
        "quotes / hold requests",
        format!("{} / {}", counts.quotes, counts.hold_attempts),
    );
    report.figure(
        "holds answered 201 / 409",
        format!(
            "{} / {} ({} requests on 4 racing weekends × {} cabins)",
            counts.holds,
            counts.hold_conflicts,
            counts.racing_attempts,
            setup.units.len()
        ),
    );
    let doubles = sqlx::query(
        "SELECT a.code, b.code FROM reservations a JOIN reservations b \
         ON a.accommodation_id = b.accommodation_id AND a.id < b.id \
         AND a.check_in < b.check_out AND b.check_in < a.check_out \
         WHERE a.state IN ('pre_reserved','confirmed') AND b.state IN ('pre_reserved','confirmed')",
    )
    .fetch_all(db)
    .await?;
    report.figure("double bookings", doubles.len());
    for row in &doubles {
        report.violation(format!(
            "double booking: {} and {} share a night",
            row.get::<String, _>(0),
            row.get::<String, _>(1)
        ));
    }
    let rows = sqlx::query(
        "SELECT r.code, r.state, \
           count(h.id) FILTER (WHERE h.from_state = 'pre_reserved') AS left_hold, \
           count(h.id) FILTER (WHERE h.to_state = 'confirmed') AS confirmations, \
           count(h.id) FILTER (WHERE h.to_state = 'expired') AS expiries, \
           count(h.id) FILTER (WHERE h.to_state = 'cancelled') AS cancellations, \
           count(h.id) FILTER (WHERE h.from_state = 'expired' AND h.to_state = 'confirmed') AS late \
         FROM reservations r LEFT JOIN reservation_history h ON h.reservation_id = r.id \
         GROUP BY r.id, r.code, r.state",
    )
    .fetch_all(db)
    .await?;
    let mut states: BTreeMap<String, u64> = BTreeMap::new();
    let (mut confirmed, mut expired, mut cancelled, mut late) = (0i64, 0i64, 0i64, 0i64);
    let mut by_code: HashMap<String, String> = HashMap::new();
    for row in &rows {
        let code: String = row.get("code");
        let state: String = row.get("state");
        let left: i64 = row.get("left_hold");
        let c: i64 = row.get("confirmations");
        let e: i64 = row.get("expiries");
        let x: i64 = row.get("cancellations");
        let l: i64 = row.get("late");
        *states.entry(state.clone()).or_default() += 1;
        confirmed += c;
        expired += e;
        cancelled += x;
        late += l;
        if state == "pre_reserved" {
            report.violation(format!("hold {code} is still held after the day settled"));
        } else if left != 1 {
            report.violation(format!(
                "hold {code} ({state}) left the held state {left} times"
            ));
        }
        if c > 1 || e > 1 || x > 1 {
            report.violation(format!(
                "hold {code}: confirmed {c}, expired {e}, cancelled {x} times"
            ));
        }
        by_code.insert(code, state);
    }
    report.figure("holds in the database", rows.len());
    let text: Vec<String> = states.iter().map(|(s, n)| format!("{s} {n}")).collect();
    report.figure("  final states", text.join(", "));
    report.figure(
        "  transitions",
        format!(
            "{confirmed} confirmations ({late} of them a late payment after expiry), {expired} expiries, {cancelled} cancellations"
        ),
    );
    for code in &counts.cancelled {
        if by_code.get(code).map(String::as_str) != Some("cancelled") {
            report.violation(format!(
                "hold {code} was cancelled by its guest (200) but is {:?}",
                by_code.get(code)
            ));
        }
    }
    let paid_confirmed = counts
        .paid
        .iter()
        .filter(|(_, code)| by_code.get(code).map(String::as_str) == Some("confirmed"))
        .count();
    report.figure(
        "paid holds confirmed",
        format!("{paid_confirmed} of {}", counts.paid.len()),
    );
    report.figure("holds left to expire by their guests", counts.abandoned);
    Ok(())
}

async fn messages(world: &World, db: &PgPool, report: &mut Report) -> anyhow::Result<()> {
    let rows = sqlx::query(
        "SELECT id, channel, status, provider_message_id, template, coalesce(last_error, '') AS last_error \
         FROM notifications ORDER BY id",
    )
    .fetch_all(db)
    .await?;
    let mut statuses: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut wa_ids: Vec<String> = Vec::new();
    let mut mail_ids: Vec<String> = Vec::new();
    for row in &rows {
        let id: i64 = row.get("id");
        let channel: String = row.get("channel");
        let status: String = row.get("status");
        let template: String = row.get("template");
        let provider: Option<String> = row.get("provider_message_id");
        *statuses
            .entry((channel.clone(), status.clone()))
            .or_default() += 1;
        match status.as_str() {
            // A WhatsApp status delivery moves a sent message on to delivered and read.
            "sent" | "delivered" | "read" => match (channel.as_str(), provider) {
                ("whatsapp", Some(p)) => wa_ids.push(p),
                ("email", Some(p)) => {
                    mail_ids.push(p.trim_start_matches('<').trim_end_matches('>').to_owned());
                }
                _ => report.violation(format!(
                    "message {id} ({template}) is sent but names no provider message"
                )),
            },
            other => {
                let error: String = row.get("last_error");
                report.violation(format!(
                    "message {id} ({channel}, {template}) ended {other}: {error}"
                ));
            }
        }
    }
    let text: Vec<String> = statuses
        .iter()
        .map(|((c, s), n)| format!("{c} {s} {n}"))
        .collect();
    report.figure(
        "outbox rows",
        format!("{} ({})", rows.len(), text.join(", ")),
    );

    let wa_sent = world.wa.sent();
    let mut arrived: HashMap<&str, u64> = HashMap::new();
    for m in &wa_sent {
        *arrived.entry(m.wamid.as_str()).or_default() += 1;
    }
    let missing = wa_ids
        .iter()
        .filter(|id| !arrived.contains_key(id.as_str()))
        .count();
    report.figure(
        "WhatsApp messages received by the fake / outbox rows sent",
        format!("{} / {}", wa_sent.len(), wa_ids.len()),
    );
    if missing > 0 {
        report.violation(format!(
            "{missing} WhatsApp outbox rows are marked sent with an id the fake never issued"
        ));
    }

    let mails = world.smtp.messages();
    let mail_set: HashSet<String> = mails
        .iter()
        .filter_map(|m| m.parsed().and_then(|p| p.message_id))
        .collect();
    report.figure(
        "e-mails received by the SMTP sink / outbox rows sent",
        format!("{} / {}", mails.len(), mail_ids.len()),
    );
    let missing = mail_ids.iter().filter(|id| !mail_set.contains(*id)).count();
    if missing > 0 {
        report.violation(format!(
            "{missing} e-mail outbox rows are marked sent but never reached the SMTP sink"
        ));
    }
    // Neither WhatsApp nor SMTP takes an idempotency key: a delivery killed by `kill -9` after
    // the provider accepted its message and before the row was marked sent is sent again by the
    // attempt that takes over its expired lease. Only such repeats are allowed, at most one per
    // delivery job rescued from a killed node.
    let rescued = count(
        db,
        "SELECT count(DISTINCT e.job_id) FROM job_errors e JOIN jobs j ON j.id = e.job_id \
         WHERE j.kind = 'notification.deliver' AND e.message LIKE 'lease expired%'",
    )
    .await?;
    let repeats =
        wa_sent.len().saturating_sub(wa_ids.len()) + mails.len().saturating_sub(mail_ids.len());
    report.figure(
        "messages sent twice because kill -9 hit their delivery",
        format!("{repeats} (delivery jobs rescued from a killed node: {rescued})"),
    );
    if wa_sent.len() < wa_ids.len() || mails.len() < mail_ids.len() {
        report.violation("fewer messages reached the providers than outbox rows are sent");
    }
    if repeats as i64 > rescued {
        report.violation(format!(
            "{repeats} messages were sent more than once, more than the {rescued} deliveries a kill interrupted"
        ));
    }
    let dupes = sqlx::query(
        "SELECT reservation_id, template, channel, audience, count(*) AS n FROM notifications \
         WHERE reservation_id IS NOT NULL AND template IN ('hold_created','stay_confirmed','hold_expired','reservation_cancelled','owner_stay_confirmed','owner_new_reservation','owner_reservation_cancelled') \
         GROUP BY 1, 2, 3, 4 HAVING count(*) > 1",
    )
    .fetch_all(db)
    .await?;
    for row in &dupes {
        report.violation(format!(
            "reservation {} got {} × {} by {}",
            row.get::<i64, _>("reservation_id"),
            row.get::<i64, _>("n"),
            row.get::<String, _>("template"),
            row.get::<String, _>("channel"),
        ));
    }
    Ok(())
}

async fn inbound(db: &PgPool, counts: &Counts, report: &mut Report) -> anyhow::Result<()> {
    let stored: Vec<String> = sqlx::query_scalar(
        "SELECT wamid FROM whatsapp_messages WHERE direction = 'in' AND wamid IS NOT NULL",
    )
    .fetch_all(db)
    .await?;
    let stored_set: HashSet<&str> = stored.iter().map(String::as_str).collect();
    report.figure(
        "WhatsApp guest messages",
        format!(
            "{} acknowledged ({} delivered twice, {} status updates), {} stored",
            counts.wa_messages.len(),
            counts.wa_duplicates,
            counts.wa_statuses,
            stored.len()
        ),
    );
    if stored_set.len() != stored.len() {
        report.violation("an inbound WhatsApp message is stored twice");
    }
    let lost = counts
        .wa_messages
        .iter()
        .filter(|w| !stored_set.contains(w.as_str()))
        .count();
    if lost > 0 {
        report.violation(format!(
            "{lost} inbound WhatsApp messages were acknowledged 200 but not stored"
        ));
    }
    Ok(())
}

async fn payments(db: &PgPool, counts: &Counts, report: &mut Report) -> anyhow::Result<()> {
    report.figure(
        "Mercado Pago notifications",
        format!(
            "{} ({} repeats, {} late by 10–30 s, {} holds with a rejected attempt notified after the approval)",
            counts.mp_notifications, counts.mp_duplicates, counts.mp_late, counts.out_of_order
        ),
    );
    let rows = sqlx::query(
        "SELECT provider_payment_id, status, coalesce(handled_status, '') AS handled FROM payments",
    )
    .fetch_all(db)
    .await?;
    let handled: HashMap<String, (String, String)> = rows
        .iter()
        .map(|r| {
            (
                r.get::<String, _>("provider_payment_id"),
                (r.get::<String, _>("status"), r.get::<String, _>("handled")),
            )
        })
        .collect();
    report.figure("payments recorded", rows.len());
    report.figure(
        "webhook deliveries retried by the providers (no 2xx answer)",
        counts.provider_retries,
    );
    for (id, code) in &counts.paid {
        match handled.get(id) {
            Some((status, h)) if status == "approved" && h == "approved" => {}
            other => report.violation(format!(
                "approved payment {id} of hold {code} was notified but is {other:?} (status, handled)"
            )),
        }
    }
    Ok(())
}

async fn jobs(db: &PgPool, report: &mut Report) -> anyhow::Result<()> {
    let dupes = sqlx::query(
        "SELECT unique_key, count(*) AS n FROM jobs WHERE unique_key LIKE 'periodic:%' \
         GROUP BY unique_key HAVING count(*) > 1",
    )
    .fetch_all(db)
    .await?;
    for row in &dupes {
        report.violation(format!(
            "periodic slot {} ran {} times",
            row.get::<String, _>("unique_key"),
            row.get::<i64, _>("n")
        ));
    }
    let runs = sqlx::query("SELECT unique_key, state FROM jobs WHERE unique_key LIKE 'periodic:%'")
        .fetch_all(db)
        .await?;
    let mut per_task: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for row in &runs {
        let key: String = row.get("unique_key");
        let state: String = row.get("state");
        let name = key
            .strip_prefix("periodic:")
            .and_then(|k| k.rsplit_once(':'))
            .map(|(n, _)| n.to_owned())
            .unwrap_or(key.clone());
        let e = per_task.entry(name).or_default();
        e.0 += 1;
        if state == "completed" {
            e.1 += 1;
        } else if state != "scheduled" && state != "available" {
            report.violation(format!("periodic job {key} ended {state}"));
        }
    }
    let text: Vec<String> = per_task
        .iter()
        .map(|(n, (all, done))| format!("{n} {all} slots ({done} completed)"))
        .collect();
    report.figure("periodic runs (one per slot)", text.join(", "));
    let states = sqlx::query("SELECT state, count(*) AS n FROM jobs GROUP BY state ORDER BY state")
        .fetch_all(db)
        .await?;
    let text: Vec<String> = states
        .iter()
        .map(|r| format!("{} {}", r.get::<String, _>("state"), r.get::<i64, _>("n")))
        .collect();
    report.figure("jobs", text.join(", "));
    let discarded = sqlx::query(
        "SELECT id, kind, coalesce(last_error, '') AS e FROM jobs WHERE state = 'discarded'",
    )
    .fetch_all(db)
    .await?;
    for row in &discarded {
        report.violation(format!(
            "job {} ({}) was discarded: {}",
            row.get::<i64, _>("id"),
            row.get::<String, _>("kind"),
            row.get::<String, _>("e")
        ));
    }
    let stuck = count(db, STUCK_JOBS).await?;
    report.figure("jobs stuck (overdue after the day settled)", stuck);
    if stuck > 0 {
        report.violation(format!("{stuck} jobs are overdue after the day settled"));
    }
    let retried = count(db, "SELECT count(DISTINCT job_id) FROM job_errors").await?;
    report.figure("jobs that needed a retry", retried);
    Ok(())
}
