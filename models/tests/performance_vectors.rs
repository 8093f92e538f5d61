//! The Rust performance encoder against the vectors the Python pipeline also checks
//! (`models/testdata/performance_vectors.json`): if either side drifts, a test fails. Also
//! round-trip properties: notes come back within the 10 ms grid and the velocity bins, and any
//! decoded stream re-encodes to the same events.

use antiphon_models::StepNote;
use antiphon_models::encoding::performance::{self, TimedNote};
use serde_json::Value;

mod vectors;

use vectors::Dice as Rng;
use vectors::ints;

fn quads(notes: &[StepNote]) -> Vec<Vec<i64>> {
    notes
        .iter()
        .map(|n| {
            vec![
                i64::from(n.pitch),
                i64::from(n.velocity),
                n.start_step,
                n.end_step,
            ]
        })
        .collect()
}

fn want_quads(v: &Value) -> Vec<Vec<i64>> {
    v.as_array().unwrap().iter().map(ints).collect()
}

fn indices(v: &Value) -> Vec<usize> {
    ints(v).into_iter().map(|e| e as usize).collect()
}

fn timed(v: &Value) -> Vec<TimedNote> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|n| TimedNote {
            pitch: n[0].as_u64().unwrap() as u8,
            velocity: n[1].as_u64().unwrap() as u8,
            start: n[2].as_f64().unwrap(),
            end: n[3].as_f64().unwrap(),
        })
        .collect()
}

#[test]
fn given_the_shared_vectors_when_encoded_and_decoded_in_rust_then_every_case_matches() {
    let all = vectors::load("performance_vectors.json");
    let cases = all["cases"].as_array().unwrap();
    assert!(cases.len() >= 12, "the vectors file lost cases");
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let expected = &case["expected"];
        let notes = timed(&case["notes"]);
        let quantized: Vec<StepNote> = notes
            .iter()
            .filter_map(performance::quantize_note)
            .collect();
        assert_eq!(
            quads(&quantized),
            want_quads(&expected["quantized"]),
            "{name}: quantized"
        );
        let events = performance::notes_to_events(&notes);
        assert_eq!(events, indices(&expected["events"]), "{name}: events");
        assert_eq!(
            performance::step_notes_to_events(&quantized),
            events,
            "{name}: events from the quantized notes"
        );
        assert_eq!(
            quads(&performance::events_to_notes(&events)),
            want_quads(&expected["decoded_notes"]),
            "{name}: decoded notes"
        );
    }
}

#[test]
fn given_the_shared_decode_cases_when_decoded_in_rust_then_every_case_matches() {
    let all = vectors::load("performance_vectors.json");
    let cases = all["decode_cases"].as_array().unwrap();
    assert!(cases.len() >= 6, "the vectors file lost decode cases");
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let decoded = performance::events_to_notes(&indices(&case["events"]));
        assert_eq!(quads(&decoded), want_quads(&case["expected"]), "{name}");
    }
}

/// Random notes in seconds: up to 5 pitches, each a chain of non-overlapping notes of up to
/// 6 s with gaps up to 3 s, times off the grid by less than 4 ms.
fn random_notes(rng: &mut Rng) -> Vec<TimedNote> {
    let mut notes = Vec::new();
    for pitch in rng.distinct_pitches(5) {
        let mut t = rng.below(300) as i64;
        for _ in 0..=rng.below(4) {
            let end = t + 1 + rng.below(600) as i64;
            let jitter = |rng: &mut Rng| (rng.below(7) as f64 - 3.0) / 1000.0;
            let start_s = (t as f64 / 100.0 + jitter(rng)).max(0.0);
            let end_s = end as f64 / 100.0 + jitter(rng);
            notes.push(TimedNote {
                pitch,
                velocity: 1 + rng.below(127) as u8,
                start: start_s,
                end: end_s,
            });
            t = end + rng.below(300) as i64;
        }
    }
    notes
}

#[test]
fn given_random_notes_when_encoded_and_decoded_then_they_come_back_on_the_grid() {
    let mut rng = Rng::new(0x2545_f491_4f6c_dd1d);
    for _ in 0..300 {
        let notes = random_notes(&mut rng);
        let events = performance::notes_to_events(&notes);
        assert!(events.iter().all(|&e| e < performance::NUM_CLASSES));
        let mut got = performance::events_to_notes(&events);
        let mut want: Vec<StepNote> = notes
            .iter()
            .map(|n| {
                let q = performance::quantize_note(n).unwrap();
                // Within the grid: at most half a step (plus the jitter's rounding) away.
                assert!((q.start_step as f64 / 100.0 - n.start).abs() <= 0.005 + 1e-9);
                let velocity =
                    performance::bin_to_velocity(performance::velocity_to_bin(n.velocity));
                // Within the velocity bin: at most 3 below the played velocity.
                assert!(n.velocity >= velocity && n.velocity - velocity < 4);
                assert!(q.end_step - q.start_step <= performance::MAX_NOTE_STEPS);
                StepNote { velocity, ..q }
            })
            .collect();
        let key = |n: &StepNote| (n.start_step, n.pitch, n.end_step, n.velocity);
        got.sort_by_key(key);
        want.sort_by_key(key);
        assert_eq!(got, want, "{notes:?}");
    }
}

#[test]
fn given_any_notes_when_decoded_and_encoded_again_then_the_events_are_the_same() {
    let mut rng = Rng::new(0x1234_5678_9abc_def1);
    for _ in 0..300 {
        // Overlaps of one pitch allowed here.
        let notes: Vec<TimedNote> = (0..rng.below(8))
            .map(|_| {
                let start = rng.below(400) as f64 / 100.0;
                TimedNote {
                    pitch: 60 + rng.below(3) as u8,
                    velocity: rng.below(128) as u8,
                    start,
                    end: start + rng.below(700) as f64 / 100.0,
                }
            })
            .collect();
        let events = performance::notes_to_events(&notes);
        let again = performance::step_notes_to_events(&performance::events_to_notes(&events));
        assert_eq!(again, events, "{notes:?}");
    }
}
