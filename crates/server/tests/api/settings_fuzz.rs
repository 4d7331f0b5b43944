//! Fuzzing the settings (issue 15, hostile input): any value of any setting from the environment,
//! and any `posada.toml` text, loads or is refused with a message that names the setting; nothing
//! panics. Each case runs `Settings::load` in a `figment::Jail` (its own environment and working
//! directory; nextest gives every test its own process).

use posada_server::config::{Kind, SPECS, Settings, SettingsError};
use proptest::prelude::*;

#[expect(clippy::result_large_err, reason = "figment::Jail's error type")]
fn load(env: &[(&str, &str)], toml: Option<&str>) -> Result<Settings, SettingsError> {
    let mut out = None;
    figment::Jail::expect_with(|jail| {
        jail.clear_env();
        if let Some(t) = toml {
            jail.create_file("posada.toml", t)?;
        }
        for (k, v) in env {
            jail.set_env(k, v);
        }
        out = Some(Settings::load());
        Ok(())
    });
    out.unwrap()
}

/// Values people and tools put in environments: numbers, booleans, blanks, signs, exponents, URLs,
/// TOML and JSON fragments, and arbitrary text (no NUL: an environment cannot hold one).
fn env_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just(" ".to_string()),
        Just("true".to_string()),
        Just("false".to_string()),
        Just("-5".to_string()),
        Just("0".to_string()),
        Just("1e3".to_string()),
        Just("18446744073709551616".to_string()),
        Just("[1, 2]".to_string()),
        Just("{a = 1}".to_string()),
        Just("\"quoted\"".to_string()),
        Just("https://example.com".to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|n| n.to_string()),
        "[^\\x00]{0,40}",
    ]
}

/// A TOML value of any type, for a key of `posada.toml`.
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        Just("18446744073709551616".to_string()),
        Just("-0".to_string()),
        Just("1.5".to_string()),
        Just("inf".to_string()),
        Just("nan".to_string()),
        Just("true".to_string()),
        Just("1979-05-27T07:32:00Z".to_string()),
        Just("[]".to_string()),
        Just("[1, \"a\"]".to_string()),
        Just("{ x = 1 }".to_string()),
        "[^\\x00\"\\\\\\n\\r]{0,30}".prop_map(|s| format!("\"{s}\"")),
        "[^\\x00\\n\\r]{0,30}",
    ]
}

fn setting() -> impl Strategy<Value = (&'static str, Kind)> {
    (0..SPECS.len()).prop_map(|i| SPECS[i])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any value for any setting: loaded, or refused with a message naming that setting. A text
    /// setting takes digits, booleans and blanks as text (issue 15 #3).
    #[test]
    fn any_environment_value_loads_or_names_its_setting((name, kind) in setting(), value in env_value()) {
        match load(&[(name, &value)], None) {
            Ok(_) => {}
            Err(e) => {
                let message = e.to_string();
                prop_assert!(message.contains(name), "{} = {:?}: {}", name, value, message);
            }
        }
        if let Kind::Number { min, max } = kind {
            let digits = value.trim();
            if let Ok(n) = digits.parse::<u64>()
                && (min..=max).contains(&n)
                && digits == n.to_string()
            {
                // In range: the number itself is never the problem.
                if let Err(e) = load(&[(name, &value)], None) {
                    prop_assert!(!e.to_string().contains("expected a whole number"), "{}", e);
                }
            }
        }
    }

    /// Numbers outside a numeric setting's range are refused naming the setting, the value and
    /// the range.
    #[test]
    fn out_of_range_numbers_name_setting_value_and_range((name, kind) in setting(), above in 1u64..1_000) {
        let Kind::Number { min, max } = kind else { return Ok(()) };
        let mut bad = vec![format!("-{above}")];
        if let Some(n) = max.checked_add(above) { bad.push(n.to_string()); }
        if min > 0 { bad.push((min - 1).to_string()); }
        for value in bad {
            let e = load(&[(name, &value)], None).err();
            let message = e.map(|e| e.to_string()).unwrap_or_default();
            prop_assert!(message.contains(name), "{} = {}: {:?}", name, value, message);
            prop_assert!(message.contains(&value), "{}", message);
            prop_assert!(message.contains(&format!("from {min} to {max}")), "{}", message);
        }
    }

    /// Any `posada.toml` text: loaded or refused, never a panic.
    #[test]
    fn any_toml_text_loads_or_is_refused(text in "[^\\x00]{0,200}") {
        let _ = load(&[], Some(&text));
    }

    /// A `posada.toml` with values of every type for real keys: loaded, or refused naming the key.
    #[test]
    fn toml_values_of_any_type_load_or_name_their_key(
        entries in proptest::collection::vec((setting(), toml_value()), 1..4)
    ) {
        let text: String = entries
            .iter()
            .map(|((name, _), v)| format!("{} = {v}\n", name.to_ascii_lowercase()))
            .collect();
        if let Err(e) = load(&[], Some(&text)) {
            let message = e.to_string().to_ascii_lowercase();
            let named = entries.iter().any(|((name, _), _)| {
                message.contains(&name.to_ascii_lowercase())
            });
            // A file that is not TOML at all is refused as a whole (naming the file's line).
            let not_toml = message.contains("posada.toml") || message.contains("toml");
            prop_assert!(named || not_toml, "{}\n{}", text, message);
        }
    }
}
