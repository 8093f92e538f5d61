//! Example primers of every encoding, as notes and as the input rows they become: the realistic
//! state that benchmarks (`models/benches/`) and `cargo xtask compare-ort` step from, so a
//! measured step runs from a state a real generation could be in rather than from zeros.
//!
//! Each family gets two 4/4 bars in its idiom: a melody (Melody, Improv over C | F C), a rock beat
//! (Drums, and Performance models of drums), a four-part chorale cadence (Polyphony, Pianoroll,
//! other Performance models). Times are written in beats and put on the model's grid at
//! [`PRIMER_TEMPO_QPM`] (only Performance's 10 ms grid depends on it).

use crate::contract::{Family, ModelInfo};
use crate::encoding::chords::parse_symbol;
use crate::encoding::{EncodingSpec, performance, polyphony};
use crate::generate::ChordChange;
use crate::generate::codec::{ChordTrack, CodecVisitor, StepCodec, visit_codec};
use crate::notes::StepNote;

/// Tempo at which the primers' beats are put on a model's grid, in quarter notes per minute.
pub const PRIMER_TEMPO_QPM: f64 = 120.0;

/// Length of every primer, in beats (two 4/4 bars).
pub const PRIMER_BEATS: f64 = 8.0;

/// Magenta's seed primer, as `antiphon generate` plays it by default (its `SEED_PRIMER`): G#5 G#5
/// D#6 D#6 F6 F6 in eighth notes, then D#6 for a quarter note; `(pitch, start_beats, end_beats)`.
/// A unit test of `antiphon generate` checks that its text and these notes agree.
pub const MAGENTA_SEED_BEATS: [(u8, f64, f64); 7] = [
    (80, 0.0, 0.5),
    (80, 0.5, 1.0),
    (87, 1.0, 1.5),
    (87, 1.5, 2.0),
    (89, 2.0, 2.5),
    (89, 2.5, 3.0),
    (87, 3.0, 4.0),
];

/// Velocity of the primers' notes (`antiphon generate`'s default for a primer note).
pub const PRIMER_VELOCITY: u8 = 100;

/// "C C G G A A G–" in quarter notes (the last a half note): `(pitch, start_beats, end_beats)`.
const MELODY_BEATS: [(u8, f64, f64); 7] = [
    (60, 0.0, 1.0),
    (60, 1.0, 2.0),
    (67, 2.0, 3.0),
    (67, 3.0, 4.0),
    (69, 4.0, 5.0),
    (69, 5.0, 6.0),
    (67, 6.0, 8.0),
];

/// The chords under [`MELODY_BEATS`]: `(start_beats, symbol)`.
const MELODY_CHORDS: [(f64, &str); 3] = [(0.0, "C"), (4.0, "F"), (6.0, "C")];

/// A four-part cadence I IV V I in half notes: the voices of each chord, bass first.
const CHORALE_CHORDS: [[u8; 4]; 4] = [
    [48, 55, 64, 72],
    [53, 57, 65, 72],
    [43, 55, 62, 71],
    [48, 55, 64, 72],
];

/// General MIDI kick, snare and closed hi-hat.
const KICK_SNARE_HAT: (u8, u8, u8) = (36, 38, 42);

/// A primer: notes on a model's grid, its length and (for Improv) its chords.
#[derive(Debug, Clone, PartialEq)]
pub struct Primer {
    /// The notes, in steps from the primer's start.
    pub notes: Vec<StepNote>,
    /// Length of the primer window in steps (two bars).
    pub steps: usize,
    /// Chord changes in steps from the primer's start (empty but for Improv models).
    pub chords: Vec<ChordChange>,
}

/// The input rows a model reads for a primer, in one call from the zero state.
#[derive(Debug, Clone, PartialEq)]
pub struct PrimerRows {
    /// `time × input_size` floats, row-major.
    pub inputs: Vec<f32>,
    /// Number of rows (model time steps); at least 1.
    pub time: usize,
}

impl PrimerRows {
    /// Row `index` (`input_size` wide).
    pub fn row(&self, index: usize) -> &[f32] {
        let width = self.inputs.len() / self.time;
        &self.inputs[index * width..(index + 1) * width]
    }
}

