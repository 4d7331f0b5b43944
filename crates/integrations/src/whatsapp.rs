//! WhatsApp Cloud API: sending text, images, reply buttons and approved templates through the Graph
//! API, classifying Graph errors into what the notification job should do next (fall back to a
//! template, retry later, give up), verifying `X-Hub-Signature-256` on inbound webhooks over the raw
//! body, and the webhook payload types, tolerant of fields and message kinds this code does not know.

use std::fmt;
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::redact::Secret;

/// Longest text body the API accepts, in characters.
pub const MAX_TEXT_BODY: usize = 4096;
/// Longest image caption, in characters.
pub const MAX_CAPTION: usize = 1024;
/// Longest body of an interactive (buttons) message, in characters.
pub const MAX_INTERACTIVE_BODY: usize = 1024;
/// Most reply buttons in one message.
pub const MAX_BUTTONS: usize = 3;
/// Longest reply-button title, in characters.
pub const MAX_BUTTON_TITLE: usize = 20;
/// Longest reply-button id, in characters.
pub const MAX_BUTTON_ID: usize = 256;
/// Most rows in an interactive list message.
pub const MAX_LIST_ROWS: usize = 10;
/// Longest list row title, in characters.
pub const MAX_ROW_TITLE: usize = 24;
/// Longest list row description, in characters.
pub const MAX_ROW_DESCRIPTION: usize = 72;

/// A failed send, classified for the notification job.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WhatsAppError {
    /// 131047: more than 24 h since the guest's last message; send an approved template instead.
    #[error("outside the 24 h customer-service window (code {code}): {message}")]
    OutsideWindow {
        /// Graph error code.
        code: i64,
        /// Graph's message.
        message: String,
    },
    /// 130429 (throughput) or 131056 (pair rate): retry later.
    #[error("rate limited by whatsapp (code {code}): {message}")]
    RateLimited {
        /// Graph error code.
        code: i64,
        /// Graph's message.
        message: String,
    },
    /// The number is not a WhatsApp user or is not a valid number: do not retry.
    #[error("invalid whatsapp recipient (code {code}): {message}")]
    InvalidRecipient {
        /// Graph error code.
        code: i64,
        /// Graph's message.
        message: String,
    },
    /// 5xx, timeouts, connection failures, Graph's "temporarily unavailable": retry.
    #[error("whatsapp temporarily unavailable: {message}")]
    Transient {
        /// HTTP status, when an answer came back.
        status: Option<u16>,
        /// What went wrong.
        message: String,
    },
    /// Anything else Graph refused: do not retry.
    #[error("whatsapp refused the message (status {status}, code {code:?}): {message}")]
    Permanent {
        /// HTTP status.
        status: u16,
        /// Graph error code, if any.
        code: Option<i64>,
        /// Graph's message.
        message: String,
    },
    /// The message broke a limit before being sent (body too long, too many buttons…).
    #[error("invalid whatsapp message: {0}")]
    InvalidMessage(String),
}

