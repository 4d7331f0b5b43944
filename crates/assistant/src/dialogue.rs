//! What a conversation knows so far, merged across a guest's messages, and what is still missing
//! to quote.
//!
//! Guests write in pieces ("hola" / "para el finde" / "somos 3" / "mejor del 16"), so each
//! [`Understanding`] is folded into the conversation's [`Facts`]: a new fact replaces the old one
//! (the latest message is the guest's correction), and dates are kept coherent: a new arrival day
//! keeps the old departure when it still falls after it, and otherwise keeps the number of nights.
//! [`Facts::next_step`] says what to ask next, or that everything needed for a quote is known.
//! Pure and independent of storage: the server keeps the facts per phone (they serialize to JSON)
//! and decides when silence makes them stale, with [`Conversation`] as the rule.

use chrono::{Days, NaiveDate, NaiveDateTime, TimeDelta};
use serde::{Deserialize, Serialize};

use crate::Understanding;

/// What is known about the stay a guest wants.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    /// Arrival day.
    pub check_in: Option<NaiveDate>,
    /// Departure day (exclusive).
    pub check_out: Option<NaiveDate>,
    /// Nights wanted, known before the dates are ("3 noches").
    pub nights: Option<u32>,
    /// Number of guests.
    pub guests: Option<u32>,
    /// The unit phrase the guest used ("la cabaña grande"); mapping it to a unit is the caller's.
    pub unit: Option<String>,
    /// The guest's name for the booking.
    pub name: Option<String>,
}

/// What the assistant needs next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum NextStep {
    /// Ask for the dates: both, or the departure (or the nights) when the arrival is known.
    AskDates {
        /// The arrival day already known.
        check_in: Option<NaiveDate>,
    },
    /// Ask how many people.
    AskGuests,
    /// Ask which unit (only when the caller needs one chosen).
    AskUnit,
    /// Everything needed for a quote is known.
    ReadyToQuote {
        check_in: NaiveDate,
        check_out: NaiveDate,
        guests: u32,
        unit: Option<String>,
    },
}

impl Facts {
    /// Folds one message's understanding into the facts. `text` is the message itself, read for a
    /// name ("a nombre de Laura Pérez", "me llamo Ana").
    pub fn absorb(&mut self, understanding: &Understanding, text: &str) {
        let u = understanding;
        match (u.check_in, u.check_out) {
            (Some(start), Some(end)) => {
                self.check_in = Some(start);
                self.check_out = Some(end);
                self.nights = u.nights;
            }
            (Some(start), None) => self.move_arrival(start),
            _ => {
                if let Some(n) = u.nights {
                    self.set_nights(n);
                }
            }
        }
        if let Some(g) = u.guests {
            self.guests = Some(g);
        }
        if let Some(unit) = &u.accommodation {
            self.unit = Some(unit.clone());
        }
        if let Some(name) = name_in(text) {
            self.name = Some(name);
        }
    }

    /// A new arrival day: keep the departure if it still comes after it, else keep the length.
    fn move_arrival(&mut self, start: NaiveDate) {
        let length = self.nights.or_else(|| self.span());
        self.check_in = Some(start);
        match self.check_out {
            Some(end) if end > start => {
                self.nights = u32::try_from((end - start).num_days()).ok();
            }
            _ => {
                self.check_out =
                    length.and_then(|n| start.checked_add_days(Days::new(u64::from(n))));
                self.nights = length.filter(|_| self.check_out.is_some());
            }
        }
    }

    /// A number of nights: with an arrival day it sets the departure.
    fn set_nights(&mut self, nights: u32) {
        self.nights = Some(nights);
        if let Some(start) = self.check_in {
            self.check_out = start.checked_add_days(Days::new(u64::from(nights)));
        }
    }

    fn span(&self) -> Option<u32> {
        match (self.check_in, self.check_out) {
            (Some(a), Some(b)) if b > a => u32::try_from((b - a).num_days()).ok(),
            _ => None,
        }
    }

