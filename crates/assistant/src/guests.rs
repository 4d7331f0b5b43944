//! The number of guests: totals ("somos 4", "para dos", "4 pax") and compositions ("2 adultos y 2
//! nenes", "una pareja con un nene", "yo y mi señora", "vamos con mi señora y mis 3 hijos").
//!
//! A *party phrase* is read from a trigger ("somos", "para", "vamos", a count of people, "yo", "mi
//! señora") as items joined by "y", commas, "+", "con": a count with a unit of people (a couple is
//! two, pets are none), a relation ("mi hermana", "su marido", "mis viejos" are two), or the writer
//! ("yo"). Relations imply the writer travels too. Numbers that count something else (nights,
//! cabins, floors, bathrooms, hours, ages, prices) never start or extend a phrase. Approximate
//! counts ("4 o 5", "entre 4 y 6", "mis hijos") leave the total unknown unless a firm total is also
//! given.

use crate::lexicon;
use crate::text::{Kind, Text};

/// One party phrase read from the message.
#[derive(Debug, Clone, Copy)]
struct Phrase {
    total: u32,
    /// 4: "en total"; 3: a firm count; 2: people named by relation.
    strength: u8,
    ambiguous: bool,
}

struct Reader<'t, 'a> {
    text: &'t Text<'a>,
}

const MAX_PARTY: u32 = 60;

impl Reader<'_, '_> {
    /// A count at `i`: digits (not a price, not a date) or a number word, "un"/"una" included.
    fn count(&self, i: usize) -> Option<u32> {
        let t = self.text;
        let tok = t.tokens.get(i)?;
        let n = match tok.kind {
            Kind::Num if tok.digits <= 3 && !tok.grouped => tok.value,
            Kind::Word => t.number_word_at(i)?,
            _ => return None,
        };
        if i > 0 && t.punct(i - 1) == Some(b'$') {
            return None;
        }
        // "para 14 de febrero": a date, not fourteen people.
        let month_at = if t.is(i + 1, "de") { i + 2 } else { i + 1 };
        if t.month_at(month_at).is_some() {
            return None;
        }
        (1..=MAX_PARTY).contains(&n).then_some(n)
    }

    /// "de 5", "de 2, 5 y 7 años", "de 8 meses" after a person: an age, skipped.
    fn skip_age(&self, mut j: usize) -> usize {
        let t = self.text;
        if !t.is(j, "de") || self.count(j + 1).is_none() {
            return j;
        }
        j += 1;
        while self.count(j).is_some() || t.punct(j) == Some(b',') || t.is(j, "y") {
            if t.is(j, "y") && self.count(j + 1).is_none() {
                break;
            }
            j += 1;
        }
        if t.is_any(j, &["anos", "ano", "meses", "mes", "anitos", "mesecitos"]) {
            j += 1;
        }
        j
    }

