//! The stay's dates and nights, by the rules of `RULES.md`.
//!
//! The message is read in three steps. First the *atoms*: days of the month (with the month and year
//! when written: "15 de diciembre", "15/12/26", "dic 20"), weekday names, "hoy / mañana / pasado
//! mañana / esta noche" and weekend phrases. Then the *readings*: atoms joined by "al", "a", "hasta",
//! "-" or a departure verb make a range, days listed with commas and "y" make a list of nights, and
//! anything else stands alone. Last, the first reading of the most explicit kind (days of the month
//! beat weekend phrases, which beat weekday names and relative days) is resolved against the
//! reference date, and a count of nights ("3 noches", "una semana") completes a lone arrival day.
//! Where the rules say ask, the dates stay empty: the same weekday as today, "el próximo finde" on a
//! Thursday or Sunday, "mañana y pasado", a long weekend named by its month.

use chrono::{Datelike, Days, Months, NaiveDate};

use crate::lexicon::{self, MonthWord};
use crate::text::{Kind, Text};

/// The dates and nights a message gives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Stay {
    pub check_in: Option<NaiveDate>,
    pub check_out: Option<NaiveDate>,
    pub nights: Option<u32>,
}

/// A day of the month as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Day {
    day: u8,
    month: Option<u8>,
    year: Option<i32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum What {
    Day(Day),
    Weekday(u8),
    /// Days after the reference date; `open_end` for "mañana y pasado".
    Relative {
        days: u64,
        open_end: bool,
    },
    /// A weekend phrase; `long` for "finde largo", which names no weekend the rules resolve.
    Weekend {
        next: bool,
        long: bool,
    },
}

/// An atom and the tokens it spans (`end` exclusive).
#[derive(Debug, Clone, Copy)]
struct Atom {
    what: What,
    start: usize,
    end: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Range,
    List,
    None,
}

#[derive(Debug, Clone)]
enum Reading {
    Single(usize),
    Range(usize, usize),
    /// Listed nights: atom indices, first to last.
    Listed(Vec<usize>),
}

/// Words that make the next number a day: "el 15", "del 15", "hasta el 20", "ingreso 3/1".
fn is_date_preposition(w: &str) -> bool {
    matches!(
        w,
        "el" | "del"
            | "al"
            | "desde"
            | "hasta"
            | "dia"
            | "dias"
            | "ingreso"
            | "egreso"
            | "entrada"
            | "salida"
            | "llegada"
            | "partida"
            | "entrando"
            | "saliendo"
            | "ingresando"
            | "in"
            | "out"
            | "checkin"
            | "checkout"
            | "fecha"
            | "fechas"
    )
}

/// Words after which a number is never a day: hours, prices, unit numbers, head counts.
fn blocks_day(w: &str) -> bool {
    matches!(
        w,
        "las"
            | "la"
            | "los"
            | "somos"
            | "seriamos"
            | "seremos"
            | "vamos"
            | "llegamos"
            | "viajamos"
            | "cabana"
            | "casa"
            | "casita"
            | "depto"
            | "habitacion"
            | "numero"
            | "nro"
            | "codigo"
            | "ruta"
            | "km"
            | "unos"
            | "unas"
            | "hace"
            | "total"
            | "tengo"
            | "tenemos"
    )
}

/// Words after which a number is a day only with stronger evidence (a month after it, or a range
/// to a day): "para 4" is a head count, "de 2 pisos" a description, "nena de 5" an age.
fn weakens_day(w: &str) -> bool {
    matches!(
        w,
        "para" | "por" | "de" | "con" | "mas" | "menos" | "tipo" | "entre" | "y" | "son" | "es"
    )
}

/// Departure words: the day next to them ends the stay.
fn is_departure(text: &Text<'_>, i: usize) -> bool {
    let w = text.word(i);
    matches!(
        w,
        "salida"
            | "salimos"
            | "saliendo"
            | "salgo"
            | "egreso"
            | "egresamos"
            | "out"
            | "checkout"
            | "retiramos"
            | "volvemos"
            | "vuelvo"
            | "hasta"
    ) || (w == "vamos" && i > 0 && text.is(i - 1, "nos"))
        || (w == "voy" && i > 0 && text.is(i - 1, "me"))
}