impl WhatsAppError {
    /// True when the same message may go through later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::RateLimited { .. } | Self::Transient { .. })
    }

    /// A short label for metrics and the outbox row: `outside_window`, `rate_limited`,
    /// `invalid_recipient`, `transient`, `permanent`, `invalid_message`.
    pub fn kind_label(&self) -> &'static str {
        match self {
            Self::OutsideWindow { .. } => "outside_window",
            Self::RateLimited { .. } => "rate_limited",
            Self::InvalidRecipient { .. } => "invalid_recipient",
            Self::Transient { .. } => "transient",
            Self::Permanent { .. } => "permanent",
            Self::InvalidMessage(_) => "invalid_message",
        }
    }

    fn from_transport(err: &reqwest::Error) -> Self {
        let kind = if err.is_timeout() {
            "timeout"
        } else if err.is_connect() {
            "connection failed"
        } else {
            "transport error"
        };
        Self::Transient {
            status: None,
            message: format!("{kind}: {err}"),
        }
    }

    /// Classifies a non-2xx Graph answer.
    pub fn from_graph_response(status: u16, body: &str) -> Self {
        let parsed: Option<Value> = serde_json::from_str(body).ok();
        let error = parsed.as_ref().and_then(|v| v.get("error"));
        let code = error.and_then(|e| e.get("code")).and_then(Value::as_i64);
        let message = error
            .and_then(|e| e.get("message"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| body.chars().take(300).collect());
        let details = error
            .and_then(|e| e.get("error_data"))
            .and_then(|d| d.get("details"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let message = if details.is_empty() {
            message
        } else {
            format!("{message} ({details})")
        };
        let about_recipient = mentions_recipient(&message);
        match code {
            Some(131_047) => Self::OutsideWindow {
                code: 131_047,
                message,
            },
            Some(c @ (130_429 | 131_056 | 80_007 | 4)) => Self::RateLimited { code: c, message },
            Some(c @ 131_026) => Self::InvalidRecipient { code: c, message },
            Some(c @ (131_009 | 100 | 131_008)) if about_recipient => {
                Self::InvalidRecipient { code: c, message }
            }
            Some(c @ (1 | 2 | 131_000 | 131_016 | 133_004)) => Self::Transient {
                status: Some(status),
                message: format!("code {c}: {message}"),
            },
            _ if status == 429 => Self::RateLimited {
                code: code.unwrap_or(0),
                message,
            },
            _ if status >= 500 => Self::Transient {
                status: Some(status),
                message,
            },
            _ => Self::Permanent {
                status,
                code,
                message,
            },
        }
    }
}

/// Whether a Graph message or detail talks about the `to` field / the phone number.
fn mentions_recipient(text: &str) -> bool {
    let lower = text.to_lowercase();
    lower.contains("'to'")
        || lower.contains("\"to\"")
        || lower.contains("to parameter")
        || lower.contains("phone")
        || lower.contains("recipient")
        || lower.contains("wa_id")
}

/// The answer to a successful send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    /// WhatsApp's message id (`wamid.…`): status webhooks refer to it.
    pub wamid: String,
}

/// A client for one WhatsApp business phone number. Cheap to clone.
#[derive(Clone)]
pub struct WhatsAppClient {
    http: reqwest::Client,
    messages_url: String,
    /// `{graph_base_url}/{api_version}`: media ids are read under it.
    graph_url: String,
    access_token: Secret,
}

/// The largest media posada downloads (WhatsApp's own limit for audio is 16 MB).
pub const MAX_MEDIA_BYTES: usize = 16 * 1024 * 1024;

impl fmt::Debug for WhatsAppClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WhatsAppClient")
            .field("messages_url", &self.messages_url)
            .field("access_token", &self.access_token)
            .finish_non_exhaustive()
    }
}

