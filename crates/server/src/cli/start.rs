//! What `posada serve` says once it is up, and the lock that tells `posada restore` that a server
//! or worker runs on the SQLite file.

use std::fs::{File, TryLockError};
use std::path::PathBuf;

use anyhow::bail;

use crate::config::Settings;
use crate::startup::Application;

/// The SQLite file of `database_url` (`sqlite://PATH`, `sqlite:PATH`), if it names a file.
pub fn sqlite_file(database_url: &str) -> Option<PathBuf> {
    let rest = database_url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or(rest);
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    Some(PathBuf::from(path))
}

/// A shared lock on the SQLite file held by `serve` and `worker` for as long as they run (several
/// may share it); `posada restore` needs it exclusively, so it refuses while any of them runs, and
/// they refuse to start while a restore runs. The lock is the kernel's (`flock`), released when the
/// process ends however it ends. PostgreSQL needs none.
pub struct DatabaseInUse {
    _file: Option<File>,
}

impl DatabaseInUse {
    /// Take the shared lock on the settings' SQLite file (creating an empty file if missing, as
    /// the server would).
    pub fn hold(database_url: &str) -> anyhow::Result<DatabaseInUse> {
        let Some(path) = sqlite_file(database_url) else {
            return Ok(DatabaseInUse { _file: None });
        };
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| {
                anyhow::anyhow!("cannot open the database file {}: {e}", path.display())
            })?;
        match file.try_lock_shared() {
            Ok(()) => Ok(DatabaseInUse { _file: Some(file) }),
            Err(TryLockError::WouldBlock) => bail!(
                "{} is being restored (posada restore holds it); start posada again when it has finished",
                path.display()
            ),
            Err(TryLockError::Error(e)) => {
                bail!("cannot lock the database file {}: {e}", path.display())
            }
        }
    }
}

/// The database as a person recognises it: the file, or host/database (never a password).
pub fn describe_database(database_url: &str) -> String {
    if let Some(path) = sqlite_file(database_url) {
        let shown = std::fs::canonicalize(&path).unwrap_or(path);
        return format!("SQLite file {}", shown.display());
    }
    if database_url.starts_with("sqlite:") {
        return "SQLite in memory".to_string();
    }
    let rest = database_url
        .split_once("://")
        .map_or(database_url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let rest = rest.split('?').next().unwrap_or(rest);
    format!("PostgreSQL {rest}")
}

/// One integration's state for the banner.
pub struct Integration {
    /// Its name.
    pub name: &'static str,
    /// Whether the settings configure it.
    pub configured: bool,
    /// The setting that turns it on.
    pub setting: &'static str,
}

/// Which integrations the settings configure.
pub fn integrations(settings: &Settings) -> Vec<Integration> {
    vec![
        Integration {
            name: "Mercado Pago",
            configured: settings.mercadopago_access_token.is_some(),
            setting: "MERCADOPAGO_ACCESS_TOKEN",
        },
        Integration {
            name: "WhatsApp",
            configured: settings.whatsapp_access_token.is_some()
                && settings.whatsapp_phone_number_id.is_some(),
            setting: "WHATSAPP_ACCESS_TOKEN and WHATSAPP_PHONE_NUMBER_ID",
        },
        Integration {
            name: "SMTP",
            configured: settings.smtp_host.is_some(),
            setting: "SMTP_HOST",
        },
        Integration {
            name: "Redis",
            configured: settings.redis_url.is_some(),
            setting: "REDIS_URL",
        },
    ]
}

/// The start-up summary, printed once on standard output (logs go to standard error).
pub async fn print_banner(app: &Application) {
    let state = app.state();
    let settings = state.settings();
    let addr = app
        .local_addr()
        .map(|a| {
            if a.ip().is_unspecified() {
                std::net::SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), a.port())
            } else {
                a
            }
        })
        .map(|a| format!("http://{a}"))
        .unwrap_or_default();
    let has_token = posada_store::tokens::list(state.db())
        .await
        .map(|tokens| tokens.iter().any(|t| t.revoked_at.is_none()))
        .unwrap_or(false);
    let has_password = settings.owner_password_hash.is_some()
        || matches!(
            posada_store::ops::owner_password_hash(state.db()).await,
            Ok(Some(_))
        );
    let mut out = String::new();
    out.push_str(&format!("posada {}\n", env!("CARGO_PKG_VERSION")));
    out.push_str(&format!(
        "  database:     {}\n",
        describe_database(&settings.database_url)
    ));
    out.push_str(&format!(
        "  listening on: {}\n",
        app.local_addr().map(|a| a.to_string()).unwrap_or_default()
    ));
    out.push_str(&format!("  dashboard:    {addr}/dashboard\n"));
    out.push_str(&format!("  public URL:   {}\n", settings.posada_public_url));
    let all = integrations(settings);
    for i in &all {
        let state = if i.configured {
            "configured".to_string()
        } else {
            format!("not configured (set {})", i.setting)
        };
        out.push_str(&format!("  {:<13} {state}\n", format!("{}:", i.name)));
    }
    let mut next = Vec::new();
    if !has_token {
        next.push("create a token: posada admin create-token");
    }
    if !has_password {
        next.push("set the dashboard password: posada admin set-password");
    }
    if all.iter().all(|i| !i.configured) {
        next.push("configure payments and messages: see deploy/posada.toml and docs/DEPLOY.md");
    }
    for (i, step) in next.iter().enumerate() {
        let head = if i == 0 { "next step:" } else { "" };
        out.push_str(&format!("  {head:<13} {step}\n"));
    }
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
}
