//! A minimal real SMTP server (RFC 5321 without TLS) on 127.0.0.1 that records what it receives:
//! EHLO/HELO, AUTH PLAIN/LOGIN (any credentials), MAIL FROM, RCPT TO, DATA with dot-unstuffing, RSET,
//! NOOP, QUIT. It can refuse the next MAIL FROMs with a chosen code or drop the connection in the middle
//! of DATA. Received messages are parsed with `mail-parser` so tests can read the decoded parts.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use crate::server::{bind_local, lock};

/// Longest command or data line accepted.
const MAX_LINE: usize = 1024 * 1024;

/// A message the sink accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    /// The MAIL FROM address.
    pub from: String,
    /// The RCPT TO addresses.
    pub to: Vec<String>,
    /// The message as received (CRLF lines, dots unstuffed, final dot removed).
    pub data: Vec<u8>,
    /// The user name from AUTH, if the client authenticated.
    pub auth_user: Option<String>,
}

/// The decoded view of a received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedMail {
    /// Decoded Subject.
    pub subject: Option<String>,
    /// From header address.
    pub from: Option<String>,
    /// To header addresses.
    pub to: Vec<String>,
    /// Message-ID without angle brackets.
    pub message_id: Option<String>,
    /// The top-level content type, e.g. `multipart/alternative`.
    pub content_type: Option<String>,
    /// The decoded text/plain part.
    pub text: Option<String>,
    /// The decoded text/html part.
    pub html: Option<String>,
}

impl ReceivedMail {
    /// Parses the message; `None` if it is not a parseable message at all.
    pub fn parsed(&self) -> Option<ParsedMail> {
        use mail_parser::{MimeHeaders, PartType};
        let message = mail_parser::MessageParser::default().parse(&self.data)?;
        let mut text = None;
        let mut html = None;
        for part in &message.parts {
            match &part.body {
                PartType::Text(t) if text.is_none() => text = Some(t.to_string()),
                PartType::Html(h) if html.is_none() => html = Some(h.to_string()),
                _ => {}
            }
        }
        let addresses = |a: Option<&mail_parser::Address<'_>>| -> Vec<String> {
            a.map(|a| {
                a.iter()
                    .filter_map(|x| x.address().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
        };
        let content_type = message
            .root_part()
            .content_type()
            .map(|c| match c.subtype() {
                Some(sub) => format!("{}/{}", c.ctype(), sub),
                None => c.ctype().to_owned(),
            });
        Some(ParsedMail {
            subject: message.subject().map(str::to_owned),
            from: addresses(message.from()).into_iter().next(),
            to: addresses(message.to()),
            message_id: message.message_id().map(str::to_owned),
            content_type,
            text,
            html,
        })
    }
}

#[derive(Default)]
struct SinkState {
    messages: Vec<ReceivedMail>,
    fail_mail_from: Vec<u16>,
    close_mid_data: u32,
    connections: u32,
    hold_next: Option<crate::channel::Hold>,
}

/// The SMTP sink. Dropping it stops the server.
pub struct SmtpSink {
    port: u16,
    state: Arc<Mutex<SinkState>>,
    task: JoinHandle<()>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpSink {
    /// Starts the sink on 127.0.0.1 with a free port.
    pub async fn start() -> Self {
        let listener = bind_local().await;
        let port = match listener.local_addr() {
            Ok(addr) => addr.port(),
            Err(err) => panic!("SMTP sink has no local address: {err}"),
        };
        let state = Arc::new(Mutex::new(SinkState::default()));
        let accept_state = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                lock(&accept_state).connections += 1;
                let state = accept_state.clone();
                tokio::spawn(async move {
                    // A client hanging up is the client's business; nothing to report.
                    let _ = session(stream, state).await;
                });
            }
        });
        Self { port, state, task }
    }

