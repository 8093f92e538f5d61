//! What one model step reads and writes, per encoding: [`StepCodec`] and its implementations.
//!
//! The generation loop ([`super::beam`]) and the evaluation ([`crate::eval`]) only talk to a
//! codec: notes become events, events become input rows and labels, sampled classes become events
//! again, and events become notes.

use std::fmt::Debug;

use crate::encoding::chords::Chord;
use crate::encoding::melody::{MelodyEvent, MelodyOneHot, NoteDecoder, shift_back};
use crate::encoding::{
    ChordMelody, EncodingSpec, drums, key_melody, lookback, performance, polyphony,
};
use crate::notes::StepNote;

use super::mask::PitchMask;

/// A chord that starts at a step and lasts until the next change (the last one to the end).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChordChange {
    /// Step from the primer's start (step 0) at which the chord starts.
    pub start_step: i64,
    /// The chord; `None` is no chord (N.C.).
    pub chord: Option<Chord>,
}

/// The chord in force at each step, from a list of [`ChordChange`]s in any order (a later entry
/// wins over an earlier one at the same step). Before the first change there is no chord.
#[derive(Debug, Clone)]
pub struct ChordTrack<'a> {
    /// The changes.
    changes: &'a [ChordChange],
    /// Indices into `changes`, by start step (stable).
    order: Vec<usize>,
}

impl<'a> ChordTrack<'a> {
    /// The track of `changes`.
    pub fn new(changes: &'a [ChordChange]) -> Self {
        let mut order: Vec<usize> = (0..changes.len()).collect();
        order.sort_by_key(|&i| changes[i].start_step);
        Self { changes, order }
    }

    /// The chord in force at `step` (`None`: no chord).
    pub fn at(&self, step: usize) -> Option<&'a Chord> {
        let step = i64::try_from(step).unwrap_or(i64::MAX);
        let n = self
            .order
            .partition_point(|&i| self.changes[i].start_step <= step);
        n.checked_sub(1)
            .and_then(|k| self.changes[self.order[k]].chord.as_ref())
    }
}

/// One encoding as a generation and evaluation step sees it.
pub trait StepCodec: Send {
    /// One event per step.
    type Event: Copy + PartialEq + Debug + Send;
    /// Turns events into notes, step by step.
    type Decoder;

    /// Width of an input row.
    fn input_size(&self) -> usize;

    /// Number of classes the model predicts.
    fn num_classes(&self) -> usize;

    /// The events of notes from step 0, and the semitones the pitches were shifted by
    /// (a continuation goes back by the negative).
    fn encode(&self, notes: &[StepNote]) -> (Vec<Self::Event>, i32);

    /// The event that fills a primer up to its length (silence).
    fn silence(&self) -> Self::Event;

    /// Writes the input row of `position` into `row` ([`Self::input_size`] wide), from the
    /// events `history[..=position]` and the chords.
    fn write_input(
        &self,
        history: &[Self::Event],
        position: usize,
        chords: &ChordTrack<'_>,
        row: &mut [f32],
    );

    /// Writes the input rows of positions `0..time` of `events` into `inputs`
    /// (`time ×` [`Self::input_size`]), for one model call over the whole sequence.
    fn write_rows(
        &self,
        events: &[Self::Event],
        time: usize,
        chords: &ChordTrack<'_>,
        inputs: &mut Vec<f32>,
    ) {
        let width = self.input_size();
        inputs.clear();
        inputs.resize(time * width, 0.0);
        for (position, row) in inputs.chunks_mut(width).enumerate() {
            self.write_input(events, position, chords, row);
        }
    }

    /// The class the model should predict for the event at `position`.
    fn label(&self, events: &[Self::Event], position: usize) -> usize;

    /// The event a sampled class stands for after the events `history`.
    fn class_to_event(&self, history: &[Self::Event], class: usize) -> Self::Event;

    /// Whether pitch masks apply to this encoding's events.
    fn pitched(&self) -> bool;

    /// Whether `mask` lets `event` through, the events being shifted by `shift_semitones`.
    fn allows(&self, event: Self::Event, shift_semitones: i32, mask: &PitchMask) -> bool;