    /// What to ask next. `need_unit`: the caller wants the guest to pick a unit before quoting
    /// (when it will instead list the units that fit, pass `false`).
    pub fn next_step(&self, need_unit: bool) -> NextStep {
        let (Some(check_in), Some(check_out)) = (self.check_in, self.check_out) else {
            return NextStep::AskDates {
                check_in: self.check_in,
            };
        };
        let Some(guests) = self.guests else {
            return NextStep::AskGuests;
        };
        if need_unit && self.unit.is_none() {
            return NextStep::AskUnit;
        }
        NextStep::ReadyToQuote {
            check_in,
            check_out,
            guests,
            unit: self.unit.clone(),
        }
    }
}

/// A conversation's facts with the time of its last message: after `silence` without messages
/// the facts are forgotten, so an old half-finished request does not leak into a new one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    /// What is known.
    pub facts: Facts,
    /// When the guest last wrote.
    pub last_message_at: Option<NaiveDateTime>,
}

impl Conversation {
    /// Folds a message received at `at`, first forgetting facts older than `silence`.
    pub fn absorb(
        &mut self,
        understanding: &Understanding,
        text: &str,
        at: NaiveDateTime,
        silence: TimeDelta,
    ) {
        if self
            .last_message_at
            .is_some_and(|last| at.signed_duration_since(last) > silence)
        {
            self.facts = Facts::default();
        }
        self.facts.absorb(understanding, text);
        self.last_message_at = Some(at);
    }
}

