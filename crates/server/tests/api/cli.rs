//! The `posada` binary on a real database: tokens and the dashboard password, output that
//! scripts can capture (data alone on standard output, logs on standard error), the start banner,
//! `migrate --dry-run` and migration checksums, `restore`, help with examples and completions.

use std::io::{BufRead, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use posada_db::testing::TestDb;

use crate::helpers::{Backend, eventually};
use crate::on_both;

pub fn posada(db_url: &str, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_posada"));
    cmd.args(args)
        .env("DATABASE_URL", db_url)
        .env("POSADA_CONFIG", "/nonexistent/posada.toml")
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn fresh(backend: Backend) -> TestDb {
    match backend {
        Backend::Sqlite => TestDb::sqlite().await,
        Backend::Postgres => TestDb::postgres().await,
    }
}

/// `posada serve` as a child process on a free port: its standard output and standard error
/// collected line by line.
pub struct Served {
    child: std::process::Child,
    pub stdout: Arc<Mutex<Vec<String>>>,
    pub stderr: Arc<Mutex<Vec<String>>>,
    pub base: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn collect(reader: impl std::io::Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(reader)
            .lines()
            .map_while(Result::ok)
        {
            sink.lock().unwrap().push(line);
        }
    });
    lines
}

impl Served {
    /// Start and wait until `/api/v1/readyz` answers 200.
    pub async fn start(database_url: &str, env: &[(&str, &str)]) -> Served {
        posada_integrations::install_crypto_provider();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_posada"));
        cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", database_url)
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .env("POSADA_CONFIG", "/nonexistent/posada.toml")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("the posada binary starts");
        let stdout = collect(child.stdout.take().unwrap());
        let stderr = collect(child.stderr.take().unwrap());
        let served = Served {
            child,
            stdout,
            stderr,
            base: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        eventually(Duration::from_secs(60), || async {
            let res = client
                .get(format!("{}/api/v1/readyz", served.base))
                .send()
                .await
                .ok()?;
            (res.status() == 200).then_some(())
        })
        .await;
        served
    }

    /// Stop with SIGTERM-like kill and wait.
    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn tokens_and_password_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("cli.db").display());

    let out = posada(
        &url,
        &[
            "admin",
            "create-token",
            "--name",
            "laptop",
            "--scope",
            "read",
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(token.starts_with("psd_") && token.len() > 40);

    let db = posada_db::Db::connect(&url, &Default::default())
        .await
        .unwrap();
    let found = posada_store::tokens::authenticate(&db, &token, chrono::Utc::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.name.as_str(), found.scope.as_str()),
        ("laptop", "read")
    );

    let out = posada(
        &url,
        &["admin", "set-password"],
        &[("POSADA_OWNER_PASSWORD", "short")],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 10 characters"));
    let out = posada(
        &url,
        &["admin", "set-password"],
        &[("POSADA_OWNER_PASSWORD", "una clave larga de verdad")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hash = posada_store::ops::owner_password_hash(&db)
        .await
        .unwrap()
        .unwrap();
    assert!(hash.starts_with("$argon2"), "{hash}");

    let out = posada(&url, &["admin", "revoke-token", &found.id.to_string()], &[]);
    assert!(out.status.success());
    assert!(
        posada_store::tokens::authenticate(&db, &token, chrono::Utc::now())
            .await
            .unwrap()
            .is_none()
    );

    // A bad setting is named in the error, with exit status 2.
    let out = posada("mysql://nope", &["migrate"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("DATABASE_URL"));
    db.close().await;
}

#[tokio::test]
async fn create_token_on_a_fresh_database_prints_only_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("fresh.db").display());
    // Info logs on: the migrations of a fresh database are logged, on standard error.
    let out = posada(&url, &["admin", "create-token"], &[("RUST_LOG", "info")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "stdout must hold the token alone: {stdout:?}"
    );
    assert!(lines[0].starts_with("psd_"), "{stdout}");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("migration applied"), "{stderr}");
    assert!(stderr.contains("shown only this once"), "{stderr}");

    // Data commands print only data: list-tokens is one JSON document.
    let out = posada(&url, &["admin", "list-tokens"], &[("RUST_LOG", "info")]);
    assert!(out.status.success());
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
}

async fn serve_prints_a_banner_and_redirects_to_the_dashboard(backend: Backend) {
    let db = fresh(backend).await;
    let served = Served::start(&db.url, &[]).await;
    let banner = eventually(Duration::from_secs(10), || async {
        let lines = served.stdout.lock().unwrap().clone();
        lines
            .iter()
            .any(|l| l.contains("next step"))
            .then(|| lines.join("\n"))
    })
    .await;
    assert!(
        banner.starts_with(&format!("posada {}", env!("CARGO_PKG_VERSION"))),
        "{banner}"
    );
    let port = served.base.rsplit(':').next().unwrap().to_string();
    assert!(
        banner.contains(&format!("listening on: 127.0.0.1:{port}")),
        "{banner}"
    );
    assert!(
        banner.contains(&format!("dashboard:    http://127.0.0.1:{port}/dashboard")),
        "{banner}"
    );
    match backend {
        Backend::Sqlite => {
            let path = db.url.trim_start_matches("sqlite://");
            assert!(banner.contains("SQLite file"), "{banner}");
            assert!(
                banner.contains(path.rsplit('/').next().unwrap()),
                "{banner}"
            );
        }
        Backend::Postgres => {
            let name = db.url.rsplit('/').next().unwrap();
            assert!(
                banner.contains(&format!("PostgreSQL 127.0.0.1:5432/{name}")),
                "{banner}"
            );
            assert!(
                !banner.contains("postgres@"),
                "no user or password: {banner}"
            );
        }
    }
    for name in ["Mercado Pago", "WhatsApp", "SMTP", "Redis"] {
        assert!(
            banner.contains(&format!("{name}:")) && banner.contains("not configured"),
            "{name}: {banner}"
        );
    }
    assert!(
        banner.contains("next step:    create a token: posada admin create-token"),
        "{banner}"
    );
    // Once: the banner's first line appears one time; logs stay on standard error as JSON.
    let stdout = served.stdout.lock().unwrap().clone();
    assert_eq!(
        stdout.iter().filter(|l| l.starts_with("posada ")).count(),
        1,
        "{stdout:?}"
    );
    assert!(
        stdout.iter().all(|l| !l.starts_with('{')),
        "no log line on standard output: {stdout:?}"
    );
    let stderr = served.stderr.lock().unwrap().clone();
    assert!(
        stderr.iter().any(|l| l.contains("http server listening")),
        "{stderr:?}"
    );

    // `/` sends a browser to the dashboard.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = client
        .get(format!("{}/", served.base))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_redirection(), "{}", res.status());
    assert_eq!(res.headers()["location"], "/dashboard");

    // The container health check: the binary asks the server.
    let live = format!("{}/api/v1/livez", served.base);
    let out = posada(&db.url, &["health", "--url", &live], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    served.stop();
    let out = posada(&db.url, &["health", "--url", &live], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("unhealthy"));
}

#[tokio::test]
async fn the_banner_names_configured_integrations_and_drops_the_token_step() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("p.db").display());
    let out = posada(&url, &["admin", "create-token"], &[]);
    assert!(out.status.success());
    let served = Served::start(
        &url,
        &[
            ("SMTP_HOST", "127.0.0.1"),
            ("SMTP_FROM", "posada@example.com"),
            ("REDIS_URL", "redis://127.0.0.1:6379"),
        ],
    )
    .await;
    let banner = eventually(Duration::from_secs(10), || async {
        let lines = served.stdout.lock().unwrap().clone();
        lines
            .iter()
            .any(|l| l.contains("Redis:"))
            .then(|| lines.join("\n"))
    })
    .await;
    assert!(banner.contains("SMTP:         configured"), "{banner}");
    assert!(banner.contains("Redis:        configured"), "{banner}");
    assert!(banner.contains("Mercado Pago: not configured"), "{banner}");
    assert!(!banner.contains("create-token"), "{banner}");
    assert!(!banner.contains("redis://"), "no URLs of secrets: {banner}");
    served.stop();
}

async fn migrate_dry_run_lists_pending_migrations(backend: Backend) {
    let db = fresh(backend).await;
    let total: usize = posada_server::migrations::sets()
        .iter()
        .map(|s| s.migrations.len())
        .sum();
    let out = posada(&db.url, &["migrate", "--dry-run"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with(&format!("{total} pending migration(s)")),
        "{stdout}"
    );
    let first = &posada_jobs::MIGRATIONS.migrations[0];
    assert!(
        stdout.contains(&format!("jobs {} {}", first.version, first.name)),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), total + 1, "{stdout}");
    // Nothing was applied.
    assert_eq!(
        posada_server::migrations::pending(&db.db).await.unwrap(),
        total
    );

    let out = posada(&db.url, &["migrate"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&format!("applied {total} migration(s)")));
    // Piped: no progress drawn on standard error.
    assert!(!text(&out.stderr).contains('\r'), "{:?}", text(&out.stderr));
    let out = posada(&db.url, &["migrate", "--dry-run"], &[]);
    assert!(
        text(&out.stdout).starts_with("no pending migrations"),
        "{}",
        text(&out.stdout)
    );
}

async fn a_migration_changed_after_it_ran_stops_migrate(backend: Backend) {
    let db = fresh(backend).await;
    let out = posada(&db.url, &["migrate"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let checksums = |db: &posada_db::Db| {
        let db = db.clone();
        async move {
            let sql =
                "SELECT checksum FROM posada_migrations WHERE set_name = 'store' AND version = 2";
            let row: (Option<String>,) = match &db {
                posada_db::Db::Sqlite(p) => sqlx::query_as(sql).fetch_one(p).await.unwrap(),
                posada_db::Db::Postgres(p) => sqlx::query_as(sql).fetch_one(p).await.unwrap(),
            };
            row.0
        }
    };
    let store2 = posada_store::MIGRATIONS
        .migrations
        .iter()
        .find(|m| m.version == 2)
        .unwrap();
    let recorded = checksums(&db.db).await.unwrap();
    assert_eq!(recorded, store2.checksum(db.db.backend()));

    // The text of store migration 2 no longer matches what ran: every command that migrates
    // refuses, naming the migration, and the dry run says the same.
    let exec = |sql: &'static str| {
        let db = db.db.clone();
        async move {
            match &db {
                posada_db::Db::Sqlite(p) => {
                    sqlx::query(sql).execute(p).await.unwrap();
                }
                posada_db::Db::Postgres(p) => {
                    sqlx::query(sql).execute(p).await.unwrap();
                }
            }
        }
    };
    exec("UPDATE posada_migrations SET checksum = 'f00d' WHERE set_name = 'store' AND version = 2")
        .await;
    for args in [
        &["migrate"][..],
        &["migrate", "--dry-run"],
        &["admin", "list-tokens"],
    ] {
        let out = posada(&db.url, args, &[]);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&format!(
                "migration store 2 ({}) was changed after it was applied",
                store2.name
            )) && stderr.contains("f00d"),
            "{args:?}: {stderr}"
        );
    }
    // Rows from before checksums existed get theirs filled in, and migrate goes on.
    exec("UPDATE posada_migrations SET checksum = NULL").await;
    let out = posada(&db.url, &["migrate"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        checksums(&db.db).await.as_deref(),
        Some(store2.checksum(db.db.backend()).as_str())
    );
}

on_both!(
    serve_prints_a_banner_and_redirects_to_the_dashboard,
    migrate_dry_run_lists_pending_migrations,
    a_migration_changed_after_it_ran_stops_migrate
);

#[tokio::test]
async fn restore_puts_a_backup_back_and_refuses_while_posada_runs() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("posada.db").display());
    let token = text(&posada(&url, &["admin", "create-token", "--name", "before"], &[]).stdout)
        .trim()
        .to_string();
    let backup = dir.path().join("backup.db");
    let out = posada(&url, &["backup", backup.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains('\r'), "no progress when piped");
    let later = text(&posada(&url, &["admin", "create-token", "--name", "after"], &[]).stdout)
        .trim()
        .to_string();

    // While a server runs on the database, restore refuses and changes nothing.
    let served = Served::start(&url, &[]).await;
    let out = posada(&url, &["restore", backup.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("posada is running on"),
        "{}",
        text(&out.stderr)
    );
    served.stop();

    // Not a posada backup: refused before anything is touched.
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"not a database at all, just text").unwrap();
    let out = posada(&url, &["restore", junk.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("is not a SQLite database")
            || text(&out.stderr).contains("not a posada backup"),
        "{}",
        text(&out.stderr)
    );

    let out = posada(&url, &["restore", backup.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("restored"), "{stdout}");
    let kept = stdout
        .lines()
        .find_map(|l| l.strip_prefix("the replaced database was kept as "))
        .unwrap()
        .to_string();

    // The restored database knows the first token, not the later one; the kept one knows both.
    let check = |url: String, token: String| async move {
        let db = posada_db::Db::connect(&url, &Default::default())
            .await
            .unwrap();
        let found = posada_store::tokens::authenticate(&db, &token, chrono::Utc::now())
            .await
            .unwrap()
            .is_some();
        db.close().await;
        found
    };
    assert!(check(url.clone(), token.clone()).await);
    assert!(!check(url.clone(), later.clone()).await);
    let kept_url = format!("sqlite://{kept}");
    assert!(check(kept_url.clone(), later).await);

    // A server starts on the restored database.
    let served = Served::start(&url, &[]).await;
    served.stop();

    // PostgreSQL has its own tools.
    let out = posada(
        "postgres://postgres@127.0.0.1:5432/test",
        &["restore", backup.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("pg_restore"));
}

#[test]
fn help_shows_examples_and_completions_are_printed() {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_posada"))
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    let top = run(&["--help"]);
    assert!(top.contains("Examples:"), "{top}");
    assert!(top.contains("TOKEN=$(posada admin create-token)"), "{top}");
    for sub in [
        "serve",
        "worker",
        "migrate",
        "jobs",
        "bench",
        "admin",
        "backup",
        "restore",
        "assistant",
        "completions",
        "health",
        "openapi",
    ] {
        let help = run(&[sub, "--help"]);
        assert!(help.contains("Example"), "posada {sub} --help: {help}");
    }
    for sub in [
        "create-token",
        "list-tokens",
        "revoke-token",
        "set-password",
    ] {
        let help = run(&["admin", sub, "--help"]);
        assert!(
            help.contains("Example"),
            "posada admin {sub} --help: {help}"
        );
    }
    let admin = run(&["--help"]);
    assert!(admin.contains("dashboard password"), "{admin}");
    let set = run(&["admin", "set-password", "--help"]);
    assert!(set.contains("at least 10 characters"), "{set}");
    assert!(set.contains("without echo"), "{set}");

    let bash = run(&["completions", "bash"]);
    assert!(bash.contains("_posada()"), "{bash}");
    assert!(bash.contains("create-token"), "{bash}");
    // bash itself accepts the script.
    let mut check = Command::new("bash")
        .args(["-n"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    check
        .stdin
        .take()
        .unwrap()
        .write_all(bash.as_bytes())
        .unwrap();
    assert!(check.wait().unwrap().success());
    assert!(run(&["completions", "zsh"]).contains("#compdef posada"));
}

#[tokio::test]
async fn set_password_read_from_a_pipe_states_the_minimum() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("p.db").display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_posada"))
        .args(["admin", "set-password"])
        .env("DATABASE_URL", &url)
        .env("POSADA_CONFIG", "/nonexistent/posada.toml")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"una clave bien larga\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("at least 10 characters"));
    assert_eq!(text(&out.stdout).trim(), "dashboard password set");
}

/// On a terminal (a pseudo-terminal made by `script`), `set-password` does not echo what is typed
/// and `migrate` draws its progress; the same commands piped stay quiet (tests above).
#[tokio::test]
async fn on_a_terminal_the_password_is_not_echoed_and_progress_is_drawn() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("p.db").display());
    let bin = env!("CARGO_BIN_EXE_posada");
    let in_pty = |command: String, input: &'static [u8]| {
        let mut child = Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .env("DATABASE_URL", &url)
            .env("POSADA_CONFIG", "/nonexistent/posada.toml")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("script (util-linux) runs");
        let mut stdin = child.stdin.take().unwrap();
        std::thread::spawn(move || {
            for line in input.split_inclusive(|b| *b == b'\n') {
                std::thread::sleep(Duration::from_millis(700));
                let _ = stdin.write_all(line);
                let _ = stdin.flush();
            }
            std::thread::sleep(Duration::from_millis(500));
        });
        child.wait_with_output().unwrap()
    };
    let out = in_pty(format!("{bin} migrate"), b"");
    let shown = text(&out.stdout);
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("applied store 1"), "{shown}");
    assert!(shown.contains('\r'), "{shown:?}");

    let out = in_pty(
        format!("{bin} admin set-password"),
        b"secreto-de-prueba-1\nsecreto-de-prueba-1\n",
    );
    let shown = text(&out.stdout);
    assert!(out.status.success(), "{shown}");
    assert!(
        shown.contains("at least 10 characters, not shown"),
        "{shown}"
    );
    assert!(shown.contains("dashboard password set"), "{shown}");
    assert!(
        !shown.contains("secreto-de-prueba-1"),
        "the password was echoed: {shown}"
    );
}

/// `posada openapi` prints the document alone on standard output (no settings, no database, no
/// log line), the same the server serves.
#[test]
fn openapi_prints_the_document_alone() {
    let out = Command::new(env!("CARGO_BIN_EXE_posada"))
        .arg("openapi")
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "", "nothing on standard error");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(&doc, posada_server::http::openapi::document_value());
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/v1/admin/feeds/{id}/sync"]["post"].is_object());
}
