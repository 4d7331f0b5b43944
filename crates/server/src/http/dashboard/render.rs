//! Rendering the owner's pages: the embedded templates (minijinja, HTML auto-escaped by the
//! engine), the shell every page shares (menu, CSRF token, notice), the pages' headers (CSP,
//! no caching) and the static CSS and JS.
//!
//! A page module renders with [`page`]: its template extends `_layout.html` and fills the block
//! `main`; the layout gets `section` (which menu entry is current), `title`, `csrf` (for the
//! page's forms), `notice` (a one-line message after a redirect) and `live` (the kinds of live
//! events after which the page refreshes its `<main>`).

use std::sync::LazyLock;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use minijinja::{Environment, Value, context};
use serde::Serialize;

use super::session::Owner;

/// The shared templates, by name (`.html`: auto-escaped); each section module lists its own in
/// its `TEMPLATES`.
const SHARED: &[(&str, &str)] = &[
    (
        "_layout.html",
        include_str!("../../../templates/dashboard/_layout.html"),
    ),
    (
        "_macros.html",
        include_str!("../../../templates/dashboard/_macros.html"),
    ),
    (
        "login.html",
        include_str!("../../../templates/dashboard/login.html"),
    ),
    (
        "message.html",
        include_str!("../../../templates/dashboard/message.html"),
    ),
];

/// Every template: the shared ones and each section's.
fn templates() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    [
        SHARED,
        super::today::TEMPLATES,
        super::reservations::TEMPLATES,
        super::calendar::TEMPLATES,
        super::channels::TEMPLATES,
        super::units::TEMPLATES,
        super::conversations::TEMPLATES,
        super::automation::TEMPLATES,
        super::account::TEMPLATES,
    ]
    .into_iter()
    .flatten()
}

const CSS: &str = include_str!("../../../templates/dashboard/dashboard.css");
const JS: &str = include_str!("../../../templates/dashboard/dashboard.js");

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, source) in templates() {
        // A broken bundled template is caught by `templates_compile`; here it is logged and the
        // page that needs it answers 500.
        if let Err(e) = env.add_template(name, source) {
            tracing::error!(template = name, error = %e, "a bundled dashboard template does not compile");
        }
    }
    env.add_filter("money", money);
    env.add_filter("message_label", message_label);
    env.add_filter("delivery_label", delivery_label);
    env
});

/// `{{ template | message_label }}`: what an automatic message is, in the owner's words.
pub fn message_label(template: &str) -> String {
    match template {
        "assistant_reply" => "Respuesta del asistente",
        "checkin_reminder" => "Recordatorio de llegada",
        "hold_created" => "Prerreserva creada",
        "hold_expired" => "Prerreserva vencida",
        "hold_payment_link" => "Link de pago",
        "hold_reminder" => "Recordatorio de pago",
        "payment_pending" => "Pago pendiente",
        "payment_rejected" => "Pago rechazado",
        "reservation_cancelled" => "Reserva cancelada",
        "stay_confirmed" => "Estadía confirmada",
        "thanks_after_checkout" => "Agradecimiento después de la salida",
        "owner_alert" => "Alerta al dueño",
        "owner_conflict_alert" => "Aviso de conflicto de calendario",
        "owner_daily_report" => "Informe diario",
        "owner_new_reservation" => "Aviso de nueva reserva",
        "owner_payment_problem" => "Aviso de problema de pago",
        "owner_payment_received" => "Aviso de pago recibido",
        "owner_refund_alert" => "Aviso de reintegro",
        "owner_reservation_cancelled" => "Aviso de cancelación",
        "owner_stay_confirmed" => "Aviso de estadía confirmada",
        other => other,
    }
    .to_string()
}

/// `{{ status | delivery_label }}`: a message's delivery status, in the owner's words.
pub fn delivery_label(status: &str) -> String {
    match status {
        "queued" => "en cola",
        "sent" => "enviado",
        "delivered" => "entregado",
        "read" => "leído",
        "failed" => "falló",
        "not_configured" => "no enviado (canal sin configurar)",
        other => other,
    }
    .to_string()
}

