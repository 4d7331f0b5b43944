//! The owner's web app in headless Chromium, on both backends (issue 13): every section as the
//! owner uses it from a phone and a desktop. Each section's tests live in a module of their own;
//! this file holds what they share.

use posada_server::config::{Secret, Settings};
use serde_json::Value;

use crate::helpers::{Backend, TestApp};

/// The owner's password in these tests.
pub const PASSWORD: &str = "una clave larga del dueño";

/// A server whose owner has [`PASSWORD`], adjusted by `adjust`.
pub async fn spawn_owner_app(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let hash = posada_server::http::dashboard::hash_password(PASSWORD).unwrap();
    TestApp::spawn_with(backend, |s| {
        s.owner_password_hash = Some(Secret::new(hash));
        adjust(s);
    })
    .await
}

/// Every page shot by a scenario: no sideways scroll at 390 px, no tap target under 44 px, no
/// field without a label.
pub fn assert_owner_pages_fit(result: &Value) {
    crate::assert_no_sideways_scroll(result);
    fn walk(v: &Value, path: &str) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    if k == "a11y" {
                        assert_eq!(x, &serde_json::json!([]), "{path}: accessibility problems");
                    } else {
                        walk(x, &format!("{path}.{k}"));
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, path)),
            _ => {}
        }
    }
    walk(result, "");
}
