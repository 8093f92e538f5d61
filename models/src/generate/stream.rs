//! Generation for the event-stream encodings whose events are not one per time step: Polyphony
//! (a variable number of note events, then STEP_END, per step) and Performance (note-on,
//! note-off, velocity and 10 ms time-shift events).
//!
//! One sequence is sampled event by event (temperature; no beam search) until its clock reaches
//! the wanted number of steps; each note is handed out as soon as it ends. Sampling only offers
//! events that make sense where the stream is: never START or END, Polyphony's notes of a step
//! strictly from high to low and CONTINUED only for a pitch that sounded in the step before,
//! Performance's note-offs only for sounding pitches. The pitch mask applies to new notes.
//! Polyphony can harmonise: the request's `melody` is injected as the top voice at every step
//! (Magenta's harmonisation), the model fills in the voices below.

use std::time::Instant;

use crate::contract::ModelInfo;
use crate::encoding::{performance as perf, polyphony as poly};
use crate::error::ModelError;
use crate::notes::StepNote;
use crate::sampling::{self, Rng};
use crate::session::StepModel;

use super::beam::{hand_out, run_primer};
use super::codec::EventKind;
use super::mask::PitchMask;
use super::{GenerateRequest, GenerateStats, GeneratedNote, Generator, StepControl};

/// The most events generated per requested step before generation gives up on a model that
/// never moves its clock on (a Polyphony step holds at most 128 note events; a Performance step
/// is 10 ms).
const MAX_EVENTS_PER_STEP: usize = 160;

/// Where an event stream stands while it is generated.
trait Stream {
    /// Whether `class` may come next.
    fn allows(&self, class: usize) -> bool;
    /// Whether `class` starts a note (what a density control leans towards or away from).
    fn is_onset(&self, class: usize) -> bool;
    /// An event the stream must take next without sampling (harmonisation), if any.
    fn forced(&mut self) -> Option<usize>;
    /// Takes an event, appending the notes it ends to `notes`.
    fn push(&mut self, event: usize, notes: &mut Vec<StepNote>);
    /// Whole time steps done.
    fn clock(&self) -> i64;
    /// Ends whatever sounds at `end_step`.
    fn finish(&mut self, end_step: i64, notes: &mut Vec<StepNote>);
}

/// The primer notes cut to the window `0..primer_steps`.
fn window(primer: &[StepNote], primer_steps: usize) -> Vec<StepNote> {
    let end = primer_steps as i64;
    primer
        .iter()
        .filter(|n| n.start_step >= 0 && n.start_step < end)
        .map(|n| StepNote {
            end_step: n.end_step.min(end).max(n.start_step + 1),
            ..*n
        })
        .collect()
}

/// Polyphony's primer events: the stream of the window's notes without its END, then STEP_END
/// up to `primer_steps` steps; and the pitches listed in its last step.
fn polyphony_primer(primer: &[StepNote], primer_steps: usize) -> (Vec<usize>, [bool; 128]) {
    let mut events = poly::notes_to_events(&window(primer, primer_steps));
    events.pop(); // END
    let steps = events.iter().filter(|&&e| e == poly::STEP_END).count();
    events.extend(std::iter::repeat_n(
        poly::STEP_END,
        primer_steps.saturating_sub(steps),
    ));
    let mut last = [false; 128];
    let before_last = events[..events.len() - 1]
        .iter()
        .rposition(|&e| e == poly::STEP_END || e == poly::START)
        .map_or(0, |i| i + 1);
    for &e in &events[before_last..] {
        if let Some(poly::PolyEvent::NewNote(p) | poly::PolyEvent::ContinuedNote(p)) =
            poly::PolyEvent::from_index(e)
        {
            last[usize::from(p)] = true;
        }
    }
    if primer_steps == 0 {
        last = [false; 128];
    }
    (events, last)
}