/// The example primer of `info`'s family, on its grid (see the module doc).
pub fn example(info: &ModelInfo) -> Primer {
    let steps_per_quarter = info.encoding.steps_per_quarter_at(PRIMER_TEMPO_QPM);
    let spq = f64::from(steps_per_quarter);
    let step = |beats: f64| (beats * spq).round() as i64;
    let note = |pitch: u8, velocity: u8, start: f64, end: f64| {
        StepNote::new(pitch, velocity, step(start), step(end))
    };
    let drums = info.encoding.output_channel().is_some();
    let mut chords = Vec::new();
    let notes: Vec<StepNote> = match info.family {
        Family::Melody | Family::Improv => {
            if info.encoding.uses_chords() {
                chords = MELODY_CHORDS
                    .iter()
                    .map(|&(beats, symbol)| ChordChange {
                        start_step: step(beats),
                        // PANIC: the symbols above are chord names the parser knows.
                        chord: parse_symbol(symbol).expect("a known chord symbol"),
                    })
                    .collect();
            }
            MELODY_BEATS
                .iter()
                .map(|&(p, s, e)| note(p, PRIMER_VELOCITY, s, e))
                .collect()
        }
        Family::Drums | Family::Performance if drums => {
            let (kick, snare, hat) = KICK_SNARE_HAT;
            let mut notes = Vec::new();
            for eighth in 0..16 {
                let beats = f64::from(eighth) * 0.5;
                let accent = if eighth % 2 == 0 { 100 } else { 70 };
                notes.push(note(hat, accent, beats, beats + 0.25));
                match eighth % 4 {
                    0 => notes.push(note(kick, 110, beats, beats + 0.25)),
                    2 => notes.push(note(snare, 105, beats, beats + 0.25)),
                    _ => {}
                }
            }
            notes.sort_by_key(|n| (n.start_step, n.pitch));
            notes
        }
        Family::Drums | Family::Polyphony | Family::Pianoroll | Family::Performance => {
            CHORALE_CHORDS
                .iter()
                .enumerate()
                .flat_map(|(i, voices)| {
                    let start = 2.0 * i as f64;
                    voices
                        .iter()
                        .map(move |&p| note(p, PRIMER_VELOCITY, start, start + 2.0))
                })
                .collect()
        }
    };
    Primer {
        notes,
        steps: step(PRIMER_BEATS).max(1) as usize,
        chords,
    }
}

/// The input rows that `info`'s generator feeds for `primer` before its first generated step:
/// one per step for the metric encodings, one per event for Polyphony and Performance, the empty
/// start frame and then one per frame for Pianoroll.
pub fn input_rows(info: &ModelInfo, primer: &Primer) -> PrimerRows {
    let width = info.input_size;
    let one_hot_rows = |events: &[usize], write: fn(usize, &mut [f32])| {
        let mut inputs = vec![0.0; events.len() * width];
        for (row, &event) in inputs.chunks_mut(width).zip(events) {
            write(event, row);
        }
        PrimerRows {
            inputs,
            time: events.len(),
        }
    };
    match info.encoding {
        EncodingSpec::Polyphony(_) => {
            let mut events = polyphony::notes_to_events(&primer.notes);
            events.pop(); // END: the stream goes on
            one_hot_rows(&events, polyphony::write_input)
        }
        EncodingSpec::Performance(_) => {
            let mut events = performance::step_notes_to_events(&primer.notes);
            if events.is_empty() {
                events.push(performance::TIME_SHIFT_OFFSET);
            }
            one_hot_rows(&events, performance::write_input)
        }
        EncodingSpec::PianorollNade(spec) => {
            let mut frames = spec.notes_to_frames(&primer.notes);
            frames.resize(primer.steps, 0);
            let mut inputs = vec![0.0; (1 + frames.len()) * width];
            for (row, &frame) in inputs.chunks_mut(width).skip(1).zip(&frames) {
                spec.write_input(frame, row);
            }
            PrimerRows {
                inputs,
                time: 1 + frames.len(),
            }
        }
        ref spec => visit_codec(spec, MetricRows(primer)).unwrap_or_else(|| PrimerRows {
            inputs: vec![0.0; width],
            time: 1,
        }),
    }
}

