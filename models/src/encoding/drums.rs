//! Magenta's Drums RNN `drum_kit` encoding: one event per step, the set of drum classes struck.
//!
//! - **Classes.** Nine drum classes ([`DRUM_CLASS_NAMES`]), each a list of General MIDI drum
//!   pitches ([`DRUM_CLASS_PITCHES`]); the first pitch of a class is the one emitted when decoding.
//!   Any other pitch is ignored.
//! - **Events.** A step's event is the set of classes struck at that step, and its index is
//!   `Σ 2^bit` over those classes (bit 0 = kick … bit 8 = ride): [`NUM_EVENTS`] = 512 classes,
//!   0 = silence.
//! - **Input row** ([`INPUT_SIZE`] = 518): the event's one-hot in `0..512`, then 6 binary-counter
//!   bits of `position + 1` (the step index of the *next* event): index `512 + i` is `+1.0` when bit
//!   `i` of `position + 1` is set, otherwise `-1.0`.
//!
//! Choices where Magenta's facts leave something open (mirrored in
//! `models/python/antiphon_train/encoding_drums.py` and `models/testdata/drum_vectors.json`):
//! - **From notes.** Only a note's pitch and start step count (velocity and duration are
//!   discarded). Notes with an unknown pitch or a negative start step are ignored. The event list
//!   runs from step 0 to the last step with a known drum (inclusive); no notes → no events.
//! - **To notes.** Each set bit of an event at step `t` becomes one note of the class's first pitch
//!   from `t` to `t + 1` with velocity [`DECODE_VELOCITY`], in bit order (kick first), steps in
//!   order. The notes belong on GM channel 10 ([`DRUM_CHANNEL`] = index 9). Event indices at or
//!   above 512 keep only their low 9 bits.

use crate::notes::StepNote;

/// Number of drum classes.
pub const NUM_DRUM_CLASSES: usize = 9;

/// Number of events (class sets): `2^9`.
pub const NUM_EVENTS: usize = 1 << NUM_DRUM_CLASSES;

/// Binary-counter bits appended to the one-hot.
pub const COUNTER_BITS: usize = 6;

/// Width of one input row.
pub const INPUT_SIZE: usize = NUM_EVENTS + COUNTER_BITS;

/// MIDI channel index (0-based) of decoded drum notes: GM channel 10.
pub const DRUM_CHANNEL: u8 = 9;

/// Velocity of decoded drum notes.
pub const DECODE_VELOCITY: u8 = 100;

/// Names of the drum classes, by bit.
pub const DRUM_CLASS_NAMES: [&str; NUM_DRUM_CLASSES] = [
    "kick",
    "snare",
    "closed_hi_hat",
    "open_hi_hat",
    "low_tom",
    "mid_tom",
    "high_tom",
    "crash",
    "ride",
];

/// GM drum pitches of each class, by bit; the first pitch is the one emitted when decoding.
pub const DRUM_CLASS_PITCHES: [&[u8]; NUM_DRUM_CLASSES] = [
    &[36, 35],
    &[38, 27, 28, 31, 32, 33, 34, 37, 39, 40, 56, 65, 66, 75, 85],
    &[42, 44, 54, 68, 69, 70, 71, 73, 78, 80, 22],
    &[46, 67, 72, 74, 79, 81, 26],
    &[45, 29, 41, 43, 61, 64, 84],
    &[48, 47, 60, 63, 77, 86, 87],
    &[50, 30, 62, 76, 83],
    &[49, 52, 55, 57, 58],
    &[51, 53, 59, 82],
];

/// The drum class (bit) of a MIDI pitch, or `None` for a pitch outside every class.
pub fn drum_class_of(pitch: u8) -> Option<usize> {
    DRUM_CLASS_PITCHES
        .iter()
        .position(|pitches| pitches.contains(&pitch))
}

/// Event index of a set of drum classes (bits); repeated classes count once.
pub fn event_of_classes(classes: &[usize]) -> usize {
    classes
        .iter()
        .filter(|&&c| c < NUM_DRUM_CLASSES)
        .fold(0, |acc, &c| acc | (1 << c))
}

/// The drum classes (bits) of an event index, ascending.
pub fn classes_of_event(event: usize) -> Vec<usize> {
    (0..NUM_DRUM_CLASSES)
        .filter(|bit| event & (1 << bit) != 0)
        .collect()
}

