//! Magenta's Performance RNN encoding with dynamics (`performance_with_dynamics`).
//!
//! - **Grid.** Absolute time, [`STEPS_PER_SECOND`] = 100 steps per second (10 ms). A time `t` in
//!   seconds goes to step `floor(t · 100 + 0.5)`, computed in f64 (round half up, as note_seq's
//!   quantisation; the same expression on the Python side, so both agree bit for bit, including
//!   where binary fractions fall just below a half: `1.005 s` is step 100).
//! - **Events** ([`PerfEvent`]), class index = input one-hot index ([`NUM_CLASSES`] = 388):
//!   `NOTE_ON(p)` → `p` (0..=127), `NOTE_OFF(p)` → `128 + p`, `TIME_SHIFT(k)` for `k` in 1..=100
//!   steps → `255 + k` (256..=355), `VELOCITY(b)` for bin `b` in 1..=32 → `355 + b` (356..=387).
//!   The "no event" default is `TIME_SHIFT(100)` (index 355).
//! - **Velocity bins.** Bin size `ceil(127 / 32) = 4`: `bin = (v − 1) / 4 + 1` (integer division)
//!   for `v` in 1..=127; decoded velocity `1 + (bin − 1) · 4` (1, 5, …, 125).
//!
//! From notes to events (mirrored in `models/python/antiphon_train/encoding_performance.py` and
//! `models/testdata/performance_vectors.json`):
//! 1. **Quantise** ([`quantize_note`]): start and end to steps as above; velocity clamped to
//!    1..=127; a note whose end step does not exceed its start step lasts one step; a note longer
//!    than [`MAX_NOTE_STEPS`] (5 s) is **cut to exactly 5 s** (its note-off moves to
//!    `start + 500`; onset and velocity are kept). Notes with a negative start step or a pitch
//!    above 127 are dropped.
//! 2. **Order.** Every note gives a note-on at its start and a note-off at its end. Events are
//!    sorted by step; at one step all note-offs come first (ascending pitch), then the note-ons
//!    (ascending pitch; for one pitch, the earlier end first, then the lower velocity).
//! 3. **Time.** Before the events of a step, the gap from the previous event step (from step 0
//!    for the first) is written as `TIME_SHIFT(100)` repeated `gap / 100` times, then
//!    `TIME_SHIFT(gap mod 100)` if that is not zero. The stream ends at the last note-off: no
//!    trailing shift. No notes → no events.
//! 4. **Velocity.** A `VELOCITY(bin)` goes right before a note-on whose bin differs from the
//!    last one written; the first note-on always gets one.
//!
//! From events to notes ([`events_to_notes`]): `TIME_SHIFT(k)` advances the clock `k` steps;
//! `VELOCITY(b)` sets the velocity of later note-ons to `1 + (b − 1) · 4` (before any, velocity
//! [`DEFAULT_VELOCITY`]); `NOTE_ON(p)` opens a note of `p` at the clock; `NOTE_OFF(p)` ends the
//! *earliest* open note of `p` (ignored when none is open). Notes still open after the last
//! event end at the clock. A note that would end at its own start lasts one step; a note that
//! would last more than 5 s ends at `start + 500` (the model "often forgets to release notes";
//! its later note-off, if any, still closes it). Decoded notes come in note-on order. Indices at
//! or above [`NUM_CLASSES`] are ignored.

use crate::notes::StepNote;

/// Steps per second of the grid (10 ms steps).
pub const STEPS_PER_SECOND: u32 = 100;

/// Number of MIDI pitches (`0..128`).
pub const NUM_PITCHES: usize = 128;

/// Longest time shift in steps (1 s).
pub const MAX_SHIFT_STEPS: usize = 100;

/// Number of velocity bins.
pub const NUM_VELOCITY_BINS: usize = 32;

/// Width of one velocity bin: `ceil(127 / 32)`.
pub const VELOCITY_BIN_SIZE: u8 = 4;

/// Longest note in steps (5 s).
pub const MAX_NOTE_STEPS: i64 = 500;

/// Index of `NOTE_ON(0)`.
pub const NOTE_ON_OFFSET: usize = 0;

/// Index of `NOTE_OFF(0)`.
pub const NOTE_OFF_OFFSET: usize = NUM_PITCHES;

/// Index of `TIME_SHIFT(1)`.
pub const TIME_SHIFT_OFFSET: usize = 2 * NUM_PITCHES;

/// Index of `VELOCITY(1)`.
pub const VELOCITY_OFFSET: usize = TIME_SHIFT_OFFSET + MAX_SHIFT_STEPS;

/// Number of classes: 128 + 128 + 100 + 32 = 388.
pub const NUM_CLASSES: usize = VELOCITY_OFFSET + NUM_VELOCITY_BINS;

/// Width of one input row (the one-hot of the class).
pub const INPUT_SIZE: usize = NUM_CLASSES;

/// The "no event" default class: `TIME_SHIFT(100)`.
pub const DEFAULT_EVENT: usize = TIME_SHIFT_OFFSET + MAX_SHIFT_STEPS - 1;

