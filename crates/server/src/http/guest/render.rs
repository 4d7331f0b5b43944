//! Rendering: the embedded templates, the pages' headers (CSP, caching), the static assets and
//! the widget snippet.

use std::sync::LazyLock;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::Environment;
use serde::Serialize;

use crate::http::security::Embeddable;

/// The templates, by name (`.html`: auto-escaped).
const TEMPLATES: &[(&str, &str)] = &[
    (
        "_layout.html",
        include_str!("../../../templates/guest/_layout.html"),
    ),
    (
        "_calendar.html",
        include_str!("../../../templates/guest/_calendar.html"),
    ),
    (
        "index.html",
        include_str!("../../../templates/guest/index.html"),
    ),
    (
        "unit.html",
        include_str!("../../../templates/guest/unit.html"),
    ),
    (
        "reservation.html",
        include_str!("../../../templates/guest/reservation.html"),
    ),
    (
        "not_found.html",
        include_str!("../../../templates/guest/not_found.html"),
    ),
    (
        "widget.html",
        include_str!("../../../templates/guest/widget.html"),
    ),
];

const CSS: &str = include_str!("../../../templates/guest/guest.css");
const JS: &str = include_str!("../../../templates/guest/guest.js");
const WIDGET_JS: &str = include_str!("../../../templates/guest/widget.js");

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, source) in TEMPLATES {
        // A broken bundled template is caught by `templates_compile`; here it is logged and the
        // page that needs it answers 500.
        if let Err(e) = env.add_template(name, source) {
            tracing::error!(template = name, error = %e, "a bundled guest template does not compile");
        }
    }
    env
});

/// The guest pages' Content-Security-Policy: our own CSS and JS only, photos from anywhere over
/// HTTPS, forms only to ourselves, not framed (the widget is the exception).
const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' https: data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
const WIDGET_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' https: data:; form-action 'self'; base-uri 'none'; frame-ancestors *";

/// Render `template` with `ctx` as an HTML answer with `status`.
pub fn page(status: StatusCode, template: &str, ctx: impl Serialize) -> Response {
    let html = ENV
        .get_template(template)
        .and_then(|t| t.render(minijinja::Value::from(minijinja::value::Serde(&ctx))));
    let html = match html {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(template, error = %e, "guest page failed to render");
            return crate::http::Problem::internal(format_args!("template {template}: {e}"))
                .into_response();
        }
    };
    let csp = if template == "widget.html" {
        WIDGET_CSP
    } else {
        CSP
    };
    // Same-origin only: our forms' POSTs carry a real `Origin` (checked against CSRF), while no
    // other site (Mercado Pago's checkout included) ever sees a URL with a guest's token.
    let mut r = crate::http::html::page(status, html, csp, "same-origin");
    if template == "widget.html" {
        r.extensions_mut().insert(Embeddable);
    }
    r
}

use crate::http::html::asset;

/// `/static/guest.css`.
pub async fn css() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

/// `/static/guest.js`: the countdown and small comforts; every page works without it.
pub async fn js() -> Response {
    asset("text/javascript; charset=utf-8", JS)
}

/// `/widget.js`: the embeddable widget's loader (classic script, loadable from any site).
pub async fn widget_js() -> Response {
    let mut r = asset("text/javascript; charset=utf-8", WIDGET_JS);
    r.headers_mut().insert(
        header::HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("cross-origin"),
    );
    r
}

/// The snippet the owner pastes in their own site for accommodation `slug`: the script, and an
/// iframe for sites that do not allow scripts.
pub fn widget_snippet(public_url: &str, slug: &str) -> (String, String) {
    let base = public_url.trim_end_matches('/');
    (
        format!("<script src=\"{base}/widget.js\" data-posada-unit=\"{slug}\" async></script>"),
        format!(
            "<iframe src=\"{base}/reservar/{slug}/widget\" title=\"Disponibilidad y reservas\" style=\"width:100%;max-width:420px;height:540px;border:0\" loading=\"lazy\"></iframe>"
        ),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn templates_compile() {
        for (name, _) in super::TEMPLATES {
            assert!(super::ENV.get_template(name).is_ok(), "{name}");
        }
    }
}
