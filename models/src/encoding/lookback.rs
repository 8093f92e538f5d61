//! Magenta's Lookback encoding of a melody (Lookback RNN), over the one-hot range of
//! [`MelodyOneHot::BASIC`] (pitches 48..84, 38 one-hot classes, 16 steps per bar).
//!
//! Input row of a position `pos` ([`INPUT_SIZE`] = 121):
//! - `[0, 38)`: one-hot class of the event at `pos`;
//! - `[38, 76)` / `[76, 114)`: one-hot class of the event that *followed* the position 1 bar /
//!   2 bars ago, i.e. the event at `pos - 16 + 1` / `pos - 32 + 1` (no-event before the start);
//! - `[114, 119)`: the 5 low bits of `pos + 1` (the metric position of the next event), bit `i`
//!   at `114 + i` as `+1.0` when set and `-1.0` when clear;
//! - `119` / `120`: `1.0` when the event at `pos` equals the event 16 / 32 steps earlier.
//!
//! Labels ([`NUM_CLASSES`] = 40): `0..38` the one-hot class of the event, `38` "repeat the event
//! 1 bar ago", `39` "repeat the event 2 bars ago". A 2-bar repeat beats a 1-bar repeat beats the
//! literal event; during the first 32 steps a no-event is labelled `39`. Decoding `38` / `39`
//! copies the event 16 / 32 steps back, or gives a no-event when the history is shorter, so
//! decoding each label against the events before it gives the events back.
//!
//! Open points of the reference and what we chose (the Python twin and
//! `models/testdata/lookback_vectors.json` agree): a label outside `0..40` decodes like
//! [`MelodyOneHot::class_to_event`] does (a note-on clamped into the range); note-ons outside the
//! range are an error of the caller and are clamped in release builds.

use super::melody::{MelodyEvent, MelodyOneHot};

/// The one-hot encoding the lookback encoding builds on.
const ONE_HOT: MelodyOneHot = MelodyOneHot::BASIC;
/// Classes of the one-hot encoding (38).
const ONE_HOT_CLASSES: usize = (ONE_HOT.max_pitch - ONE_HOT.min_pitch) as usize + 2;
/// Lookback distances in steps: 1 bar and 2 bars.
pub const LOOKBACK_DISTANCES: [usize; 2] = [16, 32];
/// Bits of the binary counter.
pub const COUNTER_BITS: usize = 5;
/// Width of one input row (121).
pub const INPUT_SIZE: usize =
    ONE_HOT_CLASSES * (1 + LOOKBACK_DISTANCES.len()) + COUNTER_BITS + LOOKBACK_DISTANCES.len();
/// Number of labels (40).
pub const NUM_CLASSES: usize = ONE_HOT_CLASSES + LOOKBACK_DISTANCES.len();

/// Whether the event at `position` equals the event `distance` steps earlier.
pub(crate) fn repeats(events: &[MelodyEvent], position: usize, distance: usize) -> bool {
    position >= distance && events[position] == events[position - distance]
}

/// Writes the input row of `position` into `row` ([`INPUT_SIZE`] wide).
pub fn write_input(events: &[MelodyEvent], position: usize, row: &mut [f32]) {
    row.fill(0.0);
    row[ONE_HOT.event_to_class(events[position])] = 1.0;
    let mut offset = ONE_HOT_CLASSES;
    for distance in LOOKBACK_DISTANCES {
        let following = (position + 1)
            .checked_sub(distance)
            .map_or(MelodyEvent::NoEvent, |p| events[p]);
        row[offset + ONE_HOT.event_to_class(following)] = 1.0;
        offset += ONE_HOT_CLASSES;
    }
    super::write_binary_counter(position + 1, &mut row[offset..offset + COUNTER_BITS]);
    offset += COUNTER_BITS;
    for (i, distance) in LOOKBACK_DISTANCES.into_iter().enumerate() {
        if repeats(events, position, distance) {
            row[offset + i] = 1.0;
        }
    }
}