/// Velocity of notes decoded before any `VELOCITY` event.
pub const DEFAULT_VELOCITY: u8 = 100;

/// One performance event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PerfEvent {
    /// A note of this pitch starts.
    NoteOn(u8),
    /// The earliest open note of this pitch ends.
    NoteOff(u8),
    /// The clock moves on by this many steps (1..=100).
    TimeShift(u8),
    /// Later note-ons use this velocity bin (1..=32).
    Velocity(u8),
}

impl PerfEvent {
    /// The class index, or `None` when a value is out of range.
    pub fn index(self) -> Option<usize> {
        match self {
            Self::NoteOn(p) if usize::from(p) < NUM_PITCHES => {
                Some(NOTE_ON_OFFSET + usize::from(p))
            }
            Self::NoteOff(p) if usize::from(p) < NUM_PITCHES => {
                Some(NOTE_OFF_OFFSET + usize::from(p))
            }
            Self::TimeShift(k) if (1..=MAX_SHIFT_STEPS).contains(&usize::from(k)) => {
                Some(TIME_SHIFT_OFFSET + usize::from(k) - 1)
            }
            Self::Velocity(b) if (1..=NUM_VELOCITY_BINS).contains(&usize::from(b)) => {
                Some(VELOCITY_OFFSET + usize::from(b) - 1)
            }
            _ => None,
        }
    }

    /// The event of a class index, or `None` for an index at or above [`NUM_CLASSES`].
    pub fn from_index(index: usize) -> Option<Self> {
        Some(match index {
            i if i < NOTE_OFF_OFFSET => Self::NoteOn(i as u8),
            i if i < TIME_SHIFT_OFFSET => Self::NoteOff((i - NOTE_OFF_OFFSET) as u8),
            i if i < VELOCITY_OFFSET => Self::TimeShift((i - TIME_SHIFT_OFFSET + 1) as u8),
            i if i < NUM_CLASSES => Self::Velocity((i - VELOCITY_OFFSET + 1) as u8),
            _ => return None,
        })
    }
}

/// A note in seconds, as played.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimedNote {
    /// MIDI key number, 0..=127.
    pub pitch: u8,
    /// MIDI velocity (clamped to 1..=127 when encoded).
    pub velocity: u8,
    /// Onset in seconds.
    pub start: f64,
    /// Release in seconds.
    pub end: f64,
}

/// The grid step of a time in seconds: `floor(seconds · 100 + 0.5)` in f64.
pub fn quantize(seconds: f64) -> i64 {
    (seconds * f64::from(STEPS_PER_SECOND) + 0.5).floor() as i64
}

/// Seconds of a grid step.
pub fn step_to_seconds(step: i64) -> f64 {
    step as f64 / f64::from(STEPS_PER_SECOND)
}

/// Velocity bin (1..=32) of a velocity; velocities are clamped to 1..=127 first.
pub fn velocity_to_bin(velocity: u8) -> u8 {
    (velocity.clamp(1, 127) - 1) / VELOCITY_BIN_SIZE + 1
}

/// Decoded velocity of a bin (1..=32; other values are clamped into it): `1 + (bin − 1) · 4`.
pub fn bin_to_velocity(bin: u8) -> u8 {
    1 + (bin.clamp(1, NUM_VELOCITY_BINS as u8) - 1) * VELOCITY_BIN_SIZE
}

/// A note put on the grid (rule 1 of the module doc), or `None` when it is dropped.
pub fn quantize_note(note: &TimedNote) -> Option<StepNote> {
    let start = quantize(note.start);
    if start < 0 || usize::from(note.pitch) >= NUM_PITCHES {
        return None;
    }
    let end = quantize(note.end)
        .max(start + 1)
        .min(start + MAX_NOTE_STEPS);
    Some(StepNote::new(
        note.pitch,
        note.velocity.clamp(1, 127),
        start,
        end,
    ))
}

/// The event stream of notes in seconds (see the module doc for the rules).
pub fn notes_to_events(notes: &[TimedNote]) -> Vec<usize> {
    let grid: Vec<StepNote> = notes.iter().filter_map(quantize_note).collect();
    step_notes_to_events(&grid)
}

/// The event stream of notes already on the 10 ms grid (rules 2–4 of the module doc; rule 1's
/// one-step minimum and 5 s cap are applied here too, negative starts and pitches above 127 are
/// dropped).
pub fn step_notes_to_events(notes: &[StepNote]) -> Vec<usize> {
    // (step, 0 = off / 1 = on, pitch, end, velocity)
    let mut marks: Vec<(i64, u8, u8, i64, u8)> = Vec::new();
    for n in notes {
        if n.start_step < 0 || usize::from(n.pitch) >= NUM_PITCHES {
            continue;
        }
        let end = n
            .end_step
            .max(n.start_step + 1)
            .min(n.start_step + MAX_NOTE_STEPS);
        let velocity = n.velocity.clamp(1, 127);
        marks.push((n.start_step, 1, n.pitch, end, velocity));
        marks.push((end, 0, n.pitch, 0, 0));
    }
    marks.sort_unstable();
    let mut events = Vec::new();
    let mut clock = 0i64;
    let mut bin = 0u8;
    for (step, kind, pitch, _, velocity) in marks {
        let mut gap = (step - clock) as usize;
        while gap > 0 {
            let shift = gap.min(MAX_SHIFT_STEPS);
            events.push(TIME_SHIFT_OFFSET + shift - 1);
            gap -= shift;
        }
        clock = step;
        if kind == 0 {
            events.push(NOTE_OFF_OFFSET + usize::from(pitch));
        } else {
            let b = velocity_to_bin(velocity);
            if b != bin {
                events.push(VELOCITY_OFFSET + usize::from(b) - 1);
                bin = b;
            }
            events.push(NOTE_ON_OFFSET + usize::from(pitch));
        }
    }
    events
}