/// A number that could be a day, and the token after it (a glued ordinal "1ro" included).
fn day_number(t: &Text<'_>, i: usize) -> Option<(u8, usize)> {
    let tok = t.tokens.get(i)?;
    let (value, mut end) = match tok.kind {
        Kind::Num if tok.digits <= 2 && !tok.grouped => (tok.value, i + 1),
        Kind::Word => match t.word(i) {
            "primero" | "primer" => (1, i + 1),
            "un" | "una" | "uno" => return None,
            "treinta" if t.is(i + 1, "y") && t.is_any(i + 2, &["uno", "un"]) => (31, i + 3),
            _ => (t.number_word_at(i)?, i + 1),
        },
        _ => return None,
    };
    if !(1..=31).contains(&value) {
        return None;
    }
    if tok.kind == Kind::Num
        && t.tokens
            .get(end)
            .is_some_and(|n| !n.spaced && n.kind == Kind::Word)
        && lexicon::is_ordinal_suffix(t.word(end))
    {
        end += 1;
    }
    Some((value as u8, end))
}

struct Reader<'t, 'a> {
    text: &'t Text<'a>,
    /// Per token: the number it could be as a day, and the token after it.
    candidate: Vec<Option<(u8, usize)>>,
    /// Day marks per token: the day read at this token.
    day_at: Vec<Option<Day>>,
    /// Token index after the day (month and year included) for tokens in `day_at`.
    day_end: Vec<usize>,
    /// Month words already attached to a day.
    month_used: Vec<bool>,
}

impl<'t, 'a> Reader<'t, 'a> {
    fn new(text: &'t Text<'a>) -> Self {
        let n = text.len();
        Reader {
            text,
            candidate: (0..n).map(|i| day_number(text, i)).collect(),
            day_at: vec![None; n],
            day_end: vec![0; n],
            month_used: vec![false; n],
        }
    }

    /// A number that could be a day, and the token after it (a glued ordinal "1ro" included).
    fn day_number(&self, i: usize) -> Option<(u8, usize)> {
        self.candidate.get(i).copied().flatten()
    }

    /// A month right at `j` or after one "de" / "del" / "en", with a year after it; returns the
    /// month, the year and the token after them.
    fn month_after(&self, j: usize) -> Option<(u8, Option<i32>, usize, usize)> {
        let t = self.text;
        // "del 5 al 10 en febrero" reads the month after "en" only for a day already marked by its
        // preposition; "para 2 en enero" is two people.
        let en_ok = j >= 2 && is_date_preposition(t.word(j.saturating_sub(2)));
        let at = if t.is_any(j, &["de", "del"]) || (en_ok && t.is(j, "en")) {
            j + 1
        } else {
            j
        };
        let m = t.month_at(at)?;
        let mut end = at + 1;
        let mut year = None;
        let y_at = if t.is_any(end, &["de", "del"]) {
            end + 1
        } else {
            end
        };
        if let Some(tok) = t.tokens.get(y_at)
            && tok.kind == Kind::Num
            && tok.digits == 4
            && (2000..=2100).contains(&tok.value)
        {
            year = Some(tok.value as i32);
            end = y_at + 1;
        }
        Some((m.month(), year, at, end))
    }

    fn unit_follows(&self, j: usize) -> bool {
        let t = self.text;
        lexicon::is_non_day_unit(t.word(j)) || t.punct(j) == Some(b'%')
    }

    /// The word before token `i`, skipping a weekday name ("el viernes 15").
    fn previous_word(&self, i: usize) -> (&str, bool) {
        if i == 0 {
            return ("", false);
        }
        let t = self.text;
        (t.word(i - 1), t.weekday_at(i - 1).is_some())
    }

    /// First pass: days with evidence of their own.
    fn mark_days(&mut self) {
        let t = self.text;
        let n = t.len();
        let mut i = 0;
        while i < n {
            let tok = t.tokens[i];
            if tok.kind == Kind::Date {
                let mut day = Day {
                    day: tok.value as u8,
                    month: Some(tok.month),
                    year: (tok.year > 0).then_some(i32::from(tok.year)),
                };
                let mut end = i + 1;
                if tok.dash && tok.year == 0 && tok.month >= 1 {
                    // "10-12 de enero": a range of days, not the 10th of December.
                    if let Some((m, y, at, e)) = self.month_after(i + 1)
                        && matches!(t.month_at(at), Some(MonthWord::Sure(_)))
                    {
                        day = Day {
                            day: tok.value as u8,
                            month: Some(m),
                            year: y,
                        };
                        self.month_used[at] = true;
                        end = e;
                        self.day_at[i] = Some(day);
                        self.day_end[i] = end;
                        // The second day rides on the same token, read by `atoms`.
                        i = end;
                        continue;
                    }
                }
                self.day_at[i] = Some(day);
                self.day_end[i] = end;
                i = end;
                continue;
            }
            let Some((value, after)) = self.day_number(i) else {
                i += 1;
                continue;
            };
            if self.unit_follows(after) || t.punct(i.wrapping_sub(1)) == Some(b'$') {
                i = after;
                continue;
            }
            let (prev, after_weekday) = self.previous_word(i);
            if let Some((m, y, at, end)) = self.month_after(after)
                && (!blocks_day(prev) || after_weekday)
            {
                self.month_used[at] = true;
                self.day_at[i] = Some(Day {
                    day: value,
                    month: Some(m),
                    year: y,
                });
                self.day_end[i] = end;
                i = end;
                continue;
            }
            if after_weekday || (is_date_preposition(prev) && i > 0) {
                self.day_at[i] = Some(Day {
                    day: value,
                    month: None,
                    year: None,
                });
                self.day_end[i] = after;
                i = after;
                continue;
            }
            // "dic 20", "septiembre 10 al 13": the month written first.
            if i > 0
                && let Some(MonthWord::Sure(m)) = t.month_at(i - 1)
                && t.tokens.get(i).is_some_and(|tk| tk.kind == Kind::Num)
            {
                self.month_used[i - 1] = true;
                self.day_at[i] = Some(Day {
                    day: value,
                    month: Some(m),
                    year: None,
                });
                self.day_end[i] = after;
                i = after;
                continue;
            }
            i = after;
        }
    }

