//! The plugin's parameters (automatable, saved with the project) and persisted fields.

use std::sync::{Arc, RwLock};

use antiphon_engine::{ChordInput, JamControl, JamMode, ModelPick};
use antiphon_models::generate::mask::SCALE_NAMES;
use antiphon_models::notes::{self, PITCH_CLASS_NAMES, parse_pitch_class};
use antiphon_models::{BeamSettings, PitchMask, Scale};
use nice_plug::prelude::*;

/// The Model parameter: which kind of model answers.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelParam {
    /// Melody RNN, basic (the shipped `melody_basic`; a project's own file wins when it has
    /// one, as before this parameter existed).
    #[id = "melody"]
    #[name = "Melody"]
    Melody,
    /// Melody RNN, lookback (`melody_lookback`).
    #[id = "melody_lookback"]
    #[name = "Melody Lookback"]
    MelodyLookback,
    /// Melody RNN, attention (`melody_attention`).
    #[id = "melody_attention"]
    #[name = "Melody Attention"]
    MelodyAttention,
    /// Drums RNN, drum kit (`drums_kit`); answers on MIDI channel 10.
    #[id = "drums"]
    #[name = "Drums"]
    Drums,
    /// Improv RNN over the chords the player holds (`improv_chord_pitches`).
    #[id = "improv"]
    #[name = "Improv"]
    Improv,
    /// Polyphony RNN on the Bach chorales (`polyphony_bach`): continues the call in four-part
    /// style, or harmonises it (Harmonize).
    #[id = "polyphony"]
    #[name = "Polyphony"]
    Polyphony,
    /// Pianoroll RNN-NADE on the Bach chorales (`pianoroll_nade_bach`): quarter-note chords.
    #[id = "pianoroll"]
    #[name = "Pianoroll"]
    Pianoroll,
    /// Performance RNN with dynamics on the Groove drummers (`performance_groove`): expressive
    /// drums on MIDI channel 10.
    #[id = "performance"]
    #[name = "Performance"]
    Performance,
    /// The project's own model file (`model_path`, else `ANTIPHON_MODEL`).
    #[id = "custom_file"]
    #[name = "Custom File"]
    CustomFile,
}

impl ModelParam {
    /// The engine's pick for this choice.
    pub fn pick(self) -> ModelPick {
        match self {
            Self::Melody => ModelPick::Melody,
            Self::MelodyLookback => ModelPick::MelodyLookback,
            Self::MelodyAttention => ModelPick::MelodyAttention,
            Self::Drums => ModelPick::Drums,
            Self::Improv => ModelPick::Improv,
            Self::Polyphony => ModelPick::Polyphony,
            Self::Pianoroll => ModelPick::Pianoroll,
            Self::Performance => ModelPick::Performance,
            Self::CustomFile => ModelPick::CustomFile,
        }
    }
}

/// The Scale parameter: off, or one of the scales of [`SCALE_NAMES`] (same order).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaleParam {
    /// Any pitch class.
    #[id = "off"]
    #[name = "Off"]
    Off,
    /// Major (Ionian).
    #[id = "major"]
    #[name = "Major"]
    Major,
    /// Natural minor (Aeolian).
    #[id = "minor"]
    #[name = "Minor"]
    Minor,
    /// Harmonic minor.
    #[id = "harmonic-minor"]
    #[name = "Harmonic Minor"]
    HarmonicMinor,
    /// Melodic minor (ascending).
    #[id = "melodic-minor"]
    #[name = "Melodic Minor"]
    MelodicMinor,
    /// Dorian.
    #[id = "dorian"]
    #[name = "Dorian"]
    Dorian,
    /// Phrygian.
    #[id = "phrygian"]
    #[name = "Phrygian"]
    Phrygian,
    /// Lydian.
    #[id = "lydian"]
    #[name = "Lydian"]
    Lydian,
    /// Mixolydian.
    #[id = "mixolydian"]
    #[name = "Mixolydian"]
    Mixolydian,
    /// Locrian.
    #[id = "locrian"]
    #[name = "Locrian"]
    Locrian,
    /// Major pentatonic.
    #[id = "pentatonic-major"]
    #[name = "Pentatonic Major"]
    PentatonicMajor,
    /// Minor pentatonic.
    #[id = "pentatonic-minor"]
    #[name = "Pentatonic Minor"]
    PentatonicMinor,
    /// Blues (minor pentatonic with the flat fifth).
    #[id = "blues"]
    #[name = "Blues"]
    Blues,
    /// Every pitch class.
    #[id = "chromatic"]
    #[name = "Chromatic"]
    Chromatic,
}

