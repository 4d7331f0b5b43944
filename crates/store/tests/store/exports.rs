//! Export URL tokens are stored hashed: migration 8 hashes the plain tokens an older version
//! stored (in SQL on PostgreSQL, in Rust on SQLite) and the old URLs keep working (issue 15 #8).

use posada_db::testing::TestDb;
use posada_db::{MigrationSet, both_backends};
use posada_store::{accommodations, feeds, hash_secret};

use super::cabin;

async fn plain_export_tokens_are_hashed_by_the_migration(t: TestDb) {
    let all = posada_store::MIGRATIONS.migrations;
    let hashing = all
        .iter()
        .position(|m| m.name == "hashed export tokens")
        .unwrap();
    let before_hashing = MigrationSet {
        name: posada_store::MIGRATIONS.name,
        migrations: &all[..hashing],
    };
    posada_db::migrate(&t.db, &before_hashing).await.unwrap();
    let now = chrono::Utc::now();
    let mut tx = t.db.begin().await.unwrap();
    let acc = accommodations::insert(tx.conn(), &cabin("lenga"), "", now)
        .await
        .unwrap()
        .accommodation
        .id;
    tx.commit().await.unwrap();
    let plain = "0123456789abcdef0123456789abcdef0123456789abcdef";
    let insert = "INSERT INTO export_tokens (accommodation_id, channel, token, created_at) VALUES ($1, 'airbnb', $2, $3)";
    match &t.db {
        posada_db::Db::Sqlite(p) => sqlx::query(insert)
            .bind(acc)
            .bind(plain)
            .bind(now)
            .execute(p)
            .await
            .map(|_| ())
            .unwrap(),
        posada_db::Db::Postgres(p) => sqlx::query(insert)
            .bind(acc)
            .bind(plain)
            .bind(now)
            .execute(p)
            .await
            .map(|_| ())
            .unwrap(),
    }

    posada_db::migrate(&t.db, &posada_store::MIGRATIONS)
        .await
        .unwrap();
    feeds::hash_legacy_export_tokens(&t.db).await.unwrap();
    assert_eq!(feeds::hash_legacy_export_tokens(&t.db).await.unwrap(), 0);

    // The old URL still opens the export, by its hash; the plain token is stored nowhere.
    let found = feeds::find_export_token(&t.db, &hash_secret(plain))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.accommodation_id, found.channel.as_str()),
        (acc, "airbnb")
    );
    assert!(
        feeds::find_export_token(&t.db, plain)
            .await
            .unwrap()
            .is_none()
    );
    let select =
        "SELECT COUNT(*) FROM export_tokens WHERE legacy_token IS NOT NULL OR token_hash = $1";
    let plain_left: i64 = match &t.db {
        posada_db::Db::Sqlite(p) => sqlx::query_scalar(select).bind(plain).fetch_one(p).await,
        posada_db::Db::Postgres(p) => sqlx::query_scalar(select).bind(plain).fetch_one(p).await,
    }
    .unwrap();
    assert_eq!(plain_left, 0);
}

both_backends!(plain_export_tokens_are_hashed_by_the_migration);
