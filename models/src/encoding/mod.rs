//! Event encodings: how notes become model inputs and class indices, and back.
//!
//! Each encoding is pure logic, shared bit for bit with the Python training pipeline through the
//! test vectors in `models/testdata/`.

pub mod chords;
pub mod drums;
pub mod key_melody;
pub mod lookback;
pub mod melody;
pub mod performance;
pub mod pianoroll;
pub mod polyphony;

use serde::{Deserialize, Serialize};

use crate::contract::Family;

/// Writes the ±1 binary counter of `value` into `bits`: bit `i` is +1 when set, −1 when clear
/// (Magenta's metric-position and length counters).
pub fn write_binary_counter(value: usize, bits: &mut [f32]) {
    for (i, bit) in bits.iter_mut().enumerate() {
        *bit = if (value >> i) & 1 == 1 { 1.0 } else { -1.0 };
    }
}

/// The finest grid an encoding may declare, in steps per quarter note (a MIDI file's usual
/// 480 ticks). Generation runs a model step per grid step, so a model declaring billions of
/// steps per quarter would generate for ever; it is refused when it loads. (Performance works
/// on its own 10 ms grid, see [`EncodingSpec::steps_per_quarter_at`].)
pub const MAX_STEPS_PER_QUARTER: u32 = 480;

/// An encoding and its parameters, as written in a model's `antiphon.encoding` metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum EncodingSpec {
    /// Magenta's Melody RNN one-hot encoding (`basic_rnn`).
    MelodyOnehot(melody::MelodyOneHot),
    /// Magenta's Lookback encoding (`lookback_rnn`): [`lookback`] rows and labels over the melody
    /// events of the one-hot pipeline. Only pitches 48..84 at 4 steps per quarter.
    MelodyLookback(melody::MelodyOneHot),
    /// Magenta's KeyMelody encoding (`attention_rnn`): [`key_melody`] rows and labels over the
    /// melody events of the one-hot pipeline. Only pitches 48..84 at 4 steps per quarter.
    KeyMelody(melody::MelodyOneHot),
    /// Magenta's Drums RNN `drum_kit` encoding ([`drums`]).
    DrumKit(DrumKit),
    /// Magenta's Improv RNN: a chord encoding ([`chords`]) of the chord at the next step, then
    /// the melody one-hot of the current event.
    ChordMelody(ChordMelody),
    /// Magenta's Polyphony RNN: the BachBot-style event stream ([`polyphony`]).
    Polyphony(Polyphony),
    /// Magenta's Performance RNN with dynamics ([`performance`]): 10 ms time shifts.
    Performance(Performance),
    /// Magenta's Pianoroll RNN-NADE ([`pianoroll`]): binary key frames, sampled by a NADE.
    PianorollNade(pianoroll::NadeSpec),
}

/// Parameters of the `polyphony` encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Polyphony {
    /// Model steps per quarter note (the encoding is defined at 4).
    pub steps_per_quarter: u32,
}

/// Parameters of the `performance` encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Performance {
    /// Time-shift steps per second (the encoding is defined at 100).
    pub steps_per_second: u32,
    /// Velocity bins (32).
    pub velocity_bins: u32,
    /// Longest note in seconds (5).
    pub max_note_seconds: u32,
    /// Whether the model plays drums (General MIDI pitches on channel 10): a model trained on
    /// drum performances.
    #[serde(default)]
    pub drums: bool,
}

impl Performance {
    /// Model steps per quarter note at `tempo_qpm`: the 10 ms grid rounded to a whole number of
    /// steps per beat (at least 1), so absolute time maps onto the host's beat grid.
    pub fn steps_per_quarter_at(&self, tempo_qpm: f64) -> u32 {
        let qpm = if tempo_qpm.is_finite() && tempo_qpm > 0.0 {
            tempo_qpm
        } else {
            120.0
        };
        (f64::from(self.steps_per_second) * 60.0 / qpm)
            .round()
            .clamp(1.0, 10_000.0) as u32
    }
}

/// Parameters of the `drum_kit` encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrumKit {
    /// Model steps per quarter note.
    pub steps_per_quarter: u32,
}

/// Which chord encoding an Improv model reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChordEncoding {
    /// Pitch-chord vector ([`chords::PITCH_CHORD_SIZE`] = 37 wide).
    Pitch,
    /// Triad one-hot ([`chords::NUM_TRIAD_CLASSES`] = 49 wide).
    Triad,
}

impl ChordEncoding {
    /// Width of the chord part of a row.
    pub fn width(self) -> usize {
        match self {
            Self::Pitch => chords::PITCH_CHORD_SIZE,
            Self::Triad => chords::NUM_TRIAD_CLASSES,
        }
    }