impl ScaleParam {
    /// Index of the scale in [`SCALE_NAMES`]; `None` for [`ScaleParam::Off`].
    pub fn scale_index(self) -> Option<usize> {
        match self {
            Self::Off => None,
            Self::Major => Some(0),
            Self::Minor => Some(1),
            Self::HarmonicMinor => Some(2),
            Self::MelodicMinor => Some(3),
            Self::Dorian => Some(4),
            Self::Phrygian => Some(5),
            Self::Lydian => Some(6),
            Self::Mixolydian => Some(7),
            Self::Locrian => Some(8),
            Self::PentatonicMajor => Some(9),
            Self::PentatonicMinor => Some(10),
            Self::Blues => Some(11),
            Self::Chromatic => Some(12),
        }
    }

    /// The scale on `root` (pitch class, 0 = C); `None` for [`ScaleParam::Off`]. Allocates
    /// nothing.
    pub fn scale(self, root: u8) -> Option<Scale> {
        let (_, intervals) = SCALE_NAMES.get(self.scale_index()?)?;
        Some(Scale::new(root, intervals))
    }
}

/// The Chord Source parameter: where an Improv model's chords come from.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChordSourceParam {
    /// Notes below Split Key are chords.
    #[id = "split_key"]
    #[name = "Split Key"]
    SplitKey,
    /// Notes on Chord Channel are chords.
    #[id = "chord_channel"]
    #[name = "Chord Channel"]
    ChordChannel,
}

/// The Mode parameter: how Antiphon plays along.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModeParam {
    /// Call and response: the player's call, then Antiphon's answer.
    #[id = "call_response"]
    #[name = "Call and Response"]
    CallResponse,
    /// Fixed turns of Trade Bars: the player, then Antiphon.
    #[id = "trade"]
    #[name = "Trade"]
    Trade,
    /// Antiphon plays continuously, re-seeded by what the player plays.
    #[id = "accompany"]
    #[name = "Accompany"]
    Accompany,
    /// One continuation of the last phrase on the Continue control.
    #[id = "continue"]
    #[name = "Continue"]
    Continue,
}

impl ModeParam {
    /// The engine's mode for this choice.
    pub fn mode(self) -> JamMode {
        match self {
            Self::CallResponse => JamMode::CallResponse,
            Self::Trade => JamMode::Trade,
            Self::Accompany => JamMode::Accompany,
            Self::Continue => JamMode::Continue,
        }
    }
}

/// The Answer Start parameter: where an answer begins after the call.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerStartParam {
    /// On the next bar line.
    #[id = "bar"]
    #[name = "Next Bar"]
    Bar,
    /// On the next beat.
    #[id = "beat"]
    #[name = "Next Beat"]
    Beat,
}

/// The name of MIDI key `key`, C4 = 60 (C-1 = 0, G9 = 127).
pub fn note_name(key: i32) -> String {
    notes::note_name(key.clamp(0, 127) as u8)
}

/// The MIDI key of a note name (`C4`, `F#3`, `Bb2`, `C-1`; C4 = 60, see
/// [`notes::parse_note_name`]) or of a plain number.
pub fn parse_note_name(text: &str) -> Option<i32> {
    let text = text.trim();
    if let Ok(key) = text.parse::<i32>() {
        return (0..=127).contains(&key).then_some(key);
    }
    notes::parse_note_name(text).ok().map(i32::from)
}

/// An integer parameter over MIDI keys 0..=127 shown as note names (C4 = 60).
fn key_param(name: &str, default: i32) -> IntParam {
    IntParam::new(name, default, IntRange::Linear { min: 0, max: 127 })
        .with_value_to_string(Arc::new(note_name))
        .with_string_to_value(Arc::new(parse_note_name))
}

