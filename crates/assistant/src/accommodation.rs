//! The unit a guest names or describes: "la cabaña grande", "el refugio del lago", "la del arroyo",
//! "la que tiene hidro", "la más grande", "cabaña 3".
//!
//! Only a phrase that picks out one unit counts: a unit noun with a description (an adjective, a
//! number, "del lago", "de 2 pisos", a capitalized name), a noun that is a name on its own ("el
//! refugio", "la suite"), or an article with a description and no noun ("la del arroyo"). Generic
//! mentions ("una cabaña", "las cabañas", "la cabaña" alone) and reservations named by date ("la
//! del 15/9") are not units. The phrase is returned as written, in lower case; mapping it to a unit
//! of the catalogue is the dialogue's job.

use crate::lexicon;
use crate::text::{Kind, Text};

/// Words that cannot describe a unit after "la del …" (dates, times, reservations).
fn is_time_word(text: &Text<'_>, i: usize) -> bool {
    let w = text.word(i);
    matches!(
        w,
        "finde"
            | "fin"
            | "semana"
            | "mes"
            | "dia"
            | "ano"
            | "hoy"
            | "manana"
            | "noche"
            | "reserva"
            | "sena"
            | "precio"
            | "tarde"
            | "temporada"
    ) || text.month_at(i).is_some()
        || text.weekday_at(i).is_some()
        || text.number_word_at(i).is_some()
}

/// Function words a capitalized name does not continue through.
fn ends_name(w: &str) -> bool {
    matches!(
        w,
        "para"
            | "por"
            | "del"
            | "de"
            | "esta"
            | "y"
            | "o"
            | "que"
            | "con"
            | "en"
            | "a"
            | "al"
            | "tiene"
            | "hay"
            | "desde"
            | "hasta"
            | "si"
    )
}

/// A unit phrase and the tokens it spans (inclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unit {
    pub phrase: String,
    pub span: (usize, usize),
}

struct Reader<'t, 'a> {
    text: &'t Text<'a>,
    /// The whole message is in capitals: capitals name nothing.
    shouting: bool,
}

impl Reader<'_, '_> {
    fn is_word(&self, i: usize) -> bool {
        self.text.kind(i) == Some(Kind::Word)
    }

    /// A description right at `j`; returns the token after it.
    fn description(&self, j: usize) -> Option<usize> {
        let t = self.text;
        let w = t.word(j);
        if lexicon::is_unit_adjective(w) {
            return Some(j + 1);
        }
        if w == "mas" && lexicon::is_unit_adjective(t.word(j + 1)) {
            return Some(j + 2);
        }
        if matches!(w, "del" | "de") {
            let mut k = j + 1;
            if w == "de" && t.is_any(k, &["la", "los", "las"]) {
                k += 1;
            }
            let next = t.word(k);
            if self.is_word(k) && !next.is_empty() && !is_time_word(t, k) {
                return Some(k + 1);
            }
            // "de 2 pisos", "de dos ambientes".
            let count = matches!(t.kind(k), Some(Kind::Num)) || t.number_word_at(k).is_some();
            if w == "de"
                && count
                && t.is_any(
                    k + 1,
                    &[
                        "pisos",
                        "plantas",
                        "ambientes",
                        "dormitorios",
                        "habitaciones",
                    ],
                )
            {
                return Some(k + 2);
            }
            return None;
        }
        if matches!(w, "que") && t.is_any(j + 1, &["tiene", "tenga", "trae", "incluye"]) {
            let k = j + 2;
            if self.is_word(k) && !t.word(k).is_empty() && !ends_name(t.word(k)) {
                return Some(k + 1);
            }
            return None;
        }
        if w == "con"
            && t.is_any(
                j + 1,
                &[
                    "hidro",
                    "hidromasaje",
                    "jacuzzi",
                    "pileta",
                    "vista",
                    "hogar",
                    "parrilla",
                ],
            )
        {
            return Some(j + 2);
        }
        None
    }

    /// The end of a unit noun's description at `j` (number, adjectives, "del lago", a name).
    fn noun_description(&self, j: usize) -> Option<usize> {
        let t = self.text;
        // "cabaña 3", "cabaña nro 3", "depto 2".
        let num_at = if t.is_any(j, &["numero", "nro", "n", "no"]) || t.punct(j) == Some(b'#') {
            j + 1
        } else {
            j
        };
        if let Some(tok) = t.tokens.get(num_at)
            && tok.kind == Kind::Num
            && tok.digits <= 3
            && !tok.grouped
            && !lexicon::is_non_day_unit(t.word(num_at + 1))
        {
            return Some(num_at + 1);
        }
        if !self.shouting {
            let mut k = j;
            while k < j + 3
                && self.is_word(k)
                && t.tokens.get(k).is_some_and(|tok| tok.capital)
                && !ends_name(t.word(k))
            {
                k += 1;
            }
            if k > j {
                return Some(k);
            }
        }
        let mut end = self.description(j)?;
        if let Some(more) = self.description(end) {
            end = more;
        }
        Some(end)
    }

