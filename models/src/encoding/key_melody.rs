//! Magenta's KeyMelody encoding of a melody (Attention RNN), over pitches 48..84 (the range of
//! [`super::melody::MelodyOneHot::BASIC`]) at 16 steps per bar.
//!
//! Input row of a position `pos` ([`INPUT_SIZE`] = 74), from the events `0..=pos`:
//! - `[0, 36)`: one-hot of the sounding pitch (`pitch - 48`): the last note-on, held through
//!   no-events, ended by a note-off; `36` = a note is sounding, `37` = silence;
//! - `38`: the event at `pos` is a note-on (an attack);
//! - `39`: direction of the last pitch change between note-ons: `+1.0` up, `-1.0` down, `0.0`
//!   before any change (a repeated pitch keeps the direction; note-offs do not reset it);
//! - `40` / `41`: the event at `pos` equals the event 16 / 32 steps earlier;
//! - `[42, 49)`: the 7 low bits of `pos + 1` (the melody's length so far), bit `i` at `42 + i`,
//!   `+1.0` when set and `-1.0` when clear;
//! - `49`: the next step starts a bar (`(pos + 1) % 16 == 0`);
//! - `[50, 62)`: flag `k` is set when the major key `k` (0 = C) has the highest score, ties all
//!   set, where the score of `k` is the number of note-ons in `0..=pos` whose pitch class is in
//!   the major scale of `k`; with no note-on every score is 0 and all twelve flags are set;
//! - `[62, 74)`: the same for the last 3 distinct pitches played (each counted once; a pitch
//!   played again moves to the most recent place).
//!
//! Labels ([`NUM_CLASSES`] = 40): `0..36` note-on of pitch `48 + label`, `36` no-event, `37`
//! note-off, `38` / `39` "repeat the event 16 / 32 steps back". A 2-bar repeat beats a 1-bar
//! repeat beats the literal event; during the first 32 steps a no-event is labelled `39`.
//! Decoding `38` / `39` copies the event 16 / 32 steps back, or a no-event when the history is
//! shorter, so decoding each label against the events before it gives the events back.
//!
//! Open points of the reference and what we chose (the Python twin and
//! `models/testdata/key_melody_vectors.json` agree):
//! - the attack flag is set exactly when the event at `pos` is a note-on (Magenta's code also
//!   leaves it set on a note-off that directly follows a note-on; we do not);
//! - a label outside `0..40` is an error of the caller: it decodes to a no-event here (debug
//!   builds assert) and raises `ValueError` in Python; note-ons outside the range are an error of
//!   the caller and are clamped into it.

use super::lookback::{LOOKBACK_DISTANCES, event_back, repeat_label, repeats};
use super::melody::MelodyEvent;

/// Lowest pitch of the encoding.
pub const MIN_PITCH: u8 = 48;
/// One above the highest pitch of the encoding.
pub const MAX_PITCH: u8 = 84;
/// Number of pitches (36).
const NOTE_RANGE: usize = (MAX_PITCH - MIN_PITCH) as usize;
/// Bits of the binary counter.
pub const COUNTER_BITS: usize = 7;
/// Steps per bar (for the bar-start flag).
pub const STEPS_PER_BAR: usize = 16;
/// Width of one input row (74).
pub const INPUT_SIZE: usize =
    NOTE_RANGE + 2 + 1 + 1 + LOOKBACK_DISTANCES.len() + COUNTER_BITS + 1 + 12 + 12;
/// Number of labels (40).
pub const NUM_CLASSES: usize = NOTE_RANGE + 2 + LOOKBACK_DISTANCES.len();

/// Label of a no-event.
const NO_EVENT_LABEL: usize = NOTE_RANGE;
/// Label of a note-off.
const NOTE_OFF_LABEL: usize = NOTE_RANGE + 1;
/// Intervals of the major scale above its tonic.
const MAJOR_SCALE: [u8; 7] = [0, 2, 4, 5, 7, 9, 11];

