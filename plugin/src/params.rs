//! The plugin's parameters (automatable, saved with the project) and persisted fields.

use std::sync::{Arc, RwLock};

use nice_plug::prelude::*;

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
    /// Path of a user `.onnx` model; empty for the built-in model.
    #[persist = "model_path"]
    pub model_path: Arc<RwLock<String>>,
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
            model_path: Arc::new(RwLock::new(String::new())),
        }
    }
}