    /// Reads a party phrase at `i`. `bare_first` allows a count with no unit as the first item
    /// ("somos 4", "para 2"). Returns the phrase and the token after it.
    fn phrase(&self, i: usize, bare_first: bool) -> Option<(Phrase, usize)> {
        let t = self.text;
        let mut j = i;
        let mut total: u32 = 0;
        let mut items = 0;
        let mut writer = false;
        let mut relation = false;
        let mut counted = false;
        let mut ambiguous = false;
        let mut solo = false;
        // The writer is one of "una pareja", "2 adultos", "4 personas": relations named next to
        // such a count do not add the writer again ("una pareja y mi suegra" are three).
        let mut writer_counted = false;
        // "una familia" with no size: unknown unless its members are counted next to it.
        let mut unsized_group = false;
        loop {
            let item_start = j;
            if items > 0 {
                let connector = t.is_any(j, &["y", "e", "mas", "con"])
                    || matches!(t.punct(j), Some(b',' | b'+'));
                if connector {
                    j += 1;
                } else if self.count(j).is_none() {
                    break;
                }
            }
            let w = t.word(j);
            let next = t.word(j + 1);
            let parsed: Option<(u32, usize)> = if w == "yo" {
                writer = true;
                if t.is_any(j + 1, &["solo", "sola", "solito", "solita"]) {
                    solo = true;
                    Some((1, j + 2))
                } else {
                    Some((1, j + 1))
                }
            } else if matches!(w, "mi" | "su" | "tu" | "nuestra" | "nuestro") {
                if lexicon::is_pet(next) {
                    Some((0, j + 2))
                } else if lexicon::is_relation(next) {
                    // "su marido" is someone else's: it does not bring the writer along.
                    relation |= !matches!(w, "su" | "tu");
                    Some((1, j + 2))
                } else if next == "familia" {
                    ambiguous = true;
                    Some((0, j + 2))
                } else if t.is_any(j + 1, &["y", "e"]) || t.punct(j + 1) == Some(b',') {
                    // "para mi y mi señora": the writer.
                    writer = true;
                    Some((1, j + 1))
                } else {
                    None
                }
            } else if matches!(w, "mis" | "sus" | "los" | "las" | "nuestros" | "nuestras") {
                let possessive = matches!(w, "mis" | "nuestros" | "nuestras");
                if let Some(n) = self.count(j + 1) {
                    let unit = t.word(j + 2);
                    if lexicon::person_unit(unit).is_some() || lexicon::relation_pair(unit) {
                        relation |= possessive;
                        counted = true;
                        Some((n, j + 3))
                    } else if lexicon::is_pet(unit) {
                        Some((0, j + 3))
                    } else {
                        None
                    }
                } else if lexicon::relation_pair(next) {
                    relation |= possessive;
                    Some((2, j + 2))
                } else if lexicon::is_pet(next) {
                    Some((0, j + 2))
                } else if lexicon::person_unit(next).is_some() && possessive {
                    // "mis hijos": how many?
                    ambiguous = true;
                    relation = true;
                    Some((0, j + 2))
                } else {
                    None
                }
            } else if let Some(n) = self.count(j) {
                let unit = t.word(j + 1);
                if matches!(unit, "familia" | "grupo" | "flia") {
                    // "una familia de 4", "un grupo de 10 amigos".
                    if t.is(j + 2, "de")
                        && let Some(m) = self.count(j + 3)
                    {
                        counted = true;
                        let mut end = j + 4;
                        if lexicon::person_unit(t.word(end)).is_some() {
                            end += 1;
                        }
                        Some((m, end))
                    } else {
                        unsized_group = true;
                        Some((0, j + 2))
                    }
                } else if matches!(unit, "familias" | "grupos") {
                    unsized_group = true;
                    Some((0, j + 2))
                } else if let Some(per) = lexicon::person_unit(unit) {
                    counted = true;
                    writer_counted |= per == 2
                        || matches!(
                            unit,
                            "personas"
                                | "persona"
                                | "adultos"
                                | "adulto"
                                | "mayores"
                                | "grandes"
                                | "pax"
                                | "huespedes"
                                | "pasajeros"
                        );
                    // "una persona más": an addition, not a total.
                    let end = j + 2;
                    if t.is(end, "mas") && self.count(end + 1).is_none() {
                        return None;
                    }
                    Some((n * per, end))
                } else if lexicon::is_pet(unit) {
                    Some((0, j + 2))
                } else if lexicon::is_non_day_unit(unit)
                    || matches!(unit, "al" | "a")
                    || t.kind(j + 1) == Some(Kind::Num)
                {
                    if t.is_any(j + 1, &["o", "a"]) && self.count(j + 2).is_some() {
                        // "4 o 5", "de 4 a 6 personas".
                        ambiguous = true;
                        Some((0, j + 3))
                    } else {
                        None
                    }
                } else if ((items == 0 && bare_first) || (items > 0 && counted))
                    && !t.is_any(j, &["un", "una", "uno"])
                {
                    counted = true;
                    Some((n, j + 1))
                } else if items == 0
                    && t.is_any(j + 1, &["y", "e"])
                    && self.count(j + 2).is_some()
                    && lexicon::person_unit(t.word(j + 3)).is_some()
                {
                    // "2 y 2 chicos" without a trigger word: still a composition.
                    counted = true;
                    Some((n, j + 1))
                } else {
                    None
                }
            } else {
                None
            };
            let Some((people, end)) = parsed else {
                if items == 0 {
                    return None;
                }
                j = item_start;
                break;
            };
            total = total.saturating_add(people);
            items += 1;
            j = self.skip_age(end);
            if solo || items >= 8 {
                break;
            }
        }
        if items == 0 {
            return None;
        }
        if solo {
            return Some((
                Phrase {
                    total: 1,
                    strength: 3,
                    ambiguous: false,
                },
                j,
            ));
        }
        if relation && !writer && !writer_counted {
            total += 1;
        }
        if unsized_group && !counted {
            ambiguous = true;
        }
        let mut strength = if counted && !relation { 3 } else { 2 };
        if t.is(j, "en") && t.is(j + 1, "total") {
            // A stated total settles what the parts left open ("3 familias, 12 personas en total").
            strength = 4;
            ambiguous = false;
            j += 2;
        }
        Some((
            Phrase {
                total,
                strength,
                ambiguous,
            },
            j,
        ))
    }

