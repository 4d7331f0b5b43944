//! The JSON-lines interface end to end: the corpus file piped in as it is gives one answer per
//! message, equal to [`understand`]'s.

use chrono::NaiveDate;
use posada_assistant::{understand, understand_json_lines};
use serde_json::Value;

#[test]
fn the_corpus_file_can_be_piped_in() {
    let corpus = include_str!("../corpus.jsonl");
    let mut out = Vec::new();
    let summary = understand_json_lines(corpus.as_bytes(), &mut out).unwrap();
    let out = String::from_utf8(out).unwrap();
    let inputs: Vec<&str> = corpus.lines().filter(|l| !l.trim().is_empty()).collect();
    let outputs: Vec<&str> = out.lines().collect();
    assert_eq!(outputs.len(), inputs.len());
    assert_eq!(summary.errors, 0);
    for (input, output) in inputs.iter().zip(outputs) {
        let input: Value = serde_json::from_str(input).unwrap();
        let text = input["text"].as_str().unwrap();
        let r: NaiveDate = input["ref_date"].as_str().unwrap().parse().unwrap();
        let expected = serde_json::to_string(&understand(text, r)).unwrap();
        assert_eq!(output, expected);
        let mut keys: Vec<String> = serde_json::from_str::<Value>(output)
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "accommodation",
                "check_in",
                "check_out",
                "guests",
                "intent",
                "nights"
            ]
        );
        assert!(output.starts_with("{\"intent\":"));
    }
}