/// The Polyphony stream.
struct PolyStream<'a> {
    /// The notes so far; its step is the stream's clock.
    decoder: poly::StepDecoder,
    /// Pitches listed in the step before.
    before: [bool; 128],
    /// The lowest pitch listed so far in this step.
    lowest: Option<u8>,
    /// Which new pitches may be chosen.
    mask: PitchMask,
    /// The melody to harmonise, in continuation steps.
    melody: &'a [StepNote],
    /// Whether this step's melody note was injected.
    melody_done: bool,
}

impl<'a> PolyStream<'a> {
    /// A stream at step 0 after a primer whose last step listed `before`.
    fn new(before: [bool; 128], velocity: u8, mask: PitchMask, melody: &'a [StepNote]) -> Self {
        Self {
            decoder: poly::StepDecoder::new(0, velocity),
            before,
            lowest: None,
            mask,
            melody,
            melody_done: false,
        }
    }

    /// The melody note sounding at the current step (the highest of several).
    fn melody_note(&self) -> Option<&StepNote> {
        let step = self.decoder.step();
        self.melody
            .iter()
            .filter(|n| n.start_step <= step && step < n.end_step.max(n.start_step + 1))
            .max_by_key(|n| n.pitch)
    }
}

impl Stream for PolyStream<'_> {
    fn allows(&self, class: usize) -> bool {
        let listed = self.decoder.listed();
        match poly::PolyEvent::from_index(class) {
            Some(poly::PolyEvent::StepEnd) => true,
            Some(poly::PolyEvent::NewNote(p)) => {
                let p = usize::from(p);
                !listed[p]
                    && self.lowest.is_none_or(|low| p < usize::from(low))
                    && self.mask.allows(p as u8)
            }
            Some(poly::PolyEvent::ContinuedNote(p)) => {
                let p = usize::from(p);
                self.before[p] && !listed[p] && self.lowest.is_none_or(|low| p < usize::from(low))
            }
            _ => false,
        }
    }

    fn is_onset(&self, class: usize) -> bool {
        matches!(
            poly::PolyEvent::from_index(class),
            Some(poly::PolyEvent::NewNote(_))
        )
    }

    fn forced(&mut self) -> Option<usize> {
        if self.melody_done || self.lowest.is_some() {
            return None;
        }
        self.melody_done = true;
        let note = self.melody_note()?;
        let p = usize::from(note.pitch.min(127));
        Some(
            if note.start_step == self.decoder.step() || !self.before[p] {
                poly::NEW_NOTE_OFFSET + p
            } else {
                poly::CONTINUED_NOTE_OFFSET + p
            },
        )
    }

    fn push(&mut self, event: usize, notes: &mut Vec<StepNote>) {
        let Some(event) = poly::PolyEvent::from_index(event) else {
            return;
        };
        match event {
            poly::PolyEvent::StepEnd => {
                self.before = *self.decoder.listed();
                self.lowest = None;
                self.melody_done = false;
            }
            poly::PolyEvent::NewNote(p) | poly::PolyEvent::ContinuedNote(p)
                if !self.decoder.listed()[usize::from(p)] =>
            {
                self.lowest = Some(self.lowest.map_or(p, |low| low.min(p)));
            }
            _ => {}
        }
        self.decoder.push(event, notes);
    }

    fn clock(&self) -> i64 {
        self.decoder.step()
    }

    fn finish(&mut self, end_step: i64, notes: &mut Vec<StepNote>) {
        self.decoder.finish_at(end_step, notes);
    }
}

/// The Performance stream.
struct PerfStream {
    /// Steps (10 ms) done.
    clock: i64,
    /// Velocity of the next note-on.
    velocity: u8,
    /// Open notes: pitch, velocity, start.
    open: Vec<(u8, u8, i64)>,
    /// Which new pitches may be chosen (all for drums).
    mask: PitchMask,
}

impl Stream for PerfStream {
    fn allows(&self, class: usize) -> bool {
        match perf::PerfEvent::from_index(class) {
            Some(perf::PerfEvent::NoteOn(p)) => self.mask.allows(p),
            Some(perf::PerfEvent::NoteOff(p)) => self.open.iter().any(|n| n.0 == p),
            Some(_) => true,
            None => false,
        }
    }

