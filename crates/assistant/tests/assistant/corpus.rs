//! Scores [`understand`] against `tests/corpus.jsonl`: realistic guest messages with the reading
//! the rules file gives them. Dates count as right only when check-in and check-out are both right
//! (both empty included). The test prints every score and every miss, and fails below the floors
//! the issue sets (dates 95 %, intent 95 %, guests 97 %).
//!
//! `tests/holdout.jsonl` measures how the parser does on messages it was not built from. It was
//! written in two blind batches after the parser passed the corpus, on twelve other reference
//! dates and in other words, and each batch was scored once before any change:
//! - batch 1 (163 messages, lines 1–163): dates 99.39 %, intent 94.48 %, guests 99.39 %, units 100 %;
//! - batch 2 (94 messages, lines 164–257): dates 98.94 %, intent 91.49 %, guests 95.74 %,
//!   units 100 %.
//!
//! The misses were then fixed in general terms, and the file is now scored like the corpus. Intent
//! is the reading that generalizes least: expect a few points less than these files show on
//! messages written by others.

use chrono::NaiveDate;
use posada_assistant::{Understanding, understand};
use serde::Deserialize;

const CORPUS: &str = include_str!("../corpus.jsonl");
const HOLDOUT: &str = include_str!("../holdout.jsonl");

#[derive(Debug, Deserialize)]
struct Case {
    text: String,
    ref_date: NaiveDate,
    expected: Understanding,
}

fn cases() -> Vec<(usize, Case)> {
    parse(CORPUS)
}

fn parse(corpus: &str) -> Vec<(usize, Case)> {
    corpus
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let case: Case =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("corpus line {}: {e}", i + 1));
            (i + 1, case)
        })
        .collect()
}

/// The rules compare accommodation phrases after folding case and accents and dropping a leading
/// article.
fn unit_key(phrase: &str) -> String {
    let folded: String = phrase
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| match c {
            'á' | 'à' | 'ä' | 'â' => 'a',
            'é' | 'è' | 'ë' | 'ê' => 'e',
            'í' | 'ì' | 'ï' | 'î' => 'i',
            'ó' | 'ò' | 'ö' | 'ô' => 'o',
            'ú' | 'ù' | 'ü' | 'û' => 'u',
            'ñ' => 'n',
            c => c,
        })
        .collect();
    let words: Vec<&str> = folded.split_whitespace().collect();
    match words.split_first() {
        Some((first, rest)) if ["el", "la", "los", "las"].contains(first) && !rest.is_empty() => {
            rest.join(" ")
        }
        _ => words.join(" "),
    }
}

struct Score {
    name: &'static str,
    right: usize,
    misses: Vec<String>,
}

impl Score {
    fn new(name: &'static str) -> Score {
        Score {
            name,
            right: 0,
            misses: Vec::new(),
        }
    }

    fn check(&mut self, ok: bool, miss: impl FnOnce() -> String) {
        if ok {
            self.right += 1;
        } else {
            self.misses.push(miss());
        }
    }

    fn percent(&self, total: usize) -> f64 {
        100.0 * self.right as f64 / total as f64
    }
}

fn show<T: std::fmt::Debug>(value: &Option<T>) -> String {
    value
        .as_ref()
        .map_or_else(|| "null".to_owned(), |v| format!("{v:?}"))
}

#[test]
fn corpus_scores_above_the_floors() {
    let cases = cases();
    assert!(
        cases.len() >= 420,
        "the corpus has {} lines, fewer than 420",
        cases.len()
    );
    score("corpus", &cases);
}

#[test]
fn holdout_scores_above_the_floors() {
    score("holdout", &parse(HOLDOUT));
}

fn score(name: &str, cases: &[(usize, Case)]) {
    let total = cases.len();

    let mut dates = Score::new("dates");
    let mut intent = Score::new("intent");
    let mut guests = Score::new("guests");
    let mut nights = Score::new("nights");
    let mut unit = Score::new("accommodation");

    for (line, case) in cases {
        let got = understand(&case.text, case.ref_date);
        let want = &case.expected;
        let head = format!("line {line} ({}) {:?}", case.ref_date, case.text);
        dates.check(
            got.check_in == want.check_in && got.check_out == want.check_out,
            || {
                format!(
                    "{head}\n    got {} .. {}, want {} .. {}",
                    show(&got.check_in),
                    show(&got.check_out),
                    show(&want.check_in),
                    show(&want.check_out)
                )
            },
        );
        intent.check(got.intent == want.intent, || {
            format!("{head}\n    got {:?}, want {:?}", got.intent, want.intent)
        });
        guests.check(got.guests == want.guests, || {
            format!(
                "{head}\n    got {}, want {}",
                show(&got.guests),
                show(&want.guests)
            )
        });
        nights.check(got.nights == want.nights, || {
            format!(
                "{head}\n    got {}, want {}",
                show(&got.nights),
                show(&want.nights)
            )
        });
        unit.check(
            got.accommodation.as_deref().map(unit_key)
                == want.accommodation.as_deref().map(unit_key),
            || {
                format!(
                    "{head}\n    got {}, want {}",
                    show(&got.accommodation),
                    show(&want.accommodation)
                )
            },
        );
    }

    let all = [&dates, &intent, &guests, &nights, &unit];
    for score in all {
        for miss in &score.misses {
            println!("[{} miss] {miss}", score.name);
        }
    }
    println!("{name}: {total} messages");
    for score in all {
        println!(
            "  {:<14} {:>4}/{total}  {:6.2} %",
            score.name,
            score.right,
            score.percent(total)
        );
    }

    let floors = [(&dates, 95.0), (&intent, 95.0), (&guests, 97.0)];
    let failed: Vec<String> = floors
        .iter()
        .filter(|(score, floor)| score.percent(total) < *floor)
        .map(|(score, floor)| format!("{} {:.2} % < {floor} %", score.name, score.percent(total)))
        .collect();
    assert!(
        failed.is_empty(),
        "{name} below the floor: {}",
        failed.join(", ")
    );
}

#[test]
fn corpus_spreads_over_every_weekday() {
    use chrono::Datelike;
    let cases = cases();
    let mut refs: Vec<NaiveDate> = cases.iter().map(|(_, c)| c.ref_date).collect();
    refs.sort();
    refs.dedup();
    assert!(refs.len() >= 8, "only {} reference dates", refs.len());
    let mut weekdays: Vec<u32> = refs
        .iter()
        .map(|d| d.weekday().num_days_from_monday())
        .collect();
    weekdays.sort();
    weekdays.dedup();
    assert_eq!(weekdays, (0..7).collect::<Vec<_>>());
}

#[test]
fn corpus_expected_values_are_consistent() {
    for (line, case) in cases().into_iter().chain(parse(HOLDOUT)) {
        let want = &case.expected;
        match (want.check_in, want.check_out) {
            (Some(a), Some(b)) => {
                assert!(b > a, "line {line}: check-out not after check-in");
                assert_eq!(
                    want.nights,
                    u32::try_from((b - a).num_days()).ok(),
                    "line {line}: nights differ from the dates"
                );
            }
            (Some(_), None) => assert_eq!(want.nights, None, "line {line}"),
            (None, Some(_)) => panic!("line {line}: check-out without check-in"),
            (None, None) => {}
        }
    }
}
