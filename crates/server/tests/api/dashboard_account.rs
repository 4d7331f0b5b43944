//! Cuenta: the owner changes the password from the web app.

use posada_server::config::Secret;

use crate::helpers::{Backend, TestApp, dashboard_cookie, dashboard_login};

const PASSWORD: &str = "una clave larga del dueño";
const NEW: &str = "otra clave, más larga todavía";

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn page(app: &TestApp, client: &reqwest::Client, cookie: &str, path: &str) -> (u16, String) {
    let res = client
        .get(app.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).unwrap() + marker.len();
    html[start..start + 64].to_string()
}

async fn the_owner_changes_the_password(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // A stored password, as `posada admin set-password` leaves it.
    let phc = posada_server::app::owner::hash_password(PASSWORD).unwrap();
    posada_store::ops::set_owner_password_hash(app.state.db(), &phc, app.state.now())
        .await
        .unwrap();
    let client = no_redirects();
    let cookie = dashboard_cookie(&app, &client, PASSWORD).await;
    let (status, html) = page(&app, &client, &cookie, "/dashboard/cuenta").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Contraseña nueva (al menos 10 caracteres)"),
        "{html}"
    );
    let csrf = csrf_of(&html);
    let change = |fields: Vec<(&'static str, &'static str)>| {
        let client = client.clone();
        let cookie = cookie.clone();
        let url = app.url("/dashboard/cuenta/contrasena");
        async move {
            let res = client
                .post(url)
                .header("cookie", cookie)
                .form(&fields)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let location = res
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_string());
            (status, location, res.text().await.unwrap())
        }
    };
    let csrf: &'static str = Box::leak(csrf.into_boxed_str());
    // Without the session's CSRF token: refused.
    let (status, _, _) = change(vec![
        ("actual", PASSWORD),
        ("nueva", NEW),
        ("repetida", NEW),
    ])
    .await;
    assert_eq!(status, 403);
    // Each mistake is named next to its field, and the password stays.
    for (fields, message) in [
        (
            vec![
                ("actual", PASSWORD),
                ("nueva", "corta"),
                ("repetida", "corta"),
            ],
            "al menos 10 caracteres",
        ),
        (
            vec![
                ("actual", PASSWORD),
                ("nueva", NEW),
                ("repetida", "otra cosa distinta"),
            ],
            "no coinciden",
        ),
        (
            vec![
                ("actual", "no es la actual"),
                ("nueva", NEW),
                ("repetida", NEW),
            ],
            "La contraseña actual no es correcta.",
        ),
    ] {
        let mut fields = fields;
        fields.push(("csrf_token", csrf));
        let (status, _, html) = change(fields).await;
        assert_eq!(status, 422, "{message}");
        assert!(html.contains(message), "{message}: {html}");
    }
    let (status, location, _) = change(vec![
        ("csrf_token", csrf),
        ("actual", PASSWORD),
        ("nueva", NEW),
        ("repetida", NEW),
    ])
    .await;
    assert_eq!(status, 303);
    assert_eq!(
        location.as_deref(),
        Some("/dashboard/login?aviso=contrasena")
    );
    // Every session ended, this one too; the login says why.
    let (status, _) = page(&app, &client, &cookie, "/dashboard").await;
    assert_eq!(status, 303);
    let html = client
        .get(app.url("/dashboard/login?aviso=contrasena"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("ingresá con la nueva"), "{html}");
    assert_eq!(
        dashboard_login(&app, &no_redirects(), PASSWORD)
            .await
            .status(),
        401
    );
    assert_eq!(
        dashboard_login(&app, &no_redirects(), NEW).await.status(),
        303
    );
    app.stop().await;
}

/// With `OWNER_PASSWORD_HASH` the password belongs to the configuration: the page says so and
/// the form is refused.
async fn a_configured_password_is_changed_in_the_configuration(backend: Backend) {
    let hash = posada_server::http::dashboard::hash_password(PASSWORD).unwrap();
    let app = TestApp::spawn_with(backend, |s| {
        s.owner_password_hash = Some(Secret::new(hash));
    })
    .await;
    let client = no_redirects();
    let cookie = dashboard_cookie(&app, &client, PASSWORD).await;
    let (_, html) = page(&app, &client, &cookie, "/dashboard/cuenta").await;
    assert!(html.contains("OWNER_PASSWORD_HASH"), "{html}");
    let res = client
        .post(app.url("/dashboard/cuenta/contrasena"))
        .header("cookie", &cookie)
        .form(&[
            ("csrf_token", csrf_of(&html).as_str()),
            ("actual", PASSWORD),
            ("nueva", NEW),
            ("repetida", NEW),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    assert_eq!(dashboard_login(&app, &client, PASSWORD).await.status(), 303);
    app.stop().await;
}

crate::on_both!(
    the_owner_changes_the_password,
    a_configured_password_is_changed_in_the_configuration
);
