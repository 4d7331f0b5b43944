//! Request bodies are read strictly: a member the endpoint does not know is refused (422 naming
//! it) instead of silently dropped; a value of the wrong type, an unknown enum value or a date in
//! another format is 422 naming the field by its path with what is accepted; only text that is not
//! JSON is 400. Refused before any use case runs, so nothing is stored (checked on both backends).

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, days_from_now};
use crate::on_both;

fn accommodation(extra: Value) -> Value {
    let mut body = json!({
        "name": "Cabaña del Lago", "slug": "lago", "kind": "cabin", "capacity": 4,
        "pricing": {"base_nightly": {"minor": 5_000_000, "currency": "ARS"}}
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

async fn problem(res: reqwest::Response, status: u16) -> Value {
    assert_eq!(res.status(), status);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    res.json().await.unwrap()
}

fn error_for<'a>(p: &'a Value, field: &str) -> &'a str {
    p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["field"] == field)
        .unwrap_or_else(|| panic!("no error for {field}: {p}"))["message"]
        .as_str()
        .unwrap()
}

async fn unknown_and_malformed_members_are_named(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    // "precio" (Spanish for price) is not a member: refused, not ignored with a 201.
    let p = problem(
        app.admin_post(
            "/api/v1/admin/accommodations",
            &accommodation(json!({"precio": 5})),
        )
        .await,
        422,
    )
    .await;
    assert!(error_for(&p, "precio").contains("campo desconocido"), "{p}");
    // Nested unknown members are named by their path.
    let mut body = accommodation(json!({}));
    body["pricing"]["base_nightly"]["moneda"] = json!("ARS");
    let p = problem(
        app.admin_post("/api/v1/admin/accommodations", &body).await,
        422,
    )
    .await;
    assert!(
        error_for(&p, "pricing.base_nightly.moneda").contains("campo desconocido"),
        "{p}"
    );

    // An enum value: the accepted ones, under the field's path, never "line 1 column N".
    let mut body = accommodation(json!({}));
    body["pricing"]["base_nightly"]["currency"] = json!("EUR");
    let p = problem(
        app.admin_post("/api/v1/admin/accommodations", &body).await,
        422,
    )
    .await;
    assert_eq!(
        error_for(&p, "pricing.base_nightly.currency"),
        "debe ser ARS o USD"
    );
    assert!(!p.to_string().contains("line 1"), "{p}");

    // A list member at fault is named with its index.
    let body = accommodation(json!({"photos": [{"url": "/a.jpg", "position": "uno"}]}));
    let p = problem(
        app.admin_post("/api/v1/admin/accommodations", &body).await,
        422,
    )
    .await;
    assert!(
        error_for(&p, "photos[0].position").contains("número entero"),
        "{p}"
    );
    // A missing member.
    let mut body = accommodation(json!({}));
    body.as_object_mut().unwrap().remove("capacity");
    let p = problem(
        app.admin_post("/api/v1/admin/accommodations", &body).await,
        422,
    )
    .await;
    assert!(error_for(&p, "capacity").contains("obligatorio"), "{p}");
    // A time in another format.
    let p = problem(
        app.admin_post(
            "/api/v1/admin/accommodations",
            &accommodation(json!({"check_in_time": "2pm"})),
        )
        .await,
        422,
    )
    .await;
    assert!(error_for(&p, "check_in_time").contains("HH:MM"), "{p}");

    // Nothing of the above was stored.
    let listed: Value = app
        .admin_get("/api/v1/admin/accommodations")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed["items"].as_array().map(Vec::len).unwrap_or(0),
        0,
        "{listed}"
    );

    // The valid body is created; the block endpoint (formerly flattened) is strict too.
    let created: Value = app
        .admin_post("/api/v1/admin/accommodations", &accommodation(json!({})))
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_i64().unwrap();
    let p = problem(
        app.admin_post(
            "/api/v1/admin/blocks",
            &json!({"accommodation_id": id, "check_in": "10/03/2027", "check_out": "2027-03-12", "reason": "pintura"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(
        error_for(&p, "check_in"),
        "debe ser una fecha con el formato AAAA-MM-DD (YYYY-MM-DD), p. ej. 2027-03-10"
    );
    let p = problem(
        app.admin_post(
            "/api/v1/admin/blocks",
            &json!({"accommodation_id": id, "check_in": "2027-03-10", "check_out": "2027-03-12", "reason": "pintura", "motivo": "x"}),
        )
        .await,
        422,
    )
    .await;
    assert!(error_for(&p, "motivo").contains("campo desconocido"), "{p}");
    let res = app
        .admin_post(
            "/api/v1/admin/blocks",
            &json!({"accommodation_id": id, "check_in": "2027-03-10", "check_out": "2027-03-12", "reason": "pintura"}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());

    // The guest's booking request: same rules.
    let hold = json!({
        "accommodation": "lago", "check_in": days_from_now(10), "check_out": days_from_now(12),
        "guests": 2, "guest": {"name": "Ana Pérez", "email": "ana@example.com", "phone": "+54 9 11 5555-1234"},
        "huespedes": 3
    });
    let p = problem(app.post("/api/v1/reservations", &hold).await, 422).await;
    assert!(
        error_for(&p, "huespedes").contains("campo desconocido"),
        "{p}"
    );
    let mut hold = hold;
    hold.as_object_mut().unwrap().remove("huespedes");
    hold["check_in"] = json!("10/03/2027");
    let p = problem(app.post("/api/v1/reservations", &hold).await, 422).await;
    assert!(error_for(&p, "check_in").contains("YYYY-MM-DD"), "{p}");

    // Not JSON at all: 400.
    let res = app
        .client
        .post(app.url("/api/v1/reservations"))
        .header("content-type", "application/json")
        .body("{\"accommodation\": ")
        .send()
        .await
        .unwrap();
    let p = problem(res, 400).await;
    assert!(
        p["detail"].as_str().unwrap().contains("not valid JSON"),
        "{p}"
    );
    app.stop().await;
}

on_both!(unknown_and_malformed_members_are_named);