    /// Whether `event` starts a note (what a density control leans towards or away from).
    fn is_onset(&self, event: Self::Event) -> bool;

    /// A decoder with nothing sounding, for events shifted by `shift_semitones`, giving notes of
    /// `velocity` where the encoding has none.
    fn decoder(&self, shift_semitones: i32, velocity: u8) -> Self::Decoder;

    /// Takes the event at `step` (from the continuation's start) and appends the notes it
    /// completes to `notes`.
    fn decode(
        &self,
        decoder: &mut Self::Decoder,
        step: i64,
        event: Self::Event,
        notes: &mut Vec<StepNote>,
    );

    /// Ends whatever still sounds at `end_step`, appending the notes to `notes`.
    fn finish(&self, decoder: &mut Self::Decoder, end_step: i64, notes: &mut Vec<StepNote>);

    /// The class that closes one time step, for encodings whose events are not one per step
    /// (Polyphony's STEP_END): evaluation then also reports the NLL per time step.
    fn frame_class(&self) -> Option<usize> {
        None
    }
}

/// The part of a melody encoding that differs between encodings: rows and labels over melody
/// events (the notes-to-events pipeline and the decoding are shared).
pub trait MelodyFeatures: Send {
    /// Width of an input row.
    fn input_size(&self) -> usize;
    /// Number of labels.
    fn num_classes(&self) -> usize;
    /// Writes the row of `position` from `events[..=position]` and the chords.
    fn write_input(
        &self,
        events: &[MelodyEvent],
        position: usize,
        chords: &ChordTrack<'_>,
        row: &mut [f32],
    );
    /// The label of the event at `position`.
    fn label(&self, events: &[MelodyEvent], position: usize) -> usize;
    /// The event a label stands for after `events_so_far`.
    fn label_to_event(&self, events_so_far: &[MelodyEvent], label: usize) -> MelodyEvent;
}

/// Melody one-hot rows and classes (`melody_onehot`).
#[derive(Debug, Clone, Copy)]
pub struct OneHotFeatures(pub MelodyOneHot);

impl MelodyFeatures for OneHotFeatures {
    fn input_size(&self) -> usize {
        self.0.num_classes()
    }
    fn num_classes(&self) -> usize {
        self.0.num_classes()
    }
    fn write_input(
        &self,
        events: &[MelodyEvent],
        position: usize,
        _: &ChordTrack,
        row: &mut [f32],
    ) {
        self.0.write_input(events[position], row);
    }
    fn label(&self, events: &[MelodyEvent], position: usize) -> usize {
        self.0.event_to_class(events[position])
    }
    fn label_to_event(&self, _: &[MelodyEvent], label: usize) -> MelodyEvent {
        self.0.class_to_event(label)
    }
}

/// Lookback rows and labels (`melody_lookback`).
#[derive(Debug, Clone, Copy)]
pub struct LookbackFeatures;

impl MelodyFeatures for LookbackFeatures {
    fn input_size(&self) -> usize {
        lookback::INPUT_SIZE
    }
    fn num_classes(&self) -> usize {
        lookback::NUM_CLASSES
    }
    fn write_input(
        &self,
        events: &[MelodyEvent],
        position: usize,
        _: &ChordTrack,
        row: &mut [f32],
    ) {
        lookback::write_input(events, position, row);
    }
    fn label(&self, events: &[MelodyEvent], position: usize) -> usize {
        lookback::label(events, position)
    }
    fn label_to_event(&self, events_so_far: &[MelodyEvent], label: usize) -> MelodyEvent {
        lookback::label_to_event(events_so_far, label)
    }
}

/// KeyMelody rows and labels (`key_melody`).
#[derive(Debug, Clone, Copy)]
pub struct KeyMelodyFeatures;

impl MelodyFeatures for KeyMelodyFeatures {
    fn input_size(&self) -> usize {
        key_melody::INPUT_SIZE
    }
    fn num_classes(&self) -> usize {
        key_melody::NUM_CLASSES
    }
    fn write_input(
        &self,
        events: &[MelodyEvent],
        position: usize,
        _: &ChordTrack,
        row: &mut [f32],
    ) {
        key_melody::write_input(events, position, row);
    }
    fn label(&self, events: &[MelodyEvent], position: usize) -> usize {
        key_melody::label(events, position)
    }
    fn label_to_event(&self, events_so_far: &[MelodyEvent], label: usize) -> MelodyEvent {
        if label < key_melody::NUM_CLASSES {
            key_melody::label_to_event(events_so_far, label)
        } else {
            MelodyEvent::NoEvent
        }
    }
}

