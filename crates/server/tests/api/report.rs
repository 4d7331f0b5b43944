//! The owner's daily report (figures gathered from the database, text rendered from known data)
//! and the alert checks (each alert sent once per occurrence, again only after it clears).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDate;
use posada_server::app::report::{DailyReport, gather, render};
use posada_store::ops::{Alert, DayActivity, StayLine};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, days_from_now, eventually};
use crate::on_both;

fn stay(code: &str, accommodation: &str, guest: &str, guests: i64) -> StayLine {
    StayLine {
        code: code.into(),
        accommodation: accommodation.into(),
        guest_name: guest.into(),
        check_in: NaiveDate::from_ymd_opt(2026, 1, 15).unwrap(),
        check_out: NaiveDate::from_ymd_opt(2026, 1, 18).unwrap(),
        guests,
        state: "confirmed".into(),
    }
}

#[test]
fn the_report_reads_well() {
    let at = chrono::DateTime::parse_from_rfc3339("2026-01-14T10:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let report = DailyReport {
        today: NaiveDate::from_ymd_opt(2026, 1, 15).unwrap(),
        yesterday: DayActivity {
            new_holds: 4,
            confirmations: 2,
            expiries: 1,
            cancellations: 1,
            holds_decided: 3,
            holds_confirmed: 2,
        },
        deposits: vec![("ARS".into(), 2, 9_000_000)],
        arrivals: vec![stay("PSD-AAAA", "Cabaña del Lago", "Ana Pérez", 2)],
        departures: vec![
            stay("PSD-BBBB", "Cabaña del Bosque", "Juan Gómez", 1),
            stay("PSD-CCCC", "Cabaña del Lago", "Marta Díaz", 4),
        ],
        occupancy_7: (9, 14),
        occupancy_30: (20, 60),
        open_alerts: vec![Alert {
            key: "refund_needed:PSD-DDDD".into(),
            kind: "refund_needed".into(),
            detail: "La reserva PSD-DDDD necesita un reintegro.".into(),
            state: "open".into(),
            opened_at: at,
            last_seen_at: at,
            cleared_at: None,
            occurrences: 1,
        }],
    };
    let (subject, text) = render(&report);
    assert_eq!(subject, "Informe diario · 15/01/2026");
    insta::assert_snapshot!(text);

    // An empty day says so instead of showing empty sections or dividing by zero.
    let empty = DailyReport {
        deposits: vec![],
        arrivals: vec![],
        departures: vec![],
        open_alerts: vec![],
        yesterday: DayActivity::default(),
        occupancy_7: (0, 0),
        occupancy_30: (0, 0),
        ..report
    };
    let (_, text) = render(&empty);
    assert!(text.contains("Entradas: ninguna"));
    assert!(text.contains("Señas recibidas: ninguna"));
    assert!(text.contains("Conversión prerreserva → estadía: — (0 de 0"));
    assert!(text.contains("ALERTAS ABIERTAS\n  Ninguna."));
}

async fn owner_rows(app: &TestApp, template: &str) -> Vec<Value> {
    let sql =
        "SELECT data FROM notifications WHERE audience = 'owner' AND template = $1 ORDER BY id";
    let rows: Vec<String> = match app.state.db() {
        posada_db::Db::Sqlite(p) => sqlx::query_scalar(sql)
            .bind(template)
            .fetch_all(p)
            .await
            .unwrap(),
        posada_db::Db::Postgres(p) => sqlx::query_scalar(sql)
            .bind(template)
            .fetch_all(p)
            .await
            .unwrap(),
    };
    rows.iter()
        .map(|r| serde_json::from_str(r).unwrap())
        .collect()
}

async fn report_figures_come_from_the_database(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.owner_email = Some("duena@example.com".into());
    })
    .await;
    app.create_accommodation("lago", 5_000_000).await;
    app.create_accommodation("bosque", 4_000_000).await;
    // Three holds today: one confirmed (arriving tomorrow), one cancelled, one left open.
    let mut ids = Vec::new();
    for (slug, from, to) in [("lago", 1, 4), ("bosque", 2, 3), ("bosque", 10, 12)] {
        let res = app
            .pre_reserve(slug, &days_from_now(from), &days_from_now(to))
            .await;
        assert_eq!(res.status(), 201);
        let code = res.json::<Value>().await.unwrap()["code"]
            .as_str()
            .unwrap()
            .to_string();
        let r = posada_store::reservations::get_by_code(app.state.db(), &code)
            .await
            .unwrap()
            .unwrap();
        ids.push(r.id);
    }
    let res = app
        .admin_post(
            &format!("/api/v1/admin/reservations/{}/confirm", ids[0]),
            &json!({"reason": "seña en efectivo"}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let res = app
        .admin_post(
            &format!("/api/v1/admin/reservations/{}/cancel", ids[1]),
            &json!({"reason": "cambio de planes"}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());

    // The report for tomorrow covers today's activity and tomorrow's arrivals.
    let tomorrow = days_from_now(1).parse::<NaiveDate>().unwrap();
    let report = gather(&app.state, tomorrow).await.unwrap();
    assert_eq!(report.yesterday.new_holds, 3);
    assert_eq!(report.yesterday.confirmations, 1);
    assert_eq!(report.yesterday.cancellations, 1);
    assert_eq!(report.yesterday.expiries, 0);
    assert_eq!(report.yesterday.holds_decided, 2);
    assert_eq!(report.yesterday.holds_confirmed, 1);
    assert_eq!(report.arrivals.len(), 1);
    assert_eq!(report.arrivals[0].accommodation, "Cabaña lago");
    assert!(report.departures.is_empty());
    // Lago is taken 3 nights from tomorrow on: of 2 accommodations × 7 nights.
    assert_eq!(report.occupancy_7, (3, 14));
    assert_eq!(report.occupancy_30, (3, 60));
    let (_, text) = render(&report);
    assert!(text.contains("Conversión prerreserva → estadía: 50% (1 de 2"));

    // The periodic task, run through the admin API, writes one e-mail for the owner.
    let res = app
        .admin_post("/api/v1/admin/tasks/daily-report/run", &json!({}))
        .await;
    assert_eq!(res.status(), 202);
    let rows = eventually(Duration::from_secs(15), || async {
        let rows = owner_rows(&app, "owner_daily_report").await;
        (!rows.is_empty()).then_some(rows)
    })
    .await;
    assert_eq!(rows.len(), 1);
    assert!(
        rows[0]["subject"]
            .as_str()
            .unwrap()
            .starts_with("Informe diario")
    );
    assert!(rows[0]["text"].as_str().unwrap().contains("OCUPACIÓN"));
}

/// A Slack-compatible webhook that records what it receives.
async fn slack_sink() -> (String, Arc<Mutex<Vec<Value>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(v): axum::Json<Value>| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push(v);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), got)
}

