//! No double booking, enforced by the schema itself.

use chrono::{Duration, Utc};
use posada_db::both_backends;
use posada_db::testing::TestDb;
use posada_domain::{Actor, ReservationState, Stay};
use posada_store::reservations::{self, NewHold};
use posada_store::{StoreError, accommodations};

use super::{cabin, d, migrated, quote_for};

async fn hold(
    t: &TestDb,
    acc: i64,
    code: &str,
    stay: Stay,
) -> Result<reservations::Reservation, StoreError> {
    hold_with(t, acc, code, stay, false).await
}

/// A hold through the guard alone (`insert_hold`) or through the flows' checked insert.
async fn hold_with(
    t: &TestDb,
    acc: i64,
    code: &str,
    stay: Stay,
    checked: bool,
) -> Result<reservations::Reservation, StoreError> {
    let q = quote_for(&stay);
    let mut tx = t.db.begin().await.unwrap();
    let h = NewHold {
        code,
        access_token_hash: "h",
        accommodation_id: acc,
        stay,
        guests: 2,
        guest_name: "Ana",
        guest_email: Some("ana@example.com"),
        guest_phone: None,
        channel: "api",
        quote: &q,
        expires_at: Utc::now() + Duration::minutes(30),
        notes: "",
        trace_id: None,
        actor: Actor::Guest,
    };
    let r = if checked {
        reservations::insert_hold_if_free(tx.conn(), &h, chrono::Utc::now()).await
    } else {
        reservations::insert_hold(tx.conn(), &h, chrono::Utc::now()).await
    };
    match r {
        Ok(r) => {
            tx.commit().await.unwrap();
            Ok(r)
        }
        Err(e) => {
            tx.rollback().await.unwrap();
            Err(e)
        }
    }
}

