//! Hostile input beyond the 4 KB the property tests use (issue 15): a delivery's text body is
//! whatever the sender's client put there, so the understanding is run on messages of 64 KB made of
//! the pieces its readers look for, under a hang guard (a generous wall-clock bound that only a hang
//! or a quadratic blow-up reaches; speed itself is measured by the benchmark).

use chrono::NaiveDate;
use posada_assistant::{Understanding, understand};
use std::sync::mpsc;
use std::time::Duration;

const HANG_GUARD: Duration = Duration::from_secs(60);

fn understand_guarded(text: String) -> Understanding {
    let (tx, rx) = mpsc::channel();
    let size = text.len();
    std::thread::spawn(move || {
        let r = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap_or_default();
        let _ = tx.send(understand(&text, r));
    });
    match rx.recv_timeout(HANG_GUARD) {
        Ok(u) => u,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("understand did not return within {HANG_GUARD:?} on {size} bytes")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("understand panicked on {size} bytes"),
    }
}

fn repeated(piece: &str, bytes: usize) -> String {
    piece.repeat(bytes / piece.len().max(1) + 1)
}

#[test]
fn messages_of_64_kb_are_read_without_hanging() {
    let size = 64 * 1024;
    let cases = [
        repeated("del 1 al 2 de enero ", size),
        repeated("somos 2 adultos y 3 nenes ", size),
        repeated("la cabaña grande del lago que tiene parrilla ", size),
        repeated("15/3 ", size),
        repeated("9", size),
        repeated("quiero reservar ", size),
        repeated("desde el viernes que viene hasta el domingo ", size),
        repeated("\u{200b}ñ😀 ", size),
        repeated("a", size),
        repeated("de la del al el y ", size),
    ];
    for text in cases {
        let u = understand_guarded(text);
        if let (Some(a), Some(b)) = (u.check_in, u.check_out) {
            assert!(b > a);
        }
    }
}
