//! Reservas: the list, a reservation's detail, its confirmation seen live in a second tab, the
//! search by POST.

use posada_domain::ReservationState;
use serde_json::json;

use crate::helpers::{Backend, days_from_now};
use crate::owner::{PASSWORD, assert_owner_pages_fit, spawn_owner_app};
use crate::{by_code, scenario};

async fn confirming_a_hold_shows_live_in_a_second_tab(backend: Backend) {
    let app = spawn_owner_app(backend, |_| {}).await;
    app.create_accommodation("lago", 1_500_000).await;
    let res = app
        .pre_reserve("lago", &days_from_now(6), &days_from_now(9))
        .await;
    assert_eq!(res.status(), 201);
    let held: serde_json::Value = res.json().await.unwrap();
    let code = held["code"].as_str().unwrap().to_string();

    let out = scenario(
        "owner_res_live",
        json!({"base": app.base, "password": PASSWORD, "code": code, "email": "ana@example.com"}),
    )
    .await;
    assert_owner_pages_fit(&out);
    let text = |k: &str| out[k].as_str().unwrap_or_default().to_string();
    assert!(text("b_before").contains("prerreservada"), "{out}");
    assert!(text("b_before").contains("Ana Pérez"), "{out}");
    assert_eq!(text("a_title"), format!("Reserva {code}"));
    assert!(text("a_before").contains("prerreservada"), "{out}");
    assert!(text("a_after").contains("confirmada"), "{out}");
    assert!(text("a_notice").contains("Reserva confirmada"), "{out}");
    // The other tab changed by itself, without a reload.
    assert!(text("b_after").contains("confirmada"), "{out}");
    assert_eq!(out["b_same_document"], true, "{out}");
    assert_eq!(out["b_refreshed"], true, "{out}");
    assert_eq!(
        by_code(&app, &code).await.state,
        ReservationState::Confirmed
    );
    // The search went by POST: the address holds no guest data.
    assert!(text("search_url").ends_with("/dashboard/reservas"), "{out}");
    assert!(!text("search_url").contains("ana"), "{out}");
    assert_eq!(out["search_rows"], json!([code]), "{out}");
    assert!(text("search_total").contains("1 reserva"), "{out}");
    assert!(
        text("missing_text").contains("No hay ninguna reserva con el código ZZZZZ-ZZZZZ."),
        "{out}"
    );
    app.stop().await;
}

crate::on_both!(confirming_a_hold_shows_live_in_a_second_tab);