    fn is_onset(&self, class: usize) -> bool {
        matches!(
            perf::PerfEvent::from_index(class),
            Some(perf::PerfEvent::NoteOn(_))
        )
    }

    fn forced(&mut self) -> Option<usize> {
        None
    }

    fn push(&mut self, event: usize, notes: &mut Vec<StepNote>) {
        match perf::PerfEvent::from_index(event) {
            Some(perf::PerfEvent::NoteOn(p)) => self.open.push((p, self.velocity, self.clock)),
            Some(perf::PerfEvent::NoteOff(p)) => {
                if let Some(i) = self.open.iter().position(|n| n.0 == p) {
                    let (p, v, start) = self.open.remove(i);
                    notes.push(StepNote::new(p, v, start, self.clock.max(start + 1)));
                }
            }
            Some(perf::PerfEvent::TimeShift(k)) => {
                self.clock += i64::from(k);
                let clock = self.clock;
                self.open.retain(|&(p, v, start)| {
                    let keep = clock - start < perf::MAX_NOTE_STEPS;
                    if !keep {
                        notes.push(StepNote::new(p, v, start, start + perf::MAX_NOTE_STEPS));
                    }
                    keep
                });
            }
            Some(perf::PerfEvent::Velocity(b)) => self.velocity = perf::bin_to_velocity(b),
            None => {}
        }
    }

    fn clock(&self) -> i64 {
        self.clock
    }

    fn finish(&mut self, end_step: i64, notes: &mut Vec<StepNote>) {
        for (p, v, start) in self.open.drain(..) {
            let end = end_step.min(start + perf::MAX_NOTE_STEPS).max(start + 1);
            notes.push(StepNote::new(p, v, start, end));
        }
    }
}

/// Performance's primer events: the window's stream, then time shifts up to `primer_steps`
/// (one shift of a step when that leaves nothing to read); and the velocity it leaves set.
fn performance_primer(primer: &[StepNote], primer_steps: usize) -> (Vec<usize>, Option<u8>) {
    let mut events = perf::step_notes_to_events(&window(primer, primer_steps));
    let clock: i64 = events
        .iter()
        .filter_map(|&e| match perf::PerfEvent::from_index(e) {
            Some(perf::PerfEvent::TimeShift(k)) => Some(i64::from(k)),
            _ => None,
        })
        .sum();
    let mut gap = (primer_steps as i64 - clock).max(0) as usize;
    while gap > 0 {
        let shift = gap.min(perf::MAX_SHIFT_STEPS);
        events.push(perf::TIME_SHIFT_OFFSET + shift - 1);
        gap -= shift;
    }
    if events.is_empty() {
        events.push(perf::TIME_SHIFT_OFFSET);
    }
    let velocity = events
        .iter()
        .rev()
        .find_map(|&e| match perf::PerfEvent::from_index(e) {
            Some(perf::PerfEvent::Velocity(b)) => Some(perf::bin_to_velocity(b)),
            _ => None,
        });
    (events, velocity)
}

/// A Polyphony or Performance model, generating event by event.
pub struct StreamGenerator {
    /// The model.
    model: StepModel,
    /// Which encoding.
    kind: EventKind,
    /// Whether the notes are drums (the pitch mask does not apply).
    drums: bool,
    /// Input rows.
    inputs: Vec<f32>,
    /// Logits of the last call.
    logits: Vec<f32>,
    /// Notes not yet handed out.
    notes: Vec<StepNote>,
}

impl StreamGenerator {
    /// A generator over `model`, whose encoding is `kind`.
    pub fn new(model: StepModel, kind: EventKind) -> Self {
        let drums = model.info().encoding.output_channel().is_some();
        Self {
            model,
            kind,
            drums,
            inputs: Vec::new(),
            logits: Vec::new(),
            notes: Vec::new(),
        }
    }
}

impl Generator for StreamGenerator {
    fn info(&self) -> &ModelInfo {
        self.model.info()
    }