/// `{{ minor | money }}`: an amount in minor units (centavos) as the owner reads it,
/// "$ 15.000" or "$ 15.000,50".
fn money(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let minor = minor.unsigned_abs();
    let units = (minor / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in units.chars().enumerate() {
        if i > 0 && (units.len() - i).is_multiple_of(3) {
            grouped.push('.');
        }
        grouped.push(c);
    }
    match minor % 100 {
        0 => format!("{sign}$ {grouped}"),
        cents => format!("{sign}$ {grouped},{cents:02}"),
    }
}

/// The owner pages' Content-Security-Policy: our own CSS and JS only, photos from anywhere over
/// HTTPS, forms and the live stream only to ourselves, never framed.
const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' https: data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The menu: (section, label, path). Every section is reachable from every page.
pub const MENU: &[(&str, &str, &str)] = &[
    ("hoy", "Hoy", "/dashboard"),
    ("calendario", "Calendario", "/dashboard/calendario"),
    ("reservas", "Reservas", "/dashboard/reservas"),
    (
        "alojamientos",
        "Alojamientos y precios",
        "/dashboard/alojamientos",
    ),
    ("canales", "Canales", "/dashboard/canales"),
    (
        "conversaciones",
        "Conversaciones",
        "/dashboard/conversaciones",
    ),
    (
        "automatizacion",
        "Automatización",
        "/dashboard/automatizacion",
    ),
    ("cuenta", "Cuenta", "/dashboard/cuenta"),
];

/// What a page tells the layout besides its own context.
#[derive(Debug, Clone, Default)]
pub struct Shell<'a> {
    /// The menu entry that is current (a `MENU` section).
    pub section: &'a str,
    /// The page's title (also the `<h1>`).
    pub title: &'a str,
    /// A one-line message to show on top ("Bloqueo creado."), usually from a redirect's
    /// `?aviso=` (a fixed key the page maps to its text: never guest data).
    pub notice: Option<&'a str>,
    /// The live event kinds (`calendar`, `reservation`, `conversation`, `feed`, `jobs`) after
    /// which the page refreshes its `<main>`; empty: not live.
    pub live: &'a [&'a str],
}

/// Render `template` for the logged-in `owner` with the page's own `ctx` (a serializable map;
/// its keys sit next to the layout's).
pub fn page(owner: &Owner, shell: Shell<'_>, template: &str, ctx: impl Serialize) -> Response {
    page_with_status(StatusCode::OK, owner, shell, template, ctx)
}

/// [`page`] with another status (a form sent back with its errors: 422).
pub fn page_with_status(
    status: StatusCode,
    owner: &Owner,
    shell: Shell<'_>,
    template: &str,
    ctx: impl Serialize,
) -> Response {
    let menu: Vec<Value> = MENU
        .iter()
        .map(|&(key, label, href)| context! { key, label, href })
        .collect();
    let ctx = context! {
        menu,
        section => shell.section,
        title => shell.title,
        notice => shell.notice,
        live => shell.live.join(" "),
        csrf => &owner.csrf,
        ..Value::from(minijinja::value::Serde(&ctx))
    };
    render(status, template, ctx)
}

/// The login page (no session yet).
pub fn login(
    status: StatusCode,
    error: Option<&str>,
    notice: Option<&str>,
    csrf: &str,
) -> Response {
    render(
        status,
        "login.html",
        context! { title => "Ingresar", error, notice, login_csrf => csrf },
    )
}

/// A page saying what went wrong with a form, with a way back to `back` (a dashboard path).
pub fn message(owner: &Owner, status: StatusCode, text: &str, back: &str) -> Response {
    page_with_status(
        status,
        owner,
        Shell {
            title: "No se pudo",
            ..Shell::default()
        },
        "message.html",
        context! { text, back },
    )
}

fn render(status: StatusCode, template: &str, ctx: Value) -> Response {
    let html = ENV.get_template(template).and_then(|t| t.render(ctx));
    let html = match html {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(template, error = %e, "dashboard page failed to render");
            return crate::http::Problem::internal(format_args!("template {template}: {e}"))
                .into_response();
        }
    };
    crate::http::html::page(status, html, CSP, "no-referrer")
}

/// `/static/dashboard.css`.
pub async fn css() -> Response {
    crate::http::html::asset("text/css; charset=utf-8", CSS)
}

/// `/static/dashboard.js`.
pub async fn js() -> Response {
    crate::http::html::asset("text/javascript; charset=utf-8", JS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_compile() {
        let mut env = Environment::new();
        for (name, source) in templates() {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn money_reads_as_pesos() {
        assert_eq!(money(1_500_000), "$ 15.000");
        assert_eq!(money(1_500_050), "$ 15.000,50");
        assert_eq!(money(99), "$ 0,99");
        assert_eq!(money(-123_456_700), "-$ 1.234.567");
    }
}