/// Improv rows: the chord at the next step, then the melody one-hot of the current event
/// (`chord_melody`).
#[derive(Debug, Clone, Copy)]
pub struct ChordMelodyFeatures(pub ChordMelody);

impl MelodyFeatures for ChordMelodyFeatures {
    fn input_size(&self) -> usize {
        self.0.input_size()
    }
    fn num_classes(&self) -> usize {
        self.0.melody.num_classes()
    }
    fn write_input(
        &self,
        events: &[MelodyEvent],
        position: usize,
        chords: &ChordTrack,
        row: &mut [f32],
    ) {
        let (chord_part, melody_part) = row.split_at_mut(self.0.chords.width());
        self.0.chords.write(chords.at(position + 1), chord_part);
        self.0.melody.write_input(events[position], melody_part);
    }
    fn label(&self, events: &[MelodyEvent], position: usize) -> usize {
        self.0.melody.event_to_class(events[position])
    }
    fn label_to_event(&self, _: &[MelodyEvent], label: usize) -> MelodyEvent {
        self.0.melody.class_to_event(label)
    }
}

/// A melody encoding: the one-hot pipeline from notes to events (monophony, events from step 0,
/// key, transposition) with `F`'s rows and labels.
#[derive(Debug, Clone, Copy)]
pub struct MelodyCodec<F> {
    /// The pipeline's parameters (range, transposition).
    pub pipeline: MelodyOneHot,
    /// Rows and labels.
    pub features: F,
}

impl<F: MelodyFeatures> StepCodec for MelodyCodec<F> {
    type Event = MelodyEvent;
    type Decoder = NoteDecoder;

    fn input_size(&self) -> usize {
        self.features.input_size()
    }

    fn num_classes(&self) -> usize {
        self.features.num_classes()
    }

    fn encode(&self, notes: &[StepNote]) -> (Vec<MelodyEvent>, i32) {
        let encoded = self.pipeline.encode(notes);
        (encoded.events, encoded.shift_semitones)
    }

    fn silence(&self) -> MelodyEvent {
        MelodyEvent::NoEvent
    }

    fn write_input(
        &self,
        history: &[MelodyEvent],
        position: usize,
        chords: &ChordTrack<'_>,
        row: &mut [f32],
    ) {
        self.features.write_input(history, position, chords, row);
    }

    fn label(&self, events: &[MelodyEvent], position: usize) -> usize {
        self.features.label(events, position)
    }

    fn class_to_event(&self, history: &[MelodyEvent], class: usize) -> MelodyEvent {
        self.features.label_to_event(history, class)
    }

    fn pitched(&self) -> bool {
        true
    }

    fn allows(&self, event: MelodyEvent, shift_semitones: i32, mask: &PitchMask) -> bool {
        match event {
            MelodyEvent::NoEvent | MelodyEvent::NoteOff => true,
            MelodyEvent::NoteOn(p) => mask.allows(shift_back(p, shift_semitones)),
        }
    }

    fn is_onset(&self, event: MelodyEvent) -> bool {
        matches!(event, MelodyEvent::NoteOn(_))
    }

    fn decoder(&self, shift_semitones: i32, velocity: u8) -> NoteDecoder {
        NoteDecoder::new(shift_semitones, velocity)
    }

    fn decode(
        &self,
        decoder: &mut NoteDecoder,
        step: i64,
        event: MelodyEvent,
        notes: &mut Vec<StepNote>,
    ) {
        notes.extend(decoder.push(step, event));
    }

    fn finish(&self, decoder: &mut NoteDecoder, end_step: i64, notes: &mut Vec<StepNote>) {
        notes.extend(decoder.finish(end_step));
    }
}

/// The `drum_kit` encoding: events are sets of drum classes (`0..512`), never transposed.
#[derive(Debug, Clone, Copy)]
pub struct DrumCodec;

