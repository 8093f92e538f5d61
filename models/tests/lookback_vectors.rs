//! The Rust Lookback encoding against the vectors the Python pipeline also checks
//! (`models/testdata/lookback_vectors.json`): if either side drifts, a test fails.

use antiphon_models::encoding::lookback::{INPUT_SIZE, label, label_to_event, write_input};
use antiphon_models::encoding::melody::MelodyEvent;
use serde_json::Value;

fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/lookback_vectors.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("vectors file"))
        .expect("vectors JSON")
}

fn event(code: i64) -> MelodyEvent {
    match code {
        -2 => MelodyEvent::NoEvent,
        -1 => MelodyEvent::NoteOff,
        p => MelodyEvent::NoteOn(u8::try_from(p).expect("pitch")),
    }
}

fn events(v: &Value) -> Vec<MelodyEvent> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| event(x.as_i64().unwrap()))
        .collect()
}

fn nonzero(row: &[f32]) -> Vec<(usize, f32)> {
    row.iter()
        .enumerate()
        .filter(|(_, v)| **v != 0.0)
        .map(|(i, v)| (i, *v))
        .collect()
}

fn expected_nonzero(v: &Value) -> Vec<(usize, f32)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|pair| {
            (
                pair[0].as_u64().unwrap() as usize,
                pair[1].as_f64().unwrap() as f32,
            )
        })
        .collect()
}

#[test]
fn given_the_shared_vectors_when_encoded_in_rust_then_rows_labels_and_decoding_match() {
    let all = vectors();
    let cases = all["cases"].as_array().unwrap();
    assert!(cases.len() >= 8, "the vectors file lost cases");
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let events = events(&case["events"]);
        let expected = &case["expected"];
        for input in expected["inputs"].as_array().unwrap() {
            let position = input["position"].as_u64().unwrap() as usize;
            let mut row = vec![0.5; INPUT_SIZE];
            write_input(&events, position, &mut row);
            assert_eq!(
                nonzero(&row),
                expected_nonzero(&input["nonzero"]),
                "{name}: input row at {position}"
            );
        }
        let labels: Vec<u64> = (0..events.len())
            .map(|p| label(&events, p) as u64)
            .collect();
        let expected_labels: Vec<u64> = expected["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect();
        assert_eq!(labels, expected_labels, "{name}: labels");
        let mut decoded = Vec::new();
        for &l in &expected_labels {
            let e = label_to_event(&decoded, l as usize);
            decoded.push(e);
        }
        assert_eq!(
            decoded,
            crate::events(&expected["decoded_events"]),
            "{name}: decoded"
        );
        assert_eq!(decoded, events, "{name}: round trip");
    }
}

#[test]
fn given_the_shared_decode_cases_when_decoded_in_rust_then_each_event_matches() {
    let all = vectors();
    for d in all["decode_cases"].as_array().unwrap() {
        let history = events(&d["history"]);
        let l = d["label"].as_u64().unwrap() as usize;
        assert_eq!(
            label_to_event(&history, l),
            event(d["event"].as_i64().unwrap()),
            "{d}"
        );
    }
}
