//! Content lines: splitting bytes into unfolded logical lines and a line into name, parameters and
//! value (RFC 5545 §3.1).
//!
//! Unfolding happens on bytes, before any UTF-8 decoding, because real feeds fold at 75 octets and
//! a fold may fall inside a word or inside a multi-byte character. LF, CRLF and lone CR endings are
//! all accepted, mixed in one file if need be.

use std::borrow::Cow;

/// One unfolded line and the 1-based physical line number where it starts.
pub(crate) struct LogicalLine<'a> {
    pub bytes: Cow<'a, [u8]>,
    pub line: usize,
}

/// Iterator over the unfolded lines of a feed; blank lines are skipped.
pub(crate) struct Lines<'a> {
    buf: &'a [u8],
    pos: usize,
    line: usize,
}

impl<'a> Lines<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        let buf = buf.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(buf);
        Lines {
            buf,
            pos: 0,
            line: 0,
        }
    }

    /// The next physical line without its terminator.
    fn physical(&mut self) -> &'a [u8] {
        let start = self.pos;
        let rest = self.buf.get(start..).unwrap_or_default();
        self.line += 1;
        match rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            Some(i) => {
                let end = start + i;
                let mut next = end + 1;
                if rest.get(i) == Some(&b'\r') && rest.get(i + 1) == Some(&b'\n') {
                    next += 1;
                }
                self.pos = next;
                &rest[..i]
            }
            None => {
                self.pos = self.buf.len();
                rest
            }
        }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = LogicalLine<'a>;

    fn next(&mut self) -> Option<LogicalLine<'a>> {
        while self.pos < self.buf.len() {
            let line = self.line + 1;
            let first = self.physical();
            let mut owned: Option<Vec<u8>> = None;
            while matches!(self.buf.get(self.pos), Some(b' ' | b'\t')) {
                let continuation = self.physical();
                let continuation = continuation.get(1..).unwrap_or_default();
                owned
                    .get_or_insert_with(|| first.to_vec())
                    .extend_from_slice(continuation);
            }
            let bytes = match owned {
                Some(v) => Cow::Owned(v),
                None => Cow::Borrowed(first),
            };
            if bytes.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Some(LogicalLine { bytes, line });
        }
        None
    }
}

/// A content line split into the parts the parser looks at.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ContentLine<'a> {
    pub name: &'a str,
    /// The `VALUE=` parameter, if any.
    pub value_type: Option<&'a str>,
    /// The `TZID=` parameter, unquoted, if any.
    pub tzid: Option<&'a str>,
    pub value: &'a str,
}

/// Splits `NAME;PARAM=a,"b;c:d";P2=x:VALUE`. Returns `None` when there is no `:` outside quotes.
pub(crate) fn parse_content_line(line: &str) -> Option<ContentLine<'_>> {
    let b = line.as_bytes();
    let len = b.len();
    let mut i = b.iter().position(|&c| c == b';' || c == b':')?;
    let name = line[..i].trim();
    let mut value_type = None;
    let mut tzid = None;
    while i < len && b[i] == b';' {
        i += 1;
        let pname_start = i;
        while i < len && !matches!(b[i], b'=' | b';' | b':') {
            i += 1;
        }
        let pname = line[pname_start..i].trim();
        if i < len && b[i] == b'=' {
            i += 1;
            let value_start = i;
            loop {
                let closing = if b.get(i) == Some(&b'"') {
                    b[i + 1..].iter().position(|&c| c == b'"')
                } else {
                    None
                };
                match closing {
                    Some(q) => i += q + 2,
                    None => {
                        while i < len && !matches!(b[i], b',' | b';' | b':') {
                            i += 1;
                        }
                    }
                }
                if i < len && b[i] == b',' {
                    i += 1;
                    continue;
                }
                break;
            }
            let pvalue = unquote(line[value_start..i].trim());
            if pname.eq_ignore_ascii_case("VALUE") {
                value_type = Some(pvalue);
            } else if pname.eq_ignore_ascii_case("TZID") {
                tzid = Some(pvalue);
            }
        }
    }
    if i < len && b[i] == b':' {
        Some(ContentLine {
            name,
            value_type,
            tzid,
            value: &line[i + 1..],
        })
    } else {
        None
    }
}

fn unquote(s: &str) -> &str {
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(input: &[u8]) -> Vec<String> {
        Lines::new(input)
            .map(|l| String::from_utf8_lossy(&l.bytes).into_owned())
            .collect()
    }

    #[test]
    fn unfolds_crlf_lf_and_cr_with_space_or_tab() {
        let input = b"\xEF\xBB\xBFA:1\r\n 2\nB:x\n\ty\rC:z\r\n\r\n";
        assert_eq!(collect(input), vec!["A:12", "B:xy", "C:z"]);
    }

    #[test]
    fn fold_inside_a_utf8_sequence_is_joined_before_decoding() {
        // "ñ" is C3 B1; the fold falls between the two bytes.
        let input = b"SUMMARY:Espa\xC3\r\n \xB1a\r\n";
        assert_eq!(collect(input), vec!["SUMMARY:España"]);
    }

    #[test]
    fn splits_quoted_parameters_containing_delimiters() {
        let l = parse_content_line(
            r#"DTSTART;X-A="a;b:c";TZID="Europe/Rome";VALUE=DATE-TIME:20250101T100000"#,
        );
        assert_eq!(
            l,
            Some(ContentLine {
                name: "DTSTART",
                value_type: Some("DATE-TIME"),
                tzid: Some("Europe/Rome"),
                value: "20250101T100000",
            })
        );
        let l = parse_content_line("ATTENDEE;MEMBER=\"a\",\"b\";CN=x:mailto:y@z");
        assert_eq!(l.map(|l| l.value), Some("mailto:y@z"));
        assert_eq!(parse_content_line("garbage without colon"), None);
        assert_eq!(
            parse_content_line("X;P=\"unterminated:v").map(|l| l.value),
            Some("v")
        );
    }
}
