//! Magenta's Melody RNN one-hot encoding (`models/CONTRACT.md`, "Encoding `melody_onehot`").
//!
//! Notes become one event per step: [`MelodyEvent::NoEvent`] (hold or keep silence),
//! [`MelodyEvent::NoteOff`] or [`MelodyEvent::NoteOn`]. Class `0` is no-event, `1` note-off and
//! `2 + (pitch - min_pitch)` a note-on.

use serde::{Deserialize, Serialize};

use crate::notes::StepNote;

/// Intervals of the major scale above its tonic.
const MAJOR_SCALE: [u8; 7] = [0, 2, 4, 5, 7, 9, 11];

/// One step of a monophonic melody.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MelodyEvent {
    /// Hold the sounding note, or keep silence.
    NoEvent,
    /// End the sounding note.
    NoteOff,
    /// Start a note (and end the one before).
    NoteOn(u8),
}

/// Parameters of the melody one-hot encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MelodyOneHot {
    /// Lowest pitch the model knows.
    pub min_pitch: u8,
    /// One above the highest pitch the model knows.
    pub max_pitch: u8,
    /// Model steps per quarter note.
    pub steps_per_quarter: u32,
    /// Pitch class (0 = C) melodies are transposed to before encoding, or none.
    pub transpose_to_key: Option<u8>,
}

/// A melody ready for a model: its events, and how far it was shifted to get there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedMelody {
    /// One event per step, starting at step 0 of the notes' grid.
    pub events: Vec<MelodyEvent>,
    /// The estimated major key (pitch class) of the melody before transposition.
    pub key: u8,
    /// Semitones added to every pitch; a continuation goes back by the negative.
    pub shift_semitones: i32,
}

impl MelodyOneHot {
    /// Magenta's `basic_rnn` configuration: pitches 48..84, 4 steps per quarter, melodies in C.
    pub const BASIC: Self = Self {
        min_pitch: 48,
        max_pitch: 84,
        steps_per_quarter: 4,
        transpose_to_key: Some(0),
    };

    /// Number of classes: the pitches plus no-event and note-off.
    pub fn num_classes(&self) -> usize {
        usize::from(self.max_pitch - self.min_pitch) + 2
    }

    /// Checks the parameters for consistency.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_pitch > 128 || self.min_pitch.saturating_add(12) > self.max_pitch {
            return Err(format!(
                "pitch range {}..{} must lie in 0..128 and span at least an octave",
                self.min_pitch, self.max_pitch
            ));
        }
        if self.steps_per_quarter == 0 {
            return Err("steps_per_quarter must be positive".into());
        }
        if self.transpose_to_key.is_some_and(|k| k > 11) {
            return Err("transpose_to_key must be a pitch class 0..=11".into());
        }
        Ok(())
    }

    /// Class index of an event. Note-ons outside the range are an error of the caller: the
    /// pipeline moves pitches into range first.
    pub fn event_to_class(&self, event: MelodyEvent) -> usize {
        match event {
            MelodyEvent::NoEvent => 0,
            MelodyEvent::NoteOff => 1,
            MelodyEvent::NoteOn(p) => {
                debug_assert!((self.min_pitch..self.max_pitch).contains(&p));
                2 + usize::from(p.clamp(self.min_pitch, self.max_pitch - 1) - self.min_pitch)
            }
        }
    }

    /// Event of a class index.
    pub fn class_to_event(&self, class: usize) -> MelodyEvent {
        match class {
            0 => MelodyEvent::NoEvent,
            1 => MelodyEvent::NoteOff,
            c => {
                let offset = u8::try_from(c - 2).unwrap_or(u8::MAX);
                MelodyEvent::NoteOn(
                    self.min_pitch
                        .saturating_add(offset)
                        .min(self.max_pitch - 1),
                )
            }
        }
    }

    /// Writes the one-hot input row of `event` into `row` (which must be `num_classes` wide).
    pub fn write_input(&self, event: MelodyEvent, row: &mut [f32]) {
        row.fill(0.0);
        row[self.event_to_class(event)] = 1.0;
    }

    /// The whole pipeline of the contract: monophony, events, key, transposition into range.
    pub fn encode(&self, notes: &[StepNote]) -> EncodedMelody {
        let mono = monophonic(notes);
        let key = major_key(&mono);
        let shift = self.shift_for(&mono, key);
        let events = events_of(&mono, |p| self.fold_into_range(i32::from(p) + shift));
        EncodedMelody {
            events,
            key,
            shift_semitones: shift,
        }
    }

    /// The semitone shift steps 3–4 of the contract apply to a monophonic melody.
    fn shift_for(&self, mono: &[StepNote], key: u8) -> i32 {
        let Some(target) = self.transpose_to_key else {
            return 0;
        };
        let key_shift = (i32::from(target) - i32::from(key) + 6).rem_euclid(12) - 6;
        let Some(lowest) = mono.iter().map(|n| i32::from(n.pitch) + key_shift).min() else {
            return key_shift;
        };
        // Smallest octave shift that puts the lowest note at or above min_pitch.
        let octaves = (i32::from(self.min_pitch) - lowest).div_euclid(12)
            + i32::from((i32::from(self.min_pitch) - lowest).rem_euclid(12) != 0);
        key_shift + 12 * octaves
    }

    /// Moves a pitch by whole octaves into `[min_pitch, max_pitch)`.
    fn fold_into_range(&self, pitch: i32) -> u8 {
        let (lo, hi) = (i32::from(self.min_pitch), i32::from(self.max_pitch));
        let mut p = pitch;
        while p >= hi {
            p -= 12;
        }
        while p < lo {
            p += 12;
        }
        // PANIC-FREE: lo..hi lies inside 0..128 (validate), so p fits a u8.
        p.clamp(lo, hi - 1) as u8
    }

    /// Turns events (from step 0) back into notes, shifting pitches by `-shift_semitones` and
    /// folding them into the MIDI range. A note sounding at the end ends at the last step.
    pub fn decode(
        &self,
        events: &[MelodyEvent],
        shift_semitones: i32,
        velocity: u8,
    ) -> Vec<StepNote> {
        let mut decoder = NoteDecoder::new(shift_semitones, velocity);
        let mut notes: Vec<StepNote> = events
            .iter()
            .enumerate()
            .filter_map(|(step, &event)| decoder.push(step as i64, event))
            .collect();
        notes.extend(decoder.finish(events.len() as i64));
        notes
    }
}

