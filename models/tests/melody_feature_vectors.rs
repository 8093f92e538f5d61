//! The Rust Lookback and KeyMelody encodings against the vectors the Python pipeline also checks
//! (`models/testdata/lookback_vectors.json`, `models/testdata/key_melody_vectors.json`): if
//! either side drifts, a test fails.

use antiphon_models::encoding::melody::MelodyEvent;
use antiphon_models::encoding::{key_melody, lookback};
use serde_json::Value;

mod vectors;

/// One melody feature encoding, by its functions.
struct Encoding {
    /// Its vectors file in `models/testdata/`.
    vectors: &'static str,
    /// Width of an input row.
    input_size: usize,
    /// Writes the input row of a position.
    write_input: fn(&[MelodyEvent], usize, &mut [f32]),
    /// The label of a position.
    label: fn(&[MelodyEvent], usize) -> usize,
    /// The event a label stands for after a history.
    label_to_event: fn(&[MelodyEvent], usize) -> MelodyEvent,
}

const LOOKBACK: Encoding = Encoding {
    vectors: "lookback_vectors.json",
    input_size: lookback::INPUT_SIZE,
    write_input: lookback::write_input,
    label: lookback::label,
    label_to_event: lookback::label_to_event,
};

const KEY_MELODY: Encoding = Encoding {
    vectors: "key_melody_vectors.json",
    input_size: key_melody::INPUT_SIZE,
    write_input: key_melody::write_input,
    label: key_melody::label,
    label_to_event: key_melody::label_to_event,
};

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

/// Checks every case and decode case of an encoding's vectors file.
fn check(encoding: &Encoding, min_cases: usize) {
    let all = vectors::load(encoding.vectors);
    let cases = all["cases"].as_array().unwrap();
    assert!(cases.len() >= min_cases, "{} lost cases", encoding.vectors);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let events = events(&case["events"]);
        let expected = &case["expected"];
        for input in expected["inputs"].as_array().unwrap() {
            let position = input["position"].as_u64().unwrap() as usize;
            let mut row = vec![0.5; encoding.input_size];
            (encoding.write_input)(&events, position, &mut row);
            assert_eq!(
                nonzero(&row),
                expected_nonzero(&input["nonzero"]),
                "{name}: input row at {position}"
            );
        }
        let labels: Vec<u64> = (0..events.len())
            .map(|p| (encoding.label)(&events, p) as u64)
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
            let e = (encoding.label_to_event)(&decoded, l as usize);
            decoded.push(e);
        }
        assert_eq!(
            decoded,
            crate::events(&expected["decoded_events"]),
            "{name}: decoded"
        );
        assert_eq!(decoded, events, "{name}: round trip");
    }
    for d in all["decode_cases"].as_array().unwrap() {
        let history = events(&d["history"]);
        let l = d["label"].as_u64().unwrap() as usize;
        assert_eq!(
            (encoding.label_to_event)(&history, l),
            event(d["event"].as_i64().unwrap()),
            "{d}"
        );
    }
}

#[test]
fn given_the_shared_lookback_vectors_when_encoded_in_rust_then_rows_labels_and_decoding_match() {
    check(&LOOKBACK, 8);
}

#[test]
fn given_the_shared_key_melody_vectors_when_encoded_in_rust_then_rows_labels_and_decoding_match() {
    check(&KEY_MELODY, 10);
}