/// Offset of a pitch in the pitch one-hot (and its note-on label).
fn pitch_index(pitch: u8) -> usize {
    debug_assert!((MIN_PITCH..MAX_PITCH).contains(&pitch));
    usize::from(pitch.clamp(MIN_PITCH, MAX_PITCH - 1) - MIN_PITCH)
}

/// Sets `flags[k]` for each major key `k` with the highest count of `pitches` in its scale.
fn write_key_flags(pitches: impl Iterator<Item = u8> + Clone, flags: &mut [f32]) {
    let scores: Vec<usize> = (0..12u8)
        .map(|key| {
            pitches
                .clone()
                .filter(|p| MAJOR_SCALE.contains(&((p % 12 + 12 - key) % 12)))
                .count()
        })
        .collect();
    let best = scores.iter().copied().max().unwrap_or(0);
    for (flag, &score) in flags.iter_mut().zip(&scores) {
        if score == best {
            *flag = 1.0;
        }
    }
}

/// Writes the input row of `position` into `row` ([`INPUT_SIZE`] wide).
pub fn write_input(events: &[MelodyEvent], position: usize, row: &mut [f32]) {
    row.fill(0.0);
    let history = &events[..=position];
    let mut sounding: Option<u8> = None;
    let mut direction = 0.0f32;
    // Distinct pitches, most recent last, at most 3.
    let mut last_3: Vec<u8> = Vec::with_capacity(4);
    for &event in history {
        match event {
            MelodyEvent::NoEvent => {}
            MelodyEvent::NoteOff => sounding = None,
            MelodyEvent::NoteOn(p) => {
                sounding = Some(p);
                if let Some(&last) = last_3.last() {
                    if p > last {
                        direction = 1.0;
                    } else if p < last {
                        direction = -1.0;
                    }
                }
                last_3.retain(|&q| q != p);
                last_3.push(p);
                if last_3.len() > 3 {
                    last_3.remove(0);
                }
            }
        }
    }
    match sounding {
        Some(p) => {
            row[pitch_index(p)] = 1.0;
            row[NOTE_RANGE] = 1.0;
        }
        None => row[NOTE_RANGE + 1] = 1.0,
    }
    let mut offset = NOTE_RANGE + 2;
    if matches!(events[position], MelodyEvent::NoteOn(_)) {
        row[offset] = 1.0;
    }
    row[offset + 1] = direction;
    offset += 2;
    for (i, distance) in LOOKBACK_DISTANCES.into_iter().enumerate() {
        if repeats(events, position, distance) {
            row[offset + i] = 1.0;
        }
    }
    offset += LOOKBACK_DISTANCES.len();
    let length = position + 1;
    super::write_binary_counter(length, &mut row[offset..offset + COUNTER_BITS]);
    offset += COUNTER_BITS;
    if length.is_multiple_of(STEPS_PER_BAR) {
        row[offset] = 1.0;
    }
    offset += 1;
    let note_ons = history.iter().filter_map(|e| match e {
        MelodyEvent::NoteOn(p) => Some(*p),
        _ => None,
    });
    write_key_flags(note_ons, &mut row[offset..offset + 12]);
    offset += 12;
    write_key_flags(last_3.iter().copied(), &mut row[offset..offset + 12]);
}

/// The label of the event at `position`.
pub fn label(events: &[MelodyEvent], position: usize) -> usize {
    if let Some(i) = repeat_label(events, position) {
        return NOTE_RANGE + 2 + i;
    }
    match events[position] {
        MelodyEvent::NoEvent => NO_EVENT_LABEL,
        MelodyEvent::NoteOff => NOTE_OFF_LABEL,
        MelodyEvent::NoteOn(p) => pitch_index(p),
    }
}

