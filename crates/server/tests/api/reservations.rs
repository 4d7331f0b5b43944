//! Reservations over HTTP: holds, the double-booking guard under concurrency, expiry, reminders,
//! confirmation, cancellation, every error case.

use std::time::Duration;

use posada_jobs::{JobState, ListFilter, Page};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, days_from_now, eventually};
use crate::on_both;

async fn body(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Move the application's clock just past reservation `id`'s hold expiry.
async fn clock_past_expiry(app: &TestApp, id: i64) {
    let r = posada_store::reservations::get(app.state.db(), id)
        .await
        .unwrap()
        .unwrap();
    let expires_at = r.expires_at.expect("a hold has an expiry");
    app.clock
        .advance(expires_at - app.state.now() + chrono::Duration::seconds(1));
}

/// The hold's time is up: the clock passes its expiry and its expiry job runs now.
async fn time_passes_for_hold(app: &TestApp, id: i64) {
    clock_past_expiry(app, id).await;
    run_job_now(app, &format!("hold-expiry:{id}")).await;
}

/// The engine runs a scheduled job now (the admin's "retry"), as if its time had come.
async fn run_job_now(app: &TestApp, key: &str) {
    let all = app
        .state
        .jobs()
        .admin()
        .list(
            &ListFilter::default(),
            Page {
                limit: 1000,
                before_id: None,
            },
        )
        .await
        .unwrap();
    let job = all
        .iter()
        .find(|j| j.unique_key.as_deref() == Some(key))
        .expect("job with that key");
    assert!(app.state.jobs().admin().retry(job.id).await.unwrap());
}

async fn jobs_of_kind(app: &TestApp, kind: &str) -> Vec<posada_jobs::JobSummary> {
    app.state
        .jobs()
        .admin()
        .list(
            &ListFilter {
                kind: Some(kind.into()),
                ..ListFilter::default()
            },
            Page {
                limit: 100,
                before_id: None,
            },
        )
        .await
        .unwrap()
}

async fn admin_reservation(app: &TestApp, id: i64) -> Value {
    body(
        app.admin_get(&format!("/api/v1/admin/reservations/{id}"))
            .await,
    )
    .await
    .1
}

async fn hold_quote_confirm_and_read_back(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_accommodation("lago", 5_000_000).await;

    let (status, list) = body(app.get("/api/v1/accommodations").await).await;
    assert_eq!(status, 200);
    assert_eq!(list["items"][0]["slug"], "lago");
    assert_eq!(list["items"][0]["photos"][0]["primary"], true);
    assert!(
        list["items"][0].get("directions").is_none(),
        "owner-only fields stay private"
    );

    let (ci, co) = (days_from_now(10), days_from_now(13));
    let (status, q) = body(
        app.get(&format!(
            "/api/v1/accommodations/lago/quote?check_in={ci}&check_out={co}&guests=2"
        ))
        .await,
    )
    .await;
    assert_eq!(status, 200, "{q}");
    assert_eq!(q["available"], true);
    assert_eq!(q["quote"]["nights"].as_array().unwrap().len(), 3);

    let (status, hold) = body(app.pre_reserve("lago", &ci, &co).await).await;
    assert_eq!(status, 201, "{hold}");
    assert_eq!(hold["state"], "pre_reserved");
    assert_eq!(hold["quote"]["total"], q["quote"]["total"]);
    let deposit = hold["quote"]["deposit"]["minor"].as_i64().unwrap();
    let total = hold["quote"]["total"]["minor"].as_i64().unwrap();
    assert_eq!(deposit, (total * 30 + 50) / 100);
    assert!(hold["expires_at"].is_string());
    let code = hold["code"].as_str().unwrap().to_string();
    let token = hold["access_token"].as_str().unwrap().to_string();

    // The calendar shows the nights taken.
    let (_, cal) = body(
        app.get(&format!(
            "/api/v1/accommodations/lago/availability?from={ci}&until={co}"
        ))
        .await,
    )
    .await;
    assert!(
        cal["days"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["available"] == false),
        "{cal}"
    );

    // The guest reads it back with the token; without it, nothing.
    let res = app
        .client
        .get(app.url(&format!("/api/v1/reservations/{code}")))
        .header("x-access-token", &token)
        .send()
        .await
        .unwrap();
    let (status, mine) = body(res).await;
    assert_eq!(status, 200);
    assert_eq!(mine["guest"]["name"], "Ana Pérez");
    let (status, _) = body(app.get(&format!("/api/v1/reservations/{code}")).await).await;
    assert_eq!(status, 401);
    let res = app
        .client
        .get(app.url(&format!("/api/v1/reservations/{code}")))
        .header("x-access-token", "0".repeat(32))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    // Expiry and reminder jobs were enqueued in the same transaction, with the request's trace id.
    let (_, listed) = body(
        app.admin_get("/api/v1/admin/reservations?state=pre_reserved")
            .await,
    )
    .await;
    let rid = listed["items"][0]["id"].as_i64().unwrap();
    let expiry = jobs_of_kind(&app, "reservation.expire_hold").await;
    assert_eq!(expiry.len(), 1);
    assert_eq!(expiry[0].state, JobState::Scheduled);
    assert_eq!(
        expiry[0].unique_key.as_deref(),
        Some(format!("hold-expiry:{rid}").as_str())
    );
    assert!(expiry[0].trace_id.is_some());
    let reminder = jobs_of_kind(&app, "reservation.hold_reminder").await;
    assert_eq!(reminder.len(), 1);

    // Confirmation cancels both and schedules the check-in reminder and completion.
    let (status, confirmed) = body(
        app.admin_post(
            &format!("/api/v1/admin/reservations/{rid}/confirm"),
            &json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{confirmed}");
    assert_eq!(confirmed["state"], "confirmed");
    assert_eq!(
        jobs_of_kind(&app, "reservation.expire_hold").await[0].state,
        JobState::Cancelled
    );
    assert_eq!(
        jobs_of_kind(&app, "reservation.hold_reminder").await[0].state,
        JobState::Cancelled
    );
    assert_eq!(
        jobs_of_kind(&app, "reservation.checkin_reminder")
            .await
            .len(),
        1
    );
    assert_eq!(jobs_of_kind(&app, "reservation.complete").await.len(), 1);

    let detail = admin_reservation(&app, rid).await;
    let moves: Vec<(Value, Value)> = detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["from_state"].clone(), h["to_state"].clone()))
        .collect();
    assert_eq!(
        moves,
        vec![
            (Value::Null, json!("pre_reserved")),
            (json!("pre_reserved"), json!("confirmed"))
        ]
    );
    let templates: Vec<&str> = detail["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["template"].as_str().unwrap())
        .collect();
    assert!(
        templates.contains(&"hold_created") && templates.contains(&"stay_confirmed"),
        "{templates:?}"
    );

    // Confirming twice is a conflict, not a second confirmation.
    let (status, p) = body(
        app.admin_post(
            &format!("/api/v1/admin/reservations/{rid}/confirm"),
            &json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 409, "{p}");
    assert_eq!(p["type"], "/problems/illegal-transition");
}

async fn two_hundred_concurrent_holds_one_wins(backend: Backend) {
    // 200 guests, all from 127.0.0.1 here: lift the per-client public rate limit for this test.
    let app = TestApp::spawn_with(backend, |s| {
        s.db_max_connections = 24;
        s.rate_limit_public_per_minute = 10_000;
    })
    .await;
    app.create_accommodation("bosque", 4_000_000).await;
    let (ci, co) = (days_from_now(20), days_from_now(24));
    let mut tasks = Vec::new();
    for i in 0..200 {
        let client = app.client.clone();
        let url = app.url("/api/v1/reservations");
        // Overlapping, not identical, stays.
        let (a, b) = if i % 2 == 0 {
            (ci.clone(), co.clone())
        } else {
            (days_from_now(21), days_from_now(23))
        };
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .json(&json!({"accommodation": "bosque", "check_in": a, "check_out": b, "guests": 2, "guest": {"name": format!("G{i}"), "email": format!("g{i}@example.com")}}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut created = 0;
    let mut conflicts = 0;
    for t in tasks {
        match t.await.unwrap() {
            201 => created += 1,
            409 => conflicts += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((created, conflicts), (1, 199));
    let (_, list) = body(app.admin_get("/api/v1/admin/reservations").await).await;
    assert_eq!(list["total"], 1);
}

async fn back_to_back_and_freed_dates(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_accommodation("rio", 3_000_000).await;
    let (status, _) = body(
        app.pre_reserve("rio", &days_from_now(5), &days_from_now(8))
            .await,
    )
    .await;
    assert_eq!(status, 201);
    // Back-to-back on both sides.
    assert_eq!(
        app.pre_reserve("rio", &days_from_now(8), &days_from_now(10))
            .await
            .status(),
        201
    );
    assert_eq!(
        app.pre_reserve("rio", &days_from_now(3), &days_from_now(5))
            .await
            .status(),
        201
    );

    // Taken: 409 with alternatives on this and other accommodations.
    app.create_accommodation("otra", 3_000_000).await;
    let (status, p) = body(
        app.pre_reserve("rio", &days_from_now(6), &days_from_now(9))
            .await,
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(p["type"], "/problems/dates-taken");
    let same = p["alternatives"]["same_accommodation"].as_array().unwrap();
    assert!(!same.is_empty());
    for alt in same {
        let ci = chrono::NaiveDate::parse_from_str(alt["check_in"].as_str().unwrap(), "%Y-%m-%d")
            .unwrap();
        let co = chrono::NaiveDate::parse_from_str(alt["check_out"].as_str().unwrap(), "%Y-%m-%d")
            .unwrap();
        assert_eq!((co - ci).num_days(), 3, "same length");
    }
    assert_eq!(p["alternatives"]["other_accommodations"][0]["slug"], "otra");

    // Cancel (guest, with token) frees the nights.
    let (status, hold) = body(
        app.pre_reserve("otra", &days_from_now(30), &days_from_now(32))
            .await,
    )
    .await;
    assert_eq!(status, 201);
    let res = app
        .client
        .post(app.url(&format!(
            "/api/v1/reservations/{}/cancel",
            hold["code"].as_str().unwrap()
        )))
        .header("x-access-token", hold["access_token"].as_str().unwrap())
        .json(&json!({"reason": "cambio de planes"}))
        .send()
        .await
        .unwrap();
    let (status, cancelled) = body(res).await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["state"], "cancelled");
    assert_eq!(
        app.pre_reserve("otra", &days_from_now(30), &days_from_now(32))
            .await
            .status(),
        201
    );
}

async fn a_hold_expires_at_its_time_and_frees_its_dates(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_accommodation("alerce", 3_000_000).await;
    let (ci, co) = (days_from_now(40), days_from_now(42));
    let (_, hold) = body(app.pre_reserve("alerce", &ci, &co).await).await;
    let (_, list) = body(app.admin_get("/api/v1/admin/reservations").await).await;
    let id = list["items"][0]["id"].as_i64().unwrap();

    time_passes_for_hold(&app, id).await;
    let detail = eventually(Duration::from_secs(15), || async {
        let d = admin_reservation(&app, id).await;
        (d["state"] == "expired").then_some(d)
    })
    .await;
    assert!(detail["state_reason"].as_str().unwrap().contains("venció"));
    assert_eq!(detail["notes"], "", "the reason does not overwrite notes");
    let templates: Vec<&str> = detail["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["template"].as_str().unwrap())
        .collect();
    assert!(templates.contains(&"hold_expired"));
    // The reminder was cancelled with it; the dates are free again.
    let reminder = jobs_of_kind(&app, "reservation.hold_reminder").await;
    assert_eq!(reminder[0].state, JobState::Cancelled);
    assert_eq!(app.pre_reserve("alerce", &ci, &co).await.status(), 201);

    // Acting on the expired hold: 410.
    let res = app
        .client
        .post(app.url(&format!(
            "/api/v1/reservations/{}/cancel",
            hold["code"].as_str().unwrap()
        )))
        .header("x-access-token", hold["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 410);
    let (status, p) = body(
        app.admin_post(
            &format!("/api/v1/admin/reservations/{id}/confirm"),
            &json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 410, "{p}");
}

async fn the_reminder_fires_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_accommodation("coihue", 3_000_000).await;
    body(
        app.pre_reserve("coihue", &days_from_now(50), &days_from_now(52))
            .await,
    )
    .await;
    let (_, list) = body(app.admin_get("/api/v1/admin/reservations").await).await;
    let id = list["items"][0]["id"].as_i64().unwrap();
    run_job_now(&app, &format!("hold-reminder:{id}")).await;
    eventually(Duration::from_secs(15), || async {
        let j = jobs_of_kind(&app, "reservation.hold_reminder").await;
        (j[0].state == JobState::Completed).then_some(())
    })
    .await;
    let detail = admin_reservation(&app, id).await;
    let reminders = detail["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["template"] == "hold_reminder")
        .count();
    assert_eq!(reminders, 2, "one per channel (WhatsApp and e-mail), once");
    assert_eq!(detail["state"], "pre_reserved");
}

async fn confirm_and_expire_race_has_one_winner(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_accommodation("rauli", 3_000_000).await;
    for round in 0..5 {
        let (_, hold) = body(
            app.pre_reserve(
                "rauli",
                &days_from_now(60 + round * 3),
                &days_from_now(61 + round * 3),
            )
            .await,
        )
        .await;
        let code = hold["code"].as_str().unwrap();
        let r = posada_store::reservations::get_by_code(app.state.db(), code)
            .await
            .unwrap()
            .unwrap();
        clock_past_expiry(&app, r.id).await;
        let (s1, s2) = (app.state.clone(), app.state.clone());
        let confirm = tokio::spawn(async move {
            posada_server::app::booking::confirm(&s1, r.id, posada_domain::Actor::Admin, None)
                .await
                .is_ok()
        });
        let expire = tokio::spawn(async move {
            matches!(
                posada_server::app::booking::expire(&s2, r.id).await,
                Ok(Some(_))
            )
        });
        let (confirmed, expired) = (confirm.await.unwrap(), expire.await.unwrap());
        assert!(
            confirmed ^ expired,
            "exactly one wins (confirmed={confirmed}, expired={expired})"
        );
        let history = posada_store::reservations::history(app.state.db(), r.id)
            .await
            .unwrap();
        assert_eq!(history.len(), 2, "one creation and one transition");
    }
}

async fn errors_are_specific_and_write_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_accommodation("pehuen", 3_000_000).await;
    let app = &app;
    let post = |v: Value| async move { body(app.post("/api/v1/reservations", &v).await).await };
    let base = json!({"accommodation": "pehuen", "check_in": days_from_now(10), "check_out": days_from_now(12), "guests": 2, "guest": {"name": "Ana", "email": "ana@example.com"}});
    let with = |path: &str, v: Value| {
        let mut b = base.clone();
        let mut cur = &mut b;
        let parts: Vec<&str> = path.split('.').collect();
        for p in &parts[..parts.len() - 1] {
            cur = cur.get_mut(*p).unwrap();
        }
        cur[parts[parts.len() - 1]] = v;
        b
    };
    let cases = [
        (with("check_in", json!(days_from_now(-1))), "check_in"),
        (with("check_out", json!(days_from_now(10))), "check_out"),
        (with("check_in", json!(days_from_now(700))), "check_in"),
        (with("guests", json!(9)), "guests"),
        (with("guests", json!(0)), "guests"),
        (with("guest.email", json!("not-an-email")), "guest.email"),
        (with("guest.name", json!("")), "guest.name"),
        (with("guest.phone", json!("12")), "guest.phone"),
        (with("check_in", json!("2026-13-40")), "check_in"),
        (with("guests", json!("dos")), "guests"),
    ];
    for (req, field) in cases {
        let (status, p) = post(req.clone()).await;
        assert_eq!(status, 422, "{req} → {p}");
        assert_eq!(p["type"], "/problems/validation");
        let fields: Vec<&str> = p["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(
            fields.contains(&field),
            "{req}: expected {field} in {fields:?}"
        );
    }
    let mut no_contact = base.clone();
    no_contact["guest"] = json!({"name": "Ana"});
    let (status, p) = post(no_contact).await;
    assert_eq!(status, 422, "{p}");

    let (status, p) = post(with("accommodation", json!("nope"))).await;
    assert_eq!(status, 404, "{p}");
    let res = app
        .client
        .post(app.url("/api/v1/reservations"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.headers()["content-type"], "application/problem+json");

    // Nothing was written by any of them.
    let (_, list) = body(app.admin_get("/api/v1/admin/reservations").await).await;
    assert_eq!(list["total"], 0);
    assert!(
        jobs_of_kind(app, "reservation.expire_hold")
            .await
            .is_empty()
    );

    // Auth: no token 401, bad token 401, read token writing 403.
    let res = app
        .client
        .get(app.url("/api/v1/admin/reservations"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = app
        .client
        .get(app.url("/api/v1/admin/reservations"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = app
        .client
        .get(app.url("/api/v1/admin/reservations"))
        .bearer_auth(&app.read_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = app
        .client
        .post(app.url("/api/v1/admin/accommodations"))
        .bearer_auth(&app.read_token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // Unknown reservation: 404.
    let (status, _) = body(
        app.admin_post("/api/v1/admin/reservations/999999/confirm", &json!({}))
            .await,
    )
    .await;
    assert_eq!(status, 404);
}

async fn owner_blocks_and_admin_lists(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acc = app.create_accommodation("maiten", 3_000_000).await;
    let acc_id = acc["id"].as_i64().unwrap();
    let (status, block) = body(app.admin_post("/api/v1/admin/blocks", &json!({"accommodation_id": acc_id, "check_in": days_from_now(15), "check_out": days_from_now(18), "reason": "pintura"})).await).await;
    assert_eq!(status, 201, "{block}");
    let (status, p) = body(
        app.pre_reserve("maiten", &days_from_now(16), &days_from_now(17))
            .await,
    )
    .await;
    assert_eq!(status, 409, "{p}");
    let (status, p) = body(app.admin_post("/api/v1/admin/blocks", &json!({"accommodation_id": acc_id, "check_in": days_from_now(17), "check_out": days_from_now(19), "reason": "otra"})).await).await;
    assert_eq!(status, 409, "{p}");
    let (status, p) = body(app.admin_post("/api/v1/admin/blocks", &json!({"accommodation_id": acc_id, "check_in": days_from_now(17), "check_out": days_from_now(19), "reason": ""})).await).await;
    assert_eq!(status, 422, "{p}");
    let bid = block["id"].as_i64().unwrap();
    assert_eq!(
        app.admin_delete(&format!("/api/v1/admin/blocks/{bid}"))
            .await
            .status(),
        204
    );
    assert_eq!(
        app.pre_reserve("maiten", &days_from_now(16), &days_from_now(17))
            .await
            .status(),
        201
    );

    // List with filters, text search and CSV export.
    let (_, list) = body(
        app.admin_get("/api/v1/admin/reservations?q=ana&state=pre_reserved&limit=10")
            .await,
    )
    .await;
    assert_eq!(list["total"], 1);
    let (_, list) = body(app.admin_get("/api/v1/admin/reservations?q=zzz").await).await;
    assert_eq!(list["total"], 0);
    let (status, p) = body(
        app.admin_get("/api/v1/admin/reservations?state=bogus")
            .await,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(p["errors"][0]["field"], "state");
    let res = app.admin_get("/api/v1/admin/reservations.csv").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = res.text().await.unwrap();
    assert!(csv.starts_with("code,state,"));
    assert_eq!(csv.lines().count(), 2);

    // Accommodation update and validation naming the field.
    let mut input = acc.clone();
    input["capacity"] = json!(0);
    let (status, p) = body(
        app.admin_put(&format!("/api/v1/admin/accommodations/{acc_id}"), &input)
            .await,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(p["errors"][0]["field"], "capacity");
    let (status, p) = body(app.admin_post("/api/v1/admin/accommodations", &input).await).await;
    assert_eq!(status, 422, "{p}");
}

/// The public calendar is answered from a short per-node cache (`AVAILABILITY_CACHE_MS`), yet
/// a write on this node shows at once, and a write made elsewhere (another node, straight into
/// the database) shows within the cache's time.
async fn the_calendar_cache_never_hides_a_write(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.availability_cache_ms = 1000).await;
    let acc = app.create_accommodation("cache", 1_000_000).await;
    let (ci, co) = (days_from_now(40), days_from_now(42));
    let url = format!("/api/v1/accommodations/cache/availability?from={ci}&until={co}");
    let free = |cal: &Value| {
        cal["days"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["available"] == true)
            .count()
    };
    let (_, cal) = body(app.get(&url).await).await;
    assert_eq!(free(&cal), 2, "{cal}");
    let (_, cal) = body(app.get(&url).await).await;
    assert_eq!(free(&cal), 2, "{cal}");

    // A hold on this node: the very next read shows it.
    let (status, hold) = body(app.pre_reserve("cache", &ci, &co).await).await;
    assert_eq!(status, 201, "{hold}");
    let (_, cal) = body(app.get(&url).await).await;
    assert_eq!(free(&cal), 0, "{cal}");

    // Cancelled: free again at once.
    let res = app
        .client
        .post(app.url(&format!(
            "/api/v1/reservations/{}/cancel",
            hold["code"].as_str().unwrap()
        )))
        .header("x-access-token", hold["access_token"].as_str().unwrap())
        .json(&json!({"reason": "cambio de planes"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (_, cal) = body(app.get(&url).await).await;
    assert_eq!(free(&cal), 2, "{cal}");

    // A block written by someone else (not through this node) shows within the cache's time.
    let stay = posada_domain::Stay::new(ci.parse().unwrap(), co.parse().unwrap()).unwrap();
    let mut tx = app.test_db.db.begin().await.unwrap();
    posada_store::blocks::insert_owner(
        tx.conn(),
        acc["id"].as_i64().unwrap(),
        &stay,
        "otro nodo",
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    eventually(Duration::from_secs(10), || async {
        let (_, cal) = body(app.get(&url).await).await;
        (free(&cal) == 0).then_some(())
    })
    .await;

    // The cache answered some of these reads.
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("availability_cache_hits_total ") && !l.ends_with(" 0")),
        "{metrics}"
    );
}

/// Two `posada serve` nodes on one PostgreSQL database, 200 guests racing for random
/// overlapping 1–5-night stays of one unit, over several rounds: every answer is 201 or 409 (a
/// deadlock between two overlapping inserts is retried by the unit of work, never answered), and
/// the stored holds never overlap.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_racing_holds_answer_only_201_or_409() {
    use rand::Rng;
    let app = TestApp::spawn_with(Backend::Postgres, |s| {
        s.db_max_connections = 24;
        s.rate_limit_public_per_minute = 100_000;
    })
    .await;
    let mut settings = crate::helpers::test_settings(&app.test_db.url);
    settings.db_max_connections = 24;
    settings.rate_limit_public_per_minute = 100_000;
    let second = posada_server::startup::Application::build(
        settings,
        Some("127.0.0.1:0".parse().unwrap()),
        posada_server::startup::Roles {
            http: true,
            workers: true,
        },
    )
    .await
    .unwrap();
    let second_base = format!("http://{}", second.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let node = tokio::spawn(second.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    app.create_accommodation("bosque", 4_000_000).await;
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for round in 0..5 {
        let mut tasks = Vec::new();
        for i in 0..200 {
            let client = app.client.clone();
            let base = if i % 2 == 0 {
                app.base.clone()
            } else {
                second_base.clone()
            };
            let (from, nights) = {
                let mut rng = rand::rng();
                (rng.random_range(0..20), rng.random_range(1..=5))
            };
            let (a, b) = (
                days_from_now(30 + round * 40 + from),
                days_from_now(30 + round * 40 + from + nights),
            );
            tasks.push(tokio::spawn(async move {
                client
                    .post(format!("{base}/api/v1/reservations"))
                    .json(&json!({"accommodation": "bosque", "check_in": a, "check_out": b, "guests": 2, "guest": {"name": format!("G{i}"), "email": format!("g{i}@example.com")}}))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }));
        }
        for t in tasks {
            *statuses.entry(t.await.unwrap()).or_default() += 1;
        }
    }
    assert!(
        statuses.keys().all(|s| *s == 201 || *s == 409),
        "answers other than 201/409: {statuses:?}"
    );
    assert!(
        statuses.get(&201).copied().unwrap_or(0) >= 5,
        "{statuses:?}"
    );
    let mut stays: Vec<(chrono::NaiveDate, chrono::NaiveDate)> = Vec::new();
    let (_, list) = body(app.admin_get("/api/v1/admin/reservations?limit=200").await).await;
    for r in list["items"].as_array().unwrap() {
        let ci: chrono::NaiveDate = r["check_in"].as_str().unwrap().parse().unwrap();
        let co: chrono::NaiveDate = r["check_out"].as_str().unwrap().parse().unwrap();
        assert!(
            stays.iter().all(|(a, b)| co <= *a || ci >= *b),
            "overlapping holds stored"
        );
        stays.push((ci, co));
    }
    assert_eq!(stays.len(), statuses[&201]);
    let _ = stop.send(());
    let _ = tokio::time::timeout(std::time::Duration::from_secs(15), node).await;
}

on_both!(
    hold_quote_confirm_and_read_back,
    two_hundred_concurrent_holds_one_wins,
    back_to_back_and_freed_dates,
    a_hold_expires_at_its_time_and_frees_its_dates,
    the_reminder_fires_once,
    confirm_and_expire_race_has_one_winner,
    errors_are_specific_and_write_nothing,
    owner_blocks_and_admin_lists,
    the_calendar_cache_never_hides_a_write
);