impl WhatsAppClient {
    /// A client posting to `{graph_base_url}/{api_version}/{phone_number_id}/messages`
    /// (`https://graph.facebook.com`, `v21.0` in production; a fake in tests).
    pub fn new(
        graph_base_url: &str,
        api_version: &str,
        phone_number_id: &str,
        access_token: &str,
        timeout: Duration,
    ) -> Result<Self, WhatsAppError> {
        crate::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("posada/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| WhatsAppError::InvalidMessage(format!("building HTTP client: {e}")))?;
        let graph_url = format!(
            "{}/{}",
            graph_base_url.trim_end_matches('/'),
            api_version.trim_matches('/'),
        );
        let messages_url = format!("{graph_url}/{}/messages", phone_number_id.trim_matches('/'));
        Ok(Self {
            http,
            messages_url,
            graph_url,
            access_token: Secret::new(access_token),
        })
    }

    /// Downloads an inbound message's media (a voice note, say) by its media id: Graph answers
    /// `GET /{media-id}` with a short-lived URL, which is read with the same bearer token. At most
    /// [`MAX_MEDIA_BYTES`].
    pub async fn download_media(&self, media_id: &str) -> Result<Vec<u8>, WhatsAppError> {
        if media_id.is_empty()
            || !media_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            return Err(WhatsAppError::InvalidMessage(format!(
                "{media_id:?} is not a media id"
            )));
        }
        let (status, text) = self
            .call(self.http.get(format!("{}/{media_id}", self.graph_url)))
            .await?;
        if !status.is_success() {
            return Err(WhatsAppError::from_graph_response(status.as_u16(), &text));
        }
        let url = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v.get("url").and_then(Value::as_str).map(str::to_owned))
            .ok_or_else(|| WhatsAppError::Transient {
                status: Some(status.as_u16()),
                message: "media answer without url".into(),
            })?;
        let mut response = self
            .http
            .get(&url)
            .bearer_auth(self.access_token.expose())
            .send()
            .await
            .map_err(|e| WhatsAppError::from_transport(&e))?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            return Err(WhatsAppError::from_graph_response(status.as_u16(), &text));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| WhatsAppError::from_transport(&e))?
        {
            if bytes.len() + chunk.len() > MAX_MEDIA_BYTES {
                return Err(WhatsAppError::InvalidMessage(format!(
                    "media {media_id} is larger than {MAX_MEDIA_BYTES} bytes"
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }

    /// Sends a free-form text (≤ 4096 characters); only allowed within 24 h of the guest's last message.
    pub async fn send_text(&self, to: &str, body: &str) -> Result<SentMessage, WhatsAppError> {
        check_len("text body", body, MAX_TEXT_BODY)?;
        check_not_empty("text body", body)?;
        self.send(
            to,
            "text",
            json!({"text": {"preview_url": false, "body": body}}),
        )
        .await
    }

    /// Sends an image by public URL with an optional caption (≤ 1024 characters).
    pub async fn send_image(
        &self,
        to: &str,
        link: &str,
        caption: Option<&str>,
    ) -> Result<SentMessage, WhatsAppError> {
        check_not_empty("image link", link)?;
        let mut image = json!({"link": link});
        if let Some(caption) = caption {
            check_len("caption", caption, MAX_CAPTION)?;
            image["caption"] = json!(caption);
        }
        self.send(to, "image", json!({"image": image})).await
    }

    /// Sends a text with one to three reply buttons, each `(id, title)`; the guest's tap comes back as an
    /// `interactive.button_reply` carrying the id.
    pub async fn send_buttons(
        &self,
        to: &str,
        body: &str,
        buttons: &[(&str, &str)],
    ) -> Result<SentMessage, WhatsAppError> {
        check_not_empty("buttons body", body)?;
        check_len("buttons body", body, MAX_INTERACTIVE_BODY)?;
        if buttons.is_empty() || buttons.len() > MAX_BUTTONS {
            return Err(WhatsAppError::InvalidMessage(format!(
                "{} reply buttons: between 1 and {MAX_BUTTONS} allowed",
                buttons.len()
            )));
        }
        let mut rendered = Vec::with_capacity(buttons.len());
        for (id, title) in buttons {
            check_not_empty("button id", id)?;
            check_not_empty("button title", title)?;
            check_len("button id", id, MAX_BUTTON_ID)?;
            check_len("button title", title, MAX_BUTTON_TITLE)?;
            rendered.push(json!({"type": "reply", "reply": {"id": id, "title": title}}));
        }
        let interactive = json!({
            "type": "button",
            "body": {"text": body},
            "action": {"buttons": rendered},
        });
        self.send(to, "interactive", json!({"interactive": interactive}))
            .await
    }

    /// Sends a text with a list of one to ten rows, each `(id, title, description)`, opened with
    /// the `button` label; the guest's pick comes back as an `interactive.list_reply` carrying the id.
    pub async fn send_list(
        &self,
        to: &str,
        body: &str,
        button: &str,
        rows: &[(&str, &str, &str)],
    ) -> Result<SentMessage, WhatsAppError> {
        check_not_empty("list body", body)?;
        check_len("list body", body, MAX_INTERACTIVE_BODY)?;
        check_not_empty("list button", button)?;
        check_len("list button", button, MAX_BUTTON_TITLE)?;
        if rows.is_empty() || rows.len() > MAX_LIST_ROWS {
            return Err(WhatsAppError::InvalidMessage(format!(
                "{} list rows: between 1 and {MAX_LIST_ROWS} allowed",
                rows.len()
            )));
        }
        let mut rendered = Vec::with_capacity(rows.len());
        for (id, title, description) in rows {
            check_not_empty("row id", id)?;
            check_not_empty("row title", title)?;
            check_len("row id", id, MAX_BUTTON_ID)?;
            check_len("row title", title, MAX_ROW_TITLE)?;
            check_len("row description", description, MAX_ROW_DESCRIPTION)?;
            let mut row = json!({"id": id, "title": title});
            if !description.is_empty() {
                row["description"] = json!(description);
            }
            rendered.push(row);
        }
        let interactive = json!({
            "type": "list",
            "body": {"text": body},
            "action": {"button": button, "sections": [{"title": "Opciones", "rows": rendered}]},
        });
        self.send(to, "interactive", json!({"interactive": interactive}))
            .await
    }

    /// Sends an approved template `name` in `language` (e.g. `es_AR`) with positional body parameters.
    pub async fn send_template(
        &self,
        to: &str,
        name: &str,
        language: &str,
        body_params: &[&str],
    ) -> Result<SentMessage, WhatsAppError> {
        check_not_empty("template name", name)?;
        let mut template = json!({"name": name, "language": {"code": language}});
        if !body_params.is_empty() {
            let parameters: Vec<Value> = body_params
                .iter()
                .map(|p| json!({"type": "text", "text": p}))
                .collect();
            template["components"] = json!([{"type": "body", "parameters": parameters}]);
        }
        self.send(to, "template", json!({"template": template}))
            .await
    }

    /// Send `request` to Graph with the access token; its status and body text.
    async fn call(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<(reqwest::StatusCode, String), WhatsAppError> {
        let response = request
            .bearer_auth(self.access_token.expose())
            .send()
            .await
            .map_err(|e| WhatsAppError::from_transport(&e))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| WhatsAppError::from_transport(&e))?;
        Ok((status, text))
    }

    async fn send(
        &self,
        to: &str,
        kind: &str,
        content: Value,
    ) -> Result<SentMessage, WhatsAppError> {
        let to = normalize_recipient(to)?;
        let mut body = json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": kind,
        });
        if let (Some(obj), Value::Object(extra)) = (body.as_object_mut(), content) {
            obj.extend(extra);
        }
        let (status, text) = self
            .call(self.http.post(&self.messages_url).json(&body))
            .await?;
        if !status.is_success() {
            let err = WhatsAppError::from_graph_response(status.as_u16(), &text);
            tracing::warn!(http.status = status.as_u16(), message.kind = kind, error.kind = err.kind_label(), error = %err, "whatsapp send failed");
            return Err(err);
        }
        let parsed: Value = serde_json::from_str(&text).map_err(|e| WhatsAppError::Transient {
            status: Some(status.as_u16()),
            message: format!("unreadable answer: {e}"),
        })?;
        let wamid = parsed
            .get("messages")
            .and_then(|m| m.get(0))
            .and_then(|m| m.get("id"))
            .and_then(Value::as_str)
            .ok_or_else(|| WhatsAppError::Transient {
                status: Some(status.as_u16()),
                message: "answer without messages[0].id".into(),
            })?;
        Ok(SentMessage {
            wamid: wamid.to_owned(),
        })
    }
}

/// Accepts `+54 9 11 1234-5678`, `5491112345678`…: keeps the digits, requires 8 to 15 of them (E.164).
fn normalize_recipient(to: &str) -> Result<String, WhatsAppError> {
    let digits: String = to.chars().filter(char::is_ascii_digit).collect();
    let only_formatting = to
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')' | '.'));
    if !only_formatting || !(8..=15).contains(&digits.len()) {
        return Err(WhatsAppError::InvalidMessage(format!(
            "{to:?} is not a phone number"
        )));
    }
    Ok(digits)
}

