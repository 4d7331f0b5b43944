//! Helpers shared by the test modules: fixture paths, manifests and event builders.

use chrono::NaiveDate;
use posada_ical::{Channel, FeedEvent, classify_summary};
use std::path::PathBuf;

pub fn fixture_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

pub fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(fixture_path(rel)).unwrap()
}

pub fn manifest(dir: &str) -> serde_json::Value {
    serde_json::from_slice(&fixture(&format!("{dir}/manifest.json"))).unwrap()
}

pub fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y%m%d").unwrap()
}

/// A feed event as a channel would send it.
pub fn event(uid: &str, start: &str, end: &str, summary: &str) -> FeedEvent {
    FeedEvent {
        uid: uid.to_owned(),
        start: date(start),
        end: date(end),
        summary: Some(summary.to_owned()),
        status: None,
        kind: classify_summary(Some(summary)),
        channel: Channel::Booking,
    }
}
