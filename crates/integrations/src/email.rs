//! E-mail to guests and the owner over SMTP (plain, STARTTLS or implicit TLS) with lettre, as
//! multipart/alternative text + HTML. Failures are classified so the notification job retries a
//! greylisting or a dropped connection but gives up on a refused address.

use std::fmt;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart, SinglePart, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SmtpSecurity {
    /// No TLS at all (a local relay, tests).
    Plain,
    /// Plain connection upgraded with STARTTLS, required (usually port 587).
    #[default]
    StartTls,
    /// TLS from the first byte (usually port 465).
    Tls,
}

/// The sender shown to recipients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    /// Display name, e.g. `Cabañas del Lago`.
    pub name: Option<String>,
    /// Address.
    pub address: String,
}

/// How to reach the SMTP server.
#[derive(Clone)]
pub struct MailerConfig {
    /// Server host name.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Transport security.
    pub security: SmtpSecurity,
    /// Login, if the server wants one.
    pub username: Option<String>,
    /// Password, never printed.
    pub password: Option<String>,
    /// The `From` of every message.
    pub from: Sender,
    /// Per-command timeout.
    pub timeout: Duration,
}

impl fmt::Debug for MailerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailerConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("from", &self.from)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// One message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// Recipient address (optionally `Name <address>`).
    pub to: String,
    /// Subject (UTF-8 is fine: it is encoded for the wire).
    pub subject: String,
    /// Plain-text part.
    pub text: String,
    /// HTML part; when present the message is multipart/alternative.
    pub html: Option<String>,
}

/// A failed send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// Worth retrying: a 4xx answer, a timeout, a dropped connection.
    #[error("temporary e-mail failure: {0}")]
    Transient(String),
    /// Retrying will not help: a 5xx answer, a bad address, a bad configuration.
    #[error("permanent e-mail failure: {0}")]
    Permanent(String),
}

impl EmailError {
    /// True when the same message may go through later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Transient(_))
    }

    fn from_smtp(err: &lettre::transport::smtp::Error) -> Self {
        if err.is_permanent() || err.is_client() {
            Self::Permanent(err.to_string())
        } else {
            Self::Transient(err.to_string())
        }
    }
}

/// Sends e-mail through one SMTP server, reusing connections. Cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailer")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// Builds the transport (no connection is opened until the first send).
    pub fn new(config: &MailerConfig) -> Result<Self, EmailError> {
        crate::install_crypto_provider();
        let address: Address = config.from.address.parse().map_err(|e| {
            EmailError::Permanent(format!("sender address {:?}: {e}", config.from.address))
        })?;
        let from = Mailbox::new(config.from.name.clone(), address);
        let builder = match config.security {
            SmtpSecurity::Plain => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            }
            SmtpSecurity::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host).map_err(|e| {
                    EmailError::Permanent(format!("STARTTLS setup for {}: {e}", config.host))
                })?
            }
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host)
                .map_err(|e| {
                    EmailError::Permanent(format!("TLS setup for {}: {e}", config.host))
                })?,
        };
        let mut builder = builder.port(config.port).timeout(Some(config.timeout));
        if let Some(username) = &config.username {
            let password = config.password.clone().unwrap_or_default();
            builder = builder.credentials(Credentials::new(username.clone(), password));
        }
        Ok(Self {
            transport: builder.build(),
            from,
        })
    }

    /// Sends `email` and returns its `Message-ID` (with angle brackets, as in the header).
    pub async fn send(&self, email: &Email) -> Result<String, EmailError> {
        let to: Mailbox = email
            .to
            .parse()
            .map_err(|e| EmailError::Permanent(format!("recipient {:?}: {e}", email.to)))?;
        let message_id = format!("<{}@{}>", uuid::Uuid::new_v4(), self.from.email.domain());
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject.clone())
            .message_id(Some(message_id.clone()));
        let message = match &email.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(
                email.text.clone(),
                html.clone(),
            )),
            None => builder.singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(email.text.clone()),
            ),
        }
        .map_err(|e| EmailError::Permanent(format!("building message: {e}")))?;
        match self.transport.send(message).await {
            Ok(_) => Ok(message_id),
            Err(err) => {
                let err = EmailError::from_smtp(&err);
                tracing::warn!(error = %err, email.message_id = %message_id, "e-mail send failed");
                Err(err)
            }
        }
    }
}