fn check_len(what: &str, text: &str, max: usize) -> Result<(), WhatsAppError> {
    let len = text.chars().count();
    if len > max {
        return Err(WhatsAppError::InvalidMessage(format!(
            "{what} has {len} characters, at most {max} allowed"
        )));
    }
    Ok(())
}

fn check_not_empty(what: &str, text: &str) -> Result<(), WhatsAppError> {
    if text.trim().is_empty() {
        return Err(WhatsAppError::InvalidMessage(format!("{what} is empty")));
    }
    Ok(())
}

/// Checks `X-Hub-Signature-256: sha256=<hex>` against HMAC-SHA256(app secret, raw body) in constant
/// time. Pass the raw bytes as received, never re-serialized JSON.
pub fn verify_signature(app_secret: &str, header: &str, raw_body: &[u8]) -> bool {
    let Some(hex_sig) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Ok(expected) = hex::decode(hex_sig.trim()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()) else {
        return false;
    };
    mac.update(raw_body);
    mac.verify_slice(&expected).is_ok()
}

/// Answers Meta's subscription handshake: the challenge to echo when `hub.mode` is `subscribe` and
/// the token matches (compared in constant time), `None` (answer 403) otherwise.
pub fn verify_subscription<'a>(
    mode: Option<&str>,
    verify_token: Option<&str>,
    challenge: Option<&'a str>,
    expected_token: &str,
) -> Option<&'a str> {
    if mode != Some("subscribe") {
        return None;
    }
    let token = verify_token?;
    let same = token.len() == expected_token.len()
        && token
            .bytes()
            .zip(expected_token.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if same { challenge } else { None }
}