    /// Writes the encoding of `chord` (`None` = no chord) into `row` ([`Self::width`] wide).
    pub fn write(self, chord: Option<&chords::Chord>, row: &mut [f32]) {
        match self {
            Self::Pitch => chords::write_pitch_chord(chord, row),
            Self::Triad => chords::write_triad(chord, row),
        }
    }
}

/// Parameters of the `chord_melody` encoding (Improv RNN).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChordMelody {
    /// The chord encoding of the conditioning part.
    pub chords: ChordEncoding,
    /// The melody one-hot encoding of the event part; never transposed.
    pub melody: melody::MelodyOneHot,
}

impl ChordMelody {
    /// Width of one input row: chord part then melody one-hot.
    pub fn input_size(&self) -> usize {
        self.chords.width() + self.melody.num_classes()
    }
}

impl EncodingSpec {
    /// The encoding's name as it appears in the metadata.
    pub fn name(&self) -> &'static str {
        match self {
            Self::MelodyOnehot(_) => "melody_onehot",
            Self::MelodyLookback(_) => "melody_lookback",
            Self::KeyMelody(_) => "key_melody",
            Self::DrumKit(_) => "drum_kit",
            Self::ChordMelody(_) => "chord_melody",
            Self::Polyphony(_) => "polyphony",
            Self::Performance(_) => "performance",
            Self::PianorollNade(_) => "pianoroll_nade",
        }
    }

    /// The model family whose models use this encoding.
    pub fn family(&self) -> Family {
        match self {
            Self::MelodyOnehot(_) | Self::MelodyLookback(_) | Self::KeyMelody(_) => Family::Melody,
            Self::DrumKit(_) => Family::Drums,
            Self::ChordMelody(_) => Family::Improv,
            Self::Polyphony(_) => Family::Polyphony,
            Self::Performance(_) => Family::Performance,
            Self::PianorollNade(_) => Family::Pianoroll,
        }
    }

    /// Width of one input row.
    pub fn input_size(&self) -> usize {
        match self {
            Self::MelodyOnehot(m) => m.num_classes(),
            Self::MelodyLookback(_) => lookback::INPUT_SIZE,
            Self::KeyMelody(_) => key_melody::INPUT_SIZE,
            Self::DrumKit(_) => drums::INPUT_SIZE,
            Self::ChordMelody(c) => c.input_size(),
            Self::Polyphony(_) => polyphony::INPUT_SIZE,
            Self::Performance(_) => performance::INPUT_SIZE,
            Self::PianorollNade(n) => n.num_keys as usize,
        }
    }

    /// Number of output classes.
    pub fn num_classes(&self) -> usize {
        match self {
            Self::MelodyOnehot(m) => m.num_classes(),
            Self::MelodyLookback(_) => lookback::NUM_CLASSES,
            Self::KeyMelody(_) => key_melody::NUM_CLASSES,
            Self::DrumKit(_) => drums::NUM_EVENTS,
            Self::ChordMelody(c) => c.melody.num_classes(),
            Self::Polyphony(_) => polyphony::NUM_CLASSES,
            Self::Performance(_) => performance::NUM_CLASSES,
            // The NADE's biases: encoder (hidden units) then decoder (one per key).
            Self::PianorollNade(n) => n.bias_width(),
        }
    }

    /// Model steps per quarter note; for Performance (absolute time) at 120 quarter notes per
    /// minute: see [`Self::steps_per_quarter_at`].
    pub fn steps_per_quarter(&self) -> u32 {
        self.steps_per_quarter_at(120.0)
    }

    /// Model steps per quarter note at `tempo_qpm` (only Performance depends on the tempo).
    pub fn steps_per_quarter_at(&self, tempo_qpm: f64) -> u32 {
        match self {
            Self::MelodyOnehot(m) | Self::MelodyLookback(m) | Self::KeyMelody(m) => {
                m.steps_per_quarter
            }
            Self::DrumKit(d) => d.steps_per_quarter,
            Self::ChordMelody(c) => c.melody.steps_per_quarter,
            Self::Polyphony(p) => p.steps_per_quarter,
            Self::Performance(p) => p.steps_per_quarter_at(tempo_qpm),
            Self::PianorollNade(n) => n.steps_per_quarter,
        }
    }

    /// The MIDI channel index (0-based) the generated notes belong on, when the encoding fixes
    /// one: `Some(9)` (General MIDI drums, channel 10) for `drum_kit`; `None` means the player's
    /// choice of output channel.
    pub fn output_channel(&self) -> Option<u8> {
        match self {
            Self::DrumKit(_) => Some(drums::DRUM_CHANNEL),
            Self::Performance(p) if p.drums => Some(drums::DRUM_CHANNEL),
            _ => None,
        }
    }

    /// Whether the model reads chords (a generation request's `chords` matter).
    pub fn uses_chords(&self) -> bool {
        matches!(self, Self::ChordMelody(_))
    }

    /// Checks the parameters for consistency, and that the grid is at most
    /// [`MAX_STEPS_PER_QUARTER`] steps per quarter note.
    pub fn validate(&self) -> Result<(), String> {
        let steps_per_quarter = self.steps_per_quarter();
        if !matches!(self, Self::Performance(_)) && steps_per_quarter > MAX_STEPS_PER_QUARTER {
            return Err(format!(
                "steps_per_quarter {steps_per_quarter} is more than the {MAX_STEPS_PER_QUARTER} \
                 a model may have"
            ));
        }
        match self {
            Self::MelodyOnehot(m) => m.validate(),
            Self::MelodyLookback(m) | Self::KeyMelody(m) => {
                m.validate()?;
                let basic = melody::MelodyOneHot::BASIC;
                if (m.min_pitch, m.max_pitch, m.steps_per_quarter)
                    != (basic.min_pitch, basic.max_pitch, basic.steps_per_quarter)
                {
                    return Err(format!(
                        "{} is defined only for pitches {}..{} at {} steps per quarter (found \
                         {}..{} at {})",
                        self.name(),
                        basic.min_pitch,
                        basic.max_pitch,
                        basic.steps_per_quarter,
                        m.min_pitch,
                        m.max_pitch,
                        m.steps_per_quarter
                    ));
                }
                Ok(())
            }
            Self::DrumKit(d) => {
                if d.steps_per_quarter == 0 {
                    return Err("steps_per_quarter must be positive".into());
                }
                Ok(())
            }
            Self::Polyphony(p) => {
                if p.steps_per_quarter == 0 {
                    return Err("steps_per_quarter must be positive".into());
                }
                Ok(())
            }
            Self::Performance(p) => {
                let defined = (
                    performance::STEPS_PER_SECOND,
                    performance::NUM_VELOCITY_BINS as u32,
                    (performance::MAX_NOTE_STEPS / i64::from(performance::STEPS_PER_SECOND)) as u32,
                );
                if (p.steps_per_second, p.velocity_bins, p.max_note_seconds) != defined {
                    return Err(format!(
                        "performance is defined only for {} steps per second, {} velocity bins and \
                         notes of at most {} s (found {}, {}, {})",
                        defined.0,
                        defined.1,
                        defined.2,
                        p.steps_per_second,
                        p.velocity_bins,
                        p.max_note_seconds
                    ));
                }
                Ok(())
            }
            Self::PianorollNade(n) => n.validate(),
            Self::ChordMelody(c) => {
                c.melody.validate()?;
                if c.melody.transpose_to_key.is_some() {
                    return Err(
                        "chord_melody does not transpose (melody.transpose_to_key must be null)"
                            .into(),
                    );
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> EncodingSpec {
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"))
    }

    #[test]
    fn given_the_metadata_forms_when_parsed_then_sizes_classes_and_families_follow() {
        let cases = [
            (
                r#"{"name":"melody_onehot","min_pitch":48,"max_pitch":84,"steps_per_quarter":4,"transpose_to_key":0}"#,
                38,
                38,
                Family::Melody,
            ),
            (
                r#"{"name":"melody_lookback","min_pitch":48,"max_pitch":84,"steps_per_quarter":4,"transpose_to_key":0}"#,
                121,
                40,
                Family::Melody,
            ),
            (
                r#"{"name":"key_melody","min_pitch":48,"max_pitch":84,"steps_per_quarter":4,"transpose_to_key":0}"#,
                74,
                40,
                Family::Melody,
            ),
            (
                r#"{"name":"drum_kit","steps_per_quarter":4}"#,
                518,
                512,
                Family::Drums,
            ),
            (
                r#"{"name":"chord_melody","chords":"pitch","melody":{"min_pitch":48,"max_pitch":84,"steps_per_quarter":4,"transpose_to_key":null}}"#,
                75,
                38,
                Family::Improv,
            ),
            (
                r#"{"name":"chord_melody","chords":"triad","melody":{"min_pitch":48,"max_pitch":84,"steps_per_quarter":4,"transpose_to_key":null}}"#,
                87,
                38,
                Family::Improv,
            ),
        ];
        for (json, input, classes, family) in cases {
            let s = spec(json);
            assert_eq!(s.validate(), Ok(()), "{json}");
            assert_eq!(
                (s.input_size(), s.num_classes(), s.family()),
                (input, classes, family),
                "{json}"
            );
            assert_eq!(s.steps_per_quarter(), 4);
            // Written back, it reads the same.
            assert_eq!(spec(&serde_json::to_string(&s).unwrap()), s);
        }
        assert_eq!(
            spec(r#"{"name":"drum_kit","steps_per_quarter":4}"#).output_channel(),
            Some(9)
        );
    }

    #[test]
    fn given_the_polyphonic_encodings_when_parsed_then_sizes_families_and_grids_follow() {
        let poly = spec(r#"{"name":"polyphony","steps_per_quarter":4}"#);
        assert_eq!(
            (poly.input_size(), poly.num_classes(), poly.family()),
            (259, 259, Family::Polyphony)
        );
        let nade = spec(
            r#"{"name":"pianoroll_nade","min_pitch":21,"num_keys":88,"nade_hidden":128,"steps_per_quarter":1}"#,
        );
        assert_eq!(
            (nade.input_size(), nade.num_classes(), nade.family()),
            (88, 216, Family::Pianoroll)
        );
        assert_eq!(nade.steps_per_quarter(), 1);
        let perf = spec(
            r#"{"name":"performance","steps_per_second":100,"velocity_bins":32,"max_note_seconds":5}"#,
        );
        assert_eq!(
            (perf.input_size(), perf.num_classes(), perf.family()),
            (388, 388, Family::Performance)
        );
        // Absolute time on the beat grid: 50 steps a quarter at 120 QPM, 80 at 75 QPM.
        assert_eq!(perf.steps_per_quarter_at(120.0), 50);
        assert_eq!(perf.steps_per_quarter_at(75.0), 80);
        assert_eq!(perf.steps_per_quarter_at(0.0), 50);
        assert_eq!(perf.output_channel(), None);
        let drums = spec(
            r#"{"name":"performance","steps_per_second":100,"velocity_bins":32,"max_note_seconds":5,"drums":true}"#,
        );
        assert_eq!(drums.output_channel(), Some(9));
        for s in [poly, nade, perf, drums] {
            assert_eq!(s.validate(), Ok(()));
            assert_eq!(spec(&serde_json::to_string(&s).unwrap()), s);
        }
        let odd = spec(
            r#"{"name":"performance","steps_per_second":125,"velocity_bins":32,"max_note_seconds":5}"#,
        );
        assert!(odd.validate().unwrap_err().contains("100 steps per second"));
        let too_many_keys = spec(
            r#"{"name":"pianoroll_nade","min_pitch":60,"num_keys":88,"nade_hidden":8,"steps_per_quarter":1}"#,
        );
        assert!(too_many_keys.validate().is_err());
    }

    #[test]
    fn given_parameters_the_fixed_encodings_do_not_support_when_validated_then_refused() {
        let lookback = spec(
            r#"{"name":"melody_lookback","min_pitch":0,"max_pitch":128,"steps_per_quarter":4,"transpose_to_key":0}"#,
        );
        let err = lookback.validate().unwrap_err();
        assert!(err.contains("48..84"), "{err}");
        let key = spec(
            r#"{"name":"key_melody","min_pitch":48,"max_pitch":84,"steps_per_quarter":2,"transpose_to_key":0}"#,
        );
        assert!(key.validate().is_err());
        let improv = spec(
            r#"{"name":"chord_melody","chords":"triad","melody":{"min_pitch":48,"max_pitch":84,"steps_per_quarter":4,"transpose_to_key":0}}"#,
        );
        assert!(improv.validate().unwrap_err().contains("transpose"));
        assert!(
            spec(r#"{"name":"drum_kit","steps_per_quarter":0}"#)
                .validate()
                .is_err()
        );
    }

    #[test]
    fn given_a_grid_finer_than_the_limit_when_validated_then_every_family_refuses_it() {
        for json in [
            r#"{"name":"melody_onehot","min_pitch":48,"max_pitch":84,"steps_per_quarter":481,"transpose_to_key":0}"#,
            r#"{"name":"drum_kit","steps_per_quarter":4294967295}"#,
            r#"{"name":"polyphony","steps_per_quarter":100000}"#,
            r#"{"name":"pianoroll_nade","min_pitch":21,"num_keys":88,"nade_hidden":8,"steps_per_quarter":481}"#,
        ] {
            let err = spec(json).validate().unwrap_err();
            assert!(err.contains("480"), "{json}: {err}");
        }
        let finest = spec(r#"{"name":"drum_kit","steps_per_quarter":480}"#);
        assert_eq!(finest.validate(), Ok(()));
    }
}
