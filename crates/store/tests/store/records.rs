//! Accommodations, the outbox, tokens and idempotency keys round trip on both backends.

use chrono::Duration;
use posada_db::both_backends;
use posada_db::testing::TestDb;
use posada_domain::{Money, Photo, Season};
use posada_store::idempotency::{self, Claim};
use posada_store::notifications::{self, NewNotification};
use posada_store::{StoreError, accommodations, tokens};

use super::{cabin, d, migrated};

async fn accommodations_round_trip(t: TestDb) {
    migrated(&t).await;
    let mut new = cabin("alerce");
    new.photos = vec![
        Photo {
            url: "https://img/2.jpg".into(),
            caption: "Living".into(),
            position: 2,
            primary: false,
        },
        Photo {
            url: "https://img/1.jpg".into(),
            caption: "Frente".into(),
            position: 1,
            primary: true,
        },
    ];
    new.pricing.seasons = vec![Season {
        name: "Verano".into(),
        start: d("2030-01-01"),
        end: d("2030-03-01"),
        nightly: Money::ars(8_000_000),
        min_nights: Some(3),
    }];
    let mut tx = t.db.begin().await.unwrap();
    let stored = accommodations::insert(tx.conn(), &new, "Ruta 40 km 2", chrono::Utc::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let back = accommodations::get(&t.db, stored.accommodation.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back.accommodation.pricing, new.pricing);
    assert_eq!(back.accommodation.photos.len(), 2);
    assert_eq!(
        back.accommodation.primary_photo().unwrap().url,
        "https://img/1.jpg"
    );
    assert_eq!(back.directions, "Ruta 40 km 2");
    assert_eq!(
        accommodations::get_by_slug(&t.db, "alerce")
            .await
            .unwrap()
            .unwrap()
            .accommodation
            .id,
        stored.accommodation.id
    );

    let mut tx = t.db.begin().await.unwrap();
    let err = accommodations::insert(tx.conn(), &new, "", chrono::Utc::now())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Duplicate("slug")), "{err:?}");
    tx.rollback().await.unwrap();

    let mut tx = t.db.begin().await.unwrap();
    assert!(
        accommodations::delete_or_deactivate(tx.conn(), stored.accommodation.id)
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    assert!(accommodations::list(&t.db, false).await.unwrap().is_empty());
}

async fn outbox_rows_are_deduplicated(t: TestDb) {
    migrated(&t).await;
    let data = serde_json::json!({"code": "X"});
    let n = NewNotification {
        reservation_id: None,
        audience: "owner",
        channel: "email",
        recipient: Some("owner@example.com"),
        template: "new_reservation",
        data: &data,
        dedupe_key: Some("k1".into()),
    };
    let mut tx = t.db.begin().await.unwrap();
    let first = notifications::insert(tx.conn(), &n, chrono::Utc::now())
        .await
        .unwrap();
    let second = notifications::insert(tx.conn(), &n, chrono::Utc::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(first.is_some());
    assert_eq!(second, None);
    let row = notifications::get(&t.db, first.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, "queued");
    notifications::set_status(
        &t.db,
        row.id,
        "sent",
        Some("wamid.1"),
        None,
        true,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let row = notifications::get(&t.db, row.id).await.unwrap().unwrap();
    assert_eq!(
        (
            row.status.as_str(),
            row.attempts,
            row.provider_message_id.as_deref()
        ),
        ("sent", 1, Some("wamid.1"))
    );
}

async fn tokens_are_hashed_and_revocable(t: TestDb) {
    migrated(&t).await;
    let token = tokens::create(
        &t.db,
        "owner laptop",
        "write",
        "s3cret-token",
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let stored: String = match &t.db {
        posada_db::Db::Sqlite(p) => sqlx::query_scalar("SELECT token_hash FROM api_tokens")
            .fetch_one(p)
            .await
            .unwrap(),
        posada_db::Db::Postgres(p) => sqlx::query_scalar("SELECT token_hash FROM api_tokens")
            .fetch_one(p)
            .await
            .unwrap(),
    };
    assert!(!stored.contains("s3cret"));
    assert_eq!(
        tokens::authenticate(&t.db, "s3cret-token", chrono::Utc::now())
            .await
            .unwrap()
            .unwrap()
            .id,
        token.id
    );
    assert!(
        tokens::authenticate(&t.db, "wrong", chrono::Utc::now())
            .await
            .unwrap()
            .is_none()
    );
    tokens::revoke(&t.db, token.id, chrono::Utc::now())
        .await
        .unwrap();
    assert!(
        tokens::authenticate(&t.db, "s3cret-token", chrono::Utc::now())
            .await
            .unwrap()
            .is_none()
    );
}

async fn idempotency_keys_replay_and_refuse(t: TestDb) {
    migrated(&t).await;
    let ttl = Duration::hours(48);
    assert_eq!(
        idempotency::claim(&t.db, "holds", "k", "h1", ttl, chrono::Utc::now())
            .await
            .unwrap(),
        Claim::New
    );
    assert_eq!(
        idempotency::claim(&t.db, "holds", "k", "h1", ttl, chrono::Utc::now())
            .await
            .unwrap(),
        Claim::InFlight
    );
    assert_eq!(
        idempotency::claim(&t.db, "holds", "k", "h2", ttl, chrono::Utc::now())
            .await
            .unwrap(),
        Claim::Mismatch
    );
    idempotency::complete(&t.db, "holds", "k", 201, "{\"ok\":true}")
        .await
        .unwrap();
    assert_eq!(
        idempotency::claim(&t.db, "holds", "k", "h1", ttl, chrono::Utc::now())
            .await
            .unwrap(),
        Claim::Replay {
            status: 201,
            body: "{\"ok\":true}".into()
        }
    );
    // Another route's key space is separate; expired keys are purged.
    assert_eq!(
        idempotency::claim(
            &t.db,
            "other",
            "k",
            "h9",
            Duration::seconds(-1),
            chrono::Utc::now()
        )
        .await
        .unwrap(),
        Claim::New
    );
    assert_eq!(
        idempotency::purge_expired(&t.db, chrono::Utc::now())
            .await
            .unwrap(),
        1
    );
}

both_backends!(
    accommodations_round_trip,
    outbox_rows_are_deduplicated,
    tokens_are_hashed_and_revocable,
    idempotency_keys_replay_and_refuse
);