impl StepCodec for DrumCodec {
    type Event = usize;
    /// The velocity of decoded notes.
    type Decoder = u8;

    fn input_size(&self) -> usize {
        drums::INPUT_SIZE
    }

    fn num_classes(&self) -> usize {
        drums::NUM_EVENTS
    }

    fn encode(&self, notes: &[StepNote]) -> (Vec<usize>, i32) {
        (drums::notes_to_events(notes), 0)
    }

    fn silence(&self) -> usize {
        0
    }

    fn write_input(&self, history: &[usize], position: usize, _: &ChordTrack<'_>, row: &mut [f32]) {
        drums::write_input(history[position], position, row);
    }

    fn label(&self, events: &[usize], position: usize) -> usize {
        events[position] % drums::NUM_EVENTS
    }

    fn class_to_event(&self, _: &[usize], class: usize) -> usize {
        class % drums::NUM_EVENTS
    }

    fn pitched(&self) -> bool {
        false
    }

    fn allows(&self, _: usize, _: i32, _: &PitchMask) -> bool {
        true
    }

    fn is_onset(&self, event: usize) -> bool {
        event != 0
    }

    fn decoder(&self, _: i32, velocity: u8) -> u8 {
        velocity
    }

    fn decode(&self, velocity: &mut u8, step: i64, event: usize, notes: &mut Vec<StepNote>) {
        for note in drums::events_to_notes(&[event], step) {
            notes.push(StepNote {
                velocity: *velocity,
                ..note
            });
        }
    }

    fn finish(&self, _: &mut u8, _: i64, _: &mut Vec<StepNote>) {}
}

/// An encoding whose input row is the one-hot of the event's class and whose label is the class
/// (`polyphony`, `performance`). Its events are not one per time step, so it serves evaluation;
/// generation runs through [`super::stream`].
#[derive(Debug, Clone, Copy)]
pub struct EventCodec {
    /// Which one.
    pub kind: EventKind,
}

/// The one-hot event encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// [`polyphony`]: the BachBot event stream.
    Polyphony,
    /// [`performance`]: note-on, note-off, time shift and velocity events.
    Performance,
}

impl StepCodec for EventCodec {
    type Event = usize;
    /// The events decoded so far (they become notes at the end).
    type Decoder = Vec<usize>;

    fn input_size(&self) -> usize {
        self.num_classes()
    }

    fn num_classes(&self) -> usize {
        match self.kind {
            EventKind::Polyphony => polyphony::NUM_CLASSES,
            EventKind::Performance => performance::NUM_CLASSES,
        }
    }

    fn encode(&self, notes: &[StepNote]) -> (Vec<usize>, i32) {
        match self.kind {
            EventKind::Polyphony => (polyphony::notes_to_events(notes), 0),
            EventKind::Performance => (performance::step_notes_to_events(notes), 0),
        }
    }

    fn silence(&self) -> usize {
        match self.kind {
            EventKind::Polyphony => polyphony::STEP_END,
            EventKind::Performance => performance::DEFAULT_EVENT,
        }
    }

    fn write_input(&self, history: &[usize], position: usize, _: &ChordTrack<'_>, row: &mut [f32]) {
        row.fill(0.0);
        if let Some(v) = row.get_mut(history[position]) {
            *v = 1.0;
        }
    }

    fn label(&self, events: &[usize], position: usize) -> usize {
        events[position]
    }

    fn class_to_event(&self, _: &[usize], class: usize) -> usize {
        class
    }

    fn pitched(&self) -> bool {
        false
    }

    fn allows(&self, _: usize, _: i32, _: &PitchMask) -> bool {
        true
    }

    fn is_onset(&self, _: usize) -> bool {
        false
    }

    fn decoder(&self, _: i32, _: u8) -> Vec<usize> {
        Vec::new()
    }

    /// Collects the events; the notes come at [`StepCodec::finish`].
    fn decode(&self, events: &mut Vec<usize>, _: i64, event: usize, _: &mut Vec<StepNote>) {
        events.push(event);
    }

    fn finish(&self, events: &mut Vec<usize>, _: i64, notes: &mut Vec<StepNote>) {
        match self.kind {
            EventKind::Polyphony => notes.extend(polyphony::events_to_notes(events, 0)),
            EventKind::Performance => notes.extend(performance::events_to_notes(events)),
        }
        events.clear();
    }

