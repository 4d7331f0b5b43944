//! `posada admin …`: owner set-up from a shell (API tokens).

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
    /// Create an API token for the admin API (printed once; stored hashed).
    CreateToken {
        /// Who or what it is for.
        #[arg(long, default_value = "owner")]
        name: String,
        /// Scope.
        #[arg(long, value_enum, default_value = "write")]
        scope: Scope,
    },
    /// List API tokens (never the tokens themselves).
    ListTokens,
    /// Revoke an API token by id.
    RevokeToken {
        /// Token id (from list-tokens).
        id: i64,
    },
    /// Set the owner's dashboard password (read from the POSADA_OWNER_PASSWORD environment
    /// variable, or from standard input), stored as an argon2 hash.
    SetPassword,
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
            let password = match std::env::var("POSADA_OWNER_PASSWORD") {
                Ok(p) => p,
                Err(_) => {
                    eprintln!("new dashboard password (one line on standard input):");
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line)?;
                    line.trim_end_matches(['\r', '\n']).to_string()
                }
            };
            if password.chars().count() < 10 {
                anyhow::bail!("the password must have at least 10 characters");
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
