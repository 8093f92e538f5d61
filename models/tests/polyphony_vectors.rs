//! The Rust polyphony encoder against the vectors the Python pipeline also checks
//! (`models/testdata/polyphony_vectors.json`): if either side drifts, a test fails. Also a
//! round-trip property: notes with no overlap of one pitch come back exactly.

use antiphon_models::StepNote;
use antiphon_models::encoding::polyphony;

mod vectors;

use vectors::Dice as Rng;
use vectors::{ints, notes};

fn triples(notes: &[StepNote]) -> Vec<Vec<i64>> {
    notes
        .iter()
        .map(|n| vec![i64::from(n.pitch), n.start_step, n.end_step])
        .collect()
}

fn want_triples(v: &serde_json::Value) -> Vec<Vec<i64>> {
    v.as_array().unwrap().iter().map(ints).collect()
}

fn indices(v: &serde_json::Value) -> Vec<usize> {
    ints(v).into_iter().map(|e| e as usize).collect()
}

#[test]
fn given_the_shared_vectors_when_encoded_and_decoded_in_rust_then_every_case_matches() {
    let all = vectors::load("polyphony_vectors.json");
    let cases = all["cases"].as_array().unwrap();
    assert!(cases.len() >= 10, "the vectors file lost cases");
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let expected = &case["expected"];
        let events = polyphony::notes_to_events(&notes(&case["notes"]));
        assert_eq!(events, indices(&expected["events"]), "{name}: events");
        let decoded = polyphony::events_to_notes(&events, 0);
        assert_eq!(
            triples(&decoded),
            want_triples(&expected["decoded_notes"]),
            "{name}: decoded notes"
        );
        assert!(
            decoded
                .iter()
                .all(|n| n.velocity == polyphony::DECODE_VELOCITY)
        );
    }
}

#[test]
fn given_the_shared_decode_cases_when_decoded_in_rust_then_every_case_matches() {
    let all = vectors::load("polyphony_vectors.json");
    let cases = all["decode_cases"].as_array().unwrap();
    assert!(cases.len() >= 6, "the vectors file lost decode cases");
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let start = case["start_step"].as_i64().unwrap();
        let decoded = polyphony::events_to_notes(&indices(&case["events"]), start);
        assert_eq!(triples(&decoded), want_triples(&case["expected"]), "{name}");
    }
}

#[test]
fn given_the_shared_frame_cases_when_read_in_rust_then_every_case_matches() {
    let all = vectors::load("polyphony_vectors.json");
    let cases = all["frame_cases"].as_array().unwrap();
    assert!(cases.len() >= 4, "the vectors file lost frame cases");
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let frames: Vec<Vec<i64>> = case["frames"]
            .as_array()
            .unwrap()
            .iter()
            .map(ints)
            .collect();
        let got = polyphony::frames_to_notes(&frames);
        assert_eq!(triples(&got), want_triples(&case["expected"]), "{name}");
    }
}

#[test]
fn given_random_notes_without_same_pitch_overlap_when_encoded_and_decoded_then_they_come_back() {
    let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
    for _ in 0..300 {
        let mut notes = Vec::new();
        for pitch in rng.distinct_pitches(5) {
            // One pitch: back-to-back or separated notes, never overlapping.
            let mut t = rng.below(8) as i64;
            for _ in 0..=rng.below(3) {
                let end = t + 1 + rng.below(6) as i64;
                notes.push(StepNote::new(pitch, 100, t, end));
                t = end + rng.below(3) as i64;
            }
        }
        let events = polyphony::notes_to_events(&notes);
        assert!(events.iter().all(|&e| e < polyphony::NUM_CLASSES));
        let mut want = notes.clone();
        want.sort_by_key(|n| (n.start_step, std::cmp::Reverse(n.pitch)));
        assert_eq!(polyphony::events_to_notes(&events, 0), want, "{notes:?}");
    }
}
