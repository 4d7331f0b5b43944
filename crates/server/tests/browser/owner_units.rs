//! Alojamientos y precios, and Automatización: a season price edited and seen in a quote (the
//! preview and the public quote agree), a discarded job retried (and what it does arrives), a
//! periodic task run now (and its mail arrives).

use std::time::Duration;

use posada_domain::ReservationState;
use posada_jobs::{JobOptions, JobState};
use posada_server::config::Settings;
use posada_server::jobs::expire_hold::ExpireHold;
use posada_testkit::SmtpSink;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, days_from_now, eventually};
use crate::owner::{PASSWORD, assert_owner_pages_fit, spawn_owner_app};
use crate::scenario;

fn smtp_to(s: &mut Settings, smtp: &SmtpSink) {
    s.smtp_host = Some(smtp.host());
    s.smtp_port = smtp.port();
    s.smtp_security = "plain".into();
    s.smtp_from = Some("Cabañas del Lago <reservas@posada.example>".into());
}

async fn public_quote(app: &TestApp, slug: &str, from: &str, to: &str) -> Value {
    let res = app
        .get(&format!(
            "/api/v1/accommodations/{slug}/quote?check_in={from}&check_out={to}&guests=2"
        ))
        .await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn a_season_price_edited_shows_in_the_quote(backend: Backend) {
    let app = spawn_owner_app(backend, |_| {}).await;
    app.create_accommodation("lago", 1_000_000).await;
    app.create_accommodation("bosque", 800_000).await;
    let (check_in, check_out) = (days_from_now(10), days_from_now(13));
    let out = scenario(
        "owner_unit_season",
        json!({
            "base": app.base, "password": PASSWORD, "slug": "lago",
            "first": days_from_now(5), "last": days_from_now(20),
            "price": "20.000", "new_price": "25.000,50",
            "check_in": check_in, "check_out": check_out, "guests": 2,
        }),
    )
    .await;
    assert_owner_pages_fit(&out);
    assert_eq!(out["added_notice"], "Temporada agregada.", "{out}");
    assert_eq!(out["added_price"], "$ 20.000,00", "{out}");
    assert_eq!(out["saved_notice"], "Temporada guardada.", "{out}");
    assert_eq!(out["saved_price"], "$ 25.000,50", "{out}");
    // A price that does not read: 422, the reason next to the field, the text kept.
    assert_eq!(out["error_status"], 422, "{out}");
    assert_eq!(
        out["error_text"],
        "Escribí el precio en pesos, por ejemplo 15000 o 15.000,50."
    );
    assert_eq!(out["error_kept"], "quince mil");

    // Three nights in the season at $ 25.000,50: the preview and the public quote agree.
    assert_eq!(out["quote_nights"], "3 noches", "{out}");
    assert_eq!(out["quote_total"], "$ 75.001,50", "{out}");
    let public = public_quote(&app, "lago", &check_in, &check_out).await;
    assert_eq!(
        public["quote"]["total_text"], out["quote_total"],
        "{public}"
    );
    assert_eq!(
        public["quote"]["deposit_text"], out["quote_deposit"],
        "{public}"
    );
    let lines = out["quote_lines"].as_array().unwrap();
    assert_eq!(lines.len(), 3);
    assert!(
        lines.iter().all(|l| l.as_str().unwrap().contains("Verano")),
        "{out}"
    );
    // The base price was not touched by the refused form.
    let unit = posada_store::accommodations::get_by_slug(app.state.db(), "lago")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(unit.accommodation.pricing.base_nightly.minor, 1_000_000);
    assert_eq!(
        unit.accommodation.pricing.seasons[0].nightly.minor,
        2_500_050
    );
    // The widget snippet is on the unit's page.
    let (script, _) =
        posada_server::http::guest::widget_snippet(&app.state.settings().posada_public_url, "lago");
    assert_eq!(out["snippet"], script.as_str(), "{out}");
    app.stop().await;
}

async fn a_discarded_job_retried_runs_and_its_mail_arrives(backend: Backend) {
    let smtp = SmtpSink::start().await;
    let app = spawn_owner_app(backend, |s| {
        smtp_to(s, &smtp);
        // Only the retried job may expire the hold, not the periodic sweep.
        s.job_expiration_interval_seconds = 3600;
    })
    .await;
    app.create_accommodation("sierra", 3_000_000).await;
    let res = app
        .pre_reserve("sierra", &days_from_now(5), &days_from_now(7))
        .await;
    assert_eq!(res.status(), 201);
    let code = res.json::<Value>().await.unwrap()["code"]
        .as_str()
        .unwrap()
        .to_string();
    let r = crate::by_code(&app, &code).await;
    // The hold's expiry, run before its time with one attempt allowed: discarded.
    let id = app
        .state
        .jobs()
        .enqueue(
            &ExpireHold {
                reservation_id: r.id,
            },
            JobOptions {
                max_attempts: Some(1),
                unique_key: Some(format!("early-expiry:{}", r.id)),
                ..JobOptions::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    app.job_finished(id).await;
    let job = app.state.jobs().admin().get(id).await.unwrap().unwrap();
    assert_eq!(job.job.state, JobState::Discarded);
    app.run_pending_jobs().await;
    let expired_mails = |smtp: &SmtpSink| {
        smtp.messages()
            .iter()
            .filter_map(|m| m.parsed())
            .filter(|m| {
                m.subject
                    .as_deref()
                    .is_some_and(|s| s == format!("Venció tu prerreserva {code}"))
            })
            .count()
    };
    assert_eq!(expired_mails(&smtp), 0);
    // Now the hold is due.
    app.clock.advance(chrono::Duration::minutes(31));

    let out = scenario(
        "owner_auto_retry",
        json!({"base": app.base, "password": PASSWORD, "job_id": id}),
    )
    .await;
    assert_owner_pages_fit(&out);
    let listed = out["listed"].as_str().unwrap();
    assert!(listed.contains("reservation.expire_hold"), "{out}");
    assert!(listed.contains("Descartado"), "{out}");
    assert!(listed.contains("is not due until"), "{out}");
    assert!(
        out["chart"].as_str().unwrap().contains("descartados (1)"),
        "{out}"
    );
    assert_eq!(out["state_before"], "Descartado", "{out}");
    assert!(
        out["errors"].as_str().unwrap().contains("Intento 1"),
        "{out}"
    );
    assert_eq!(
        out["notice"], "El trabajo vuelve a ejecutarse ahora.",
        "{out}"
    );
    assert_eq!(out["state_after"], "Completado", "{out}");
    // What it did: the hold expired, and the guest's mail arrived.
    assert_eq!(
        crate::by_code(&app, &code).await.state,
        ReservationState::Expired
    );
    eventually(Duration::from_secs(30), || async {
        (expired_mails(&smtp) == 1).then_some(())
    })
    .await;
    let mail = smtp
        .messages()
        .into_iter()
        .filter_map(|m| m.parsed())
        .find(|m| m.subject.as_deref() == Some(&format!("Venció tu prerreserva {code}")))
        .unwrap();
    assert_eq!(mail.to, vec!["ana@example.com".to_string()]);
    app.stop().await;
}

async fn a_periodic_task_runs_now_and_its_mail_arrives(backend: Backend) {
    let smtp = SmtpSink::start().await;
    let app = spawn_owner_app(backend, |s| {
        smtp_to(s, &smtp);
        s.owner_email = Some("duena@example.com".into());
    })
    .await;
    app.create_accommodation("lago", 1_000_000).await;
    // The scheduler registers its tasks at start.
    eventually(Duration::from_secs(10), || async {
        let tasks = app.state.jobs().admin().periodic_list().await.ok()?;
        tasks.iter().any(|t| t.name == "daily-report").then_some(())
    })
    .await;
    let out = scenario(
        "owner_auto_run",
        json!({"base": app.base, "password": PASSWORD, "task": "daily-report"}),
    )
    .await;
    assert_owner_pages_fit(&out);
    assert_eq!(out["last_before"], "Nunca", "{out}");
    assert_eq!(
        out["notice"], "Listo: la tarea se ejecuta en unos segundos.",
        "{out}"
    );
    assert_ne!(out["last_after"], "Nunca", "{out}");
    assert_eq!(out["error_after"], "Ninguno", "{out}");
    assert!(
        out["smtp"].as_str().unwrap().contains("Funcionando"),
        "{out}"
    );
    // The owner's daily report arrives.
    let mail = eventually(Duration::from_secs(30), || async {
        smtp.messages()
            .into_iter()
            .filter_map(|m| m.parsed())
            .find(|m| {
                m.subject
                    .as_deref()
                    .is_some_and(|s| s.starts_with("Informe diario"))
            })
    })
    .await;
    assert_eq!(mail.to, vec!["duena@example.com".to_string()]);
    assert!(mail.text.unwrap().contains("OCUPACIÓN"));
    app.stop().await;
}

crate::on_both!(
    a_season_price_edited_shows_in_the_quote,
    a_discarded_job_retried_runs_and_its_mail_arrives,
    a_periodic_task_runs_now_and_its_mail_arrives,
);
