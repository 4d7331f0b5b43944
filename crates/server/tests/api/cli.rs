//! The `posada` binary's admin commands on a real database file: tokens and the dashboard
//! password, with clear errors for bad input.

use std::process::Command;

fn posada(db_url: &str, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_posada"));
    cmd.args(args)
        .env("DATABASE_URL", db_url)
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
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