/// The lookback label a position takes, as an index into [`LOOKBACK_DISTANCES`], if any: the
/// longest distance whose event repeats wins, and during the first two bars a no-event takes the
/// longest distance's label. Shared with the key-melody encoding.
pub(crate) fn repeat_label(events: &[MelodyEvent], position: usize) -> Option<usize> {
    let longest = LOOKBACK_DISTANCES.len() - 1;
    if position < LOOKBACK_DISTANCES[longest] && events[position] == MelodyEvent::NoEvent {
        return Some(longest);
    }
    (0..LOOKBACK_DISTANCES.len())
        .rev()
        .find(|&i| repeats(events, position, LOOKBACK_DISTANCES[i]))
}

/// The event `distance` steps before the end of `events_so_far` (a no-event before the start):
/// what a lookback label decodes to.
pub(crate) fn event_back(events_so_far: &[MelodyEvent], distance: usize) -> MelodyEvent {
    events_so_far
        .len()
        .checked_sub(distance)
        .map_or(MelodyEvent::NoEvent, |p| events_so_far[p])
}

/// The label of the event at `position`.
pub fn label(events: &[MelodyEvent], position: usize) -> usize {
    repeat_label(events, position).map_or_else(
        || ONE_HOT.event_to_class(events[position]),
        |i| ONE_HOT_CLASSES + i,
    )
}

/// The event a label stands for, after the events `events_so_far`.
pub fn label_to_event(events_so_far: &[MelodyEvent], label: usize) -> MelodyEvent {
    match label.checked_sub(ONE_HOT_CLASSES) {
        Some(i) if i < LOOKBACK_DISTANCES.len() => event_back(events_so_far, LOOKBACK_DISTANCES[i]),
        _ => ONE_HOT.class_to_event(label),
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
    fn given_the_reference_sizes_when_computed_then_input_is_121_and_labels_40() {
        assert_eq!(INPUT_SIZE, 121);
        assert_eq!(NUM_CLASSES, 40);
    }

    #[test]
    fn given_a_first_note_when_encoded_then_lookbacks_are_no_events_and_the_counter_is_one() {
        let r = row(&[NoteOn(60)], 0);
        assert_eq!(r[2 + 12], 1.0);
        assert_eq!(r[38], 1.0, "1 bar back is before the start: no-event");
        assert_eq!(r[76], 1.0, "2 bars back is before the start: no-event");
        assert_eq!(&r[114..119], &[1.0, -1.0, -1.0, -1.0, -1.0]);
        assert_eq!(&r[119..121], &[0.0, 0.0]);
        assert_eq!(r.iter().filter(|&&v| v != 0.0).count(), 3 + 5);
    }

    #[test]
    fn given_position_15_when_encoded_then_the_1_bar_lookback_is_the_first_event() {
        let mut events = vec![NoEvent; 16];
        events[0] = NoteOn(50);
        let r = row(&events, 15);
        assert_eq!(r[38 + 2 + 2], 1.0, "event at 15 - 16 + 1 = 0");
        assert_eq!(r[76], 1.0);
        assert_eq!(&r[114..119], &[-1.0, -1.0, -1.0, -1.0, 1.0], "16 = 0b10000");
    }

    #[test]
    fn given_an_event_repeated_after_one_bar_when_labelled_then_it_is_38() {
        let mut events = vec![NoEvent; 17];
        events[0] = NoteOn(60);
        events[16] = NoteOn(60);
        assert_eq!(label(&events, 16), 38);
        assert_eq!(row(&events, 16)[119], 1.0);
        assert_eq!(label_to_event(&events[..16], 38), NoteOn(60));
    }

    #[test]
    fn given_repeats_at_both_distances_when_labelled_then_2_bars_wins() {
        let mut events = vec![NoteOff; 33];
        events[32] = NoteOff;
        assert_eq!(label(&events, 32), 39);
        let r = row(&events, 32);
        assert_eq!(&r[119..121], &[1.0, 1.0]);
    }

    #[test]
    fn given_a_no_event_in_the_first_two_bars_when_labelled_then_it_is_39_and_decodes_back() {
        let events = [NoteOn(60), NoEvent, NoteOff];
        assert_eq!(label(&events, 1), 39);
        assert_eq!(label(&events, 2), 1);
        assert_eq!(label_to_event(&events[..1], 39), NoEvent);
        assert_eq!(label_to_event(&events[..1], 38), NoEvent);
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
