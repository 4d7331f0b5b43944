//! The JSON-lines interface behind `posada assistant understand`: one `{"text", "ref_date"}` object
//! per input line, one understanding per output line, so anyone can score the understanding with
//! their own corpus (extra fields such as `expected` are ignored, so a corpus file can be piped in
//! as it is).
//!
//! A bad line never stops the stream: it is answered with `{"error": "line N: …"}` naming what is
//! wrong, and reading goes on. Lines are read as bytes with a size cap, so invalid UTF-8 or a
//! runaway line is one error, not a crash or an unbounded allocation.

use std::io::{self, BufRead, Write};

use chrono::NaiveDate;
use serde_json::Value;

use crate::understand;

/// Longest input line accepted, in bytes.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// What a run of [`understand_json_lines`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinesSummary {
    /// Lines answered with an understanding.
    pub understood: u64,
    /// Lines answered with an error.
    pub errors: u64,
}

/// Reads JSON lines `{"text": …, "ref_date": "YYYY-MM-DD"}` from `input` and writes one JSON line
/// per non-blank input line to `output`: the understanding, or `{"error": "…"}`. Only IO errors
/// stop it.
pub fn understand_json_lines<R: BufRead, W: Write>(
    mut input: R,
    mut output: W,
) -> io::Result<LinesSummary> {
    let mut summary = LinesSummary::default();
    let mut line = Vec::new();
    let mut number: u64 = 0;
    loop {
        let (read, too_long) = read_line_capped(&mut input, &mut line)?;
        if read == 0 {
            break;
        }
        number += 1;
        let answer = if too_long {
            Err(format!("longer than {MAX_LINE_BYTES} bytes"))
        } else if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        } else {
            answer(&line)
        };
        let json = match answer {
            Ok(json) => {
                summary.understood += 1;
                json
            }
            Err(problem) => {
                summary.errors += 1;
                serde_json::json!({ "error": format!("line {number}: {problem}") }).to_string()
            }
        };
        output.write_all(json.as_bytes())?;
        output.write_all(b"\n")?;
        output.flush()?;
    }
    Ok(summary)
}

/// Reads up to the next newline into `line` (without it). Returns the bytes consumed and whether
/// the line was longer than [`MAX_LINE_BYTES`] (its excess is skipped, not stored).
fn read_line_capped<R: BufRead>(input: &mut R, line: &mut Vec<u8>) -> io::Result<(usize, bool)> {
    line.clear();
    let mut consumed = 0;
    let mut too_long = false;
    loop {
        let buf = match input.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok((consumed, too_long));
        }
        let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(at) => (&buf[..at], Some(at + 1)),
            None => (buf, None),
        };
        if line.len() + chunk.len() > MAX_LINE_BYTES {
            too_long = true;
        } else if !too_long {
            line.extend_from_slice(chunk);
        }
        let used = done.unwrap_or(buf.len());
        input.consume(used);
        consumed += used;
        if done.is_some() {
            return Ok((consumed, too_long));
        }
    }
}

fn answer(line: &[u8]) -> Result<String, String> {
    let text = std::str::from_utf8(line).map_err(|e| format!("not valid UTF-8 ({e})"))?;
    let value: Value =
        serde_json::from_str(text.trim()).map_err(|e| format!("not a JSON object ({e})"))?;
    let Value::Object(fields) = value else {
        return Err("not a JSON object".to_owned());
    };
    let message = match fields.get("text") {
        Some(Value::String(s)) => s,
        Some(_) => return Err("\"text\" must be a string".to_owned()),
        None => return Err("missing \"text\"".to_owned()),
    };
    let ref_date = match fields.get("ref_date") {
        Some(Value::String(s)) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| format!("\"ref_date\" must be a date YYYY-MM-DD, got {s:?}"))?,
        Some(_) => return Err("\"ref_date\" must be a string YYYY-MM-DD".to_owned()),
        None => return Err("missing \"ref_date\"".to_owned()),
    };
    serde_json::to_string(&understand(message, ref_date)).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &[u8]) -> (String, LinesSummary) {
        let mut out = Vec::new();
        let summary = understand_json_lines(input, &mut out).unwrap();
        (String::from_utf8(out).unwrap(), summary)
    }

    #[test]
    fn one_answer_per_line_with_the_rules_fields() {
        let (out, summary) = run(
            br#"{"text":"tienen libre del 15 al 20 de diciembre para 4?","ref_date":"2026-12-04"}"#,
        );
        assert_eq!(
            out,
            "{\"intent\":\"availability\",\"check_in\":\"2026-12-15\",\"check_out\":\"2026-12-20\",\
             \"nights\":5,\"guests\":4,\"accommodation\":null}\n"
        );
        assert_eq!(summary.understood, 1);
    }

    #[test]
    fn bad_lines_are_answered_and_skipped() {
        let input = b"not json\n{\"text\":1,\"ref_date\":\"2026-12-04\"}\n\n{\"text\":\"hola\"}\n\
            {\"text\":\"hola\",\"ref_date\":\"2026-13-40\"}\n[1]\n\xff\xfe\n{\"text\":\"hola\",\"ref_date\":\"2026-12-04\"}";
        let (out, summary) = run(input);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 7, "{out}");
        assert!(lines[0].starts_with("{\"error\":\"line 1: not a JSON object"));
        assert_eq!(
            lines[1],
            "{\"error\":\"line 2: \\\"text\\\" must be a string\"}"
        );
        assert_eq!(lines[2], "{\"error\":\"line 4: missing \\\"ref_date\\\"\"}");
        assert!(lines[3].contains("line 5: \\\"ref_date\\\" must be a date YYYY-MM-DD"));
        assert!(lines[4].starts_with("{\"error\":\"line 6: not a JSON object"));
        assert!(lines[5].starts_with("{\"error\":\"line 7: not valid UTF-8"));
        assert!(lines[6].starts_with("{\"intent\":\"greeting\""));
        assert_eq!(
            summary,
            LinesSummary {
                understood: 1,
                errors: 6
            }
        );
    }

    #[test]
    fn overlong_lines_are_one_error() {
        let mut input = vec![b'x'; MAX_LINE_BYTES + 10];
        input.extend_from_slice(b"\n{\"text\":\"gracias\",\"ref_date\":\"2026-12-04\"}\n");
        let (out, summary) = run(&input);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].contains("longer than"));
        assert!(lines[1].starts_with("{\"intent\":\"thanks\""));
        assert_eq!(summary.errors, 1);
    }
}