    fn phrases(&self) -> Vec<Phrase> {
        let t = self.text;
        let mut out = Vec::new();
        let mut i = 0;
        while i < t.len() {
            let w = t.word(i);
            // The writer alone: "voy solo", "viajo sola", "solo yo".
            let alone = (matches!(w, "voy" | "viajo" | "ire" | "estoy" | "soy")
                && t.is_any(i + 1, &["solo", "sola", "solito", "solita"]))
                || (w == "solo" && t.is(i + 1, "yo"))
                || (w == "mi"
                    && t.is_any(i + 1, &["solo", "sola"])
                    && i > 0
                    && t.is(i - 1, "para"));
            if alone {
                out.push(Phrase {
                    total: 1,
                    strength: 3,
                    ambiguous: false,
                });
                i += 2;
                continue;
            }
            // "entre 4 y 6 personas", "4 o 5": uncertain counts.
            if w == "entre"
                && self.count(i + 1).is_some()
                && t.is(i + 2, "y")
                && self.count(i + 3).is_some()
                && (lexicon::person_unit(t.word(i + 4)).is_some() || !self.is_daylike(i + 4))
            {
                out.push(Phrase {
                    total: 0,
                    strength: 0,
                    ambiguous: true,
                });
                i += 4;
                continue;
            }
            if w == "total" && !t.is(i.wrapping_sub(1), "en") {
                let at = if t.is(i + 1, "somos") { i + 2 } else { i + 1 };
                if let Some((mut p, end)) = self.phrase(at, true) {
                    p.strength = 4;
                    out.push(p);
                    i = end;
                    continue;
                }
            }
            let trigger = matches!(
                w,
                "somos"
                    | "seriamos"
                    | "seremos"
                    | "vamos"
                    | "viajamos"
                    | "llegamos"
                    | "iriamos"
                    | "iremos"
                    | "van"
                    | "viajan"
                    | "son"
                    | "estariamos"
                    | "para"
                    | "por"
            );
            if trigger {
                let mut at = i + 1;
                if matches!(w, "vamos" | "viajamos" | "somos" | "van") && t.is(at, "con") {
                    at += 1;
                }
                if let Some((p, end)) = self.phrase(at, true) {
                    out.push(p);
                    i = end.max(i + 1);
                    continue;
                }
                i += 1;
                continue;
            }
            if i >= 2
                && t.is_any(i - 1, &["o", "a"])
                && self.count(i - 2).is_some()
                && self.count(i).is_some()
                && lexicon::person_unit(t.word(i + 1)).is_some()
            {
                out.push(Phrase {
                    total: 0,
                    strength: 0,
                    ambiguous: true,
                });
                i += 2;
                continue;
            }
            let starts = w == "yo"
                || (matches!(w, "mi" | "su" | "mis" | "sus" | "nuestros" | "nuestras") && {
                    let next = t.word(i + 1);
                    lexicon::is_relation(next)
                        || lexicon::relation_pair(next)
                        || matches!(w, "mis" | "sus" | "nuestros" | "nuestras")
                            && (self.count(i + 1).is_some() || lexicon::person_unit(next).is_some())
                })
                || (self.count(i).is_some()
                    && (lexicon::person_unit(t.word(i + 1)).is_some()
                        || matches!(t.word(i + 1), "familia" | "grupo" | "flia")));
            // "hablar con una persona": the person asked for, not a guest.
            let asked_for = (i >= 2
                && t.is(i - 1, "con")
                && t.is_any(
                    i - 2,
                    &[
                        "hablar",
                        "pasar",
                        "pasas",
                        "pasame",
                        "comunicar",
                        "comunicame",
                        "comunica",
                        "hablo",
                    ],
                ))
                || (i >= 1
                    && t.is_any(
                        i - 1,
                        &[
                            "atiende", "atienda", "atender", "llame", "llama", "hable", "contacte",
                        ],
                    ));
            if starts
                && !asked_for
                && let Some((p, end)) = self.phrase(i, false)
            {
                out.push(p);
                i = end.max(i + 1);
                continue;
            }
            i += 1;
        }
        out
    }

