//! The shared handle on both backends: transactions commit and roll back, migrations apply once.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use posada_db::testing::TestDb;
use posada_db::{Migration, MigrationSet, both_backends, migrate, pending};

static SET: MigrationSet = MigrationSet {
    name: "demo",
    migrations: &[Migration {
        version: 1,
        name: "widgets",
        sqlite: "CREATE TABLE widgets (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
        postgres: "CREATE TABLE widgets (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL)",
    }],
};

async fn count(t: &TestDb) -> i64 {
    match &t.db {
        posada_db::Db::Sqlite(p) => sqlx::query_scalar("SELECT COUNT(*) FROM widgets")
            .fetch_one(p)
            .await
            .unwrap(),
        posada_db::Db::Postgres(p) => sqlx::query_scalar("SELECT COUNT(*) FROM widgets")
            .fetch_one(p)
            .await
            .unwrap(),
    }
}

async fn insert(tx: &mut posada_db::Tx) {
    match tx.conn() {
        posada_db::Conn::Sqlite(c) => {
            sqlx::query("INSERT INTO widgets (name) VALUES ('a')")
                .execute(c)
                .await
                .unwrap();
        }
        posada_db::Conn::Postgres(c) => {
            sqlx::query("INSERT INTO widgets (name) VALUES ('a')")
                .execute(c)
                .await
                .unwrap();
        }
    }
}

async fn migrations_apply_once_and_transactions_hold(t: TestDb) {
    assert_eq!(pending(&t.db, &SET).await.unwrap(), 1);
    assert_eq!(migrate(&t.db, &SET).await.unwrap(), 1);
    assert_eq!(migrate(&t.db, &SET).await.unwrap(), 0);
    assert_eq!(pending(&t.db, &SET).await.unwrap(), 0);

    let mut tx = t.db.begin().await.unwrap();
    insert(&mut tx).await;
    tx.rollback().await.unwrap();
    assert_eq!(count(&t).await, 0);

    let mut tx = t.db.begin().await.unwrap();
    insert(&mut tx).await;
    tx.commit().await.unwrap();
    assert_eq!(count(&t).await, 1);
    assert!(t.db.ping().await.is_ok());
}

both_backends!(migrations_apply_once_and_transactions_hold);

#[tokio::test]
async fn bad_urls_name_the_setting() {
    let err = posada_db::Db::connect("mysql://x", &Default::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("DATABASE_URL"), "{err}");
    let err = posada_db::Db::connect("postgres://u:secret@127.0.0.1:1/x", &Default::default())
        .await
        .unwrap_err();
    assert!(!err.to_string().contains("secret"), "{err}");
    assert!(err.to_string().contains("cannot reach"), "{err}");
}