/// Notes on the 10 ms grid of an event stream, the clock starting at step 0 (see the module
/// doc for the rules); in note-on order.
pub fn events_to_notes(events: &[usize]) -> Vec<StepNote> {
    // (pitch, velocity, start, end) in note-on order; end None while open.
    let mut notes: Vec<(u8, u8, i64, Option<i64>)> = Vec::new();
    let mut clock = 0i64;
    let mut velocity = DEFAULT_VELOCITY;
    for &index in events {
        match PerfEvent::from_index(index) {
            Some(PerfEvent::NoteOn(p)) => notes.push((p, velocity, clock, None)),
            Some(PerfEvent::NoteOff(p)) => {
                if let Some(n) = notes.iter_mut().find(|n| n.0 == p && n.3.is_none()) {
                    n.3 = Some(clock);
                }
            }
            Some(PerfEvent::TimeShift(k)) => clock += i64::from(k),
            Some(PerfEvent::Velocity(b)) => velocity = bin_to_velocity(b),
            None => {}
        }
    }
    notes
        .into_iter()
        .map(|(p, v, start, end)| {
            let end = end
                .unwrap_or(clock)
                .max(start + 1)
                .min(start + MAX_NOTE_STEPS);
            StepNote::new(p, v, start, end)
        })
        .collect()
}

/// Notes in seconds of an event stream (steps of [`events_to_notes`] divided by 100).
pub fn events_to_timed_notes(events: &[usize]) -> Vec<TimedNote> {
    events_to_notes(events)
        .into_iter()
        .map(|n| TimedNote {
            pitch: n.pitch,
            velocity: n.velocity,
            start: step_to_seconds(n.start_step),
            end: step_to_seconds(n.end_step),
        })
        .collect()
}

/// Writes the input row of class `event` into `row` ([`INPUT_SIZE`] wide): its one-hot.
/// An index at or above [`NUM_CLASSES`] gives an all-zero row.
pub fn write_input(event: usize, row: &mut [f32]) {
    row.fill(0.0);
    if let Some(v) = row.get_mut(event).filter(|_| event < NUM_CLASSES) {
        *v = 1.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_every_class_index_when_mapped_to_an_event_and_back_then_it_is_the_same_index() {
        for i in 0..NUM_CLASSES {
            assert_eq!(PerfEvent::from_index(i).unwrap().index(), Some(i));
        }
        assert_eq!(PerfEvent::from_index(NUM_CLASSES), None);
        assert_eq!(PerfEvent::TimeShift(0).index(), None);
        assert_eq!(PerfEvent::Velocity(33).index(), None);
        assert_eq!(PerfEvent::TimeShift(100).index(), Some(DEFAULT_EVENT));
        assert_eq!((DEFAULT_EVENT, NUM_CLASSES), (355, 388));
    }

    #[test]
    fn given_velocities_when_binned_then_the_bins_have_width_four() {
        assert_eq!(velocity_to_bin(0), 1);
        assert_eq!(velocity_to_bin(1), 1);
        assert_eq!(velocity_to_bin(4), 1);
        assert_eq!(velocity_to_bin(5), 2);
        assert_eq!(velocity_to_bin(127), 32);
        assert_eq!(bin_to_velocity(32), 125);
        assert_eq!(bin_to_velocity(1), 1);
        for v in 1..=127u8 {
            assert_eq!(
                velocity_to_bin(bin_to_velocity(velocity_to_bin(v))),
                velocity_to_bin(v)
            );
        }
    }

    #[test]
    fn given_halves_when_quantised_then_they_round_up() {
        assert_eq!(quantize(0.125), 13);
        assert_eq!(quantize(0.0625), 6);
        assert_eq!(quantize(1.005), 100);
        assert_eq!(quantize(-0.004), 0);
    }

    #[test]
    fn given_a_note_off_for_a_silent_pitch_and_a_note_left_open_when_decoded_then_skipped_and_closed()
     {
        // VELOCITY(26), ON 60, SHIFT 10, OFF 61, SHIFT 5
        let events = [381, 60, 265, 189, 260];
        assert_eq!(
            events_to_notes(&events),
            vec![StepNote::new(60, 101, 0, 15)]
        );
    }
}
