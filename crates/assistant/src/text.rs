//! Folding and tokenizing a message.
//!
//! Guests write without accents, with repeated letters ("holaaa"), emoji, WhatsApp abbreviations
//! ("q", "x", "finde") and numbers glued to words ("15hs", "1ro"). Everything downstream matches
//! plain lower-case ASCII words, so this module folds once: accents and case away, long letter runs
//! collapsed, abbreviations replaced by the word they stand for, and numbers read into numeric,
//! date (`15/12`, `16.4`, `15-12-26`), time (`15:30`) and reservation-code tokens. One pass over the
//! characters, no backtracking: the cost is linear in the message.

use crate::lexicon;

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Letters only, folded and canonical.
    Word,
    /// A number written in digits.
    Num,
    /// A numeric day/month date, with an optional year.
    Date,
    /// A clock time (`15:30`).
    Time,
    /// Letters and digits mixed like a reservation code (`RES-7K2Q9M`, `K7M2Q-XW9RD`).
    Code,
    /// One punctuation character.
    Punct,
}

/// One token. Words keep a range in [`Text::words`]; every token keeps its range in the original
/// message, so phrases can be returned as written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Token {
    pub kind: Kind,
    word: (u32, u32),
    /// Byte range in the original message.
    pub orig: (u32, u32),
    /// `Num`: the value (saturating); `Date`: the day; `Punct`: the character.
    pub value: u32,
    /// `Date`: the month.
    pub month: u8,
    /// `Date`: the year as written (four digits), 0 when absent.
    pub year: u16,
    /// `Num`: digits written (saturating).
    pub digits: u8,
    /// `Num`: written with thousands separators (a price, never a day or a head count).
    pub grouped: bool,
    /// `Date`: the separator was `-` (so `10-12 de enero` can be read as a range).
    pub dash: bool,
    /// `Word`: the first letter was upper case in the original (names of units).
    pub capital: bool,
    /// Whitespace (or nothing) separated this token from the previous one.
    pub spaced: bool,
    /// `Word`: the month it names, looked up once (the lookup forgives typos, so it is not free).
    month_word: Option<lexicon::MonthWord>,
    /// `Word`: the weekday it names, Monday = 0.
    weekday: Option<u8>,
    /// `Word`: the number it spells ("dos", "quince", "una"), 0 for none.
    number_word: u8,
}

/// A folded, tokenized message.
pub(crate) struct Text<'a> {
    original: &'a str,
    words: String,
    pub tokens: Vec<Token>,
}

/// A character after folding.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Letter(u8),
    Digit(u8),
    Punct(u8),
    Space,
}

/// Marks a letter outside Latin script: it never matches a known word.
const FOREIGN: u8 = b'_';

fn classify(c: char) -> Class {
    if c.is_ascii() {
        let b = c as u8;
        return match b {
            b'a'..=b'z' => Class::Letter(b),
            b'A'..=b'Z' => Class::Letter(b.to_ascii_lowercase()),
            b'0'..=b'9' => Class::Digit(b - b'0'),
            b'!'..=b'/' | b':'..=b'@' | b'['..=b'`' | b'{'..=b'~' => Class::Punct(b),
            _ => Class::Space,
        };
    }
    let folded = match c {
        'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' | 'ā' | 'Á' | 'À' | 'Â' | 'Ä' | 'Ã' | 'Å' => {
            b'a'
        }
        'é' | 'è' | 'ê' | 'ë' | 'ē' | 'É' | 'È' | 'Ê' | 'Ë' => b'e',
        'í' | 'ì' | 'î' | 'ï' | 'Í' | 'Ì' | 'Î' | 'Ï' => b'i',
        'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'ø' | 'Ó' | 'Ò' | 'Ô' | 'Ö' | 'Õ' => b'o',
        'ú' | 'ù' | 'û' | 'ü' | 'Ú' | 'Ù' | 'Û' | 'Ü' => b'u',
        'ñ' | 'Ñ' => b'n',
        'ç' | 'Ç' => b'c',
        'ý' | 'ÿ' | 'Ý' => b'y',
        // "1º", "1°": ordinal marks read as the "o" of "1ro".
        'º' | '°' => b'o',
        'ª' => b'a',
        '¿' => return Class::Punct(b'?'),
        '¡' => return Class::Punct(b'!'),
        '…' => return Class::Punct(b'.'),
        '–' | '—' | '‐' | '‑' | '−' => return Class::Punct(b'-'),
        '＋' => return Class::Punct(b'+'),
        '／' => return Class::Punct(b'/'),
        '０'..='９' => return Class::Digit((c as u32 - '０' as u32) as u8),
        _ if c.is_alphabetic() => FOREIGN,
        _ => return Class::Space,
    };
    Class::Letter(folded)
}

