//! The models that ship inside Antiphon, built into the binary so they can't go missing.

use crate::session::ModelSource;

/// Melody RNN, basic one-hot encoding (`models/onnx/melody_basic.onnx`).
pub const MELODY_BASIC: ModelSource = ModelSource::Embedded {
    name: "melody_basic",
    bytes: include_bytes!("../onnx/melody_basic.onnx"),
};

/// Melody RNN, lookback encoding: inputs see 1 and 2 bars back, two labels repeat them
/// (`models/onnx/melody_lookback.onnx`).
pub const MELODY_LOOKBACK: ModelSource = ModelSource::Embedded {
    name: "melody_lookback",
    bytes: include_bytes!("../onnx/melody_lookback.onnx"),
};

/// Melody RNN, attention: key-melody encoding and attention over the first layer's last 40
/// outputs (`models/onnx/melody_attention.onnx`).
pub const MELODY_ATTENTION: ModelSource = ModelSource::Embedded {
    name: "melody_attention",
    bytes: include_bytes!("../onnx/melody_attention.onnx"),
};

/// Improv RNN, pitch-chord encoding: a melody over the chords it is given
/// (`models/onnx/improv_chord_pitches.onnx`).
pub const IMPROV_CHORD_PITCHES: ModelSource = ModelSource::Embedded {
    name: "improv_chord_pitches",
    bytes: include_bytes!("../onnx/improv_chord_pitches.onnx"),
};

/// Drums RNN, drum-kit encoding: 9 kit pieces, answers on MIDI channel 10
/// (`models/onnx/drums_kit.onnx`).
pub const DRUMS_KIT: ModelSource = ModelSource::Embedded {
    name: "drums_kit",
    bytes: include_bytes!("../onnx/drums_kit.onnx"),
};

/// Every shipped model.
pub const ALL: &[ModelSource] = &[
    MELODY_BASIC,
    MELODY_LOOKBACK,
    DRUMS_KIT,
    IMPROV_CHORD_PITCHES,
];

/// The shipped model called `name` (e.g. `melody_basic`).
pub fn by_name(name: &str) -> Option<ModelSource> {
    ALL.iter()
        .find(|m| matches!(m, ModelSource::Embedded { name: n, .. } if *n == name))
        .cloned()
}

/// The model used when nothing else is chosen.
pub const DEFAULT: ModelSource = MELODY_BASIC;
