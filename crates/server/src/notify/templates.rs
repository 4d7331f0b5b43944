//! Guest and owner messages in Spanish (es-AR), rendered with minijinja from files the owner can
//! edit without recompiling.
//!
//! Each message is one file `<template>.jinja` with blocks: `subject` (e-mail subject), `text`
//! (the plain-text body, also used for WhatsApp), optionally `html` (the e-mail's HTML body; when
//! absent it is made from `text`), `whatsapp` (a WhatsApp-specific body) and `whatsapp_params`
//! (one line per body parameter of the approved WhatsApp template of the same name, used outside
//! the 24 h window). The bundled files are compiled in, so the binary works anywhere; a file of
//! the same name in `MESSAGE_TEMPLATES_DIR` wins, and is read at every render.

use std::path::PathBuf;

use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior};
use serde_json::Value;

/// The bundled templates: (name, source).
pub const BUNDLED: &[(&str, &str)] = &[
    (
        "owner_daily_report",
        include_str!("../../templates/messages/owner_daily_report.jinja"),
    ),
    (
        "owner_alert",
        include_str!("../../templates/messages/owner_alert.jinja"),
    ),
    (
        "_email_layout",
        include_str!("../../templates/messages/_email_layout.jinja"),
    ),
    (
        "hold_created",
        include_str!("../../templates/messages/hold_created.jinja"),
    ),
    (
        "hold_payment_link",
        include_str!("../../templates/messages/hold_payment_link.jinja"),
    ),
    (
        "hold_reminder",
        include_str!("../../templates/messages/hold_reminder.jinja"),
    ),
    (
        "hold_expired",
        include_str!("../../templates/messages/hold_expired.jinja"),
    ),
    (
        "stay_confirmed",
        include_str!("../../templates/messages/stay_confirmed.jinja"),
    ),
    (
        "payment_pending",
        include_str!("../../templates/messages/payment_pending.jinja"),
    ),
    (
        "assistant_reply",
        include_str!("../../templates/messages/assistant_reply.jinja"),
    ),
    (
        "payment_rejected",
        include_str!("../../templates/messages/payment_rejected.jinja"),
    ),
    (
        "reservation_cancelled",
        include_str!("../../templates/messages/reservation_cancelled.jinja"),
    ),
    (
        "checkin_reminder",
        include_str!("../../templates/messages/checkin_reminder.jinja"),
    ),
    (
        "thanks_after_checkout",
        include_str!("../../templates/messages/thanks_after_checkout.jinja"),
    ),
    (
        "owner_new_reservation",
        include_str!("../../templates/messages/owner_new_reservation.jinja"),
    ),
    (
        "owner_stay_confirmed",
        include_str!("../../templates/messages/owner_stay_confirmed.jinja"),
    ),
    (
        "owner_reservation_cancelled",
        include_str!("../../templates/messages/owner_reservation_cancelled.jinja"),
    ),
    (
        "owner_payment_received",
        include_str!("../../templates/messages/owner_payment_received.jinja"),
    ),
    (
        "owner_conflict_alert",
        include_str!("../../templates/messages/owner_conflict_alert.jinja"),
    ),
    (
        "owner_refund_alert",
        include_str!("../../templates/messages/owner_refund_alert.jinja"),
    ),
    (
        "owner_payment_problem",
        include_str!("../../templates/messages/owner_payment_problem.jinja"),
    ),
];

/// Prefix of the auto-escaped (HTML) view of a template.
const HTML_PREFIX: &str = "html:";

/// A rendered message, every part a channel may need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedMessage {
    /// E-mail subject.
    pub subject: String,
    /// Plain text.
    pub text: String,
    /// E-mail HTML.
    pub html: String,
    /// WhatsApp free-form body.
    pub whatsapp: String,
    /// Body parameters of the approved WhatsApp template.
    pub whatsapp_params: Vec<String>,
}

/// A template could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// No such template, bundled or in the directory.
    #[error("no message template named {0:?}")]
    Unknown(String),
    /// The template has an error (syntax, filter…).
    #[error("message template {name:?}: {source:#}")]
    Template {
        /// The template.
        name: String,
        /// What minijinja said.
        #[source]
        source: minijinja::Error,
    },
}

/// Renders message templates. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Renderer {
    dir: Option<PathBuf>,
}

fn bundled(name: &str) -> Option<&'static str> {
    BUNDLED.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