/// The event a label stands for, after the events `events_so_far`.
pub fn label_to_event(events_so_far: &[MelodyEvent], label: usize) -> MelodyEvent {
    debug_assert!(label < NUM_CLASSES);
    match label {
        l if l < NOTE_RANGE => MelodyEvent::NoteOn(MIN_PITCH + l as u8),
        NO_EVENT_LABEL => MelodyEvent::NoEvent,
        NOTE_OFF_LABEL => MelodyEvent::NoteOff,
        l if l < NUM_CLASSES => event_back(events_so_far, LOOKBACK_DISTANCES[l - NOTE_RANGE - 2]),
        _ => MelodyEvent::NoEvent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use MelodyEvent::{NoEvent, NoteOff, NoteOn};

    fn row(events: &[MelodyEvent], position: usize) -> Vec<f32> {
        let mut row = vec![7.0; INPUT_SIZE];
        write_input(events, position, &mut row);
        row
    }

    #[test]
    fn given_the_reference_sizes_when_computed_then_input_is_74_and_labels_40() {
        assert_eq!(INPUT_SIZE, 74);
        assert_eq!(NUM_CLASSES, 40);
    }

    #[test]
    fn given_a_single_c_when_encoded_then_it_sounds_attacks_and_c_f_g_keys_are_set() {
        let r = row(&[NoteOn(60)], 0);
        assert_eq!(r[12], 1.0);
        assert_eq!(r[36], 1.0);
        assert_eq!(r[37], 0.0);
        assert_eq!(r[38], 1.0);
        assert_eq!(r[39], 0.0, "no pitch change yet");
        assert_eq!(&r[42..49], &[1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0]);
        assert_eq!(r[49], 0.0);
        // C is in the major scale of key k when (0 - k) mod 12 is a scale interval:
        // k = 0, 1, 3, 5, 7, 8, 10.
        let keys: Vec<usize> = (0..12).filter(|&k| r[50 + k] == 1.0).collect();
        assert_eq!(keys, vec![0, 1, 3, 5, 7, 8, 10]);
        let recent: Vec<usize> = (0..12).filter(|&k| r[62 + k] == 1.0).collect();
        assert_eq!(recent, keys);
    }

    #[test]
    fn given_a_held_note_then_a_note_off_when_encoded_then_silence_and_no_attack() {
        let events = [NoteOn(60), NoEvent, NoteOff];
        let held = row(&events, 1);
        assert_eq!((held[12], held[36], held[38]), (1.0, 1.0, 0.0));
        let off = row(&events, 2);
        assert_eq!((off[12], off[36], off[37], off[38]), (0.0, 0.0, 1.0, 0.0));
    }

    #[test]
    fn given_a_falling_then_repeated_pitch_when_encoded_then_the_direction_stays_down() {
        let events = [NoteOn(64), NoteOn(60), NoteOn(60)];
        assert_eq!(row(&events, 1)[39], -1.0);
        assert_eq!(row(&events, 2)[39], -1.0);
        assert_eq!(row(&[NoteOn(60), NoteOn(62)], 1)[39], 1.0);
    }

    #[test]
    fn given_position_15_when_encoded_then_the_next_step_starts_a_bar() {
        let events = vec![NoEvent; 16];
        let r = row(&events, 15);
        assert_eq!(r[49], 1.0);
        assert_eq!(r[37], 1.0);
        assert!(
            r[50..74].iter().all(|&v| v == 1.0),
            "no notes: every key ties"
        );
    }

    #[test]
    fn given_literal_events_when_labelled_then_pitches_no_event_and_note_off_map_as_documented() {
        let mut events = vec![NoteOff; 40];
        events[33] = NoteOn(48);
        events[34] = NoteOn(83);
        events[35] = NoEvent;
        assert_eq!(label(&events, 33), 0);
        assert_eq!(label(&events, 34), 35);
        assert_eq!(label(&events, 35), 36);
        assert_eq!(label(&events, 0), 37);
        assert_eq!(label(&events, 16), 38);
        assert_eq!(label(&events, 32), 39);
        assert_eq!(label(&[NoEvent], 0), 39);
    }

    #[test]
    fn given_any_melody_when_labels_are_decoded_in_order_then_the_events_come_back() {
        let mut events = Vec::new();
        for step in 0..80usize {
            events.push(match (step * 7 + step / 16) % 5 {
                0 => NoteOn(48 + (step % 36) as u8),
                1 => NoteOff,
                _ => NoEvent,
            });
        }
        for pos in 0..events.len() {
            assert_eq!(
                label_to_event(&events[..pos], label(&events, pos)),
                events[pos]
            );
        }
    }
}
