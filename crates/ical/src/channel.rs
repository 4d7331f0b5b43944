//! Channels and what their event summaries mean.
//!
//! Airbnb, Booking.com and Vrbo each word their events differently, and Vrbo puts the guest's name
//! in the summary. The kind of an event is read from those words, and the only summary that ever
//! reaches storage is a generic Spanish label per channel and kind.

use serde::{Deserialize, Serialize};

/// The channel that produced a feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Airbnb (`-//Airbnb Inc//Hosting Calendar …//EN`).
    Airbnb,
    /// Booking.com (`-//admin.booking.com, b.v.//NONSGML v1.0//EN`).
    Booking,
    /// Vrbo / HomeAway (`-//HomeAway.com, Inc.//EN`).
    Vrbo,
    /// Any other calendar.
    Other,
}

impl Channel {
    /// The channel's public name, as owners know it.
    pub fn display_name(self) -> &'static str {
        match self {
            Channel::Airbnb => "Airbnb",
            Channel::Booking => "Booking.com",
            Channel::Vrbo => "Vrbo",
            Channel::Other => "Calendario externo",
        }
    }

    /// A short stable identifier (`airbnb`, `booking`, `vrbo`, `other`).
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Airbnb => "airbnb",
            Channel::Booking => "booking",
            Channel::Vrbo => "vrbo",
            Channel::Other => "other",
        }
    }
}

/// Tells the channel from a feed's PRODID (case-insensitive).
pub fn detect_channel(prodid: &str) -> Channel {
    let p = prodid.to_ascii_lowercase();
    if p.contains("airbnb") {
        Channel::Airbnb
    } else if p.contains("booking.com") {
        Channel::Booking
    } else if p.contains("homeaway") || p.contains("vrbo") {
        Channel::Vrbo
    } else {
        Channel::Other
    }
}

/// Tells the channel from an event UID's domain, for feeds without a recognisable PRODID.
pub(crate) fn channel_from_uid(uid: &str) -> Channel {
    let u = uid.to_ascii_lowercase();
    if u.ends_with("@airbnb.com") {
        Channel::Airbnb
    } else if u.ends_with("@booking.com") {
        Channel::Booking
    } else {
        Channel::Other
    }
}

/// What an imported event stands for, as far as the channel's summary tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A guest's booking (Airbnb `Reserved`, Vrbo `Reserved - name`).
    Reserved,
    /// Closed or blocked dates (Airbnb `Airbnb (Not available)`, Booking.com `CLOSED - Not
    /// available`, which covers bookings too, Vrbo `Blocked`).
    NotAvailable,
    /// A tentative hold or inquiry (Vrbo `Tentative - name`).
    Tentative,
    /// A summary we do not recognise, or none.
    Unknown,
}

/// Classifies an event from its summary.
pub fn classify_summary(summary: Option<&str>) -> EventKind {
    let Some(s) = summary else {
        return EventKind::Unknown;
    };
    let s = s.trim().to_lowercase();
    let starts = |words: &[&str]| words.iter().any(|w| s.starts_with(w));
    if starts(&["tentative", "provisional", "tentativ", "pendiente"]) {
        EventKind::Tentative
    } else if starts(&["reserved", "reservado", "reservada", "reserva", "booked"]) {
        EventKind::Reserved
    } else if s.contains("not available")
        || starts(&[
            "blocked",
            "closed",
            "bloqueado",
            "no disponible",
            "unavailable",
        ])
    {
        EventKind::NotAvailable
    } else {
        EventKind::Unknown
    }
}

/// A summary safe to store and show: the channel and a generic label for the kind, never the
/// words of the feed (Vrbo's `Reserved - John` becomes `Vrbo: reservado`).
pub fn safe_label(channel: Channel, kind: EventKind) -> String {
    let what = match (channel, kind) {
        (_, EventKind::Reserved) => "reservado",
        (Channel::Vrbo | Channel::Other, EventKind::NotAvailable) => "bloqueado",
        (_, EventKind::NotAvailable) => "no disponible",
        (_, EventKind::Tentative) => "reserva tentativa",
        (_, EventKind::Unknown) => "ocupado",
    };
    format!("{}: {what}", channel.display_name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_the_three_channels() {
        assert_eq!(
            detect_channel("-//Airbnb Inc//Hosting Calendar 0.8.8//EN"),
            Channel::Airbnb
        );
        assert_eq!(
            detect_channel("-//admin.booking.com, b.v.//NONSGML v1.0//EN"),
            Channel::Booking
        );
        assert_eq!(detect_channel("-//HomeAway.com, Inc.//EN"), Channel::Vrbo);
        assert_eq!(
            detect_channel("-//Google Inc//Google Calendar 70.9054//EN"),
            Channel::Other
        );
    }

    #[test]
    fn classifies_channel_summaries() {
        assert_eq!(classify_summary(Some("Reserved")), EventKind::Reserved);
        assert_eq!(
            classify_summary(Some("Reserved - John")),
            EventKind::Reserved
        );
        assert_eq!(
            classify_summary(Some("Airbnb (Not available)")),
            EventKind::NotAvailable
        );
        assert_eq!(
            classify_summary(Some("CLOSED - Not available")),
            EventKind::NotAvailable
        );
        assert_eq!(classify_summary(Some("Blocked")), EventKind::NotAvailable);
        assert_eq!(
            classify_summary(Some("Tentative - Ana")),
            EventKind::Tentative
        );
        assert_eq!(classify_summary(Some("Cumpleaños")), EventKind::Unknown);
        assert_eq!(classify_summary(None), EventKind::Unknown);
    }

    #[test]
    fn labels_never_carry_feed_words() {
        assert_eq!(
            safe_label(Channel::Vrbo, EventKind::Reserved),
            "Vrbo: reservado"
        );
        assert_eq!(
            safe_label(Channel::Booking, EventKind::NotAvailable),
            "Booking.com: no disponible"
        );
        assert_eq!(
            safe_label(Channel::Vrbo, EventKind::NotAvailable),
            "Vrbo: bloqueado"
        );
    }
}