/// Turns melody events into notes one step at a time: a note is complete when the next note-on
/// or note-off ends it, so a generator can hand it out at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoteDecoder {
    /// The sounding note: pitch (already shifted back) and start step.
    open: Option<(u8, i64)>,
    /// Semitones the events were shifted by; decoded pitches go back by the negative.
    shift_semitones: i32,
    /// Velocity of decoded notes.
    velocity: u8,
}

impl NoteDecoder {
    /// A decoder with nothing sounding.
    pub fn new(shift_semitones: i32, velocity: u8) -> Self {
        Self {
            open: None,
            shift_semitones,
            velocity,
        }
    }

    /// Takes the event at `step`; returns the note it completes, if any.
    pub fn push(&mut self, step: i64, event: MelodyEvent) -> Option<StepNote> {
        let ended = match event {
            MelodyEvent::NoEvent => return None,
            MelodyEvent::NoteOff | MelodyEvent::NoteOn(_) => self.open.take(),
        };
        if let MelodyEvent::NoteOn(p) = event {
            self.open = Some((shift_back(p, self.shift_semitones), step));
        }
        ended.map(|(pitch, start)| StepNote::new(pitch, self.velocity, start, step))
    }

    /// Ends the sounding note, if any, at `end_step`.
    pub fn finish(&mut self, end_step: i64) -> Option<StepNote> {
        self.open
            .take()
            .map(|(pitch, start)| StepNote::new(pitch, self.velocity, start, end_step))
    }
}

/// Shifts a model pitch back by `shift` semitones (into the player's key and register), folded
/// into 0..128 by octaves.
pub fn shift_back(pitch: u8, shift: i32) -> u8 {
    let mut p = i32::from(pitch) - shift;
    while p > 127 {
        p -= 12;
    }
    while p < 0 {
        p += 12;
    }
    p as u8
}

/// Step 1 of the contract: the highest note at each start step, each cut by the next.
pub fn monophonic(notes: &[StepNote]) -> Vec<StepNote> {
    let mut sorted: Vec<StepNote> = notes.to_vec();
    // Start ascending; within a start step the highest pitch, then the longest, first.
    sorted.sort_by(|a, b| {
        a.start_step
            .cmp(&b.start_step)
            .then(b.pitch.cmp(&a.pitch))
            .then(b.end_step.cmp(&a.end_step))
    });
    let mut kept: Vec<StepNote> = Vec::with_capacity(sorted.len());
    for note in sorted {
        if kept.last().is_some_and(|k| k.start_step == note.start_step) {
            continue;
        }
        if let Some(prev) = kept.last_mut()
            && prev.end_step > note.start_step
        {
            prev.end_step = note.start_step;
        }
        kept.push(StepNote::new(
            note.pitch,
            note.velocity,
            note.start_step,
            note.end_step,
        ));
    }
    kept
}

