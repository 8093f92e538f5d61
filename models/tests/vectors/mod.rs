//! Reading the shared test vectors in `models/testdata/` (the files the Python tests read too).

// Each test crate uses the helpers it needs.
#![allow(dead_code)]

use antiphon_models::StepNote;
use serde_json::Value;

/// The parsed vectors file `models/testdata/<name>`.
pub fn load(name: &str) -> Value {
    let path = format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A JSON array of integers.
pub fn ints(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect()
}

/// `[pitch, start_step, end_step]` notes (velocity 100).
pub fn notes(v: &Value) -> Vec<StepNote> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let n = ints(n);
            StepNote::new(n[0] as u8, 100, n[1], n[2])
        })
        .collect()
}

/// A seeded random source for property tests: the same numbers on every machine.
pub struct Dice(antiphon_models::Rng);

impl Dice {
    /// Dice seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self(antiphon_models::Rng::seeded(seed))
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0.next_u64() % n
    }

    /// Up to `max_count` distinct MIDI pitches (0..=127), in the order drawn.
    pub fn distinct_pitches(&mut self, max_count: u64) -> Vec<u8> {
        let mut pitches = Vec::new();
        for _ in 0..self.below(max_count + 1) {
            let pitch = self.below(128) as u8;
            if !pitches.contains(&pitch) {
                pitches.push(pitch);
            }
        }
        pitches
    }
}
