//! The Rust drum_kit encoder against the vectors the Python pipeline also checks
//! (`models/testdata/drum_vectors.json`): if either side drifts, a test fails.

use antiphon_models::encoding::drums;

mod vectors;
use vectors::{ints, notes};

#[test]
fn given_the_shared_vectors_when_encoded_in_rust_then_every_case_matches() {
    let all = vectors::load("drum_vectors.json");
    let cases = all["cases"].as_array().unwrap();
    assert!(cases.len() >= 10, "the vectors file lost cases");
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let expected = &case["expected"];
        let events = drums::notes_to_events(&notes(&case["notes"]));
        let want: Vec<usize> = ints(&expected["events"])
            .into_iter()
            .map(|e| e as usize)
            .collect();
        assert_eq!(events, want, "{name}: events");

        let rows = expected["input_rows"].as_array().unwrap();
        assert_eq!(rows.len(), events.len(), "{name}: rows");
        let mut row = vec![0.0f32; drums::INPUT_SIZE];
        for (position, (&event, want_row)) in events.iter().zip(rows).enumerate() {
            drums::write_input(event, position, &mut row);
            let got: Vec<(usize, f64)> = row
                .iter()
                .enumerate()
                .filter(|(_, v)| **v != 0.0)
                .map(|(i, v)| (i, f64::from(*v)))
                .collect();
            let want: Vec<(usize, f64)> = want_row
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p[0].as_u64().unwrap() as usize, p[1].as_f64().unwrap()))
                .collect();
            assert_eq!(got, want, "{name}: row {position}");
        }

        let decoded: Vec<Vec<i64>> = drums::events_to_notes(&events, 0)
            .iter()
            .map(|n| vec![i64::from(n.pitch), n.start_step, n.end_step])
            .collect();
        let want: Vec<Vec<i64>> = expected["decoded_notes"]
            .as_array()
            .unwrap()
            .iter()
            .map(ints)
            .collect();
        assert_eq!(decoded, want, "{name}: decoded notes");
        assert!(
            drums::events_to_notes(&events, 0)
                .iter()
                .all(|n| n.velocity == drums::DECODE_VELOCITY)
        );
    }
}
