//! Local fakes of the services posada talks to, for tests: Mercado Pago, the WhatsApp Graph API, a
//! channel serving iCal feeds and an SMTP server. Each listens on 127.0.0.1 with a port of its own,
//! speaks the real protocol (HTTP + JSON shapes, SMTP dialogue), records what it received and can be
//! told to fail in the ways the real services do. Dev-only: never a dependency of production code.

pub mod channel;
pub mod mercadopago;
pub mod smtp;
pub mod whatsapp;

mod server;

pub use channel::{ChannelRequest, FakeChannel, HeldRequest};
pub use mercadopago::{FakeMercadoPago, FakePayment, StoredPreference, sign_webhook};
pub use server::RecordedRequest;
pub use smtp::{ParsedMail, ReceivedMail, SmtpSink};
pub use whatsapp::{
    FakeGraphError, FakeWhatsApp, SentRequest, sign, webhook_message, webhook_status,
};

/// An address on 127.0.0.1 where nothing listens (a port just bound and released), for "provider
/// unreachable" tests. Deterministic, unlike dropping a fake whose tasks wind down asynchronously.
pub fn unreachable_addr() -> std::net::SocketAddr {
    match std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
        Ok(addr) => addr,
        Err(err) => panic!("could not find a free port on 127.0.0.1: {err}"),
    }
}

/// `http://` + [`unreachable_addr`].
pub fn unreachable_url() -> String {
    format!("http://{}", unreachable_addr())
}
