//! Magenta's Polyphony RNN encoding: the BachBot-style single event stream.
//!
//! - **Events.** `START`, `END`, `STEP_END`, `NEW_NOTE(p)`, `CONTINUED_NOTE(p)` for MIDI pitches
//!   `p` in `0..128` ([`PolyEvent`]).
//! - **Class index** (= input one-hot index, [`NUM_CLASSES`] = 259): `0` START, `1` END,
//!   `2` STEP_END, `3 + p` NEW_NOTE(p), `131 + p` CONTINUED_NOTE(p). The input row is the one-hot
//!   of the class ([`INPUT_SIZE`] = 259). The "no event" default label is STEP_END.
//! - **Stream.** `START`, then for every step `0..E` the notes sounding at that step in
//!   **descending pitch** order followed by one `STEP_END`, then `END`. `E` is the largest end step
//!   of the notes, so there are exactly `E` STEP_ENDs. A note is `NEW_NOTE` at its start step and
//!   `CONTINUED_NOTE` at every later step before its end step (a note sounding across a step
//!   boundary is re-stated on the far side). Steps are 16th notes (4 per quarter).
//!
//! Choices where Magenta's facts leave something open (mirrored in
//! `models/python/antiphon_train/encoding_polyphony.py` and `models/testdata/polyphony_vectors.json`):
//! - **From notes.** Only pitch, start step and end step count (velocity is not modelled). Notes
//!   with a negative start step or a pitch outside `0..128` are ignored. A note whose end does not
//!   exceed its start lasts one step. No notes → `[START, END]`.
//! - **Same pitch twice at one step** (overlapping notes of one pitch): a pitch is listed at most
//!   once per step; it is `NEW_NOTE` if any note of that pitch starts at that step, otherwise
//!   `CONTINUED_NOTE` if one sounds. So a re-strike ends the earlier note there, and overlapping
//!   notes of one pitch decode as back-to-back notes.
//! - **To notes.** Decoding walks the events counting steps (each `STEP_END` closes a step).
//!   `NEW_NOTE(p)` starts a note of `p` at the current step (ending an open note of `p` there);
//!   `CONTINUED_NOTE(p)` keeps an open note of `p` going, or starts one when none is open. An event
//!   for a pitch already listed in the current step is ignored. At each `STEP_END`, open notes not
//!   listed in that step end at that step. `START` is ignored; decoding stops at the first `END`
//!   or at the end of the events; an unfinished last step (events after the last `STEP_END`) counts
//!   as finished; then every open note ends at the step count. Decoded notes have velocity
//!   [`DECODE_VELOCITY`] and come sorted by start step, then descending pitch. Class indices at or
//!   above [`NUM_CLASSES`] are ignored.
//! - **From piano-roll frames** ([`frames_to_notes`], for the JSB chorale data): a pitch present
//!   in consecutive frames is **one held note**. The JSB frames cannot tell a held note from a
//!   re-struck one, so we take the reading with the fewest notes; a re-strike inside such a run is
//!   lost.

use std::collections::BTreeSet;

use crate::notes::StepNote;

/// Number of MIDI pitches the encoding covers (`0..128`).
pub const NUM_PITCHES: usize = 128;

/// Class index of `START`.
pub const START: usize = 0;

/// Class index of `END`.
pub const END: usize = 1;

/// Class index of `STEP_END` (also the "no event" default label).
pub const STEP_END: usize = 2;

/// Class index of `NEW_NOTE(0)`; `NEW_NOTE(p)` is `NEW_NOTE_OFFSET + p`.
pub const NEW_NOTE_OFFSET: usize = 3;

/// Class index of `CONTINUED_NOTE(0)`; `CONTINUED_NOTE(p)` is `CONTINUED_NOTE_OFFSET + p`.
pub const CONTINUED_NOTE_OFFSET: usize = NEW_NOTE_OFFSET + NUM_PITCHES;

/// Number of classes: 3 + 128 + 128 = 259.
pub const NUM_CLASSES: usize = CONTINUED_NOTE_OFFSET + NUM_PITCHES;

/// Width of one input row (the one-hot of the class).
pub const INPUT_SIZE: usize = NUM_CLASSES;

/// Model steps per quarter note.
pub const STEPS_PER_QUARTER: u32 = 4;

/// Velocity of decoded notes.
pub const DECODE_VELOCITY: u8 = 100;

/// One event of the polyphonic stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolyEvent {
    /// Start of the sequence.
    Start,
    /// End of the sequence.
    End,
    /// End of the current step.
    StepEnd,
    /// A note of this pitch starts at the current step.
    NewNote(u8),
    /// The note of this pitch sounding at the previous step goes on through the current step.
    ContinuedNote(u8),
}

impl PolyEvent {
    /// The class index of the event (pitches at or above 128 wrap modulo 128).
    pub fn index(self) -> usize {
        match self {
            Self::Start => START,
            Self::End => END,
            Self::StepEnd => STEP_END,
            Self::NewNote(p) => NEW_NOTE_OFFSET + usize::from(p) % NUM_PITCHES,
            Self::ContinuedNote(p) => CONTINUED_NOTE_OFFSET + usize::from(p) % NUM_PITCHES,
        }
    }