    /// `127.0.0.1`.
    pub fn host(&self) -> String {
        "127.0.0.1".to_owned()
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Messages accepted so far, in order.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        lock(&self.state).messages.clone()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u32 {
        lock(&self.state).connections
    }

    /// Answers `code` (e.g. 451 to look like greylisting, 550 for a refusal) to the next `n` MAIL FROM.
    pub fn fail_next_mail_from(&self, n: usize, code: u16) {
        let mut st = lock(&self.state);
        st.fail_mail_from.extend(std::iter::repeat_n(code, n));
    }

    /// Drops the connection after the first data line of the next `n` messages.
    pub fn close_mid_data_next(&self, n: u32) {
        lock(&self.state).close_mid_data = n;
    }

    /// Holds the answer to the next message: it is recorded when its data ends, and the final
    /// `250` waits until the returned handle is released (or dropped) — a provider that accepted a
    /// message while the client has not heard so yet.
    pub fn hold_next_message(&self) -> crate::HeldRequest {
        let (held, hold) = crate::channel::hold_pair();
        lock(&self.state).hold_next = Some(hold);
        held
    }

    /// Waits (polling, at most `timeout`) until at least `n` messages arrived; returns them.
    pub async fn wait_for_messages(&self, n: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= n || tokio::time::Instant::now() >= deadline {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

struct Envelope {
    from: Option<String>,
    to: Vec<String>,
}

async fn session(stream: TcpStream, state: Arc<Mutex<SinkState>>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut envelope = Envelope {
        from: None,
        to: Vec::new(),
    };
    let mut auth_user: Option<String> = None;
    write
        .write_all(b"220 posada-testkit ESMTP ready\r\n")
        .await?;
    let mut line = Vec::new();
    loop {
        if !read_line(&mut reader, &mut line).await? {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&line).trim_end().to_owned();
        let upper = text.to_ascii_uppercase();
        let verb = upper.split_whitespace().next().unwrap_or("").to_owned();
        let reply: String = match verb.as_str() {
            "EHLO" => "250-posada-testkit greets you\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-AUTH PLAIN LOGIN\r\n250 SIZE 33554432\r\n".into(),
            "HELO" => "250 posada-testkit\r\n".into(),
            "NOOP" => "250 OK\r\n".into(),
            "RSET" => {
                envelope = Envelope { from: None, to: Vec::new() };
                "250 OK\r\n".into()
            }
            "QUIT" => {
                write.write_all(b"221 Bye\r\n").await?;
                return Ok(());
            }
            "AUTH" => match authenticate(&text, &mut reader, &mut write).await? {
                Some(user) => {
                    auth_user = Some(user);
                    "235 2.7.0 Authentication successful\r\n".into()
                }
                None => "535 5.7.8 Authentication credentials invalid\r\n".into(),
            },
            "MAIL" => {
                let refusal = {
                    let mut st = lock(&state);
                    if st.fail_mail_from.is_empty() { None } else { Some(st.fail_mail_from.remove(0)) }
                };
                match (refusal, path_argument(&text, "FROM:")) {
                    (Some(code), _) => format!("{code} 4.7.1 Refused by the test (try again later)\r\n"),
                    (None, Some(from)) => {
                        envelope = Envelope { from: Some(from), to: Vec::new() };
                        "250 OK\r\n".into()
                    }
                    (None, None) => "501 Syntax: MAIL FROM:<address>\r\n".into(),
                }
            }
            "RCPT" => match (&envelope.from, path_argument(&text, "TO:")) {
                (None, _) => "503 Need MAIL first\r\n".into(),
                (Some(_), Some(to)) => {
                    envelope.to.push(to);
                    "250 OK\r\n".into()
                }
                (Some(_), None) => "501 Syntax: RCPT TO:<address>\r\n".into(),
            },
            "DATA" => {
                if envelope.from.is_none() || envelope.to.is_empty() {
                    "503 Need MAIL and RCPT first\r\n".into()
                } else {
                    write.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n").await?;
                    let close_now = {
                        let mut st = lock(&state);
                        if st.close_mid_data > 0 {
                            st.close_mid_data -= 1;
                            true
                        } else {
                            false
                        }
                    };
                    if close_now {
                        // Read one line so the client is mid-transfer, then vanish.
                        read_line(&mut reader, &mut line).await?;
                        return Ok(());
                    }
                    let Some(data) = read_data(&mut reader).await? else {
                        return Ok(());
                    };
                    let mail = ReceivedMail {
                        from: envelope.from.take().unwrap_or_default(),
                        to: std::mem::take(&mut envelope.to),
                        data,
                        auth_user: auth_user.clone(),
                    };
                    let hold = {
                        let mut st = lock(&state);
                        st.messages.push(mail);
                        st.hold_next.take()
                    };
                    if let Some(hold) = hold {
                        let _ = hold.arrived.send(());
                        let _ = hold.release.await;
                    }
                    "250 OK: queued\r\n".into()
                }
            }
            _ => "502 Command not implemented\r\n".into(),
        };
        write.write_all(reply.as_bytes()).await?;
    }
}

/// Reads one line including its terminator; false at end of stream.
async fn read_line<R: AsyncBufReadExt + Unpin>(
    reader: &mut R,
    line: &mut Vec<u8>,
) -> std::io::Result<bool> {
    line.clear();
    let n = reader.read_until(b'\n', line).await?;
    if line.len() > MAX_LINE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "line too long",
        ));
    }
    Ok(n > 0)
}

/// Reads DATA up to the lone dot; `None` if the client hung up first.
async fn read_data<R: AsyncBufReadExt + Unpin>(reader: &mut R) -> std::io::Result<Option<Vec<u8>>> {
    let mut data = Vec::new();
    let mut line = Vec::new();
    loop {
        if !read_line(reader, &mut line).await? {
            return Ok(None);
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok(Some(data));
        }
        let unstuffed = if line.starts_with(b"..") {
            &line[1..]
        } else {
            &line[..]
        };
        data.extend_from_slice(unstuffed);
    }
}

/// `MAIL FROM:<a@b> SIZE=…` → `a@b`.
fn path_argument(command: &str, keyword: &str) -> Option<String> {
    let upper = command.to_ascii_uppercase();
    let start = upper.find(keyword)? + keyword.len();
    let rest = command[start..].trim_start();
    let rest = rest.strip_prefix('<')?;
    let end = rest.find('>')?;
    Some(rest[..end].to_owned())
}

async fn authenticate<R, W>(
    command: &str,
    reader: &mut R,
    write: &mut W,
) -> std::io::Result<Option<String>>
where
    R: AsyncBufReadExt + Unpin,
    W: AsyncWriteExt + Unpin,
{
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut parts = command.split_whitespace().skip(1);
    let mechanism = parts.next().unwrap_or("").to_ascii_uppercase();
    let initial = parts.next().map(str::to_owned);
    let mut line = Vec::new();
    let mut ask =
        async |prompt: &str, reader: &mut R, line: &mut Vec<u8>| -> std::io::Result<String> {
            write
                .write_all(format!("334 {prompt}\r\n").as_bytes())
                .await?;
            read_line(reader, line).await?;
            Ok(String::from_utf8_lossy(line).trim().to_owned())
        };
    match mechanism.as_str() {
        "PLAIN" => {
            let encoded = match initial {
                Some(i) => i,
                None => ask("", reader, &mut line).await?,
            };
            let decoded = b64.decode(encoded.as_bytes()).unwrap_or_default();
            let mut fields = decoded.split(|b| *b == 0);
            let _authzid = fields.next();
            let user = fields
                .next()
                .map(|u| String::from_utf8_lossy(u).into_owned());
            Ok(user.filter(|u| !u.is_empty()))
        }
        "LOGIN" => {
            let user = match initial {
                Some(i) => i,
                None => ask("VXNlcm5hbWU6", reader, &mut line).await?,
            };
            let _password = ask("UGFzc3dvcmQ6", reader, &mut line).await?;
            let user = b64
                .decode(user.as_bytes())
                .ok()
                .map(|u| String::from_utf8_lossy(&u).into_owned());
            Ok(user.filter(|u| !u.is_empty()))
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_argument_reads_the_address() {
        assert_eq!(
            path_argument("MAIL FROM:<a@b.com> SIZE=10", "FROM:").as_deref(),
            Some("a@b.com")
        );
        assert_eq!(
            path_argument("rcpt to: <x@y>", "TO:").as_deref(),
            Some("x@y")
        );
        assert_eq!(path_argument("MAIL FROM:a@b", "FROM:"), None);
    }
}