/// Everything a host can automate and save.
#[derive(Params)]
pub struct AntiphonParams {
    /// Softmax temperature of sampling: low is safe, high is wild.
    #[id = "temperature"]
    pub temperature: FloatParam,
    /// Answer length in bars; 0 = as long as the call.
    #[id = "answer_bars"]
    pub answer_bars: IntParam,
    /// MIDI channel of the answer, 1..=16.
    #[id = "out_channel"]
    pub out_channel: IntParam,
    /// Pass the player's notes through.
    #[id = "midi_thru"]
    pub midi_thru: BoolParam,
    /// Beats of silence that end a call.
    #[id = "silence_beats"]
    pub silence_beats: FloatParam,
    /// A call ends after this many bars even if the player goes on.
    #[id = "max_call_bars"]
    pub max_call_bars: IntParam,
    /// Tempo used when the host gives none (e.g. a host without a transport).
    #[id = "tempo"]
    pub tempo: FloatParam,
    /// New input cuts a playing answer short.
    #[id = "interrupt"]
    pub interrupt: BoolParam,
    /// Bypass: input passes unchanged, no answers.
    #[id = "bypass"]
    pub bypass: BoolParam,
    /// Which model answers.
    #[id = "model"]
    pub model: EnumParam<ModelParam>,
    /// Beam search: entries kept per iteration, 1..=8 (all three at 1: plain sampling).
    #[id = "beam_size"]
    pub beam_size: IntParam,
    /// Beam search: copies of each entry per iteration, 1..=8.
    #[id = "branch_factor"]
    pub branch_factor: IntParam,
    /// Beam search: steps sampled per iteration, 1..=16.
    #[id = "steps_per_iteration"]
    pub steps_per_iteration: IntParam,
    /// The scale answers keep to (Off: any pitch class).
    #[id = "scale"]
    pub scale: EnumParam<ScaleParam>,
    /// Root of the scale, 0 = C … 11 = B.
    #[id = "key"]
    pub key: IntParam,
    /// Lowest MIDI key an answer may play.
    #[id = "range_low"]
    pub range_low: IntParam,
    /// Highest MIDI key an answer may play.
    #[id = "range_high"]
    pub range_high: IntParam,
    /// Where an Improv model's chords come from.
    #[id = "chord_source"]
    pub chord_source: EnumParam<ChordSourceParam>,
    /// With Chord Source = Split Key, notes below this MIDI key are chords (Improv only).
    #[id = "split_key"]
    pub split_key: IntParam,
    /// With Chord Source = Chord Channel, notes on this MIDI channel (1..=16) are chords
    /// (Improv only).
    #[id = "chord_channel"]
    pub chord_channel: IntParam,
    /// Polyphony answers harmonise the call (its notes as the top voice) instead of
    /// continuing it.
    #[id = "harmonize"]
    pub harmonize: BoolParam,
    /// Pianoroll answers choose each key by the 0.5 threshold (Magenta's sampling, no
    /// randomness) instead of drawing it at the temperature.
    #[id = "threshold"]
    pub threshold: BoolParam,
    /// Path of a user `.onnx` model; empty for none (then `ANTIPHON_MODEL`, if set, is used).
    /// Loaded for Model = Custom File, and for Model = Melody (projects from before the Model
    /// parameter).
    #[persist = "model_path"]
    pub model_path: Arc<RwLock<String>>,
    /// How Antiphon plays along.
    #[id = "mode"]
    pub mode: EnumParam<ModeParam>,
    /// Trade: bars in each turn.
    #[id = "trade_bars"]
    pub trade_bars: IntParam,
    /// Call and response: the answer repeats until the player plays again.
    #[id = "loop_answer"]
    pub loop_answer: BoolParam,
    /// Silence does not end a call shorter than this, in beats.
    #[id = "min_call_beats"]
    pub min_call_beats: FloatParam,
    /// Where an answer begins: the next bar line or the next beat.
    #[id = "answer_start"]
    pub answer_start: EnumParam<AnswerStartParam>,
    /// Seed of the answers' randomness (0: fresh each time); a seed makes renders repeat.
    #[id = "seed"]
    pub seed: IntParam,
    /// Momentary: ends the call in progress (acts when switched on).
    #[id = "end_call"]
    pub end_call: BoolParam,
    /// Momentary: answers again, seeded by the last answer.
    #[id = "mutate"]
    pub mutate: BoolParam,
    /// Momentary: one continuation of the last phrase.
    #[id = "continue"]
    pub continue_now: BoolParam,
    /// Momentary: every note off, and the jam starts over.
    #[id = "panic"]
    pub panic: BoolParam,
    /// The MIDI channel the jam listens to (0: every channel); notes on other channels pass
    /// through unheard.
    #[id = "listen_channel"]
    pub listen_channel: IntParam,
    /// A key that acts as the Continue control instead of sounding (-1: none).
    #[id = "continue_key"]
    pub continue_key: IntParam,
    /// How many notes answers play, -100 %..+100 % around the model's own (0).
    #[id = "density"]
    pub density: FloatParam,
}

impl AntiphonParams {
    /// The beam-search settings.
    pub fn beam(&self) -> BeamSettings {
        let count = |p: &IntParam| p.value().max(1) as usize;
        BeamSettings {
            beam_size: count(&self.beam_size),
            branch_factor: count(&self.branch_factor),
            steps_per_iteration: count(&self.steps_per_iteration),
        }
    }