/// A webhook delivery: `{"object":"whatsapp_business_account","entry":[…]}`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct WebhookPayload {
    /// `whatsapp_business_account`.
    pub object: Option<String>,
    /// One entry per business account.
    pub entry: Vec<WebhookEntry>,
}

impl WebhookPayload {
    /// Parses a delivery (after its signature was checked).
    pub fn parse(raw_body: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(raw_body)
    }

    /// Every inbound message across entries and changes, with the value it came in (for metadata and
    /// contacts).
    pub fn messages(&self) -> impl Iterator<Item = (&ChangeValue, &InboundMessage)> {
        self.values()
            .flat_map(|value| value.messages.iter().map(move |m| (value, m)))
    }

    /// Every status update across entries and changes.
    pub fn statuses(&self) -> impl Iterator<Item = (&ChangeValue, &StatusUpdate)> {
        self.values()
            .flat_map(|value| value.statuses.iter().map(move |s| (value, s)))
    }

    fn values(&self) -> impl Iterator<Item = &ChangeValue> {
        self.entry
            .iter()
            .flat_map(|e| e.changes.iter())
            .filter_map(|c| c.value.as_ref())
    }
}

/// One business account's changes.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct WebhookEntry {
    /// The business account id.
    pub id: Option<String>,
    /// The changes.
    pub changes: Vec<WebhookChange>,
}

/// One change (`field` is `messages` for everything posada cares about).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct WebhookChange {
    /// `messages`.
    pub field: Option<String>,
    /// The content.
    pub value: Option<ChangeValue>,
}

/// The content of a change.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ChangeValue {
    /// `whatsapp`.
    pub messaging_product: Option<String>,
    /// Which of our numbers received it.
    pub metadata: Option<Metadata>,
    /// Profiles of the senders.
    pub contacts: Vec<Contact>,
    /// Inbound messages.
    pub messages: Vec<InboundMessage>,
    /// Delivery updates of messages we sent.
    pub statuses: Vec<StatusUpdate>,
}

impl ChangeValue {
    /// The profile name of `wa_id`, if the delivery carried it.
    pub fn contact_name(&self, wa_id: &str) -> Option<&str> {
        self.contacts
            .iter()
            .find(|c| c.wa_id.as_deref() == Some(wa_id))
            .and_then(|c| c.profile.as_ref())
            .and_then(|p| p.name.as_deref())
    }
}

