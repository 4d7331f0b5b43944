//! `posada bench pages` end to end, small: it fills a database through the application core, logs
//! in as the owner and every page of the web app answers 200 with content, on both backends.

use posada_db::testing::TestDb;
use serde_json::Value;

use crate::cli::posada;
use crate::helpers::Backend;

async fn every_owner_page_answers_on_a_filled_database(backend: Backend) {
    let db = match backend {
        Backend::Sqlite => TestDb::sqlite().await,
        Backend::Postgres => TestDb::postgres().await,
    };
    let backend_arg = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let out = posada(
        &db.url,
        &[
            "bench",
            "pages",
            "--backend",
            backend_arg,
            "--database-url",
            &db.url,
            "--units",
            "3",
            "--reservations",
            "12",
            "--jobs",
            "50",
            "--requests",
            "3",
            "--clients",
            "1",
            "--json",
        ],
        &[],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(report["backend"], backend_arg);
    assert_eq!(report["reservations"], 12);
    assert!(report["jobs_in_table"].as_i64().unwrap() >= 50, "{report}");
    let pages = report["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 10, "{report}");
    for p in pages {
        assert_eq!(p["status"], 200, "{p}");
        assert!(p["bytes"].as_u64().unwrap() > 1000, "{p}");
        assert!(p["p95_ms"].as_f64().unwrap() > 0.0, "{p}");
    }
}

crate::on_both!(every_owner_page_answers_on_a_filled_database);
