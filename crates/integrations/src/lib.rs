//! posada's doors to the outside world: outbound clients for Mercado Pago, the WhatsApp Cloud API,
//! SMTP and channel iCal feeds, the signature checks for their inbound webhooks, and a circuit breaker
//! per provider. Nothing here touches the database: callers pass plain values and get plain values back,
//! with errors already classified into "retry later" and "give up" so the job engine can decide.

pub mod breaker;
pub mod email;
pub mod feed_fetch;
pub mod mercadopago;
pub mod whatsapp;

mod redact;

pub use breaker::{
    BreakerConfig, BreakerOpen, BreakerState, CircuitBreaker, Clock, ManualClock, SystemClock,
};
pub use email::{Email, EmailError, Mailer, MailerConfig, Sender, SmtpSecurity};
pub use feed_fetch::{FeedFetcher, FetchConfig, FetchError, FetchErrorKind, FetchOutcome};
pub use mercadopago::{
    BackUrls, MercadoPagoClient, MpError, Payment, PaymentStatus, Preference, PreferenceItem,
    PreferenceRequest, SignatureError, verify_webhook_signature,
};
pub use whatsapp::{SentMessage, WebhookPayload, WhatsAppClient, WhatsAppError, verify_signature};

/// Installs rustls' `ring` crypto provider as the process default.
///
/// reqwest is built without a provider of its own and lettre uses `ring`: with exactly one provider
/// for the whole build, TLS works the same everywhere. Call it once at start-up; calling it again (or
/// after someone else installed the same provider) is harmless. The clients in this crate call it
/// themselves when they are built, so tests need not.
pub fn install_crypto_provider() {
    // `Err` only means a provider is already installed, which is what we want anyway.
    let _already_installed = rustls::crypto::ring::default_provider().install_default();
}
