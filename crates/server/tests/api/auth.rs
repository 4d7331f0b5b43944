//! Authentication over HTTP: admin API tokens (none, unknown, read-only writing) and the owner's
//! dashboard login (argon2 password, cookie flags, CSRF on forms, lockout after failures).

use std::time::Duration;

use posada_server::http::middleware::OpsExt;
use serde_json::Value;

use crate::helpers::{Backend, TestApp, dashboard_login, days_from_now, eventually, login_form};
use crate::on_both;

const PASSWORD: &str = "mate-amargo-en-la-galeria";

async fn admin_tokens_are_checked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let res = app.get("/api/v1/admin/jobs").await;
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let res = app
        .client
        .get(app.url("/api/v1/admin/jobs"))
        .bearer_auth("adm_not-a-real-token")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // A read-only token reads but does not write.
    let res = app
        .client
        .get(app.url("/api/v1/admin/tasks"))
        .bearer_auth(&app.read_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = app
        .client
        .post(app.url("/api/v1/admin/queues/default/pause"))
        .bearer_auth(&app.read_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let paused = app.state.jobs().admin().paused_queues().await.unwrap();
    assert!(paused.is_empty(), "a read-only token paused {paused:?}");
    // A revoked token is refused.
    let token = "adm_soon-revoked";
    let record =
        posada_store::tokens::create(app.state.db(), "temp", "write", token, chrono::Utc::now())
            .await
            .unwrap();
    posada_store::tokens::revoke(app.state.db(), record.id, chrono::Utc::now())
        .await
        .unwrap();
    let res = app
        .client
        .get(app.url("/api/v1/admin/jobs"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn login(app: &TestApp, client: &reqwest::Client, password: &str) -> reqwest::Response {
    dashboard_login(app, client, password).await
}

/// The session cookie a successful login set (`name=value`), checking its flags; `Secure` only
/// when the public URL is https.
fn session_from(res: &reqwest::Response) -> String {
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("posada_session="))
        .expect("a session cookie");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/dashboard;"] {
        assert!(cookie.contains(flag), "cookie lacks {flag}: {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "an http install gets no Secure cookie: {cookie}"
    );
    cookie.split(';').next().unwrap().to_string()
}

fn csrf_from(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).unwrap() + marker.len();
    html[start..start + 64].to_string()
}

async fn dashboard_login_session_and_csrf(backend: Backend) {
    let hash = posada_server::http::dashboard::hash_password(PASSWORD).unwrap();
    let app = TestApp::spawn_with(backend, |s| {
        s.owner_password_hash = Some(posada_server::config::Secret::new(hash));
    })
    .await;
    app.create_accommodation("bosque", 4_000_000).await;
    let res = app
        .pre_reserve("bosque", &days_from_now(5), &days_from_now(8))
        .await;
    let code = res.json::<Value>().await.unwrap()["code"]
        .as_str()
        .unwrap()
        .to_string();
    let client = no_redirects();

    // Without a session the page sends you to the login.
    let res = client.get(app.url("/dashboard")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/dashboard/login");

    let res = login(&app, &client, "wrong").await;
    assert_eq!(res.status(), 401);
    assert!(
        !res.headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("posada_session=")),
        "no session for a wrong password"
    );

    let res = login(&app, &client, PASSWORD).await;
    assert_eq!(res.status(), 303);
    let cookie = session_from(&res);
    let res = client
        .get(app.url("/dashboard"))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let html = res.text().await.unwrap();
    assert!(html.contains(&code), "upcoming reservation listed: {html}");
    assert!(html.contains("Cabaña bosque"));
    let csrf = csrf_from(&html);

    // State-changing forms need the CSRF token.
    let res = client
        .post(app.url("/dashboard/tasks/cleanup/run"))
        .header("Cookie", &cookie)
        .form(&[("other", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = client
        .post(app.url("/dashboard/tasks/cleanup/run"))
        .header("Cookie", &cookie)
        .form(&[("csrf_token", "0".repeat(64).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = client
        .post(app.url("/dashboard/tasks/cleanup/run"))
        .header("Cookie", &cookie)
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    // The scheduler takes the request and the task runs (its request is cleared before the run
    // is recorded, so wait for the run itself).
    eventually(Duration::from_secs(15), || async {
        let task = app
            .state
            .jobs()
            .admin()
            .periodic_list()
            .await
            .ok()?
            .into_iter()
            .find(|t| t.name == "cleanup")?;
        task.last_run_at.map(|_| ())
    })
    .await;
    // Without the cookie a valid-looking form is refused.
    let res = client
        .post(app.url("/dashboard/logout"))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    // Logging out ends the session.
    let res = client
        .post(app.url("/dashboard/logout"))
        .header("Cookie", &cookie)
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let res = client
        .get(app.url("/dashboard"))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
}

async fn dashboard_lockout_after_five_failures(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // The password set through the store (what `posada admin set-password` does).
    let hash = posada_server::http::dashboard::hash_password(PASSWORD).unwrap();
    posada_store::ops::set_owner_password_hash(app.state.db(), &hash, chrono::Utc::now())
        .await
        .unwrap();
    let client = no_redirects();
    for attempt in 1..=4 {
        assert_eq!(
            login(&app, &client, "nope").await.status(),
            401,
            "attempt {attempt}"
        );
    }
    let res = login(&app, &client, "nope").await;
    assert_eq!(res.status(), 429, "the fifth failure locks");
    // Even the right password is refused while locked, with a Retry-After.
    let res = login(&app, &client, PASSWORD).await;
    assert_eq!(res.status(), 429);
    let retry: i64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 14 * 60 && retry <= 15 * 60, "retry-after {retry}");
    // The lock is per client: a lock that has run out lets the owner in again.
    app.clock.advance(chrono::Duration::minutes(16));
    let res = login(&app, &client, PASSWORD).await;
    assert_eq!(res.status(), 303);
    session_from(&res);
}

/// Issue 15 #2: the login form carries a CSRF token (a pre-session cookie and the same value in
/// the form); without it nothing is checked.
async fn login_form_carries_a_double_submitted_csrf_token(backend: Backend) {
    let hash = posada_server::http::dashboard::hash_password(PASSWORD).unwrap();
    let app = TestApp::spawn_with(backend, |s| {
        s.owner_password_hash = Some(posada_server::config::Secret::new(hash));
    })
    .await;
    let client = no_redirects();
    let (cookie, csrf) = login_form(&app, &client).await;
    assert_eq!(cookie, format!("posada_login_csrf={csrf}"));
    let post = |cookie: Option<String>, token: Option<String>| {
        let mut req = client.post(app.url("/dashboard/login"));
        if let Some(c) = cookie {
            req = req.header("Cookie", c);
        }
        let mut form = vec![("password", PASSWORD.to_string())];
        if let Some(t) = token {
            form.push(("csrf_token", t));
        }
        req.form(&form).send()
    };
    // No token, no cookie, another token, another cookie: refused before any password check.
    let refused = [
        (Some(cookie.clone()), None),
        (None, Some(csrf.clone())),
        (Some(cookie.clone()), Some("0".repeat(64))),
        (
            Some(format!("posada_login_csrf={}", "a".repeat(64))),
            Some(csrf.clone()),
        ),
    ];
    for (c, t) in refused {
        let res = post(c, t).await.unwrap();
        assert_eq!(res.status(), 403);
        assert!(
            !res.headers()
                .get_all("set-cookie")
                .iter()
                .any(|v| v.to_str().unwrap().starts_with("posada_session="))
        );
        let html = res.text().await.unwrap();
        assert!(html.contains("name=\"csrf_token\""), "a fresh form: {html}");
    }
    assert_eq!(app.state.ops().password_checks(), 0);
    // The form keeps its token on reload (several tabs keep working).
    let again = client
        .get(app.url("/dashboard/login"))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert!(again.text().await.unwrap().contains(&csrf));
    let res = post(Some(cookie), Some(csrf)).await.unwrap();
    assert_eq!(res.status(), 303);
    session_from(&res);
    assert_eq!(app.state.ops().password_checks(), 1);
}

/// Issue 15 #2: 50 parallel wrong passwords from one client get at most the allowed number of
/// argon2 checks, and the right password is refused while the lock lasts.
async fn parallel_guesses_get_no_more_checks_than_allowed(backend: Backend) {
    let hash = posada_server::http::dashboard::hash_password(PASSWORD).unwrap();
    let app = TestApp::spawn_with(backend, |s| {
        s.owner_password_hash = Some(posada_server::config::Secret::new(hash));
    })
    .await;
    let client = no_redirects();
    let (cookie, csrf) = login_form(&app, &client).await;
    let guesses = (0..50).map(|i| {
        client
            .post(app.url("/dashboard/login"))
            .header("Cookie", &cookie)
            .form(&[
                ("password", format!("guess-{i}")),
                ("csrf_token", csrf.clone()),
            ])
            .send()
    });
    let statuses: Vec<u16> = futures::future::join_all(guesses)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "{statuses:?}"
    );
    let max = posada_server::http::dashboard::MAX_FAILURES as u64;
    let checked = app.state.ops().password_checks();
    assert!(
        (1..=max).contains(&checked),
        "{checked} passwords checked for 50 parallel guesses; at most {max} allowed"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count() as u64,
        checked.saturating_sub(1),
        "{statuses:?}"
    );
    // Locked: the right password is refused without being checked.
    let res = login(&app, &client, PASSWORD).await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(app.state.ops().password_checks(), checked);
}

/// Issue 15 #10: the session cookie is `Secure` when the public URL is https, and only then (a
/// LAN install over http must be able to log in).
async fn session_cookie_is_secure_only_over_https(backend: Backend) {
    let hash = posada_server::http::dashboard::hash_password(PASSWORD).unwrap();
    let app = TestApp::spawn_with(backend, |s| {
        s.owner_password_hash = Some(posada_server::config::Secret::new(hash));
        s.posada_public_url = "https://reservas.example.com".into();
    })
    .await;
    let client = no_redirects();
    let res = login(&app, &client, PASSWORD).await;
    assert_eq!(res.status(), 303);
    let cookies: Vec<String> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("posada_session="))
        .unwrap();
    assert!(session.contains("; Secure"), "{session}");
    let form = client
        .get(app.url("/dashboard/login"))
        .send()
        .await
        .unwrap();
    let csrf_cookie = form.headers()["set-cookie"].to_str().unwrap();
    assert!(csrf_cookie.contains("; Secure"), "{csrf_cookie}");
    // Over plain http (the default test settings) `session_from` checks there is no Secure flag.
}

on_both!(
    admin_tokens_are_checked,
    dashboard_login_session_and_csrf,
    dashboard_lockout_after_five_failures,
    login_form_carries_a_double_submitted_csrf_token,
    parallel_guesses_get_no_more_checks_than_allowed,
    session_cookie_is_secure_only_over_https
);