    /// Second pass: numbers tied to a day by a range or list word ("15 al 20 de diciembre",
    /// "10, 11 y 12 de enero", "el 8 y 9").
    fn mark_linked_days(&mut self) {
        let t = self.text;
        let n = t.len();
        let marked = |r: &Self| r.day_at.iter().filter(|d| d.is_some()).count();
        for _ in 0..2 {
            let before = marked(self);
            // Right to left: a number followed by a link and a day.
            for i in (0..n).rev() {
                if self.day_at[i].is_some() {
                    continue;
                }
                let Some((value, after)) = self.day_number(i) else {
                    continue;
                };
                if self.unit_follows(after) || t.punct(i.wrapping_sub(1)) == Some(b'$') {
                    continue;
                }
                let prev = if i > 0 { t.word(i - 1) } else { "" };
                if blocks_day(prev) {
                    continue;
                }
                let strong_link = t.is_any(after, &["al", "hasta"]) || t.punct(after) == Some(b'-');
                let weak_link = t.is_any(after, &["a", "y"]) || t.punct(after) == Some(b',');
                let next_day = if t.is(after + 1, "el") {
                    after + 2
                } else {
                    after + 1
                };
                let followed_by_day = self.day_at.get(next_day).is_some_and(Option::is_some);
                if followed_by_day && (strong_link || (weak_link && !weakens_day(prev))) {
                    self.day_at[i] = Some(Day {
                        day: value,
                        month: None,
                        year: None,
                    });
                    self.day_end[i] = after;
                }
            }
            // Left to right: a day, a link, and a number.
            let mut last_day_end: Option<usize> = None;
            for i in 0..n {
                if self.day_at[i].is_some() {
                    last_day_end = Some(self.day_end[i]);
                    continue;
                }
                let Some(prev_end) = last_day_end else {
                    continue;
                };
                let Some((value, after)) = self.day_number(i) else {
                    continue;
                };
                if self.unit_follows(after) {
                    continue;
                }
                let link_at = if t.is(i.wrapping_sub(1), "el") && i >= 2 {
                    i - 2
                } else {
                    i.wrapping_sub(1)
                };
                if link_at != prev_end {
                    continue;
                }
                let linked = t.is_any(link_at, &["al", "a", "y", "hasta"])
                    || matches!(t.punct(link_at), Some(b',' | b'-'));
                if linked {
                    self.day_at[i] = Some(Day {
                        day: value,
                        month: None,
                        year: None,
                    });
                    self.day_end[i] = after;
                    last_day_end = Some(after);
                }
            }
            if marked(self) == before {
                break;
            }
        }
    }

    /// A month written alone just before days without one: "para mayo, del 1 al 4".
    fn spread_lone_months(&mut self) {
        let t = self.text;
        for m_at in 0..t.len() {
            if self.month_used[m_at] {
                continue;
            }
            let Some(MonthWord::Sure(m)) = t.month_at(m_at) else {
                continue;
            };
            for i in m_at + 1..(m_at + 5).min(t.len()) {
                if let Some(day) = self.day_at[i].as_mut() {
                    if day.month.is_none() {
                        day.month = Some(m);
                    }
                    break;
                }
            }
        }
    }