/// A name the guest gives for the booking: "a nombre de Laura Pérez", "me llamo Ana", "mi nombre
/// es José", "soy Martín" (capitalized words after the cue, up to three).
pub fn name_in(text: &str) -> Option<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let lower: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
    let cue_end = (0..words.len()).find_map(|i| {
        let at = |k: usize| lower.get(i + k).map(String::as_str);
        match (at(0), at(1), at(2)) {
            (Some("a"), Some("nombre"), Some("de")) => Some(i + 3),
            (Some("me"), Some("llamo"), _) => Some(i + 2),
            (Some("mi"), Some("nombre"), Some("es")) => Some(i + 3),
            (Some("soy"), _, _) => Some(i + 1),
            _ => None,
        }
    })?;
    let name: Vec<&str> = words
        .iter()
        .skip(cue_end)
        .take(3)
        .map(|w| w.trim_matches(|c: char| !c.is_alphabetic()))
        .take_while(|w| w.chars().next().is_some_and(char::is_uppercase))
        .collect();
    (!name.is_empty()).then(|| name.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::understand;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn talk(messages: &[&str], r: &str) -> Facts {
        let mut facts = Facts::default();
        for m in messages {
            facts.absorb(&understand(m, d(r)), m);
        }
        facts
    }

    #[test]
    fn pieces_and_a_correction() {
        // Wednesday: "el finde" is Friday 11 to Sunday 13; "mejor del 16" moves the arrival and
        // keeps the two nights.
        let facts = talk(
            &["hola", "para el finde", "somos 3", "mejor del 16"],
            "2026-12-09",
        );
        assert_eq!(
            facts.next_step(false),
            NextStep::ReadyToQuote {
                check_in: d("2026-12-16"),
                check_out: d("2026-12-18"),
                guests: 3,
                unit: None
            }
        );
    }

    #[test]
    fn asks_for_what_is_missing_in_order() {
        let r = "2026-12-04";
        assert_eq!(
            talk(&["hola"], r).next_step(true),
            NextStep::AskDates { check_in: None }
        );
        assert_eq!(
            talk(&["hola", "llegamos el 15"], r).next_step(true),
            NextStep::AskDates {
                check_in: Some(d("2026-12-15"))
            }
        );
        assert_eq!(
            talk(&["llegamos el 15", "3 noches"], r).next_step(true),
            NextStep::AskGuests
        );
        assert_eq!(
            talk(&["del 15 al 18", "somos 2"], r).next_step(true),
            NextStep::AskUnit
        );
        assert_eq!(
            talk(&["del 15 al 18", "somos 2", "la cabaña grande"], r).next_step(true),
            NextStep::ReadyToQuote {
                check_in: d("2026-12-15"),
                check_out: d("2026-12-18"),
                guests: 2,
                unit: Some("la cabaña grande".into())
            }
        );
    }

    #[test]
    fn later_facts_override_earlier_ones() {
        let r = "2026-12-04";
        let facts = talk(
            &[
                "del 15 al 20 para 4",
                "perdón, somos 5",
                "mejor del 22 al 26",
                "la del arroyo",
            ],
            r,
        );
        assert_eq!(facts.check_in, Some(d("2026-12-22")));
        assert_eq!(facts.check_out, Some(d("2026-12-26")));
        assert_eq!(facts.nights, Some(4));
        assert_eq!(facts.guests, Some(5));
        assert_eq!(facts.unit.as_deref(), Some("la del arroyo"));
    }

    #[test]
    fn a_new_arrival_keeps_a_departure_still_ahead() {
        // "del 15 al 20", then "mejor desde el 16": the 20th still holds.
        let facts = talk(&["del 15 al 20", "mejor desde el 16"], "2026-12-04");
        assert_eq!(facts.check_in, Some(d("2026-12-16")));
        assert_eq!(facts.check_out, Some(d("2026-12-20")));
        assert_eq!(facts.nights, Some(4));
    }

    #[test]
    fn nights_before_dates_and_dates_before_nights() {
        let r = "2026-12-04";
        let facts = talk(&["3 noches", "llegamos el 10"], r);
        assert_eq!(facts.check_out, Some(d("2026-12-13")));
        let facts = talk(&["llegamos el 10", "una semana"], r);
        assert_eq!(facts.check_out, Some(d("2026-12-17")));
        assert_eq!(facts.nights, Some(7));
    }

    #[test]
    fn names_for_the_booking() {
        assert_eq!(
            name_in("la tomo. a nombre de Martin Gomez").as_deref(),
            Some("Martin Gomez")
        );
        assert_eq!(
            name_in("hola, me llamo Ana y quiero reservar").as_deref(),
            Some("Ana")
        );
        assert_eq!(
            name_in("mi nombre es José Pérez.").as_deref(),
            Some("José Pérez")
        );
        assert_eq!(name_in("soy de Rosario"), None);
        assert_eq!(name_in("del 15 al 20 para 4"), None);
        let facts = talk(&["dale, la reservo a nombre de Laura Perez"], "2026-12-04");
        assert_eq!(facts.name.as_deref(), Some("Laura Perez"));
    }

    #[test]
    fn silence_forgets_half_finished_requests() {
        let r = d("2026-12-04");
        let at = |h: u32, m: u32| r.and_hms_opt(h, m, 0).unwrap();
        let silence = TimeDelta::minutes(30);
        let mut c = Conversation::default();
        let m1 = "para el finde somos 2";
        c.absorb(&understand(m1, r), m1, at(10, 0), silence);
        let m2 = "la cabaña grande";
        c.absorb(&understand(m2, r), m2, at(10, 20), silence);
        assert_eq!(c.facts.guests, Some(2));
        let m3 = "hola";
        c.absorb(&understand(m3, r), m3, at(11, 0), silence);
        assert_eq!(c.facts, Facts::default());
    }

    #[test]
    fn facts_round_trip_as_json() {
        let facts = talk(&["del 15 al 20 para 4", "la cabaña grande"], "2026-12-04");
        let json = serde_json::to_string(&facts).unwrap();
        assert_eq!(serde_json::from_str::<Facts>(&json).unwrap(), facts);
    }
}
