//! TEXT value escaping and unescaping (RFC 5545 §3.3.11).
//!
//! Feeds in the wild over-escape (Booking.com sends `\\\,` in its PRODID) and under-escape, so the
//! reader accepts any backslash sequence, while the writer produces exactly the four escapes the RFC
//! defines and drops control characters that TEXT may not carry.

/// Undoes TEXT escaping: `\\`, `\;`, `\,`, `\n`/`\N` (newline) and, leniently, `\:` and `\"`.
/// Any other backslash sequence is kept as written.
pub(crate) fn unescape(raw: &str) -> String {
    if !raw.contains('\\') {
        return raw.to_owned();
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => out.push('\n'),
            Some(p @ ('\\' | ';' | ',' | ':' | '"')) => out.push(p),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Unescapes a PRODID, which some channels escape twice (`-//admin.booking.com\\\, b.v.//…`):
/// when one pass still leaves an escaped comma or semicolon, a second pass removes it.
pub(crate) fn unescape_prodid(raw: &str) -> String {
    let once = unescape(raw);
    if once.contains("\\,") || once.contains("\\;") {
        unescape(&once)
    } else {
        once
    }
}

/// Escapes a TEXT value for writing. Line breaks (`\r\n`, `\r`, `\n`) become `\n`; other control
/// characters except TAB are dropped, since RFC 5545 TEXT cannot carry them.
pub(crate) fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            '\t' => out.push('\t'),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescape_handles_the_rfc_sequences() {
        assert_eq!(unescape(r"a\\b\;c\,d\ne\Nf"), "a\\b;c,d\ne\nf");
        assert_eq!(unescape(r"trailing\"), "trailing\\");
        assert_eq!(unescape(r"keep\x"), "keep\\x");
    }

    #[test]
    fn booking_prodid_is_unescaped_to_a_plain_comma() {
        assert_eq!(
            unescape_prodid(r"-//admin.booking.com\\\, b.v.//NONSGML v1.0//EN"),
            "-//admin.booking.com, b.v.//NONSGML v1.0//EN"
        );
    }

    #[test]
    fn escape_round_trips_through_unescape() {
        let s = "a\\b;c,d\ne\tf";
        assert_eq!(unescape(&escape(s)), s);
        assert_eq!(escape("x\r\ny\rz\u{7}"), "x\\ny\\nz");
    }
}
