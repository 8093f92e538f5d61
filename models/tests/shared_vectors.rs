//! The Rust melody encoder against the vectors the Python pipeline also checks
//! (`models/testdata/melody_onehot_vectors.json`): if either side drifts, a test fails.

use antiphon_models::encoding::EncodingSpec;
use antiphon_models::encoding::melody::MelodyEvent;

mod vectors;
use vectors::{ints, notes};

fn event_code(e: MelodyEvent) -> i64 {
    match e {
        MelodyEvent::NoEvent => -2,
        MelodyEvent::NoteOff => -1,
        MelodyEvent::NoteOn(p) => i64::from(p),
    }
}

#[test]
fn given_the_shared_vectors_when_encoded_in_rust_then_every_case_matches() {
    let all = vectors::load("melody_onehot_vectors.json");
    let cases = all["cases"].as_array().unwrap();
    assert!(cases.len() >= 20, "the vectors file lost cases");
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let spec: EncodingSpec = serde_json::from_value(case["encoding"].clone()).unwrap();
        let EncodingSpec::MelodyOnehot(spec) = spec else {
            panic!("{name}: not a melody_onehot encoding");
        };
        let expected = &case["expected"];
        let encoded = spec.encode(&notes(&case["notes"]));
        assert_eq!(
            i64::from(encoded.key),
            expected["key"].as_i64().unwrap(),
            "{name}: key"
        );
        assert_eq!(
            i64::from(encoded.shift_semitones),
            expected["total_shift"].as_i64().unwrap(),
            "{name}: shift"
        );
        let events: Vec<i64> = encoded.events.iter().map(|&e| event_code(e)).collect();
        assert_eq!(events, ints(&expected["events"]), "{name}: events");
        let classes: Vec<i64> = encoded
            .events
            .iter()
            .map(|&e| spec.event_to_class(e) as i64)
            .collect();
        assert_eq!(classes, ints(&expected["classes"]), "{name}: classes");
        let decoded_events: Vec<MelodyEvent> = ints(&expected["classes"])
            .iter()
            .map(|&c| spec.class_to_event(c as usize))
            .collect();
        let decoded = spec.decode(&decoded_events, encoded.shift_semitones, 100);
        let decoded: Vec<Vec<i64>> = decoded
            .iter()
            .map(|n| vec![i64::from(n.pitch), n.start_step, n.end_step])
            .collect();
        let expected_decoded: Vec<Vec<i64>> = expected["decoded_notes"]
            .as_array()
            .unwrap()
            .iter()
            .map(ints)
            .collect();
        assert_eq!(decoded, expected_decoded, "{name}: decoded notes");
    }
}
