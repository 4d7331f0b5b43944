//! Every client of posada-integrations against its local fake from posada-testkit, plus the
//! signature checks with independently computed vectors and the circuit breaker on a manual clock.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions unwrap: a fake or client that cannot start should fail the test"
)]

mod breaker;
mod email;
mod feed_fetch;
mod fuzz;
mod mercadopago;
mod mp_signature;
mod whatsapp;
