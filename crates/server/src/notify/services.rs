//! The outside services this node talks to, built once from the settings: the Mercado Pago,
//! WhatsApp and SMTP clients (each `None` when not configured) and one circuit breaker per
//! provider, shared by every job on the node.

use std::sync::Arc;
use std::time::Duration;

use posada_integrations::{
    BreakerConfig, CircuitBreaker, Mailer, MailerConfig, MercadoPagoClient, Sender, SmtpSecurity,
    WhatsAppClient,
};

use crate::config::Settings;
use crate::notify::templates::Renderer;

/// Provider names, as used in metrics labels and logs.
pub mod provider {
    /// Mercado Pago.
    pub const MERCADOPAGO: &str = "mercadopago";
    /// WhatsApp Cloud API.
    pub const WHATSAPP: &str = "whatsapp";
    /// SMTP.
    pub const SMTP: &str = "smtp";
}

/// Clients and breakers. Cheap to share behind the state's `Arc`.
#[derive(Debug)]
pub struct Services {
    /// Mercado Pago, when `MERCADOPAGO_ACCESS_TOKEN` is set.
    pub mercadopago: Option<MercadoPagoClient>,
    /// WhatsApp, when `WHATSAPP_ACCESS_TOKEN` and `WHATSAPP_PHONE_NUMBER_ID` are set.
    pub whatsapp: Option<WhatsAppClient>,
    /// SMTP, when `SMTP_HOST` is set.
    pub mailer: Option<Mailer>,
    /// Breaker for Mercado Pago calls.
    pub mercadopago_breaker: Arc<CircuitBreaker>,
    /// Breaker for WhatsApp sends.
    pub whatsapp_breaker: Arc<CircuitBreaker>,
    /// Breaker for SMTP sends.
    pub smtp_breaker: Arc<CircuitBreaker>,
    /// Message templates.
    pub templates: Renderer,
    /// Plain HTTP client for operations calls (the Slack-compatible alert webhook).
    pub http: reqwest::Client,
}

fn nonempty(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|s| !s.is_empty())
}

/// `Name <address>` or `address`.
fn parse_sender(from: &str) -> Sender {
    match from.rsplit_once('<') {
        Some((name, rest)) => {
            let name = name.trim().trim_matches('"').trim();
            Sender {
                name: (!name.is_empty()).then(|| name.to_string()),
                address: rest.trim_end_matches('>').trim().to_string(),
            }
        }
        None => Sender {
            name: None,
            address: from.trim().to_string(),
        },
    }
}

impl Services {
    /// Build from the settings. A client that cannot be built (a malformed sender address, say) is
    /// logged as an error and left out, so its messages are marked `not_configured`, never lost
    /// silently.
    pub fn from_settings(settings: &Settings) -> Services {
        let timeout = Duration::from_secs(settings.integration_timeout_seconds);
        crate::notify::set_retry_base(Duration::from_millis(settings.integration_retry_base_ms));
        let mercadopago = settings
            .mercadopago_access_token
            .as_ref()
            .filter(|t| !t.expose().trim().is_empty())
            .and_then(|token| {
                MercadoPagoClient::new(&settings.mercadopago_base_url, token.expose(), timeout)
                    .map_err(|e| tracing::error!(error = %e, "mercado pago client could not be built; payments not configured"))
                    .ok()
            });
        let whatsapp = match (
            settings
                .whatsapp_access_token
                .as_ref()
                .filter(|t| !t.expose().trim().is_empty()),
            nonempty(settings.whatsapp_phone_number_id.as_deref()),
        ) {
            (Some(token), Some(number)) => WhatsAppClient::new(
                &settings.whatsapp_graph_url,
                &settings.whatsapp_api_version,
                number,
                token.expose(),
                timeout,
            )
            .map_err(|e| tracing::error!(error = %e, "whatsapp client could not be built; whatsapp not configured"))
            .ok(),
            _ => None,
        };
        let mailer = nonempty(settings.smtp_host.as_deref()).and_then(|host| {
            let config = MailerConfig {
                host: host.to_string(),
                port: settings.smtp_port,
                security: match settings.smtp_security.as_str() {
                    "plain" => SmtpSecurity::Plain,
                    "tls" => SmtpSecurity::Tls,
                    _ => SmtpSecurity::StartTls,
                },
                username: nonempty(settings.smtp_username.as_deref()).map(str::to_string),
                password: settings
                    .smtp_password
                    .as_ref()
                    .map(|p| p.expose().to_string()),
                from: parse_sender(settings.smtp_from.as_deref().unwrap_or_default()),
                timeout,
            };
            Mailer::new(&config)
                .map_err(|e| tracing::error!(error = %e, "smtp mailer could not be built; e-mail not configured"))
                .ok()
        });
        let breaker = BreakerConfig {
            failure_threshold: settings.breaker_failure_threshold.max(1),
            cool_down: Duration::from_millis(settings.breaker_cool_down_ms),
        };
        Services {
            mercadopago,
            whatsapp,
            mailer,
            mercadopago_breaker: Arc::new(CircuitBreaker::new(provider::MERCADOPAGO, breaker)),
            whatsapp_breaker: Arc::new(CircuitBreaker::new(provider::WHATSAPP, breaker)),
            smtp_breaker: Arc::new(CircuitBreaker::new(provider::SMTP, breaker)),
            templates: Renderer::new(settings.message_templates_dir.as_deref()),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
        }
    }

    /// Which integrations are configured, for health reports: `(provider, configured)`.
    pub fn configured(&self) -> [(&'static str, bool); 3] {
        [
            (provider::MERCADOPAGO, self.mercadopago.is_some()),
            (provider::WHATSAPP, self.whatsapp.is_some()),
            (provider::SMTP, self.mailer.is_some()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn senders_parse_with_and_without_a_name() {
        let s = parse_sender("Cabañas del Lago <reservas@lago.example>");
        assert_eq!(s.name.as_deref(), Some("Cabañas del Lago"));
        assert_eq!(s.address, "reservas@lago.example");
        let s = parse_sender("reservas@lago.example");
        assert_eq!(s.name, None);
        assert_eq!(s.address, "reservas@lago.example");
    }

    #[test]
    fn nothing_configured_by_default() {
        posada_integrations::install_crypto_provider();
        let services = Services::from_settings(&Settings::default());
        assert!(services.configured().iter().all(|(_, on)| !on));
    }
}