/// Our number.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Metadata {
    /// As displayed.
    pub display_phone_number: Option<String>,
    /// The Graph id of the number.
    pub phone_number_id: Option<String>,
}

/// A sender.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Contact {
    /// Their profile.
    pub profile: Option<Profile>,
    /// Their WhatsApp id (phone number digits).
    pub wa_id: Option<String>,
}

/// A sender's profile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Profile {
    /// Display name.
    pub name: Option<String>,
}

/// An inbound message.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(from = "RawMessage")]
pub struct InboundMessage {
    /// Sender's WhatsApp id.
    pub from: Option<String>,
    /// `wamid.…`: deduplicate on it.
    pub id: Option<String>,
    /// Unix seconds, as text.
    pub timestamp: Option<String>,
    /// What it carries.
    pub content: MessageContent,
}

/// What an inbound message carries.
#[derive(Debug, Clone, PartialEq)]
pub enum MessageContent {
    /// `text{body}`.
    Text {
        /// The text.
        body: String,
    },
    /// `audio{id,mime_type,sha256,voice}` (a voice note when `voice`).
    Audio {
        /// Media id.
        id: Option<String>,
        /// MIME type.
        mime_type: Option<String>,
        /// SHA-256 of the media.
        sha256: Option<String>,
        /// Recorded as a voice note.
        voice: bool,
    },
    /// `image{id,mime_type,caption?}`.
    Image {
        /// Media id.
        id: Option<String>,
        /// MIME type.
        mime_type: Option<String>,
        /// Caption.
        caption: Option<String>,
    },
    /// A tap on a reply button we sent.
    ButtonReply {
        /// The button id we chose.
        id: String,
        /// Its title.
        title: String,
    },
    /// A choice in a list we sent.
    ListReply {
        /// The row id we chose.
        id: String,
        /// Its title.
        title: String,
        /// Its description.
        description: Option<String>,
    },
    /// A tap on a template's quick-reply button: `button{payload,text}`.
    TemplateButton {
        /// The payload set in the template.
        payload: Option<String>,
        /// The button text.
        text: Option<String>,
    },
    /// A shared location.
    Location {
        /// Latitude.
        latitude: f64,
        /// Longitude.
        longitude: f64,
        /// Place name.
        name: Option<String>,
        /// Address.
        address: Option<String>,
    },
    /// A type this code does not handle (or a known type missing its content): the type name.
    Other(String),
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawMessage {
    from: Option<String>,
    id: Option<String>,
    timestamp: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    text: Option<RawText>,
    audio: Option<RawMedia>,
    image: Option<RawMedia>,
    interactive: Option<RawInteractive>,
    button: Option<RawButton>,
    location: Option<RawLocation>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawText {
    body: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawMedia {
    id: Option<String>,
    mime_type: Option<String>,
    sha256: Option<String>,
    voice: Option<bool>,
    caption: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawInteractive {
    #[serde(rename = "type")]
    kind: Option<String>,
    button_reply: Option<RawReply>,
    list_reply: Option<RawReply>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawReply {
    id: Option<String>,
    title: Option<String>,
    description: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawButton {
    payload: Option<String>,
    text: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawLocation {
    latitude: Option<f64>,
    longitude: Option<f64>,
    name: Option<String>,
    address: Option<String>,
}

impl From<RawMessage> for InboundMessage {
    fn from(raw: RawMessage) -> Self {
        let kind = raw.kind.unwrap_or_default();
        let content = match kind.as_str() {
            "text" => raw
                .text
                .and_then(|t| t.body)
                .map(|body| MessageContent::Text { body }),
            "audio" => raw.audio.map(|a| MessageContent::Audio {
                id: a.id,
                mime_type: a.mime_type,
                sha256: a.sha256,
                voice: a.voice.unwrap_or(false),
            }),
            "image" => raw.image.map(|i| MessageContent::Image {
                id: i.id,
                mime_type: i.mime_type,
                caption: i.caption,
            }),
            "interactive" => raw.interactive.and_then(|i| {
                let is_list = i.kind.as_deref() == Some("list_reply")
                    || (i.button_reply.is_none() && i.list_reply.is_some());
                if is_list {
                    i.list_reply.map(|r| MessageContent::ListReply {
                        id: r.id.unwrap_or_default(),
                        title: r.title.unwrap_or_default(),
                        description: r.description,
                    })
                } else {
                    i.button_reply.map(|r| MessageContent::ButtonReply {
                        id: r.id.unwrap_or_default(),
                        title: r.title.unwrap_or_default(),
                    })
                }
            }),
            "button" => raw.button.map(|b| MessageContent::TemplateButton {
                payload: b.payload,
                text: b.text,
            }),
            "location" => raw.location.and_then(|l| {
                Some(MessageContent::Location {
                    latitude: l.latitude?,
                    longitude: l.longitude?,
                    name: l.name,
                    address: l.address,
                })
            }),
            _ => None,
        };
        Self {
            from: raw.from,
            id: raw.id,
            timestamp: raw.timestamp,
            content: content.unwrap_or(MessageContent::Other(kind)),
        }
    }
}

/// A delivery update for a message we sent.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(from = "RawStatus")]
pub struct StatusUpdate {
    /// The `wamid` of our message.
    pub id: Option<String>,
    /// What happened.
    pub status: DeliveryStatus,
    /// Unix seconds, as text.
    pub timestamp: Option<String>,
    /// The guest's WhatsApp id.
    pub recipient_id: Option<String>,
    /// Why it failed, for `failed`.
    pub errors: Vec<StatusError>,
}

/// The delivery states WhatsApp reports (in no guaranteed order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Accepted by WhatsApp.
    Sent,
    /// On the guest's phone.
    Delivered,
    /// Read by the guest.
    Read,
    /// Could not be delivered.
    Failed,
    /// Something else (e.g. `deleted`).
    Other(String),
}

impl DeliveryStatus {
    /// The wire name.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Failed => "failed",
            Self::Other(other) => other,
        }
    }
}

/// An error attached to a `failed` status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct StatusError {
    /// Graph error code (e.g. 131047).
    pub code: Option<i64>,
    /// Short title.
    pub title: Option<String>,
    /// Message.
    pub message: Option<String>,
    /// Details.
    pub error_data: Option<StatusErrorData>,
}

/// Details of a status error.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct StatusErrorData {
    /// Human-readable details.
    pub details: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawStatus {
    id: Option<String>,
    status: Option<String>,
    timestamp: Option<String>,
    recipient_id: Option<String>,
    errors: Vec<StatusError>,
}

impl From<RawStatus> for StatusUpdate {
    fn from(raw: RawStatus) -> Self {
        let status = match raw.status.as_deref().unwrap_or("") {
            "sent" => DeliveryStatus::Sent,
            "delivered" => DeliveryStatus::Delivered,
            "read" => DeliveryStatus::Read,
            "failed" => DeliveryStatus::Failed,
            other => DeliveryStatus::Other(other.to_owned()),
        };
        Self {
            id: raw.id,
            status,
            timestamp: raw.timestamp,
            recipient_id: raw.recipient_id,
            errors: raw.errors,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_are_reduced_to_digits() {
        assert_eq!(
            normalize_recipient("+54 9 11 1234-5678").ok().as_deref(),
            Some("5491112345678")
        );
        assert!(normalize_recipient("54911abc").is_err());
        assert!(normalize_recipient("123").is_err());
    }

    #[test]
    fn subscription_handshake_echoes_challenge_only_for_the_right_token() {
        assert_eq!(
            verify_subscription(Some("subscribe"), Some("tok"), Some("42"), "tok"),
            Some("42")
        );
        assert_eq!(
            verify_subscription(Some("subscribe"), Some("bad"), Some("42"), "tok"),
            None
        );
        assert_eq!(
            verify_subscription(Some("unsubscribe"), Some("tok"), Some("42"), "tok"),
            None
        );
        assert_eq!(
            verify_subscription(Some("subscribe"), None, Some("42"), "tok"),
            None
        );
    }
}