async fn overlapping_active_stays_are_refused_by_the_schema(t: TestDb) {
    migrated(&t).await;
    let mut tx = t.db.begin().await.unwrap();
    let acc = accommodations::insert(tx.conn(), &cabin("lago"), "", chrono::Utc::now())
        .await
        .unwrap()
        .accommodation
        .id;
    tx.commit().await.unwrap();

    let first = hold(
        &t,
        acc,
        "AAAAA-AAAAA",
        Stay::new(d("2030-01-10"), d("2030-01-15")).unwrap(),
    )
    .await
    .unwrap();
    // Overlap, even by one night, is refused.
    let err = hold(
        &t,
        acc,
        "BBBBB-BBBBB",
        Stay::new(d("2030-01-14"), d("2030-01-16")).unwrap(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, StoreError::Overlap), "{err:?}");
    // Back-to-back is fine on both sides.
    hold(
        &t,
        acc,
        "CCCCC-CCCCC",
        Stay::new(d("2030-01-15"), d("2030-01-17")).unwrap(),
    )
    .await
    .unwrap();
    hold(
        &t,
        acc,
        "DDDDD-DDDDD",
        Stay::new(d("2030-01-08"), d("2030-01-10")).unwrap(),
    )
    .await
    .unwrap();
    // A duplicate code is its own error.
    let err = hold(
        &t,
        acc,
        "CCCCC-CCCCC",
        Stay::new(d("2030-02-01"), d("2030-02-03")).unwrap(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, StoreError::Duplicate("code")), "{err:?}");

    // Expiring the first frees its nights.
    let mut tx = t.db.begin().await.unwrap();
    let changed = reservations::change_state(
        tx.conn(),
        first.id,
        ReservationState::PreReserved,
        ReservationState::Expired,
        Actor::System,
        Some("hold ran out"),
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(changed.unwrap().state, ReservationState::Expired);
    hold(
        &t,
        acc,
        "EEEEE-EEEEE",
        Stay::new(d("2030-01-12"), d("2030-01-14")).unwrap(),
    )
    .await
    .unwrap();

    // Re-activating the expired one would overlap: the update guard refuses it too.
    let mut tx = t.db.begin().await.unwrap();
    let err = reservations::change_state(
        tx.conn(),
        first.id,
        ReservationState::Expired,
        ReservationState::PreReserved,
        Actor::Admin,
        None,
        chrono::Utc::now(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, StoreError::Overlap), "{err:?}");
    tx.rollback().await.unwrap();
}

async fn state_changes_have_one_winner(t: TestDb) {
    migrated(&t).await;
    let mut tx = t.db.begin().await.unwrap();
    let acc = accommodations::insert(tx.conn(), &cabin("rio"), "", chrono::Utc::now())
        .await
        .unwrap()
        .accommodation
        .id;
    tx.commit().await.unwrap();
    let r = hold(
        &t,
        acc,
        "FFFFF-FFFFF",
        Stay::new(d("2030-03-01"), d("2030-03-04")).unwrap(),
    )
    .await
    .unwrap();

    let mut tx = t.db.begin().await.unwrap();
    let confirmed = reservations::change_state(
        tx.conn(),
        r.id,
        ReservationState::PreReserved,
        ReservationState::Confirmed,
        Actor::Admin,
        None,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert!(confirmed.is_some());
    let mut tx = t.db.begin().await.unwrap();
    let expired = reservations::change_state(
        tx.conn(),
        r.id,
        ReservationState::PreReserved,
        ReservationState::Expired,
        Actor::System,
        Some("late"),
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert!(
        expired.is_none(),
        "the expiry lost the race and changed nothing"
    );

    let history = reservations::history(&t.db, r.id).await.unwrap();
    let moves: Vec<_> = history
        .iter()
        .map(|h| (h.from_state.clone(), h.to_state.clone(), h.actor.clone()))
        .collect();
    assert_eq!(
        moves,
        vec![
            (None, "pre_reserved".to_string(), "guest".to_string()),
            (
                Some("pre_reserved".to_string()),
                "confirmed".to_string(),
                "admin".to_string()
            ),
        ]
    );
    let now = reservations::get(&t.db, r.id).await.unwrap().unwrap();
    assert_eq!(now.state, ReservationState::Confirmed);
    assert_eq!(now.expires_at, None);
}

async fn taken_nights_include_blocks(t: TestDb) {
    migrated(&t).await;
    let mut tx = t.db.begin().await.unwrap();
    let acc = accommodations::insert(tx.conn(), &cabin("bosque"), "", chrono::Utc::now())
        .await
        .unwrap()
        .accommodation
        .id;
    let block = posada_store::blocks::insert_owner(
        tx.conn(),
        acc,
        &Stay::new(d("2030-05-01"), d("2030-05-03")).unwrap(),
        "pintura",
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    hold(
        &t,
        acc,
        "GGGGG-GGGGG",
        Stay::new(d("2030-05-05"), d("2030-05-07")).unwrap(),
    )
    .await
    .unwrap();
    let taken = reservations::taken_stays_db(&t.db, acc, d("2030-05-01"), d("2030-06-01"))
        .await
        .unwrap();
    assert_eq!(taken.len(), 2);
    assert!(taken.contains(&Stay::new(d("2030-05-01"), d("2030-05-03")).unwrap()));
    assert!(taken.contains(&Stay::new(d("2030-05-05"), d("2030-05-07")).unwrap()));
    let mut tx = t.db.begin().await.unwrap();
    posada_store::blocks::delete_owner(tx.conn(), block.id)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let taken = reservations::taken_stays_db(&t.db, acc, d("2030-05-01"), d("2030-06-01"))
        .await
        .unwrap();
    assert_eq!(
        taken,
        vec![Stay::new(d("2030-05-05"), d("2030-05-07")).unwrap()]
    );
}

both_backends!(
    overlapping_active_stays_are_refused_by_the_schema,
    state_changes_have_one_winner,
    taken_nights_include_blocks,
    checked_holds_refuse_blocks_and_reservations
);

async fn checked_holds_refuse_blocks_and_reservations(t: TestDb) {
    migrated(&t).await;
    let mut tx = t.db.begin().await.unwrap();
    let acc = accommodations::insert(tx.conn(), &cabin("cerro"), "", chrono::Utc::now())
        .await
        .unwrap()
        .accommodation
        .id;
    posada_store::blocks::insert_owner(
        tx.conn(),
        acc,
        &Stay::new(d("2030-07-10"), d("2030-07-12")).unwrap(),
        "pintura",
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let stay = |a, b| Stay::new(d(a), d(b)).unwrap();
    // A block is not in the schema guard: only the checked insert sees it.
    let err = hold_with(
        &t,
        acc,
        "HHHHH-HHHHH",
        stay("2030-07-11", "2030-07-13"),
        true,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, StoreError::Overlap), "{err:?}");
    // Back-to-back with the block on both sides.
    hold_with(
        &t,
        acc,
        "JJJJJ-JJJJJ",
        stay("2030-07-12", "2030-07-14"),
        true,
    )
    .await
    .unwrap();
    let before = hold_with(
        &t,
        acc,
        "KKKKK-KKKKK",
        stay("2030-07-08", "2030-07-10"),
        true,
    )
    .await
    .unwrap();
    assert_eq!(before.state, ReservationState::PreReserved);
    // An active reservation's nights, even one of them.
    let err = hold_with(
        &t,
        acc,
        "MMMMM-MMMMM",
        stay("2030-07-13", "2030-07-20"),
        true,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, StoreError::Overlap), "{err:?}");
    // Nothing half-written by the refusals: two holds, two history rows.
    let taken = reservations::taken_stays_db(&t.db, acc, d("2030-07-01"), d("2030-08-01"))
        .await
        .unwrap();
    assert_eq!(taken.len(), 3, "{taken:?}");
    assert_eq!(
        reservations::history(&t.db, before.id).await.unwrap().len(),
        1
    );
    assert!(
        reservations::get_by_code(&t.db, "MMMMM-MMMMM")
            .await
            .unwrap()
            .is_none()
    );
}