/// Step 2 of the contract: one event per step up to the last note's end, with `pitch` mapping
/// each note's pitch (transposition and folding).
fn events_of(mono: &[StepNote], pitch: impl Fn(u8) -> u8) -> Vec<MelodyEvent> {
    let len = mono.iter().map(|n| n.end_step).max().unwrap_or(0).max(0);
    let mut events = vec![MelodyEvent::NoEvent; usize::try_from(len).unwrap_or(0)];
    for note in mono {
        if note.start_step < 0 {
            continue;
        }
        let end = note.end_step as usize;
        if end < events.len() && events[end] == MelodyEvent::NoEvent {
            events[end] = MelodyEvent::NoteOff;
        }
    }
    for note in mono {
        if note.start_step >= 0 {
            events[note.start_step as usize] = MelodyEvent::NoteOn(pitch(note.pitch));
        }
    }
    events
}

/// Step 3 of the contract: the major key whose scale holds the most note-ons (lowest on a tie).
pub fn major_key(mono: &[StepNote]) -> u8 {
    let mut best = (0u8, 0usize);
    for key in 0..12u8 {
        let count = mono
            .iter()
            .filter(|n| MAJOR_SCALE.contains(&((n.pitch + 12 - key) % 12)))
            .count();
        if count > best.1 {
            best = (key, count);
        }
    }
    best.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(pitch: u8, start: i64, end: i64) -> StepNote {
        StepNote::new(pitch, 100, start, end)
    }

    #[test]
    fn given_a_chord_when_made_monophonic_then_the_highest_note_stays() {
        let mono = monophonic(&[n(60, 0, 4), n(67, 0, 4), n(64, 0, 4)]);
        assert_eq!(mono, vec![n(67, 0, 4)]);
    }

    #[test]
    fn given_overlapping_notes_when_encoded_then_the_next_note_cuts_the_previous() {
        let enc = MelodyOneHot {
            transpose_to_key: None,
            ..MelodyOneHot::BASIC
        }
        .encode(&[n(60, 0, 6), n(62, 4, 8)]);
        use MelodyEvent::*;
        assert_eq!(
            enc.events,
            vec![
                NoteOn(60),
                NoEvent,
                NoEvent,
                NoEvent,
                NoteOn(62),
                NoEvent,
                NoEvent,
                NoEvent
            ]
        );
    }

    #[test]
    fn given_a_melody_in_g_when_encoded_then_it_is_moved_to_c_by_the_smallest_step() {
        // G A B C F#: all five in G major, four in C major and in D major.
        let melody = [
            n(67, 0, 2),
            n(69, 2, 4),
            n(71, 4, 6),
            n(72, 6, 8),
            n(66, 8, 10),
        ];
        let enc = MelodyOneHot::BASIC.encode(&melody);
        assert_eq!(enc.key, 7);
        // G to C: +5 (the smaller move); the lowest note F# becomes 71, and one octave down
        // (59) is the lowest placement at or above 48.
        assert_eq!(enc.shift_semitones, 5 - 12);
        assert_eq!(enc.events[0], MelodyEvent::NoteOn(60));
    }

    #[test]
    fn given_events_when_decoded_then_notes_come_back_in_the_original_key() {
        let spec = MelodyOneHot::BASIC;
        let melody = [
            n(67, 0, 2),
            n(69, 2, 4),
            n(71, 4, 6),
            n(72, 6, 8),
            n(66, 8, 10),
        ];
        let enc = spec.encode(&melody);
        let back = spec.decode(&enc.events, enc.shift_semitones, 100);
        assert_eq!(back, melody.to_vec());
    }

    #[test]
    fn given_every_class_when_mapped_to_an_event_and_back_then_it_is_the_same_class() {
        let spec = MelodyOneHot::BASIC;
        for class in 0..spec.num_classes() {
            assert_eq!(spec.event_to_class(spec.class_to_event(class)), class);
        }
        assert_eq!(spec.num_classes(), 38);
    }
}