    /// The event of a class index, or `None` for an index at or above [`NUM_CLASSES`].
    pub fn from_index(index: usize) -> Option<Self> {
        Some(match index {
            START => Self::Start,
            END => Self::End,
            STEP_END => Self::StepEnd,
            i if i < CONTINUED_NOTE_OFFSET => Self::NewNote((i - NEW_NOTE_OFFSET) as u8),
            i if i < NUM_CLASSES => Self::ContinuedNote((i - CONTINUED_NOTE_OFFSET) as u8),
            _ => return None,
        })
    }
}

/// The event stream (class indices) of notes on the step grid (see the module doc for the rules).
pub fn notes_to_events(notes: &[StepNote]) -> Vec<usize> {
    let kept: Vec<(usize, usize, usize)> = notes
        .iter()
        .filter_map(|n| {
            let start = usize::try_from(n.start_step).ok()?;
            let end = usize::try_from(n.end_step.max(n.start_step + 1)).ok()?;
            (usize::from(n.pitch) < NUM_PITCHES).then_some((usize::from(n.pitch), start, end))
        })
        .collect();
    let len = kept.iter().map(|&(_, _, end)| end).max().unwrap_or(0);
    // Per step and pitch: 0 = silent, 1 = continued, 2 = new.
    let mut grid = vec![[0u8; NUM_PITCHES]; len];
    for &(pitch, start, end) in &kept {
        grid[start][pitch] = 2;
        for step in grid.iter_mut().take(end).skip(start + 1) {
            step[pitch] = step[pitch].max(1);
        }
    }
    let mut events = vec![START];
    for step in &grid {
        for pitch in (0..NUM_PITCHES).rev() {
            match step[pitch] {
                2 => events.push(NEW_NOTE_OFFSET + pitch),
                1 => events.push(CONTINUED_NOTE_OFFSET + pitch),
                _ => {}
            }
        }
        events.push(STEP_END);
    }
    events.push(END);
    events
}

/// Turns the stream into notes event by event, by the decoding rules of the module doc (START,
/// END and unknown indices are the caller's business: [`Self::push`] ignores them).
#[derive(Debug, Clone)]
pub struct StepDecoder {
    /// The step being written.
    step: i64,
    /// Start step of the open note of each pitch.
    open: [Option<i64>; NUM_PITCHES],
    /// Pitches listed in the step being written.
    listed: [bool; NUM_PITCHES],
    /// Whether the step being written has note events.
    step_has_events: bool,
    /// Velocity of the notes.
    velocity: u8,
}

impl StepDecoder {
    /// Nothing sounding at `start_step`; notes get `velocity`.
    pub fn new(start_step: i64, velocity: u8) -> Self {
        Self {
            step: start_step,
            open: [None; NUM_PITCHES],
            listed: [false; NUM_PITCHES],
            step_has_events: false,
            velocity,
        }
    }

    /// The step being written.
    pub fn step(&self) -> i64 {
        self.step
    }

    /// The pitches listed so far in the step being written.
    pub fn listed(&self) -> &[bool; NUM_PITCHES] {
        &self.listed
    }

    /// Takes one event, appending the notes it ends to `notes`.
    pub fn push(&mut self, event: PolyEvent, notes: &mut Vec<StepNote>) {
        match event {
            PolyEvent::Start | PolyEvent::End => {}
            PolyEvent::StepEnd => {
                self.close_unlisted(notes, self.step);
                self.listed = [false; NUM_PITCHES];
                self.step_has_events = false;
                self.step += 1;
            }
            PolyEvent::NewNote(p) | PolyEvent::ContinuedNote(p) => {
                let p = usize::from(p);
                self.step_has_events = true;
                if self.listed[p] {
                    return;
                }
                self.listed[p] = true;
                let new = matches!(event, PolyEvent::NewNote(_));
                match self.open[p] {
                    Some(start) if new => {
                        notes.push(StepNote::new(p as u8, self.velocity, start, self.step));
                        self.open[p] = Some(self.step);
                    }
                    Some(_) => {}
                    None => self.open[p] = Some(self.step),
                }
            }
        }
    }

    /// Ends the stream: an unfinished last step counts as finished, then every open note ends
    /// at the step count.
    pub fn finish(&mut self, notes: &mut Vec<StepNote>) {
        if self.step_has_events {
            self.close_unlisted(notes, self.step);
            self.step += 1;
        }
        self.finish_at(self.step, notes);
    }

    /// Ends every open note at `end_step` (one step long at least).
    pub fn finish_at(&mut self, end_step: i64, notes: &mut Vec<StepNote>) {
        self.listed = [false; NUM_PITCHES];
        for (pitch, slot) in self.open.iter_mut().enumerate() {
            if let Some(start) = slot.take() {
                notes.push(StepNote::new(
                    pitch as u8,
                    self.velocity,
                    start,
                    end_step.max(start + 1),
                ));
            }
        }
    }