/// Writes the rows of an encoding with one event per step through its codec.
struct MetricRows<'a>(&'a Primer);

impl CodecVisitor for MetricRows<'_> {
    type Output = PrimerRows;

    fn visit<C: StepCodec + 'static>(self, codec: C) -> PrimerRows {
        let time = self.0.steps.max(1);
        let (mut events, _shift) = codec.encode(&self.0.notes);
        events.resize(time, codec.silence());
        let mut inputs = Vec::new();
        codec.write_rows(&events, time, &ChordTrack::new(&self.0.chords), &mut inputs);
        PrimerRows { inputs, time }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::melody::MelodyOneHot;
    use crate::encoding::pianoroll::NadeSpec;
    use crate::encoding::{DrumKit, Polyphony};

    /// The contract's view of a model of `encoding` (no graph needed).
    fn info(encoding: EncodingSpec) -> ModelInfo {
        ModelInfo {
            name: "example".into(),
            family: encoding.family(),
            input_size: encoding.input_size(),
            classes: encoding.num_classes(),
            encoding,
            card: serde_json::Value::Null,
            state_sizes: Vec::new(),
        }
    }

    #[test]
    fn given_a_melody_model_when_its_primer_is_written_then_it_is_two_bars_of_one_hot_rows() {
        let info = info(EncodingSpec::MelodyOnehot(MelodyOneHot::BASIC));
        let primer = example(&info);
        let rows = input_rows(&info, &primer);
        assert_eq!(primer.steps, 32);
        assert_eq!(rows.time, 32);
        assert_eq!(rows.inputs.len(), 32 * info.input_size);
        // Every row of the basic encoding is a one-hot.
        for t in 0..rows.time {
            assert_eq!(rows.row(t).iter().sum::<f32>(), 1.0, "row {t}");
        }
    }

    #[test]
    fn given_a_drum_model_when_its_primer_is_made_then_kick_snare_and_hats_fill_two_bars() {
        let info = info(EncodingSpec::DrumKit(DrumKit {
            steps_per_quarter: 4,
        }));
        let primer = example(&info);
        let count = |pitch| primer.notes.iter().filter(|n| n.pitch == pitch).count();
        assert_eq!((count(36), count(38), count(42)), (4, 4, 16));
        assert!(primer.notes.iter().all(|n| n.start_step < 32));
        assert_eq!(input_rows(&info, &primer).time, 32);
    }

    #[test]
    fn given_a_polyphony_model_when_its_primer_is_written_then_one_row_per_event_without_end() {
        let info = info(EncodingSpec::Polyphony(Polyphony {
            steps_per_quarter: 4,
        }));
        let rows = input_rows(&info, &example(&info));
        // START, then per step 4 voices and STEP_END: 1 + 32 × 5 events.
        assert_eq!(rows.time, 1 + 32 * 5);
        assert_eq!(rows.row(0)[polyphony::START], 1.0);
        assert_eq!(rows.row(rows.time - 1)[polyphony::STEP_END], 1.0);
    }

    #[test]
    fn given_a_pianoroll_model_when_its_primer_is_written_then_an_empty_frame_leads_the_chords() {
        let info = info(EncodingSpec::PianorollNade(NadeSpec {
            min_pitch: 21,
            num_keys: 88,
            nade_hidden: 16,
            steps_per_quarter: 1,
        }));
        let rows = input_rows(&info, &example(&info));
        // The empty start frame, then 8 frames (quarter notes) of four-voice chords.
        assert_eq!(rows.time, 1 + 8);
        assert_eq!(rows.row(0).iter().sum::<f32>(), 0.0);
        for t in 1..rows.time {
            assert_eq!(rows.row(t).iter().sum::<f32>(), 4.0, "frame {t}");
        }
        // The first chord is C: C3 (key 27) in the bass.
        assert_eq!(rows.row(1)[48 - 21], 1.0);
    }
}