    /// The pitch mask of Range Low, Range High (in either order), Scale and Key. Allocates
    /// nothing.
    pub fn pitch_mask(&self) -> PitchMask {
        let to_key = |p: &IntParam| p.value().clamp(0, 127) as u8;
        let (a, b) = (to_key(&self.range_low), to_key(&self.range_high));
        let mask = PitchMask::range(a.min(b), a.max(b));
        let root = self.key.value().clamp(0, 11) as u8;
        match self.scale.value().scale(root) {
            Some(scale) => mask.with_scale(scale),
            None => mask,
        }
    }

    /// The momentary controls' parameters, in the order of [`JamControl::ALL`].
    pub fn control_params(&self) -> [(&BoolParam, JamControl); 4] {
        [
            (&self.end_call, JamControl::EndCall),
            (&self.mutate, JamControl::Mutate),
            (&self.continue_now, JamControl::Continue),
            (&self.panic, JamControl::Panic),
        ]
    }

    /// Where an Improv model's chords come from.
    pub fn chord_input(&self) -> ChordInput {
        match self.chord_source.value() {
            ChordSourceParam::SplitKey => {
                ChordInput::SplitKey(self.split_key.value().clamp(0, 127) as u8)
            }
            ChordSourceParam::ChordChannel => {
                ChordInput::Channel((self.chord_channel.value().clamp(1, 16) - 1) as u8)
            }
        }
    }
}

