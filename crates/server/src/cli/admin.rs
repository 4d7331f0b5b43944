//! `posada admin …`: owner set-up from a shell (API tokens, the dashboard password).

use crate::app::{Clock, SystemClock};
use clap::{Subcommand, ValueEnum};

use crate::config::Settings;

/// Token scope.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Scope {
    /// Read-only.
    Read,
    /// Read and write.
    Write,
}

/// Admin set-up.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an API token for the admin API (printed once, alone on standard output; stored
    /// hashed).
    #[command(
        after_help = "Example:\n  TOKEN=$(posada admin create-token --name laptop --scope write)\n  curl -H \"Authorization: Bearer $TOKEN\" http://127.0.0.1:8080/api/v1/admin/accommodations"
    )]
    CreateToken {
        /// Who or what it is for.
        #[arg(long, default_value = "owner")]
        name: String,
        /// Scope.
        #[arg(long, value_enum, default_value = "write")]
        scope: Scope,
    },
    /// List API tokens (never the tokens themselves).
    #[command(after_help = "Example:\n  posada admin list-tokens")]
    ListTokens,
    /// Revoke an API token by id.
    #[command(after_help = "Example:\n  posada admin revoke-token 3")]
    RevokeToken {
        /// Token id (from list-tokens).
        id: i64,
    },
    /// Set the owner's dashboard password: at least 10 characters, stored as an argon2 hash.
    /// Read from the POSADA_OWNER_PASSWORD environment variable, else asked twice on the terminal
    /// without echo, else one line of standard input.
    #[command(
        after_help = "Examples:\n  posada admin set-password\n  printf '%s\\n' \"$PASSWORD\" | posada admin set-password"
    )]
    SetPassword,
}

pub use crate::app::owner::MIN_PASSWORD_CHARS;

/// The new password: `POSADA_OWNER_PASSWORD`, else typed twice on the terminal without echo, else
/// one line of standard input (a pipe).
fn read_password() -> anyhow::Result<String> {
    use std::io::IsTerminal;
    if let Ok(p) = std::env::var("POSADA_OWNER_PASSWORD") {
        return Ok(p);
    }
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!(
            "new dashboard password (at least {MIN_PASSWORD_CHARS} characters, not shown): "
        ))?;
        if first.chars().count() < MIN_PASSWORD_CHARS {
            anyhow::bail!("the password must have at least {MIN_PASSWORD_CHARS} characters");
        }
        let again = rpassword::prompt_password("the same password again: ")?;
        if again != first {
            anyhow::bail!("the two passwords differ; nothing was changed");
        }
        return Ok(first);
    }
    eprintln!(
        "new dashboard password (one line on standard input, at least {MIN_PASSWORD_CHARS} characters):"
    );
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Run an admin subcommand.
pub async fn run(settings: &Settings, cmd: AdminCommand) -> anyhow::Result<()> {
    let db = crate::startup::open_database(settings).await?;
    let result = match cmd {
        AdminCommand::CreateToken { name, scope } => {
            use rand::RngCore;
            let mut bytes = [0u8; 24];
            rand::rng().fill_bytes(&mut bytes);
            let secret = format!("psd_{}", hex::encode(bytes));
            let scope = match scope {
                Scope::Read => "read",
                Scope::Write => "write",
            };
            let token =
                posada_store::tokens::create(&db, name.trim(), scope, &secret, SystemClock.now())
                    .await?;
            println!("{secret}");
            eprintln!(
                "token {} ({}, {scope}) created; it is shown only this once",
                token.id, token.name
            );
            Ok(())
        }
        AdminCommand::ListTokens => {
            println!(
                "{}",
                serde_json::to_string_pretty(&posada_store::tokens::list(&db).await?)?
            );
            Ok(())
        }
        AdminCommand::SetPassword => {
            let password = read_password()?;
            if password.chars().count() < MIN_PASSWORD_CHARS {
                anyhow::bail!("the password must have at least {MIN_PASSWORD_CHARS} characters");
            }
            let phc =
                crate::app::owner::hash_password(&password).map_err(|e| anyhow::anyhow!(e))?;
            posada_store::ops::set_owner_password_hash(&db, &phc, SystemClock.now()).await?;
            println!("dashboard password set");
            Ok(())
        }
        AdminCommand::RevokeToken { id } => {
            posada_store::tokens::revoke(&db, id, SystemClock.now()).await?;
            println!("token {id} revoked");
            Ok(())
        }
    };
    db.close().await;
    result
}
