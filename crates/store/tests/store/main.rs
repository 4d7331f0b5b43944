//! The store on both backends: the double-booking guard, state changes as compare-and-set,
//! accommodations round trip, the outbox, tokens and idempotency keys, guest conversations.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

mod conversations;
mod exports;
mod guard;
mod logins;
mod records;

use chrono::NaiveDate;
use posada_db::testing::TestDb;
use posada_domain::{AccommodationKind, Money, NewAccommodation, PricingRules, Quote, Stay};

pub fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

pub async fn migrated(t: &TestDb) {
    posada_db::migrate(&t.db, &posada_store::MIGRATIONS)
        .await
        .unwrap();
}

pub fn cabin(slug: &str) -> NewAccommodation {
    NewAccommodation {
        name: format!("Cabaña {slug}"),
        slug: slug.to_string(),
        kind: AccommodationKind::Cabin,
        description: "Frente al lago".into(),
        capacity: 4,
        amenities: vec!["wifi".into()],
        photos: vec![],
        check_in_time: posada_domain::accommodation::default_check_in_time(),
        check_out_time: posada_domain::accommodation::default_check_out_time(),
        active: true,
        pricing: PricingRules::new(Money::ars(5_000_000)),
    }
}

pub fn quote_for(stay: &Stay) -> Quote {
    posada_domain::quote(&PricingRules::new(Money::ars(5_000_000)), stay, 2).unwrap()
}