    /// Whether token `i` reads like part of a date ("entre el 15 y el 20 de enero").
    fn is_daylike(&self, i: usize) -> bool {
        let t = self.text;
        t.is_any(i, &["de", "del"]) && t.month_at(i + 1).is_some() || t.month_at(i).is_some()
    }
}

/// The total number of guests a message gives, if it gives one for sure.
pub(crate) fn read(text: &Text<'_>) -> Option<u32> {
    let phrases = Reader { text }.phrases();
    let firm = |p: &&Phrase| !p.ambiguous && p.total > 0;
    if let Some(p) = phrases.iter().filter(firm).find(|p| p.strength >= 4) {
        return Some(p.total);
    }
    if let Some(p) = phrases.iter().filter(firm).find(|p| p.strength == 3) {
        return Some(p.total);
    }
    if phrases.iter().any(|p| p.ambiguous) {
        return None;
    }
    phrases.iter().filter(firm).map(|p| p.total).next()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guests(s: &str) -> Option<u32> {
        read(&Text::new(s))
    }

    #[test]
    fn rule_examples() {
        assert_eq!(guests("somos 4"), Some(4));
        assert_eq!(guests("para dos"), Some(2));
        assert_eq!(guests("2 adultos y 2 nenes"), Some(4));
        assert_eq!(guests("una pareja"), Some(2));
        assert_eq!(guests("dos matrimonios"), Some(4));
        assert_eq!(guests("yo y mi señora"), Some(2));
        assert_eq!(guests("voy solo"), Some(1));
        assert_eq!(guests("yo y mis viejos"), Some(3));
        assert_eq!(guests("vamos con mi señora y mis 3 hijos"), Some(5));
        assert_eq!(guests("una pareja con un nene"), Some(3));
        assert_eq!(guests("4 o 5"), None);
        assert_eq!(guests("vamos con mis hijos"), None);
    }

    #[test]
    fn numbers_of_other_things() {
        assert_eq!(guests("la cabaña 3"), None);
        assert_eq!(guests("de dos pisos"), None);
        assert_eq!(guests("dos cabañas"), None);
        assert_eq!(guests("dos baños"), None);
        assert_eq!(guests("RES-7K2Q9M"), None);
        assert_eq!(guests("para 4 noches"), None);
        assert_eq!(guests("tenemos 2 perros"), None);
        assert_eq!(guests("2 adultos y 3 nenes de 2, 5 y 7 años"), Some(5));
    }
}