    fn phrase(&self, from: usize, to: usize, article: Option<&str>) -> Unit {
        let written = self.text.original_span(from, to).to_lowercase();
        let mut out = String::with_capacity(written.len() + 3);
        if let Some(a) = article {
            out.push_str(a);
            out.push(' ');
        }
        for (n, part) in written.split_whitespace().enumerate() {
            if n > 0 {
                out.push(' ');
            }
            out.push_str(part);
        }
        Unit {
            phrase: out,
            span: (from, to),
        }
    }

    fn find(&self) -> Option<Unit> {
        let t = self.text;
        for i in 0..t.len() {
            let w = t.word(i);
            let article = matches!(w, "la" | "el" | "del");
            if article {
                let noun_at = i + 1;
                let next = t.word(noun_at);
                if let Some(named) = lexicon::unit_noun(next) {
                    let end = self.noun_description(noun_at + 1);
                    if end.is_some() || named {
                        let last = end.unwrap_or(noun_at + 1) - 1;
                        return Some(if w == "del" {
                            self.phrase(noun_at, last, Some("el"))
                        } else {
                            self.phrase(i, last, None)
                        });
                    }
                    continue;
                }
                if w == "del" {
                    continue;
                }
                // "la del arroyo", "la que tiene hidro", "la más grande", "la de arriba".
                let described = match next {
                    "del" | "de" | "que" => self.description(noun_at),
                    "mas" => self.description(noun_at),
                    _ => None,
                };
                if let Some(end) = described {
                    return Some(self.phrase(i, end - 1, None));
                }
                continue;
            }
            // "cabaña grande", "cabaña 3": no article, but a description.
            if let Some(false | true) = lexicon::unit_noun(w) {
                let prev = if i > 0 { t.word(i - 1) } else { "" };
                let generic = matches!(
                    prev,
                    "una"
                        | "un"
                        | "otra"
                        | "otro"
                        | "alguna"
                        | "algun"
                        | "cualquier"
                        | "esa"
                        | "esta"
                        | "la"
                        | "el"
                        | "del"
                        | "las"
                        | "los"
                        | "dos"
                        | "tres"
                        | "mas"
                ) || t.kind(i.wrapping_sub(1)) == Some(Kind::Num);
                if !generic && let Some(end) = self.noun_description(i + 1) {
                    return Some(self.phrase(i, end - 1, None));
                }
            }
        }
        None
    }
}

/// The unit phrase of a message, lower case, as written.
pub(crate) fn read(text: &Text<'_>) -> Option<Unit> {
    let (mut upper, mut lower) = (0usize, 0usize);
    for i in 0..text.len() {
        if let Some(tok) = text.tokens.get(i)
            && tok.kind == Kind::Word
        {
            if tok.capital {
                upper += 1;
            } else {
                lower += 1;
            }
        }
    }
    let shouting = upper > 3 && upper > lower;
    Reader { text, shouting }.find()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(s: &str) -> Option<String> {
        read(&Text::new(s)).map(|u| u.phrase)
    }

    #[test]
    fn rule_examples() {
        assert_eq!(
            unit("la cabaña grande para 4").as_deref(),
            Some("la cabaña grande")
        );
        assert_eq!(
            unit("el refugio del lago del 15 al 20").as_deref(),
            Some("el refugio del lago")
        );
        assert_eq!(
            unit("está libre la del arroyo?").as_deref(),
            Some("la del arroyo")
        );
        assert_eq!(
            unit("la que tiene hidro").as_deref(),
            Some("la que tiene hidro")
        );
        assert_eq!(unit("la más grande").as_deref(), Some("la más grande"));
        assert_eq!(
            unit("quiero cabaña grande").as_deref(),
            Some("cabaña grande")
        );
        assert_eq!(
            unit("la cabaña 3 esta libre").as_deref(),
            Some("la cabaña 3")
        );
    }

    #[test]
    fn generic_mentions() {
        assert_eq!(unit("una cabaña"), None);
        assert_eq!(unit("alguna de las cabañas"), None);
        assert_eq!(unit("las cabañas"), None);
        assert_eq!(unit("dos cabañas"), None);
        assert_eq!(unit("la del 15/9"), None);
        assert_eq!(unit("la cabaña para 4 personas"), None);
    }
}