    fn generate(
        &mut self,
        request: &GenerateRequest<'_>,
        rng: &mut Rng,
        on_note: &mut dyn FnMut(GeneratedNote) -> StepControl,
    ) -> Result<GenerateStats, ModelError> {
        let mask = if self.drums {
            PitchMask::ALL
        } else {
            request.mask
        };
        let (primer, mut stream): (Vec<usize>, Box<dyn Stream + '_>) = match self.kind {
            EventKind::Polyphony => {
                let (events, before) = polyphony_primer(request.primer, request.primer_steps);
                let stream = PolyStream::new(before, request.velocity, mask, request.melody);
                (events, Box::new(stream))
            }
            EventKind::Performance => {
                let (events, velocity) = performance_primer(request.primer, request.primer_steps);
                let stream = PerfStream {
                    clock: 0,
                    velocity: velocity.unwrap_or(request.velocity),
                    open: Vec::new(),
                    mask,
                };
                (events, Box::new(stream))
            }
        };
        let width = self.model.info().input_size;
        let one_hot = |event: usize, row: &mut [f32]| {
            row.fill(0.0);
            if let Some(v) = row.get_mut(event) {
                *v = 1.0;
            }
        };
        let mut stats = GenerateStats::default();
        let mut state = self.model.zero_state(1);
        let started = Instant::now();
        run_primer(
            &mut self.model,
            primer.len(),
            width,
            &mut state,
            &mut self.inputs,
            &mut self.logits,
            |position, row| one_hot(primer[position], row),
        )?;
        stats.primer_us = started.elapsed().as_micros() as u64;
        let steps = request.steps as i64;
        let max_events = request.steps.saturating_mul(MAX_EVENTS_PER_STEP) + 1000;
        let mut events = 0usize;
        self.notes.clear();
        while stream.clock() < steps && events < max_events {
            let started = Instant::now();
            let event = match stream.forced() {
                Some(event) => event,
                None => {
                    let s = &*stream;
                    let density = f64::from(request.density_nats);
                    sampling::sample_biased(
                        &self.logits,
                        request.temperature,
                        |c| s.allows(c),
                        |c| if s.is_onset(c) { density } else { 0.0 },
                        rng,
                    )
                    .0
                }
            };
            stream.push(event, &mut self.notes);
            events += 1;
            if stream.clock() < steps {
                self.inputs.resize(width, 0.0);
                one_hot(event, &mut self.inputs);
                self.model
                    .run(&self.inputs, 1, &mut state, &mut self.logits)?;
            }
            stats.steps = stream.clock().clamp(0, steps) as usize;
            stats.steps_us += started.elapsed().as_micros() as u64;
            self.notes.retain(|n| n.start_step < steps);
            for n in &mut self.notes {
                n.end_step = n.end_step.min(steps);
            }
            if hand_out(&mut self.notes, &mut stats, on_note) {
                return Ok(stats);
            }
        }
        stream.finish(steps, &mut self.notes);
        self.notes.retain(|n| n.start_step < steps);
        for n in &mut self.notes {
            n.end_step = n.end_step.min(steps).max(n.start_step + 1);
        }
        self.notes
            .sort_by_key(|n| (n.start_step, std::cmp::Reverse(n.pitch)));
        hand_out(&mut self.notes, &mut stats, on_note);
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_a_primer_when_turned_into_polyphony_events_then_it_fills_the_window_with_steps() {
        // Given two notes, the second held past the window of 3 steps
        let primer = [StepNote::new(60, 100, 0, 1), StepNote::new(64, 100, 1, 9)];
        // When
        let (events, last) = polyphony_primer(&primer, 3);
        // Then START, one step per window step, no END, and the last step lists E4
        let steps = events.iter().filter(|&&e| e == poly::STEP_END).count();
        assert_eq!(events[0], poly::START);
        assert_eq!(steps, 3);
        assert!(!events.contains(&poly::END));
        assert!(last[64] && !last[60]);
    }

    #[test]
    fn given_a_polyphony_step_when_events_are_offered_then_only_lower_unlisted_pitches_follow() {
        let mut before = [false; 128];
        before[62] = true;
        let mut s = PolyStream::new(before, 90, PitchMask::ALL, &[]);
        assert!(!s.allows(poly::START) && !s.allows(poly::END));
        assert!(s.allows(poly::CONTINUED_NOTE_OFFSET + 62));
        assert!(!s.allows(poly::CONTINUED_NOTE_OFFSET + 61));
        let mut notes = Vec::new();
        s.push(poly::NEW_NOTE_OFFSET + 67, &mut notes);
        assert!(!s.allows(poly::NEW_NOTE_OFFSET + 67) && !s.allows(poly::NEW_NOTE_OFFSET + 70));
        assert!(s.allows(poly::NEW_NOTE_OFFSET + 60));
        s.push(poly::STEP_END, &mut notes);
        s.push(poly::STEP_END, &mut notes);
        assert_eq!(notes, vec![StepNote::new(67, 90, 0, 1)]);
        assert_eq!(s.clock(), 2);
    }

    #[test]
    fn given_a_melody_when_harmonising_then_its_note_leads_every_step() {
        let melody = [StepNote::new(72, 100, 0, 2)];
        let mut s = PolyStream::new([false; 128], 90, PitchMask::ALL, &melody);
        let mut notes = Vec::new();
        assert_eq!(s.forced(), Some(poly::NEW_NOTE_OFFSET + 72));
        s.push(poly::NEW_NOTE_OFFSET + 72, &mut notes);
        assert_eq!(s.forced(), None);
        s.push(poly::STEP_END, &mut notes);
        assert_eq!(s.forced(), Some(poly::CONTINUED_NOTE_OFFSET + 72));
        s.push(poly::CONTINUED_NOTE_OFFSET + 72, &mut notes);
        s.push(poly::STEP_END, &mut notes);
        assert_eq!(s.forced(), None); // the melody rests at step 2
        s.push(poly::STEP_END, &mut notes);
        assert_eq!(notes, vec![StepNote::new(72, 90, 0, 2)]);
    }

    #[test]
    fn given_performance_events_when_streamed_then_notes_end_at_their_note_off_or_after_5_s() {
        let mut s = PerfStream {
            clock: 0,
            velocity: 64,
            open: Vec::new(),
            mask: PitchMask::ALL,
        };
        assert!(!s.allows(perf::NOTE_OFF_OFFSET + 36));
        let mut notes = Vec::new();
        s.push(perf::VELOCITY_OFFSET + 31, &mut notes); // bin 32
        s.push(36, &mut notes);
        s.push(38, &mut notes);
        assert!(s.allows(perf::NOTE_OFF_OFFSET + 36));
        s.push(perf::TIME_SHIFT_OFFSET + 9, &mut notes); // 10 steps
        s.push(perf::NOTE_OFF_OFFSET + 36, &mut notes);
        assert_eq!(notes, vec![StepNote::new(36, 125, 0, 10)]);
        for _ in 0..5 {
            s.push(perf::TIME_SHIFT_OFFSET + 99, &mut notes);
        }
        assert_eq!(notes[1], StepNote::new(38, 125, 0, 500));
        assert_eq!(s.clock(), 510);
    }

    #[test]
    fn given_a_performance_primer_when_encoded_then_time_runs_to_the_window_end() {
        let primer = [StepNote::new(60, 80, 10, 30)];
        let (events, velocity) = performance_primer(&primer, 250);
        let clock: usize = events
            .iter()
            .filter(|&&e| (perf::TIME_SHIFT_OFFSET..perf::VELOCITY_OFFSET).contains(&e))
            .map(|&e| e - perf::TIME_SHIFT_OFFSET + 1)
            .sum();
        assert_eq!(clock, 250);
        assert_eq!(
            velocity,
            Some(perf::bin_to_velocity(perf::velocity_to_bin(80)))
        );
        assert_eq!(performance_primer(&[], 0).0, vec![perf::TIME_SHIFT_OFFSET]);
    }
}