/// Letters that Spanish legitimately doubles ("llegamos", "perro", "acción", "innovar").
fn keeps_double(b: u8) -> bool {
    matches!(b, b'l' | b'r' | b'c' | b'n')
}

/// Collapses emphatic repetition: runs of three or more become one letter, doubles become one
/// unless Spanish writes them doubled.
fn collapse(raw: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        let mut j = i + 1;
        while j < raw.len() && raw[j] == b {
            j += 1;
        }
        let run = j - i;
        out.push(b);
        if run == 2 && keeps_double(b) {
            out.push(b);
        }
        i = j;
    }
}

impl<'a> Text<'a> {
    /// Folds and tokenizes `original`.
    pub(crate) fn new(original: &'a str) -> Text<'a> {
        let chars: Vec<(u32, Class)> = original
            .char_indices()
            .map(|(at, c)| (at as u32, classify(c)))
            .collect();
        let mut text = Text {
            original,
            words: String::with_capacity(original.len()),
            tokens: Vec::with_capacity(chars.len() / 3 + 1),
        };
        let mut lexer = Lexer {
            chars: &chars,
            end: original.len() as u32,
            scratch: Vec::new(),
            folded: Vec::new(),
            spaced: true,
        };
        lexer.run(&mut text);
        text
    }

    /// The canonical text of word `i`, or `""` for other tokens and out of range.
    pub(crate) fn word(&self, i: usize) -> &str {
        match self.tokens.get(i) {
            Some(t) if t.kind == Kind::Word => self
                .words
                .get(t.word.0 as usize..t.word.1 as usize)
                .unwrap_or(""),
            _ => "",
        }
    }

    /// True when token `i` is the word `w`.
    pub(crate) fn is(&self, i: usize, w: &str) -> bool {
        self.word(i) == w
    }

    /// True when token `i` is one of `words`.
    pub(crate) fn is_any(&self, i: usize, words: &[&str]) -> bool {
        let w = self.word(i);
        !w.is_empty() && words.contains(&w)
    }

    /// The month word `i` names.
    pub(crate) fn month_at(&self, i: usize) -> Option<lexicon::MonthWord> {
        self.tokens.get(i).and_then(|t| t.month_word)
    }

    /// The number word `i` spells.
    pub(crate) fn number_word_at(&self, i: usize) -> Option<u32> {
        self.tokens
            .get(i)
            .map(|t| u32::from(t.number_word))
            .filter(|&n| n > 0)
    }

    /// The weekday word `i` names, Monday = 0.
    pub(crate) fn weekday_at(&self, i: usize) -> Option<u8> {
        self.tokens.get(i).and_then(|t| t.weekday)
    }

    /// The punctuation character of token `i`.
    pub(crate) fn punct(&self, i: usize) -> Option<u8> {
        match self.tokens.get(i) {
            Some(t) if t.kind == Kind::Punct => u8::try_from(t.value).ok(),
            _ => None,
        }
    }

    /// The kind of token `i`.
    pub(crate) fn kind(&self, i: usize) -> Option<Kind> {
        self.tokens.get(i).map(|t| t.kind)
    }

    /// Number of tokens.
    pub(crate) fn len(&self) -> usize {
        self.tokens.len()
    }

    /// The original text from the start of token `from` to the end of token `to` (inclusive).
    pub(crate) fn original_span(&self, from: usize, to: usize) -> &str {
        match (self.tokens.get(from), self.tokens.get(to)) {
            (Some(a), Some(b)) if a.orig.0 <= b.orig.1 => self
                .original
                .get(a.orig.0 as usize..b.orig.1 as usize)
                .unwrap_or(""),
            _ => "",
        }
    }

    fn push_word(&mut self, bytes: &[u8], orig: (u32, u32), capital: bool, spaced: bool) {
        let canonical = std::str::from_utf8(bytes)
            .ok()
            .map(|w| lexicon::canonical(w).unwrap_or(w));
        let Some(w) = canonical else {
            return;
        };
        // Abbreviations can stand for two words ("xfa" → "por favor").
        for (n, part) in w.split(' ').enumerate() {
            let start = self.words.len() as u32;
            self.words.push_str(part);
            let end = self.words.len() as u32;
            self.tokens.push(Token {
                word: (start, end),
                capital,
                spaced: spaced || n > 0,
                month_word: lexicon::month(part),
                weekday: lexicon::weekday(part),
                number_word: lexicon::number_word(part)
                    .and_then(|n| u8::try_from(n).ok())
                    .unwrap_or(0),
                ..Token::blank(Kind::Word, orig)
            });
        }
    }
}

impl Token {
    fn blank(kind: Kind, orig: (u32, u32)) -> Token {
        Token {
            kind,
            word: (0, 0),
            orig,
            value: 0,
            month: 0,
            year: 0,
            digits: 0,
            grouped: false,
            dash: false,
            capital: false,
            spaced: true,
            month_word: None,
            weekday: None,
            number_word: 0,
        }
    }
}

struct Lexer<'c> {
    chars: &'c [(u32, Class)],
    end: u32,
    scratch: Vec<u8>,
    folded: Vec<u8>,
    spaced: bool,
}

