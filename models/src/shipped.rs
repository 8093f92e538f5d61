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

/// Polyphony RNN, BachBot event stream, trained on the JSB chorales: continues or harmonises
/// in four-part style (`models/onnx/polyphony_bach.onnx`).
pub const POLYPHONY_BACH: ModelSource = ModelSource::Embedded {
    name: "polyphony_bach",
    bytes: include_bytes!("../onnx/polyphony_bach.onnx"),
};

/// Pianoroll RNN-NADE, 88 keys at one frame per quarter note, trained on the JSB chorales
/// (`models/onnx/pianoroll_nade_bach.onnx`).
pub const PIANOROLL_NADE_BACH: ModelSource = ModelSource::Embedded {
    name: "pianoroll_nade_bach",
    bytes: include_bytes!("../onnx/pianoroll_nade_bach.onnx"),
};

/// Performance RNN with dynamics, trained on the Groove drummers: expressive timing and
/// velocity, on MIDI channel 10 (`models/onnx/performance_groove.onnx`).
pub const PERFORMANCE_GROOVE: ModelSource = ModelSource::Embedded {
    name: "performance_groove",
    bytes: include_bytes!("../onnx/performance_groove.onnx"),
};

/// Every shipped model.
pub const ALL: &[ModelSource] = &[
    MELODY_BASIC,
    MELODY_LOOKBACK,
    MELODY_ATTENTION,
    DRUMS_KIT,
    IMPROV_CHORD_PITCHES,
    POLYPHONY_BACH,
    PIANOROLL_NADE_BACH,
    PERFORMANCE_GROOVE,
];

/// The shipped model called `name` (e.g. `melody_basic`).
pub fn by_name(name: &str) -> Option<ModelSource> {
    ALL.iter()
        .find(|m| matches!(m, ModelSource::Embedded { name: n, .. } if *n == name))
        .cloned()
}

/// The model used when nothing else is chosen.
pub const DEFAULT: ModelSource = MELODY_BASIC;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_model_file_in_models_onnx_is_shipped_by_its_name() {
        // Given the .onnx files committed in models/onnx/
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("onnx");
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .expect("models/onnx is readable")
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "onnx"))
            .filter_map(|p| p.file_stem()?.to_str().map(str::to_string))
            .collect();
        names.sort();
        assert!(!names.is_empty());
        // Then each is embedded under its file stem, and nothing else is
        for name in &names {
            assert!(
                by_name(name).is_some(),
                "{name}.onnx is not in shipped::ALL"
            );
        }
        assert_eq!(
            ALL.len(),
            names.len(),
            "shipped::ALL names a model with no file"
        );
    }
}