/// Per-step events of drum notes on the step grid (see the module doc for the rules).
pub fn notes_to_events(notes: &[StepNote]) -> Vec<usize> {
    let struck: Vec<(usize, usize)> = notes
        .iter()
        .filter_map(|n| {
            let step = usize::try_from(n.start_step).ok()?;
            Some((step, drum_class_of(n.pitch)?))
        })
        .collect();
    let len = struck.iter().map(|&(step, _)| step + 1).max().unwrap_or(0);
    let mut events = vec![0; len];
    for (step, class) in struck {
        events[step] |= 1 << class;
    }
    events
}

/// Notes of per-step events: one step-long note per struck class, first pitch of the class,
/// velocity [`DECODE_VELOCITY`], steps counted from `start_step`.
pub fn events_to_notes(events: &[usize], start_step: i64) -> Vec<StepNote> {
    let mut notes = Vec::new();
    for (t, &event) in (start_step..).zip(events) {
        for class in classes_of_event(event % NUM_EVENTS) {
            notes.push(StepNote::new(
                DRUM_CLASS_PITCHES[class][0],
                DECODE_VELOCITY,
                t,
                t + 1,
            ));
        }
    }
    notes
}

/// Writes the input row of `event` at step `position` into `row` ([`INPUT_SIZE`] wide): the
/// one-hot of the event, then the ±1 binary counter of `position + 1`.
pub fn write_input(event: usize, position: usize, row: &mut [f32]) {
    row.fill(0.0);
    row[event % NUM_EVENTS] = 1.0;
    super::write_binary_counter(
        position + 1,
        &mut row[NUM_EVENTS..NUM_EVENTS + COUNTER_BITS],
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(pitch: u8, step: i64) -> StepNote {
        StepNote::new(pitch, 90, step, step + 1)
    }

    #[test]
    fn given_every_class_pitch_list_then_no_pitch_is_in_two_classes() {
        let mut seen = std::collections::HashSet::new();
        for pitches in DRUM_CLASS_PITCHES {
            for &p in pitches {
                assert!(seen.insert(p), "pitch {p} in two classes");
            }
        }
        assert_eq!(seen.len(), 63);
    }

    #[test]
    fn given_kick_snare_and_a_hat_together_when_encoded_then_the_index_is_the_sum_of_their_bits() {
        // Given kick (35, bit 0), snare (40, bit 1) and closed hat (22, bit 2) at step 2
        let notes = [hit(35, 2), hit(40, 2), hit(22, 2)];
        // When encoded
        let events = notes_to_events(&notes);
        // Then steps 0 and 1 are silent and step 2 is 1 + 2 + 4
        assert_eq!(events, vec![0, 0, 7]);
    }

    #[test]
    fn given_unknown_pitches_when_encoded_then_they_are_ignored_and_do_not_lengthen() {
        let notes = [hit(36, 0), hit(21, 5), hit(90, 3), hit(51, -1)];
        assert_eq!(notes_to_events(&notes), vec![1]);
        assert!(notes_to_events(&[hit(100, 0)]).is_empty());
    }

    #[test]
    fn given_events_when_decoded_then_each_class_gives_its_first_pitch_for_one_step() {
        // Given a kick + ride step and a silent step and a snare step
        let events = [1 + 256, 0, 2];
        // When decoded from step 4
        let notes = events_to_notes(&events, 4);
        // Then the kick and ride come first at step 4, the snare at step 6
        let got: Vec<_> = notes
            .iter()
            .map(|n| (n.pitch, n.velocity, n.start_step, n.end_step))
            .collect();
        assert_eq!(got, vec![(36, 100, 4, 5), (51, 100, 4, 5), (38, 100, 6, 7)]);
    }

    #[test]
    fn given_every_event_when_split_into_classes_and_joined_then_it_is_the_same_event() {
        for event in 0..NUM_EVENTS {
            assert_eq!(event_of_classes(&classes_of_event(event)), event);
        }
    }

    #[test]
    fn given_step_five_when_written_then_the_counter_is_six_in_plus_minus_one_bits() {
        let mut row = vec![9.0; INPUT_SIZE];
        write_input(3, 5, &mut row);
        assert_eq!(row[3], 1.0);
        assert_eq!(row.iter().take(NUM_EVENTS).sum::<f32>(), 1.0);
        // 6 = 0b000110
        assert_eq!(&row[NUM_EVENTS..], &[-1.0, 1.0, 1.0, -1.0, -1.0, -1.0]);
    }
}