    fn atoms(&self) -> Vec<Atom> {
        let t = self.text;
        let n = t.len();
        let mut atoms = Vec::new();
        let mut i = 0;
        while i < n {
            if let Some(day) = self.day_at[i] {
                let start = if i > 0 && t.weekday_at(i - 1).is_some() {
                    i - 1
                } else {
                    i
                };
                let end = self.day_end[i];
                atoms.push(Atom {
                    what: What::Day(day),
                    start,
                    end,
                });
                let tok = t.tokens[i];
                if tok.kind == Kind::Date && tok.dash && day.month != Some(tok.month) {
                    // "10-12 de enero": the second day of the range.
                    atoms.push(Atom {
                        what: What::Day(Day {
                            day: tok.month,
                            month: day.month,
                            year: day.year,
                        }),
                        start,
                        end,
                    });
                }
                i = end.max(i + 1);
                continue;
            }
            let w = t.word(i);
            let prev = if i > 0 { t.word(i - 1) } else { "" };
            if let Some(wd) = t.weekday_at(i) {
                // "el viernes 15": the day carries it; "mañana sábado": the relative day does.
                let absorbed = self.day_at.get(i + 1).is_some_and(Option::is_some)
                    || matches!(prev, "manana" | "hoy") && !(i >= 2 && t.is(i - 2, "la"));
                let plural = matches!(w, "sabados" | "domingos")
                    || matches!(prev, "los" | "todos" | "cada" | "las");
                let wish = matches!(prev, "buen" | "feliz" | "lindo" | "linda" | "buena");
                if !absorbed && !plural && !wish {
                    atoms.push(Atom {
                        what: What::Weekday(wd),
                        start: i,
                        end: i + 1,
                    });
                }
                i += 1;
                continue;
            }
            match w {
                "hoy" => atoms.push(Atom {
                    what: What::Relative {
                        days: 0,
                        open_end: false,
                    },
                    start: i,
                    end: i + 1,
                }),
                "noche"
                    if prev == "esta" || (prev == "misma" && t.is(i.wrapping_sub(2), "esta")) =>
                {
                    atoms.push(Atom {
                        what: What::Relative {
                            days: 0,
                            open_end: false,
                        },
                        start: i - 1,
                        end: i + 1,
                    });
                }
                "manana" if prev == "pasado" => atoms.push(Atom {
                    what: What::Relative {
                        days: 2,
                        open_end: false,
                    },
                    start: i - 1,
                    end: i + 1,
                }),
                "manana" if prev != "la" && prev != "hasta" => {
                    let open_end =
                        t.is(i + 1, "y") && t.is(i + 2, "pasado") && !t.is(i + 3, "manana");
                    atoms.push(Atom {
                        what: What::Relative { days: 1, open_end },
                        start: i,
                        end: if open_end { i + 3 } else { i + 1 },
                    });
                    if open_end {
                        i += 3;
                        continue;
                    }
                }
                "finde" | "fin" => {
                    let end = if w == "fin" {
                        if t.is(i + 1, "de") && t.is(i + 2, "semana") {
                            i + 3
                        } else {
                            i += 1;
                            continue;
                        }
                    } else {
                        i + 1
                    };
                    if matches!(prev, "buen" | "lindo" | "feliz" | "linda" | "buena") {
                        i = end;
                        continue;
                    }
                    let next = matches!(prev, "proximo" | "siguiente" | "otro")
                        || (t.is(end, "que") && t.is(end + 1, "viene"))
                        || t.is_any(end, &["siguiente", "proximo"]);
                    let long = t.is_any(end, &["largo", "xl", "extra"]);
                    atoms.push(Atom {
                        what: What::Weekend { next, long },
                        start: i,
                        end,
                    });
                    i = end;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
        atoms
    }
}

/// How two consecutive atoms are joined.
fn link(text: &Text<'_>, atoms: &[Atom], a: usize, b: usize) -> Link {
    let (x, y) = (atoms[a], atoms[b]);
    if y.start == x.start {
        return Link::Range;
    }
    if y.start < x.end || y.start - x.end > 12 {
        return Link::None;
    }
    let between = x.end..y.start;
    let mut range = false;
    let mut listish = true;
    let mut joined = false;
    for i in between.clone() {
        let w = text.word(i);
        let close = i + 1 == y.start || (i + 2 == y.start && text.is(i + 1, "el"));
        if (matches!(w, "al" | "a") && close)
            || text.punct(i) == Some(b'-')
            || is_departure(text, i)
        {
            range = true;
        }
        match (w, text.punct(i)) {
            ("y" | "e", _) | (_, Some(b',')) => joined = true,
            ("el" | "los", _) => {}
            _ => listish = false,
        }
    }
    if range {
        return Link::Range;
    }
    let entre = (x.start >= 1 && text.is(x.start - 1, "entre"))
        || (x.start >= 2 && text.is(x.start - 2, "entre") && text.is(x.start - 1, "el"));
    let departs_after = (y.end..(y.end + 3).min(text.len())).any(|i| is_departure(text, i));
    if joined && (entre || departs_after) && between.clone().any(|i| text.is(i, "y")) {
        return Link::Range;
    }
    if joined && listish {
        return Link::List;
    }
    if between.is_empty() && is_day(&x) && is_day(&y) {
        // "15/12 20/12": two dates side by side.
        return Link::Range;
    }
    Link::None
}

fn is_day(atom: &Atom) -> bool {
    matches!(atom.what, What::Day(_))
}

fn readings(text: &Text<'_>, atoms: &[Atom], nights_word: bool) -> Vec<Reading> {
    let mut out = Vec::new();
    let mut k = 0;
    while k < atoms.len() {
        if matches!(atoms[k].what, What::Weekend { .. }) {
            out.push(Reading::Single(k));
            k += 1;
            continue;
        }
        let next = k + 1;
        if next < atoms.len() && !matches!(atoms[next].what, What::Weekend { .. }) {
            match link(text, atoms, k, next) {
                Link::Range => {
                    out.push(Reading::Range(k, next));
                    k += 2;
                    continue;
                }
                Link::List if is_day(&atoms[k]) && is_day(&atoms[next]) => {
                    let mut list = vec![k, next];
                    let mut j = next;
                    while j + 1 < atoms.len()
                        && is_day(&atoms[j + 1])
                        && link(text, atoms, j, j + 1) == Link::List
                    {
                        j += 1;
                        list.push(j);
                    }
                    k = j + 1;
                    if list.len() >= 3 || nights_word {
                        out.push(Reading::Listed(list));
                    } else {
                        out.push(Reading::Single(list[0]));
                    }
                    continue;
                }
                Link::List if matches!(atoms[k].what, What::Weekday(_)) => {
                    // "viernes y sábado": no rule reads this; ask.
                    out.push(Reading::Single(k));
                    k = next + 1;
                    continue;
                }
                _ => {}
            }
        }
        // "la noche del 24": one listed night.
        let s = atoms[k].start;
        let night_of = is_day(&atoms[k])
            && s >= 2
            && text.is_any(s - 1, &["del", "de"])
            && text.is(s - 2, "noche");
        if night_of {
            out.push(Reading::Listed(vec![k]));
        } else {
            out.push(Reading::Single(k));
        }
        k += 1;
    }
    out
}

fn class(atoms: &[Atom], reading: &Reading) -> u8 {
    let members: &[usize] = match reading {
        Reading::Single(a) => std::slice::from_ref(a),
        Reading::Range(a, b) => {
            return if is_day(&atoms[*a]) || is_day(&atoms[*b]) {
                3
            } else {
                1
            };
        }
        Reading::Listed(list) => list,
    };
    if members.iter().any(|&m| is_day(&atoms[m])) {
        3
    } else if members
        .iter()
        .any(|&m| matches!(atoms[m].what, What::Weekend { .. }))
    {
        2
    } else {
        1
    }
}

fn add_days(d: NaiveDate, n: u64) -> Option<NaiveDate> {
    d.checked_add_days(Days::new(n))
}

fn weekday_of(d: NaiveDate) -> u8 {
    d.weekday().num_days_from_monday() as u8
}

/// A day of the month on or after `from`: with its month, the next such date; without, the next
/// month where that day exists. An explicit year is taken as written.
fn next_occurrence(day: Day, from: NaiveDate) -> Option<NaiveDate> {
    let d = u32::from(day.day);
    match (day.month, day.year) {
        (Some(m), Some(y)) => NaiveDate::from_ymd_opt(y, u32::from(m), d),
        (Some(m), None) => (0..8).find_map(|k| {
            NaiveDate::from_ymd_opt(from.year() + k, u32::from(m), d).filter(|c| *c >= from)
        }),
        (None, _) => {
            let first = from.with_day(1)?;
            (0..13).find_map(|k| {
                let month = first.checked_add_months(Months::new(k))?;
                NaiveDate::from_ymd_opt(month.year(), month.month(), d).filter(|c| *c >= from)
            })
        }
    }
}

/// The end day of a range that starts at `start`: the first such day after it.
fn day_after(day: Day, start: NaiveDate) -> Option<NaiveDate> {
    if day.year.is_some() && day.month.is_some() {
        return next_occurrence(day, start);
    }
    next_occurrence(Day { year: None, ..day }, add_days(start, 1)?)
}

/// The next `wd` strictly after `from`.
fn weekday_after(wd: u8, from: NaiveDate) -> Option<NaiveDate> {
    let delta = (i64::from(wd) - i64::from(weekday_of(from)) + 7) % 7;
    let delta = if delta == 0 { 7 } else { delta };
    add_days(from, delta as u64)
}

/// Why a reading gives no dates.
enum Unresolved {
    /// The rules say ask.
    Ask,
}

type Resolved = Result<(NaiveDate, Option<NaiveDate>, bool), Unresolved>;

struct Resolver {
    ref_date: NaiveDate,
    next_week: bool,
}

impl Resolver {
    /// The arrival day an atom names, its own departure for weekends, and whether the departure is
    /// deliberately left open.
    fn start(&self, atom: &Atom) -> Resolved {
        let r = self.ref_date;
        match atom.what {
            What::Day(day) => next_occurrence(day, r)
                .map(|d| (d, None, false))
                .ok_or(Unresolved::Ask),
            What::Relative { days, open_end } => add_days(r, days)
                .map(|d| (d, None, open_end))
                .ok_or(Unresolved::Ask),
            What::Weekday(wd) => {
                let today = weekday_of(r);
                let date = if self.next_week {
                    r.checked_sub_days(Days::new(u64::from(today)))
                        .and_then(|monday| add_days(monday, 7 + u64::from(wd)))
                } else if wd == today {
                    None
                } else {
                    weekday_after(wd, r)
                };
                date.map(|d| (d, None, false)).ok_or(Unresolved::Ask)
            }
            What::Weekend { next, long } => {
                if long {
                    return Err(Unresolved::Ask);
                }
                let today = weekday_of(r);
                let this = match today {
                    0..=3 => add_days(r, u64::from(4 - today)),
                    4 | 5 => Some(r),
                    _ => add_days(r, 5),
                };
                let friday = match (next, today) {
                    (false, _) | (true, 0..=2) => this,
                    (true, 4) => add_days(r, 7),
                    (true, 5) => add_days(r, 6),
                    _ => None,
                };
                let friday = friday.ok_or(Unresolved::Ask)?;
                let sunday = if weekday_of(friday) == 5 {
                    add_days(friday, 1)
                } else {
                    add_days(friday, 2)
                };
                Ok((friday, sunday, false))
            }
        }
    }

    /// The departure an end atom names for a stay starting at `start`.
    fn end(&self, atom: &Atom, start: NaiveDate) -> Option<NaiveDate> {
        match atom.what {
            What::Day(day) => day_after(day, start),
            What::Weekday(wd) => weekday_after(wd, start),
            What::Relative { days, .. } => add_days(self.ref_date, days).filter(|d| *d > start),
            What::Weekend { .. } => None,
        }
    }

    fn resolve(&self, atoms: &[Atom], reading: &Reading) -> Resolved {
        match reading {
            Reading::Single(a) => self.start(&atoms[*a]),
            Reading::Range(a, b) => {
                let (x, y) = (atoms[*a], atoms[*b]);
                if let (What::Day(first), What::Day(last)) = (x.what, y.what) {
                    let (first, last) = propagate(first, last);
                    let start = next_occurrence(first, self.ref_date).ok_or(Unresolved::Ask)?;
                    return Ok((start, day_after(last, start), false));
                }
                let (start, _, _) = self.start(&x)?;
                Ok((start, self.end(&y, start), false))
            }
            Reading::Listed(list) => {
                let days: Vec<Day> = list
                    .iter()
                    .filter_map(|&k| match atoms[k].what {
                        What::Day(d) => Some(d),
                        _ => None,
                    })
                    .collect();
                let (Some(&first), Some(&last)) = (days.first(), days.last()) else {
                    return Err(Unresolved::Ask);
                };
                let (first, last) = propagate(first, last);
                let start = next_occurrence(first, self.ref_date).ok_or(Unresolved::Ask)?;
                let last_night = if days.len() == 1 {
                    Some(start)
                } else {
                    day_after(last, start)
                };
                Ok((start, last_night.and_then(|d| add_days(d, 1)), false))
            }
        }
    }
}

/// Shares the month and year between the ends of a range: "del 14 al 16/11" puts the 14th in
/// November, "del 28 al 2 de enero" the 28th in December, "del 15 de diciembre al 20" the 20th in
/// December.
fn propagate(mut first: Day, last: Day) -> (Day, Day) {
    if first.month.is_none()
        && let Some(m) = last.month
    {
        if first.day > last.day {
            first.month = Some(if m == 1 { 12 } else { m - 1 });
            first.year = last.year.map(|y| if m == 1 { y - 1 } else { y });
        } else {
            first.month = Some(m);
            first.year = last.year;
        }
    }
    if first.year.is_none()
        && let (Some(y), Some(fm), Some(lm)) = (last.year, first.month, last.month)
    {
        first.year = Some(if fm > lm { y - 1 } else { y });
    }
    let mut last = last;
    if last.month.is_none()
        && let Some(m) = first.month
    {
        last.month = Some(if last.day <= first.day {
            if m == 12 { 1 } else { m + 1 }
        } else {
            m
        });
    }
    if last.year.is_none()
        && let Some(y) = first.year
    {
        let (fm, lm) = (first.month.unwrap_or(1), last.month.unwrap_or(1));
        last.year = Some(if lm < fm { y + 1 } else { y });
    }
    (first, last)
}

/// A count of nights: "3 noches", "una noche", "una semana", "semana completa", "solo por esta
/// noche". `Err` when the count is itself uncertain ("3 o 4 noches").
fn night_count(text: &Text<'_>) -> Result<Option<u32>, ()> {
    let count_at = |i: usize| -> Option<u32> {
        let tok = text.tokens.get(i)?;
        match tok.kind {
            Kind::Num if tok.digits <= 3 && !tok.grouped => Some(tok.value),
            Kind::Word => text.number_word_at(i),
            _ => None,
        }
    };
    for i in 0..text.len() {
        let w = text.word(i);
        let per_unit = match w {
            "noche" | "noches" | "nochecitas" => 1,
            "semana" | "semanas" => 7,
            _ => continue,
        };
        if per_unit == 7 && text.is(i + 1, "completa") {
            return Ok(Some(7));
        }
        let Some(n) = i.checked_sub(1).and_then(count_at) else {
            if per_unit == 1
                && (i.saturating_sub(4)..i).any(|k| text.is_any(k, &["solo", "sola", "solamente"]))
            {
                return Ok(Some(1));
            }
            continue;
        };
        if i >= 3 && text.is_any(i - 2, &["o", "a"]) && count_at(i - 3).is_some() {
            return Err(());
        }
        if n == 0 || n > 60 {
            continue;
        }
        return Ok(Some(n * per_unit));
    }
    // "solo hoy", "solo por hoy": one night.
    for i in 0..text.len() {
        if text.is(i, "hoy") && (i.saturating_sub(2)..i).any(|k| text.is(k, "solo")) {
            return Ok(Some(1));
        }
    }
    Ok(None)
}

/// Reads the stay's dates and nights from a tokenized message.
pub(crate) fn read(text: &Text<'_>, ref_date: NaiveDate) -> Stay {
    let mut reader = Reader::new(text);
    reader.mark_days();
    reader.mark_linked_days();
    reader.spread_lone_months();
    let atoms = reader.atoms();
    let count = night_count(text);
    let nights = count.unwrap_or(None);
    // One pass for the message-wide words: "noches" (lists of nights), "la semana que viene"
    // (weekdays of next week, not "el fin de semana que viene"), corrections ("perdón, mejor…").
    let (mut nights_word, mut next_week, mut corrected) = (false, false, false);
    for i in 0..text.len() {
        match text.word(i) {
            "noche" | "noches" => nights_word = true,
            "perdon" | "perdona" | "corrijo" | "digo" | "mejor" => corrected = true,
            "equivoque" if i > 0 && text.is(i - 1, "me") => corrected = true,
            "viene" if i >= 2 && text.is(i - 1, "que") && text.is(i - 2, "semana") => {
                next_week |= !(i.saturating_sub(6)..i).any(|k| text.is(k, "fin"));
            }
            "semana" if i > 0 && text.is(i - 1, "proxima") => next_week = true,
            "proxima" | "siguiente" if i > 0 && text.is(i - 1, "semana") => {
                next_week |= !(i.saturating_sub(5)..i).any(|k| text.is(k, "fin"));
            }
            _ => {}
        }
    }
    let all = readings(text, &atoms, nights_word);
    let Some(best_class) = all.iter().map(|r| class(&atoms, r)).max() else {
        return Stay {
            nights,
            ..Stay::default()
        };
    };
    let mut best = all.iter().filter(|r| class(&atoms, r) == best_class);
    let chosen = if corrected {
        best.next_back()
    } else {
        best.next()
    };
    let Some(chosen) = chosen else {
        return Stay::default();
    };
    let resolver = Resolver {
        ref_date,
        next_week,
    };
    match resolver.resolve(&atoms, chosen) {
        Err(Unresolved::Ask) => Stay {
            nights,
            ..Stay::default()
        },
        Ok((start, end, open_end)) => finish(start, end, open_end, nights),
    }
}

fn finish(start: NaiveDate, end: Option<NaiveDate>, open_end: bool, nights: Option<u32>) -> Stay {
    if open_end {
        return Stay {
            check_in: Some(start),
            ..Stay::default()
        };
    }
    let end = end
        .filter(|e| *e > start && (*e - start).num_days() <= 366)
        .or_else(|| nights.and_then(|n| add_days(start, u64::from(n))));
    match end {
        Some(e) => Stay {
            check_in: Some(start),
            check_out: Some(e),
            nights: u32::try_from((e - start).num_days()).ok(),
        },
        None => Stay {
            check_in: Some(start),
            ..Stay::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn stay(msg: &str, r: &str) -> (Option<String>, Option<String>, Option<u32>) {
        let t = Text::new(msg);
        let s = read(&t, d(r));
        (
            s.check_in.map(|x| x.to_string()),
            s.check_out.map(|x| x.to_string()),
            s.nights,
        )
    }

    fn range(a: &str, b: &str) -> (Option<String>, Option<String>, Option<u32>) {
        let n = (d(b) - d(a)).num_days() as u32;
        (Some(a.into()), Some(b.into()), Some(n))
    }

    #[test]
    fn rule_examples() {
        assert_eq!(
            stay("del 15 al 20 de diciembre", "2026-12-04"),
            range("2026-12-15", "2026-12-20")
        );
        assert_eq!(
            stay("3 al 5 de enero", "2026-12-28"),
            range("2027-01-03", "2027-01-05")
        );
        assert_eq!(
            stay("10 al 15 de marzo", "2027-06-30"),
            range("2028-03-10", "2028-03-15")
        );
        assert_eq!(
            stay("28 de diciembre al 2 de enero", "2026-12-04"),
            range("2026-12-28", "2027-01-02")
        );
        assert_eq!(
            stay("del 30 al 2", "2026-12-28"),
            range("2026-12-30", "2027-01-02")
        );
        assert_eq!(
            stay("del 14 al 16/11", "2026-12-04"),
            range("2027-11-14", "2027-11-16")
        );
        assert_eq!(
            stay("tres noches: 10, 11 y 12 de enero", "2026-12-04"),
            range("2027-01-10", "2027-01-13")
        );
        assert_eq!(
            stay("2 noches el 8 y 9", "2026-12-04"),
            range("2026-12-08", "2026-12-10")
        );
        assert_eq!(stay("3 noches", "2026-12-04"), (None, None, Some(3)));
        assert_eq!(
            stay("para el 14 de febrero", "2026-12-04"),
            (Some("2027-02-14".into()), None, None)
        );
        assert_eq!(stay("en enero", "2026-12-04"), (None, None, None));
        assert_eq!(
            stay("mañana y pasado", "2026-12-04"),
            (Some("2026-12-05".into()), None, None)
        );
        assert_eq!(
            stay("solo por esta noche", "2026-12-04"),
            range("2026-12-04", "2026-12-05")
        );
    }

    #[test]
    fn weekends_by_reference_weekday() {
        // Thursday, Friday, Saturday, Sunday.
        assert_eq!(
            stay("este finde", "2026-12-10"),
            range("2026-12-11", "2026-12-13")
        );
        assert_eq!(
            stay("este finde", "2026-12-04"),
            range("2026-12-04", "2026-12-06")
        );
        assert_eq!(
            stay("este finde", "2026-12-12"),
            range("2026-12-12", "2026-12-13")
        );
        assert_eq!(
            stay("este finde", "2026-12-13"),
            range("2026-12-18", "2026-12-20")
        );
        assert_eq!(
            stay("el proximo finde", "2026-12-04"),
            range("2026-12-11", "2026-12-13")
        );
        assert_eq!(
            stay("el proximo finde", "2026-12-12"),
            range("2026-12-18", "2026-12-20")
        );
        assert_eq!(stay("el proximo finde", "2026-12-10"), (None, None, None));
        assert_eq!(
            stay("el finde largo de octubre", "2026-12-10"),
            (None, None, None)
        );
    }

    #[test]
    fn weekdays() {
        assert_eq!(stay("el viernes", "2026-12-04"), (None, None, None));
        assert_eq!(
            stay("desde el sabado 3 noches", "2026-12-04"),
            range("2026-12-05", "2026-12-08")
        );
        assert_eq!(
            stay("del lunes al viernes de la semana que viene", "2026-12-13"),
            range("2026-12-14", "2026-12-18")
        );
    }
}