    fn frame_class(&self) -> Option<usize> {
        (self.kind == EventKind::Polyphony).then_some(polyphony::STEP_END)
    }
}

/// Something done with the codec of an encoding, whatever its event type.
pub trait CodecVisitor {
    /// What it gives.
    type Output;
    /// Does it with `codec`.
    fn visit<C: StepCodec + 'static>(self, codec: C) -> Self::Output;
}

/// Calls `visitor` with the codec of `spec`; `None` for `pianoroll_nade`, whose frames are not
/// classes (see [`super::nade`]).
pub fn visit_codec<V: CodecVisitor>(spec: &EncodingSpec, visitor: V) -> Option<V::Output> {
    Some(match *spec {
        EncodingSpec::MelodyOnehot(m) => visitor.visit(MelodyCodec {
            pipeline: m,
            features: OneHotFeatures(m),
        }),
        EncodingSpec::MelodyLookback(m) => visitor.visit(MelodyCodec {
            pipeline: m,
            features: LookbackFeatures,
        }),
        EncodingSpec::KeyMelody(m) => visitor.visit(MelodyCodec {
            pipeline: m,
            features: KeyMelodyFeatures,
        }),
        EncodingSpec::DrumKit(_) => visitor.visit(DrumCodec),
        EncodingSpec::ChordMelody(c) => visitor.visit(MelodyCodec {
            pipeline: c.melody,
            features: ChordMelodyFeatures(c),
        }),
        EncodingSpec::Polyphony(_) => visitor.visit(EventCodec {
            kind: EventKind::Polyphony,
        }),
        EncodingSpec::Performance(_) => visitor.visit(EventCodec {
            kind: EventKind::Performance,
        }),
        EncodingSpec::PianorollNade(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::chords::parse_symbol;
    use crate::encoding::{ChordEncoding, chords};

    fn change(start_step: i64, symbol: &str) -> ChordChange {
        ChordChange {
            start_step,
            chord: parse_symbol(symbol).unwrap(),
        }
    }

    #[test]
    fn given_chord_changes_in_any_order_when_looked_up_then_the_latest_started_chord_holds() {
        let changes = [change(16, "G"), change(0, "C"), change(32, "N.C.")];
        let track = ChordTrack::new(&changes);
        let triad = |step| chords::triad_index(track.at(step));
        assert_eq!(triad(0), 1);
        assert_eq!(triad(15), 1);
        assert_eq!(triad(16), 1 + 7);
        assert_eq!(triad(40), 0);
        let late = [change(4, "Am")];
        assert_eq!(ChordTrack::new(&late).at(3), None);
        assert_eq!(ChordTrack::new(&[]).at(0), None);
    }

    #[test]
    fn given_an_improv_row_when_written_then_the_chord_of_the_next_step_comes_first() {
        // Given C for steps 0..4, then G
        let changes = [change(0, "C"), change(4, "G")];
        let track = ChordTrack::new(&changes);
        let codec = MelodyCodec {
            pipeline: MelodyOneHot {
                transpose_to_key: None,
                ..MelodyOneHot::BASIC
            },
            features: ChordMelodyFeatures(ChordMelody {
                chords: ChordEncoding::Triad,
                melody: MelodyOneHot {
                    transpose_to_key: None,
                    ..MelodyOneHot::BASIC
                },
            }),
        };
        let events = [
            MelodyEvent::NoteOn(60),
            MelodyEvent::NoEvent,
            MelodyEvent::NoEvent,
            MelodyEvent::NoEvent,
        ];
        let mut row = vec![9.0; codec.input_size()];
        // When the row of step 3 is written
        codec.write_input(&events, 3, &track, &mut row);
        // Then it holds G major (the chord at step 4) and the no-event of step 3
        assert_eq!(row.len(), 87);
        assert_eq!(row[1 + 7], 1.0);
        assert_eq!(row[49], 1.0);
        assert_eq!(row.iter().sum::<f32>(), 2.0);
        // And the row of step 2 holds C major
        codec.write_input(&events, 2, &track, &mut row);
        assert_eq!(row[1], 1.0);
    }
}