async fn set_flags(app: &TestApp, id: i64, flags: &str) {
    let sql = "UPDATE reservations SET flags = $1 WHERE id = $2";
    match app.state.db() {
        posada_db::Db::Sqlite(p) => {
            sqlx::query(sql)
                .bind(flags)
                .bind(id)
                .execute(p)
                .await
                .unwrap();
        }
        posada_db::Db::Postgres(p) => {
            sqlx::query(sql)
                .bind(flags)
                .bind(id)
                .execute(p)
                .await
                .unwrap();
        }
    }
}

async fn alerts_go_out_once_per_occurrence(backend: Backend) {
    let (hook, received) = slack_sink().await;
    let app = TestApp::spawn_with(backend, |s| {
        s.owner_email = Some("duena@example.com".into());
        s.slack_webhook_url = Some(posada_server::config::Secret::new(hook));
    })
    .await;
    app.create_accommodation("lago", 5_000_000).await;
    let res = app
        .pre_reserve("lago", &days_from_now(3), &days_from_now(5))
        .await;
    let code = res.json::<Value>().await.unwrap()["code"]
        .as_str()
        .unwrap()
        .to_string();
    let id = posada_store::reservations::get_by_code(app.state.db(), &code)
        .await
        .unwrap()
        .unwrap()
        .id;
    let check = || async {
        let found = posada_server::app::alerts::findings(&app.state)
            .await
            .unwrap();
        posada_server::app::alerts::apply_findings(&app.state, &found, None)
            .await
            .unwrap()
    };
    let key = format!("refund_needed:{code}");
    assert!(check().await.is_empty(), "nothing to report yet");

    let mut tx = app.state.db().begin().await.unwrap();
    posada_store::reservations::add_flag(tx.conn(), id, "needs_refund", chrono::Utc::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(check().await, vec![key.clone()]);
    // Still true: no second notice.
    assert!(check().await.is_empty());
    assert!(check().await.is_empty());
    let rows = owner_rows(&app, "owner_alert").await;
    assert_eq!(rows.len(), 1);
    assert!(rows[0]["text"].as_str().unwrap().contains(&code));
    assert_eq!(received.lock().unwrap().len(), 1);
    assert!(
        received.lock().unwrap()[0]["text"]
            .as_str()
            .unwrap()
            .contains("reintegro")
    );
    let open = posada_store::ops::open_alerts(app.state.db())
        .await
        .unwrap();
    assert_eq!(open.len(), 1);

    // It clears…
    set_flags(&app, id, "[]").await;
    assert!(check().await.is_empty());
    let alert = posada_store::ops::alert(app.state.db(), &key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(alert.state, "cleared");
    assert!(
        posada_store::ops::open_alerts(app.state.db())
            .await
            .unwrap()
            .is_empty()
    );
    // …and comes back: a new notice.
    set_flags(&app, id, "[\"needs_refund\"]").await;
    assert_eq!(check().await, vec![key.clone()]);
    assert!(check().await.is_empty());
    assert_eq!(owner_rows(&app, "owner_alert").await.len(), 2);
    assert_eq!(received.lock().unwrap().len(), 2);
    let alert = posada_store::ops::alert(app.state.db(), &key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(alert.occurrences, 2);

    // The periodic check, run through the admin API, finds the same open alert and stays quiet.
    let res = app
        .admin_post("/api/v1/admin/tasks/alert-check/run", &json!({}))
        .await;
    assert_eq!(res.status(), 202);
    eventually(Duration::from_secs(15), || async {
        let tasks = app.state.jobs().admin().periodic_list().await.ok()?;
        let t = tasks.into_iter().find(|t| t.name == "alert-check")?;
        t.last_run_at.map(|_| ())
    })
    .await;
    assert_eq!(owner_rows(&app, "owner_alert").await.len(), 2);
}

on_both!(
    report_figures_come_from_the_database,
    alerts_go_out_once_per_occurrence
);