impl Lexer<'_> {
    fn class(&self, i: usize) -> Class {
        self.chars.get(i).map_or(Class::Space, |c| c.1)
    }

    fn at(&self, i: usize) -> u32 {
        self.chars.get(i).map_or(self.end, |c| c.0)
    }

    fn is_alnum(&self, i: usize) -> bool {
        matches!(self.class(i), Class::Letter(_) | Class::Digit(_))
    }

    /// End (exclusive) of the run of letters and digits starting at `i`.
    fn alnum_end(&self, mut i: usize) -> usize {
        while self.is_alnum(i) {
            i += 1;
        }
        i
    }

    /// End of the run of digits starting at `i`.
    fn digits_end(&self, mut i: usize) -> usize {
        while matches!(self.class(i), Class::Digit(_)) {
            i += 1;
        }
        i
    }

    fn digits_value(&self, from: usize, to: usize) -> u32 {
        let mut v: u32 = 0;
        for i in from..to {
            if let Class::Digit(d) = self.class(i) {
                v = v.saturating_mul(10).saturating_add(u32::from(d));
            }
        }
        v
    }

    fn run(&mut self, text: &mut Text<'_>) {
        let mut i = 0;
        while i < self.chars.len() {
            match self.class(i) {
                Class::Space => {
                    self.spaced = true;
                    i += 1;
                }
                Class::Punct(p) => {
                    text.tokens.push(Token {
                        value: u32::from(p),
                        spaced: self.spaced,
                        ..Token::blank(Kind::Punct, (self.at(i), self.at(i + 1)))
                    });
                    self.spaced = false;
                    i += 1;
                }
                Class::Letter(_) | Class::Digit(_) => {
                    i = self.chunk(text, i);
                    self.spaced = false;
                }
            }
        }
    }

    /// Reads the alphanumeric chunk at `i` (runs joined by single dashes, for codes) and returns
    /// where it stopped.
    fn chunk(&mut self, text: &mut Text<'_>, i: usize) -> usize {
        let first_end = self.alnum_end(i);
        // A reservation code: letters and digits alternating, possibly in dash-joined groups.
        let mut end = first_end;
        let mut groups = 1;
        while groups < 4 && self.class(end) == Class::Punct(b'-') && self.is_alnum(end + 1) {
            end = self.alnum_end(end + 1);
            groups += 1;
        }
        if self.looks_like_code(i, end) {
            text.tokens.push(Token {
                spaced: self.spaced,
                ..Token::blank(Kind::Code, (self.at(i), self.at(end)))
            });
            return end;
        }
        if self.looks_like_code(i, first_end) {
            text.tokens.push(Token {
                spaced: self.spaced,
                ..Token::blank(Kind::Code, (self.at(i), self.at(first_end)))
            });
            return first_end;
        }
        // Otherwise split the first run into digit and letter parts.
        let mut at = i;
        while at < first_end {
            at = match self.class(at) {
                Class::Digit(_) => self.number(text, at, first_end),
                _ => self.word(text, at),
            };
            self.spaced = false;
        }
        at
    }

    /// A code has at least five symbols, letters and digits, and changes between them at least
    /// twice ("7K2Q9M", "RES-7K2Q9M"); "15hs", "1ro" and "2x1" do not qualify.
    fn looks_like_code(&self, from: usize, to: usize) -> bool {
        let (mut letters, mut digits, mut changes) = (0, 0, 0);
        let mut last: Option<bool> = None;
        for i in from..to {
            let is_digit = match self.class(i) {
                Class::Digit(_) => true,
                Class::Letter(FOREIGN) => return false,
                Class::Letter(_) => false,
                _ => {
                    last = None;
                    continue;
                }
            };
            if is_digit {
                digits += 1;
            } else {
                letters += 1;
            }
            if last.is_some_and(|l| l != is_digit) {
                changes += 1;
            }
            last = Some(is_digit);
        }
        letters + digits >= 5 && letters > 0 && digits > 0 && changes >= 2
    }

    fn word(&mut self, text: &mut Text<'_>, i: usize) -> usize {
        let mut j = i;
        self.scratch.clear();
        while let Class::Letter(b) = self.class(j) {
            self.scratch.push(b);
            j += 1;
        }
        let capital = self
            .chars
            .get(i)
            .and_then(|(at, _)| text.original.get(*at as usize..))
            .and_then(|s| s.chars().next())
            .is_some_and(char::is_uppercase);
        let mut folded = std::mem::take(&mut self.folded);
        collapse(&self.scratch, &mut folded);
        text.push_word(&folded, (self.at(i), self.at(j)), capital, self.spaced);
        self.folded = folded;
        j
    }

    /// Reads a number at `i` (digits up to `run_end`), with what may follow it: a day/month date,
    /// thousands groups or a clock time.
    fn number(&mut self, text: &mut Text<'_>, i: usize, run_end: usize) -> usize {
        let end = self.digits_end(i);
        let len = end - i;
        let value = self.digits_value(i, end);
        let glued_letters = end < run_end;
        if !glued_letters {
            if let Some(next) = self.date(text, i, end) {
                return next;
            }
            if let Some(next) = self.grouped(text, i, end) {
                return next;
            }
            if len <= 2
                && self.class(end) == Class::Punct(b':')
                && self.digits_end(end + 1) == end + 3
                && !self.is_alnum(end + 3)
            {
                text.tokens.push(Token {
                    value,
                    spaced: self.spaced,
                    ..Token::blank(Kind::Time, (self.at(i), self.at(end + 3)))
                });
                return end + 3;
            }
        }
        text.tokens.push(Token {
            value,
            digits: u8::try_from(len).unwrap_or(u8::MAX),
            spaced: self.spaced,
            ..Token::blank(Kind::Num, (self.at(i), self.at(end)))
        });
        end
    }

    /// `15/12`, `15-12`, `16.4`, `15/12/26`, `15/12/2026`: day first, then month.
    fn date(&mut self, text: &mut Text<'_>, i: usize, end: usize) -> Option<usize> {
        let sep = match self.class(end) {
            Class::Punct(p @ (b'/' | b'-' | b'.')) => p,
            _ => return None,
        };
        if end - i > 2 {
            return None;
        }
        let m_end = self.digits_end(end + 1);
        if m_end == end + 1
            || m_end - (end + 1) > 2
            || matches!(self.class(m_end), Class::Letter(_))
        {
            return None;
        }
        let day = self.digits_value(i, end);
        let month = self.digits_value(end + 1, m_end);
        if !(1..=31).contains(&day) || !(1..=12).contains(&month) {
            return None;
        }
        let mut stop = m_end;
        let mut year = 0u16;
        if let Class::Punct(p @ (b'/' | b'-' | b'.')) = self.class(m_end)
            && (p == sep || p == b'/')
        {
            let y_end = self.digits_end(m_end + 1);
            let y_len = y_end - (m_end + 1);
            if (y_len == 2 || y_len == 4) && !self.is_alnum(y_end) {
                let y = self.digits_value(m_end + 1, y_end);
                let y = if y_len == 2 { 2000 + y } else { y };
                if (2000..=2100).contains(&y) {
                    year = y as u16;
                    stop = y_end;
                }
            } else if y_len > 0 {
                // "11-4567-8901" and the like: not a date.
                return None;
            }
        } else if sep == b'.' && matches!(self.class(m_end), Class::Digit(_)) {
            return None;
        }
        text.tokens.push(Token {
            value: day,
            month: month as u8,
            year,
            dash: sep == b'-',
            spaced: self.spaced,
            ..Token::blank(Kind::Date, (self.at(i), self.at(stop)))
        });
        Some(stop)
    }

    /// `50.000`, `1.500.000`: a price written with thousands separators.
    fn grouped(&mut self, text: &mut Text<'_>, i: usize, end: usize) -> Option<usize> {
        if end - i > 3 {
            return None;
        }
        let mut value = self.digits_value(i, end);
        let mut stop = end;
        while matches!(self.class(stop), Class::Punct(b'.' | b','))
            && self.digits_end(stop + 1) == stop + 4
        {
            value = value
                .saturating_mul(1000)
                .saturating_add(self.digits_value(stop + 1, stop + 4));
            stop += 4;
        }
        if stop == end {
            return None;
        }
        text.tokens.push(Token {
            value,
            digits: u8::try_from(stop - i).unwrap_or(u8::MAX),
            grouped: true,
            spaced: self.spaced,
            ..Token::blank(Kind::Num, (self.at(i), self.at(stop)))
        });
        Some(stop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<(Kind, String)> {
        let t = Text::new(s);
        (0..t.len())
            .map(|i| {
                let tok = t.tokens[i];
                let shown = match tok.kind {
                    Kind::Word => t.word(i).to_owned(),
                    Kind::Num => tok.value.to_string(),
                    Kind::Date => format!("{}/{}/{}", tok.value, tok.month, tok.year),
                    Kind::Time | Kind::Code => t.original_span(i, i).to_owned(),
                    Kind::Punct => char::from(tok.value as u8).to_string(),
                };
                (tok.kind, shown)
            })
            .collect()
    }

    fn shown(s: &str) -> Vec<String> {
        kinds(s).into_iter().map(|(_, s)| s).collect()
    }

    #[test]
    fn folds_accents_case_and_repeats() {
        assert_eq!(
            shown("Holaaa ¿Tenés LUGAR?"),
            ["hola", "?", "tenes", "lugar", "?"]
        );
        assert_eq!(shown("mañana llegamos"), ["manana", "llegamos"]);
        assert_eq!(shown("buenass graciass"), ["buenas", "gracias"]);
    }

    #[test]
    fn reads_dates_numbers_and_codes() {
        assert_eq!(shown("15/12 al 20-12"), ["15/12/0", "al", "20/12/0"]);
        assert_eq!(shown("16.4 y 2/1/27"), ["16/4/0", "y", "2/1/2027"]);
        assert_eq!(shown("$65.000 la noche"), ["$", "65000", "la", "noche"]);
        assert_eq!(shown("15-20 de enero"), ["15", "-", "20", "de", "enero"]);
        assert_eq!(shown("11 4567-8901"), ["11", "4567", "-", "8901"]);
        assert_eq!(shown("a las 15:30"), ["a", "las", "15:30"]);
        assert_eq!(kinds("RES-7K2Q9M")[0].0, Kind::Code);
        assert_eq!(kinds("K7M2Q-XW9RD")[0].0, Kind::Code);
        assert_eq!(kinds("7K2Q9M")[0].0, Kind::Code);
        assert_eq!(
            shown("15hs 1ro 2x1"),
            ["15", "hs", "1", "ro", "2", "por", "1"]
        );
    }

    #[test]
    fn emoji_and_foreign_letters_never_match() {
        assert_eq!(shown("hola 👋👋 мир"), ["hola", "_"]);
    }
}