impl Default for AntiphonParams {
    fn default() -> Self {
        Self {
            temperature: FloatParam::new(
                "Temperature",
                1.0,
                FloatRange::Skewed {
                    min: 0.1,
                    max: 2.0,
                    factor: FloatRange::skew_factor(-1.0),
                },
            )
            .with_step_size(0.01),
            answer_bars: IntParam::new("Answer Length", 0, IntRange::Linear { min: 0, max: 16 })
                .with_value_to_string(Arc::new(|bars| match bars {
                    0 => "as call".to_string(),
                    1 => "1 bar".to_string(),
                    n => format!("{n} bars"),
                }))
                .with_string_to_value(Arc::new(|text| {
                    let text = text.trim();
                    if text.starts_with("as") || text.eq_ignore_ascii_case("call") {
                        Some(0)
                    } else {
                        text.split_whitespace().next()?.parse().ok()
                    }
                })),
            out_channel: IntParam::new("Output Channel", 1, IntRange::Linear { min: 1, max: 16 }),
            midi_thru: BoolParam::new("MIDI Thru", true),
            silence_beats: FloatParam::new(
                "Silence",
                1.0,
                FloatRange::Linear {
                    min: 0.25,
                    max: 8.0,
                },
            )
            .with_step_size(0.25)
            .with_unit(" beats"),
            max_call_bars: IntParam::new(
                "Max Call Length",
                8,
                IntRange::Linear { min: 1, max: 16 },
            )
            .with_unit(" bars"),
            tempo: FloatParam::new(
                "Tempo",
                120.0,
                FloatRange::Linear {
                    min: 30.0,
                    max: 300.0,
                },
            )
            .with_step_size(0.1)
            .with_unit(" BPM"),
            interrupt: BoolParam::new("Interrupt", false),
            bypass: BoolParam::new("Bypass", false).make_bypass(),
            model: EnumParam::new("Model", ModelParam::Melody),
            beam_size: IntParam::new("Beam Size", 1, IntRange::Linear { min: 1, max: 8 }),
            branch_factor: IntParam::new("Branch Factor", 1, IntRange::Linear { min: 1, max: 8 }),
            steps_per_iteration: IntParam::new(
                "Steps per Iteration",
                1,
                IntRange::Linear { min: 1, max: 16 },
            ),
            scale: EnumParam::new("Scale", ScaleParam::Off),
            key: IntParam::new("Key", 0, IntRange::Linear { min: 0, max: 11 })
                .with_value_to_string(Arc::new(|pc| {
                    PITCH_CLASS_NAMES[pc.clamp(0, 11) as usize].to_string()
                }))
                .with_string_to_value(Arc::new(|text| {
                    let text = text.trim();
                    parse_pitch_class(text)
                        .map(i32::from)
                        .or_else(|| text.parse().ok().filter(|pc| (0..12).contains(pc)))
                })),
            range_low: key_param("Range Low", 0),
            range_high: key_param("Range High", 127),
            chord_source: EnumParam::new("Chord Source", ChordSourceParam::SplitKey),
            split_key: key_param("Split Key", 48),
            chord_channel: IntParam::new("Chord Channel", 2, IntRange::Linear { min: 1, max: 16 }),
            harmonize: BoolParam::new("Harmonize", false),
            threshold: BoolParam::new("Threshold Sampling", false),
            model_path: Arc::new(RwLock::new(String::new())),
            mode: EnumParam::new("Mode", ModeParam::CallResponse),
            trade_bars: IntParam::new("Trade Bars", 2, IntRange::Linear { min: 1, max: 16 })
                .with_unit(" bars"),
            loop_answer: BoolParam::new("Loop Answer", false),
            min_call_beats: FloatParam::new(
                "Min Call Length",
                0.0,
                FloatRange::Linear {
                    min: 0.0,
                    max: 32.0,
                },
            )
            .with_step_size(0.25)
            .with_unit(" beats"),
            answer_start: EnumParam::new("Answer Start", AnswerStartParam::Bar),
            seed: IntParam::new(
                "Seed",
                0,
                IntRange::Linear {
                    min: 0,
                    max: 1_000_000,
                },
            ),
            end_call: BoolParam::new("End Call", false),
            mutate: BoolParam::new("Mutate", false),
            continue_now: BoolParam::new("Continue", false),
            panic: BoolParam::new("Panic", false),
            listen_channel: IntParam::new(
                "Listen Channel",
                0,
                IntRange::Linear { min: 0, max: 16 },
            )
            .with_value_to_string(Arc::new(|c| {
                if c == 0 {
                    "Omni".to_string()
                } else {
                    c.to_string()
                }
            }))
            .with_string_to_value(Arc::new(|text| {
                let text = text.trim();
                if text.eq_ignore_ascii_case("omni") {
                    Some(0)
                } else {
                    text.parse().ok().filter(|c| (0..=16).contains(c))
                }
            })),
            density: FloatParam::new(
                "Density",
                0.0,
                FloatRange::Linear {
                    min: -1.0,
                    max: 1.0,
                },
            )
            .with_unit(" %")
            .with_value_to_string(formatters::v2s_f32_percentage(0))
            .with_string_to_value(formatters::s2v_f32_percentage()),
            continue_key: IntParam::new("Continue Key", -1, IntRange::Linear { min: -1, max: 127 })
                .with_value_to_string(Arc::new(|key| {
                    if key < 0 {
                        "Off".to_string()
                    } else {
                        note_name(key)
                    }
                }))
                .with_string_to_value(Arc::new(|text| {
                    if text.trim().eq_ignore_ascii_case("off") {
                        Some(-1)
                    } else {
                        parse_note_name(text)
                    }
                })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_note_names_when_parsed_and_shown_then_c4_is_60() {
        // The names are those of antiphon_models::notes; the parameter also clamps what it
        // shows and takes plain key numbers.
        assert_eq!(note_name(48), "C3");
        assert_eq!(note_name(-1), "C-1");
        assert_eq!(note_name(128), "G9");
        for key in 0..=127 {
            assert_eq!(parse_note_name(&note_name(key)), Some(key));
        }
        assert_eq!(parse_note_name(" Bb2 "), Some(46));
        assert_eq!(parse_note_name("48"), Some(48));
        assert_eq!(parse_note_name("128"), None);
        assert_eq!(parse_note_name("H3"), None);
        assert_eq!(parse_note_name("G#9"), None, "above 127");
    }

    #[test]
    fn given_every_scale_choice_when_resolved_then_it_is_the_scale_of_that_name() {
        for (i, (name, intervals)) in SCALE_NAMES.iter().enumerate() {
            let choice = ScaleParam::from_index(i + 1);
            assert_eq!(choice.scale_index(), Some(i));
            assert_eq!(
                ScaleParam::ids().unwrap()[i + 1],
                *name,
                "the parameter's id is the scale's name"
            );
            assert_eq!(choice.scale(9), Some(Scale::new(9, intervals)));
        }
        assert_eq!(ScaleParam::variants().len(), SCALE_NAMES.len() + 1);
        assert_eq!(ScaleParam::Off.scale(0), None);
    }

    #[test]
    fn given_the_defaults_when_published_then_they_are_plain_sampling_every_pitch_and_a_c3_split() {
        let p = AntiphonParams::default();
        assert_eq!(p.beam(), BeamSettings::PLAIN);
        assert!(p.pitch_mask().is_all());
        assert_eq!(p.chord_input(), ChordInput::SplitKey(48));
        assert_eq!(p.model.value().pick(), ModelPick::Melody);
    }
}
