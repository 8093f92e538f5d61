//! The Rust chord encodings, symbol parser and recognition against the vectors the Python
//! pipeline also checks (`models/testdata/chord_vectors.json`).

use antiphon_models::encoding::chords::{self, Chord};
use serde_json::{Value, json};

mod vectors;

/// A chord as the vectors write it.
fn as_json(chord: Option<&Chord>) -> Value {
    match chord {
        None => Value::Null,
        Some(c) => json!({
            "root": c.root,
            "quality": c.quality.name(),
            "bass": c.bass,
            "pitch_classes": c.pitch_classes,
        }),
    }
}

/// Checks a chord against a case's expectations.
fn check(what: &str, chord: Option<&Chord>, expected: &Value) {
    assert_eq!(as_json(chord), expected["chord"], "{what}: chord");
    assert_eq!(
        chords::triad_index(chord) as u64,
        expected["triad_index"].as_u64().unwrap(),
        "{what}: triad index"
    );
    let mut row = vec![0.0f32; chords::PITCH_CHORD_SIZE];
    chords::write_pitch_chord(chord, &mut row);
    assert!(row.iter().all(|&v| v == 0.0 || v == 1.0), "{what}: values");
    let nonzero: Vec<u64> = (0..row.len())
        .filter(|&i| row[i] != 0.0)
        .map(|i| i as u64)
        .collect();
    let want: Vec<u64> = expected["pitch_chord_nonzero"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(nonzero, want, "{what}: pitch chord");
    let mut triad = vec![0.0f32; chords::NUM_TRIAD_CLASSES];
    chords::write_triad(chord, &mut triad);
    assert_eq!(triad[chords::triad_index(chord)], 1.0, "{what}: triad row");
}

#[test]
fn given_the_shared_symbol_vectors_when_parsed_in_rust_then_every_case_matches() {
    let all = vectors::load("chord_vectors.json");
    let cases = all["symbol_cases"].as_array().unwrap();
    assert!(cases.len() >= 10, "the vectors file lost cases");
    for case in cases {
        let symbol = case["symbol"].as_str().unwrap();
        let chord = chords::parse_symbol(symbol).unwrap();
        check(symbol, chord.as_ref(), &case["expected"]);
    }
    for bad in all["invalid_symbols"].as_array().unwrap() {
        let bad = bad.as_str().unwrap();
        assert!(
            chords::parse_symbol(bad).is_err(),
            "{bad:?} must be refused"
        );
    }
}

#[test]
fn given_the_shared_held_note_vectors_when_recognized_in_rust_then_every_case_matches() {
    let all = vectors::load("chord_vectors.json");
    let cases = all["held_cases"].as_array().unwrap();
    assert!(cases.len() >= 10, "the vectors file lost cases");
    for case in cases {
        let held: Vec<u8> = case["held"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u8)
            .collect();
        let chord = chords::recognize(&held);
        check(&format!("{held:?}"), chord.as_ref(), &case["expected"]);
    }
}