    /// Ends, at `step`, every open note whose pitch is not listed, pushing it to `notes`.
    fn close_unlisted(&mut self, notes: &mut Vec<StepNote>, step: i64) {
        for (pitch, slot) in self.open.iter_mut().enumerate() {
            if self.listed[pitch] {
                continue;
            }
            if let Some(start) = slot.take() {
                notes.push(StepNote::new(pitch as u8, self.velocity, start, step));
            }
        }
    }
}

/// Notes of an event stream, steps counted from `start_step` (see the module doc for the rules):
/// velocity [`DECODE_VELOCITY`], sorted by start step then descending pitch.
pub fn events_to_notes(events: &[usize], start_step: i64) -> Vec<StepNote> {
    let mut notes = Vec::new();
    let mut decoder = StepDecoder::new(start_step, DECODE_VELOCITY);
    for event in events.iter().filter_map(|&i| PolyEvent::from_index(i)) {
        if event == PolyEvent::End {
            break;
        }
        decoder.push(event, &mut notes);
    }
    decoder.finish(&mut notes);
    notes.sort_by_key(|n| (n.start_step, std::cmp::Reverse(n.pitch)));
    notes
}

/// Notes of piano-roll frames (the pitches sounding at each step, from step 0): a pitch present
/// in consecutive frames is one held note. Pitches outside `0..128` are ignored. Notes have
/// velocity [`DECODE_VELOCITY`] and come sorted by start step, then descending pitch.
pub fn frames_to_notes<F: AsRef<[i64]>>(frames: &[F]) -> Vec<StepNote> {
    let mut notes = Vec::new();
    let mut open: [Option<i64>; NUM_PITCHES] = [None; NUM_PITCHES];
    let mut step = 0i64;
    for frame in frames {
        let now: BTreeSet<usize> = frame
            .as_ref()
            .iter()
            .filter_map(|&p| usize::try_from(p).ok().filter(|&p| p < NUM_PITCHES))
            .collect();
        for (pitch, slot) in open.iter_mut().enumerate() {
            match (slot.is_some(), now.contains(&pitch)) {
                (true, false) => {
                    let start = slot.take().unwrap_or(step);
                    notes.push(StepNote::new(pitch as u8, DECODE_VELOCITY, start, step));
                }
                (false, true) => *slot = Some(step),
                _ => {}
            }
        }
        step += 1;
    }
    for (pitch, slot) in open.iter_mut().enumerate() {
        if let Some(start) = slot.take() {
            notes.push(StepNote::new(pitch as u8, DECODE_VELOCITY, start, step));
        }
    }
    notes.sort_by_key(|n| (n.start_step, std::cmp::Reverse(n.pitch)));
    notes
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

    fn n(pitch: u8, start: i64, end: i64) -> StepNote {
        StepNote::new(pitch, DECODE_VELOCITY, start, end)
    }

    #[test]
    fn given_every_class_index_when_mapped_to_an_event_and_back_then_it_is_the_same_index() {
        for i in 0..NUM_CLASSES {
            assert_eq!(PolyEvent::from_index(i).unwrap().index(), i);
        }
        assert_eq!(PolyEvent::from_index(NUM_CLASSES), None);
        assert_eq!(PolyEvent::NewNote(60).index(), 63);
        assert_eq!(PolyEvent::ContinuedNote(60).index(), 191);
        assert_eq!(NUM_CLASSES, 259);
    }

    #[test]
    fn given_a_chord_held_for_two_steps_when_encoded_then_new_notes_high_to_low_then_continued() {
        let events = notes_to_events(&[n(60, 0, 2), n(67, 0, 2)]);
        assert_eq!(
            events,
            vec![START, 70, 63, STEP_END, 198, 191, STEP_END, END]
        );
        assert_eq!(events_to_notes(&events, 0), vec![n(67, 0, 2), n(60, 0, 2)]);
    }

    #[test]
    fn given_events_cut_off_mid_step_when_decoded_then_the_unfinished_step_counts() {
        // START, NEW(60), STEP_END, CONTINUED(60), NEW(64)  (no STEP_END, no END)
        let notes = events_to_notes(&[START, 63, STEP_END, 191, 67], 8);
        assert_eq!(notes, vec![n(60, 8, 10), n(64, 9, 10)]);
    }

    #[test]
    fn given_frames_with_a_gap_when_read_then_runs_become_held_notes() {
        let frames: Vec<Vec<i64>> = vec![vec![60, 64], vec![64, 60], vec![64], vec![60, 64, 200]];
        assert_eq!(
            frames_to_notes(&frames),
            vec![n(64, 0, 4), n(60, 0, 2), n(60, 3, 4)]
        );
    }

    #[test]
    fn given_a_class_when_written_then_the_row_is_its_one_hot() {
        let mut row = vec![5.0; INPUT_SIZE];
        write_input(191, &mut row);
        assert_eq!(row[191], 1.0);
        assert_eq!(row.iter().sum::<f32>(), 1.0);
        write_input(NUM_CLASSES, &mut row);
        assert!(row.iter().all(|&v| v == 0.0));
    }
}
