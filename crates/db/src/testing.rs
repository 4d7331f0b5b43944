//! Test databases: a fresh SQLite file or a fresh PostgreSQL database per test.
//!
//! PostgreSQL tests read `TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`),
//! create a database named `posada_t_<uuid>` on that server and drop it when the [`TestDb`] is
//! dropped. A PostgreSQL that does not answer fails the test: it is never skipped.
#![expect(
    clippy::expect_used,
    reason = "test helpers fail the test loudly on set-up errors"
)]

use std::time::Duration;

use crate::{ConnectOptions, Db};

/// Default server for PostgreSQL tests.
pub const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A database that exists for one test.
pub struct TestDb {
    /// The pool.
    pub db: Db,
    /// URL another process (a worker binary, a server) can use to reach the same database.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_drop: Option<(String, String)>,
}

impl TestDb {
    /// A new SQLite file in a temporary directory.
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let db = Db::connect(&url, &ConnectOptions::default())
            .await
            .expect("open sqlite test database");
        TestDb {
            db,
            url,
            _dir: Some(dir),
            pg_drop: None,
        }
    }

    /// A new, empty PostgreSQL database.
    pub async fn postgres() -> TestDb {
        let admin_url = std::env::var("TEST_DATABASE_URL")
            .unwrap_or_else(|_| DEFAULT_TEST_DATABASE_URL.to_string());
        let name = format!("posada_t_{}", uuid::Uuid::new_v4().simple());
        let admin = Db::connect(
            &admin_url,
            &ConnectOptions {
                max_connections: 1,
                acquire_timeout: Duration::from_secs(10),
                ..ConnectOptions::default()
            },
        )
        .await
        .unwrap_or_else(|e| {
            panic!("PostgreSQL tests need a server at TEST_DATABASE_URL ({admin_url}): {e}")
        });
        let pool = admin.as_postgres().expect("postgres url");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(pool)
            .await
            .expect("create test database");
        admin.close().await;
        let mut url = url::Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
        url.set_path(&name);
        let url = url.to_string();
        let db = Db::connect(&url, &ConnectOptions::default())
            .await
            .expect("open postgres test database");
        TestDb {
            db,
            url,
            _dir: None,
            pg_drop: Some((admin_url, name)),
        }
    }

    /// Open a second, independent pool on the same database (another "node").
    pub async fn another_pool(&self) -> Db {
        Db::connect(&self.url, &ConnectOptions::default())
            .await
            .expect("second pool")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.pg_drop.take() else {
            return;
        };
        let db = self.db.clone();
        // Drop runs inside the test's runtime; do the async clean-up on a thread of its own.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                db.close().await;
                if let Ok(admin) = Db::connect(&admin_url, &ConnectOptions::default()).await {
                    if let Some(pool) = admin.as_postgres() {
                        let _ =
                            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                                .execute(pool)
                                .await;
                    }
                    admin.close().await;
                }
            });
        })
        .join();
    }
}

/// Declare one async test body that runs on both backends, as `mod NAME { sqlite, postgres }`.
///
/// ```ignore
/// async fn commit_runs_job(t: TestDb) { /* … */ }
/// both_backends!(commit_runs_job);
/// ```
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$name($crate::testing::TestDb::sqlite().await).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                super::$name($crate::testing::TestDb::postgres().await).await
            }
        }
    )+};
}
