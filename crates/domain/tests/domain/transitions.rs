use chrono::{TimeZone, Utc};
use posada_domain::{
    Actor, IllegalTransition, ReservationEvent as E, ReservationState as S, StateChange, transition,
};

/// The complete legal table; every (state, event) pair not listed must be illegal.
const LEGAL: [(S, E, S); 6] = [
    (S::PreReserved, E::Confirm, S::Confirmed),
    (S::PreReserved, E::Cancel, S::Cancelled),
    (S::PreReserved, E::Expire, S::Expired),
    (S::Confirmed, E::Complete, S::Completed),
    (S::Confirmed, E::Cancel, S::Cancelled),
    (S::Confirmed, E::MarkNoShow, S::NoShow),
];

#[test]
fn every_state_event_pair() {
    let mut legal_seen = 0;
    for from in S::ALL {
        for event in E::ALL {
            let expected = LEGAL
                .iter()
                .find(|(f, e, _)| *f == from && *e == event)
                .map(|(_, _, to)| *to);
            match (transition(from, event), expected) {
                (Ok(to), Some(want)) => {
                    assert_eq!(to, want, "{from} --{event}-->");
                    legal_seen += 1;
                }
                (Err(err), None) => {
                    assert_eq!(err, IllegalTransition { from, event });
                    assert!(!err.to_string().is_empty());
                }
                (got, want) => panic!("{from} --{event}--> got {got:?}, want {want:?}"),
            }
        }
    }
    assert_eq!(legal_seen, LEGAL.len());
}

#[test]
fn terminal_states_accept_nothing_and_active_ones_hold_dates() {
    for s in S::ALL {
        let any_legal = E::ALL.iter().any(|e| transition(s, *e).is_ok());
        assert_eq!(any_legal, s.is_active(), "{s}");
        assert_eq!(s.is_terminal(), !s.is_active());
    }
    assert_eq!(S::ACTIVE.to_vec(), vec![S::PreReserved, S::Confirmed]);
}

#[test]
fn names_round_trip() {
    let names = [
        "pre_reserved",
        "confirmed",
        "completed",
        "cancelled",
        "expired",
        "no_show",
    ];
    for (s, name) in S::ALL.iter().zip(names) {
        assert_eq!(s.as_str(), name);
        assert_eq!(S::parse(name).unwrap(), *s);
        assert_eq!(serde_json::to_value(s).unwrap(), name);
        assert!(!s.label_es().is_empty());
    }
    assert!(S::parse("Confirmed").is_err());
    for a in Actor::ALL {
        assert_eq!(Actor::parse(a.as_str()).unwrap(), a);
        assert_eq!(serde_json::to_value(a).unwrap(), a.as_str());
    }
    assert!(Actor::parse("robot").is_err());
    assert_eq!(serde_json::to_value(E::MarkNoShow).unwrap(), "mark_no_show");
}

#[test]
fn state_change_records_a_legal_transition() {
    let at = Utc.with_ymd_and_hms(2026, 1, 5, 12, 0, 0).unwrap();
    let change = StateChange::apply(
        S::PreReserved,
        E::Cancel,
        at,
        Actor::Guest,
        Some("cambio de planes".into()),
    )
    .unwrap();
    assert_eq!(
        change,
        StateChange {
            from: S::PreReserved,
            to: S::Cancelled,
            at,
            by: Actor::Guest,
            reason: Some("cambio de planes".into()),
        }
    );
    assert!(StateChange::apply(S::Expired, E::Confirm, at, Actor::Admin, None).is_err());
}