impl Renderer {
    /// Templates from `dir` (when given) over the bundled ones.
    pub fn new(dir: Option<&str>) -> Renderer {
        Renderer {
            dir: dir
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(PathBuf::from),
        }
    }

    /// The source of `name`: the directory's file if present, the bundled text otherwise.
    fn source(&self, name: &str) -> Option<String> {
        if name.contains(['/', '\\', '.']) {
            return None;
        }
        if let Some(dir) = &self.dir {
            let path = dir.join(format!("{name}.jinja"));
            match std::fs::read_to_string(&path) {
                Ok(text) => return Some(text),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(template = name, error = %e, "message template file unreadable; using the bundled one");
                }
            }
        }
        bundled(name).map(str::to_string)
    }

    fn environment(&self) -> Environment<'static> {
        let mut env = Environment::new();
        if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
        {
            env.set_syntax(syntax);
        }
        env.set_undefined_behavior(UndefinedBehavior::Lenient);
        env.set_auto_escape_callback(|name| {
            if name.starts_with(HTML_PREFIX) {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        let this = self.clone();
        env.set_loader(move |name| {
            let base = name.strip_prefix(HTML_PREFIX).unwrap_or(name);
            Ok(this.source(base))
        });
        env
    }

    /// Render every part of template `name` with `data`.
    pub fn render(&self, name: &str, data: &Value) -> Result<RenderedMessage, RenderError> {
        let env = self.environment();
        let err = |source: minijinja::Error| {
            if source.kind() == ErrorKind::TemplateNotFound {
                RenderError::Unknown(name.to_string())
            } else {
                RenderError::Template {
                    name: name.to_string(),
                    source,
                }
            }
        };
        let ctx = minijinja::Value::from(minijinja::value::Serde(data));
        let template = env.get_template(name).map_err(err)?;
        let mut captured = template.render_captured(ctx.clone()).map_err(err)?;
        let block =
            |state: &mut minijinja::State<'_, '_>, block: &str| match state.render_block(block) {
                Ok(text) => Ok(Some(text.trim().to_string())),
                Err(e) if e.kind() == ErrorKind::UnknownBlock => Ok(None),
                Err(e) => Err(e),
            };
        let (subject, text, whatsapp, params) = captured
            .with_state_mut(|state| {
                Ok::<_, minijinja::Error>((
                    block(state, "subject")?,
                    block(state, "text")?,
                    block(state, "whatsapp")?,
                    block(state, "whatsapp_params")?,
                ))
            })
            .map_err(err)?;
        let text = text.unwrap_or_default();
        let subject = subject
            .map(|s| s.lines().map(str::trim).collect::<Vec<_>>().join(" "))
            .unwrap_or_default();
        let html_template = env
            .get_template(&format!("{HTML_PREFIX}{name}"))
            .map_err(err)?;
        let mut html_captured = html_template.render_captured(ctx).map_err(err)?;
        let html_body = html_captured
            .with_state_mut(|state| block(state, "html"))
            .map_err(err)?
            .unwrap_or_else(|| text_to_html(&text));
        let layout = env
            .get_template(&format!("{HTML_PREFIX}_email_layout"))
            .map_err(err)?;
        let html = layout
            .render(minijinja::context! {
                subject => &subject,
                content => minijinja::Value::from_safe_string(html_body),
            })
            .map_err(err)?;
        Ok(RenderedMessage {
            subject,
            whatsapp: whatsapp.unwrap_or_else(|| text.clone()),
            text,
            html,
            whatsapp_params: params
                .unwrap_or_default()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
        })
    }
}

/// Escape text for HTML (element content and quoted attributes).
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Plain text to HTML: escaped, paragraphs on blank lines, line breaks kept, links clickable.
pub fn text_to_html(text: &str) -> String {
    text.split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let lines: Vec<String> = p.lines().map(linkify).collect();
            format!("<p>{}</p>", lines.join("<br>\n"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn linkify(line: &str) -> String {
    line.split(' ')
        .map(|word| {
            if word.starts_with("https://") || word.starts_with("http://") {
                let e = escape_html(word);
                format!("<a href=\"{e}\">{e}</a>")
            } else {
                escape_html(word)
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn data() -> Value {
        json!({
            "code": "ABCDE-FGHJK", "guest_name": "Ana & Co", "accommodation": "Cabaña Lago",
            "check_in": "20/12/2026", "check_out": "23/12/2026", "nights": 3, "guests": 2,
            "total": "$ 150.000,00", "deposit": "$ 45.000,00", "balance": "$ 105.000,00",
            "payment_link": "https://mp.example/pay?x=1", "expires_at": "20/11/2026 15:30",
            "check_in_time": "14:00", "check_out_time": "10:00",
            "directions": "Ruta 40 km 12", "reason": "pedido del huésped",
            "photo_url": "https://img.example/a.jpg", "photo_caption": "Frente",
            "amount": "$ 45.000,00", "payment_status": "approved", "problem": "monto insuficiente"
        })
    }

    #[test]
    fn every_bundled_template_renders_with_the_reservation_data() {
        let r = Renderer::default();
        // The owner's report and alerts carry their own subject and text (rendered by the report
        // and alert jobs); every other template is about a reservation.
        let pass_through = ["owner_daily_report", "owner_alert", "assistant_reply"];
        let m = r
            .render(
                "assistant_reply",
                &serde_json::json!({"body": "¿Cuántas personas son?"}),
            )
            .unwrap();
        assert_eq!(m.whatsapp, "¿Cuántas personas son?");
        assert_eq!(m.whatsapp_params, ["¿Cuántas personas son?"]);
        for name in &pass_through[..2] {
            let m = r
                .render(
                    name,
                    &serde_json::json!({"subject": "Resumen del día", "text": "3 prerreservas"}),
                )
                .unwrap();
            assert_eq!(m.subject, "Resumen del día", "{name}");
            assert!(m.text.contains("3 prerreservas"), "{name}");
        }
        for (name, _) in BUNDLED
            .iter()
            .filter(|(n, _)| !n.starts_with('_') && !pass_through.contains(n))
        {
            let m = r.render(name, &data()).unwrap();
            assert!(!m.subject.is_empty(), "{name} subject");
            assert!(!m.text.is_empty(), "{name} text");
            assert!(m.html.contains("<html"), "{name} html");
            assert!(m.text.contains("ABCDE-FGHJK"), "{name} mentions the code");
        }
    }

    #[test]
    fn hold_created_carries_what_the_guest_needs() {
        let m = Renderer::default().render("hold_created", &data()).unwrap();
        for needle in [
            "ABCDE-FGHJK",
            "Cabaña Lago",
            "20/12/2026",
            "23/12/2026",
            "$ 150.000,00",
            "$ 45.000,00",
            "https://mp.example/pay?x=1",
            "20/11/2026 15:30",
        ] {
            assert!(m.text.contains(needle), "{needle} in {}", m.text);
        }
        // Text is not escaped; HTML is.
        assert!(m.text.contains("Ana & Co"));
        assert!(m.html.contains("Ana &amp; Co"));
        assert!(!m.whatsapp_params.is_empty());
    }

    #[test]
    fn a_file_in_the_directory_overrides_the_bundled_template() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("hold_expired.jinja"),
            "{% block subject %}Vencida {{ code }}{% endblock %}{% block text %}Se venció {{ code }}.{% endblock %}",
        )
        .unwrap();
        let r = Renderer::new(dir.path().to_str());
        let m = r.render("hold_expired", &data()).unwrap();
        assert_eq!(m.subject, "Vencida ABCDE-FGHJK");
        assert_eq!(m.text, "Se venció ABCDE-FGHJK.");
        assert_eq!(m.whatsapp, m.text);
        assert!(m.html.contains("<p>Se venció ABCDE-FGHJK.</p>"));
        // Others still come from the bundle.
        assert!(r.render("hold_created", &data()).is_ok());
    }

    #[test]
    fn unknown_templates_and_path_tricks_are_refused() {
        let r = Renderer::default();
        assert!(matches!(
            r.render("nope", &data()),
            Err(RenderError::Unknown(_))
        ));
        assert!(matches!(
            r.render("../etc/passwd", &data()),
            Err(RenderError::Unknown(_))
        ));
    }

    #[test]
    fn plain_text_becomes_paragraphs_with_links() {
        assert_eq!(
            text_to_html("Hola <b>\nPagá en https://x.example/a?b=1&c=2\n\nChau"),
            "<p>Hola &lt;b&gt;<br>\nPagá en <a href=\"https://x.example/a?b=1&amp;c=2\">https://x.example/a?b=1&amp;c=2</a></p>\n<p>Chau</p>"
        );
    }
}
