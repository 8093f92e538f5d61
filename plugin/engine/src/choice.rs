//! Which model the worker runs: the player's pick from the menu of model kinds (the plugin's
//! Model parameter, published as an atomic every block) and what each pick loads.

use std::path::PathBuf;

use antiphon_models::session::ModelSource;
use antiphon_models::{ModelError, shipped};

/// A model to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelChoice {
    /// The built-in default model ([`shipped::DEFAULT`]).
    Default,
    /// A model shipped inside Antiphon, by name (`shipped::by_name`); refused with "not shipped
    /// in this build" when this build does not have it.
    Shipped(&'static str),
    /// A `.onnx` file.
    File(PathBuf),
    /// A model file was asked for but none is set; always refused.
    NoFile,
}

impl ModelChoice {
    /// Where to load the model from, or why it can't be loaded.
    pub fn source(&self) -> Result<ModelSource, ModelError> {
        match self {
            Self::Default => Ok(shipped::DEFAULT),
            Self::Shipped(name) => shipped::by_name(name).ok_or_else(|| {
                let have: Vec<&str> = shipped::ALL
                    .iter()
                    .filter_map(|m| match m {
                        ModelSource::Embedded { name, .. } => Some(*name),
                        ModelSource::File(_) => None,
                    })
                    .collect();
                ModelError::Unsupported {
                    model: format!("built-in model {name}"),
                    message: format!(
                        "not shipped in this build (this build ships: {})",
                        have.join(", ")
                    ),
                }
            }),
            Self::File(path) => Ok(ModelSource::File(path.clone())),
            Self::NoFile => Err(ModelError::Unsupported {
                model: "Custom File".to_string(),
                message: "no model file is set (the project's model_path is empty and \
                          ANTIPHON_MODEL is not set)"
                    .to_string(),
            }),
        }
    }
}

/// The model kinds a player picks from, in the order of the plugin's Model parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ModelPick {
    /// Melody RNN, basic one-hot encoding. For projects saved before the Model parameter
    /// existed, the project's own model file wins when it has one (see [`ModelPick::choice`]).
    Melody = 0,
    /// Melody RNN, lookback encoding.
    MelodyLookback = 1,
    /// Melody RNN, attention (key-melody encoding).
    MelodyAttention = 2,
    /// Drums RNN, drum kit; answers on MIDI channel 10.
    Drums = 3,
    /// Improv RNN: melody over the chords the player holds.
    Improv = 4,
    /// The project's own model file.
    CustomFile = 5,
    /// Polyphony RNN (Bach chorales): continues or harmonises in four parts.
    Polyphony = 6,
    /// Pianoroll RNN-NADE (Bach chorales): chords of quarter-note frames.
    Pianoroll = 7,
    /// Performance RNN with dynamics (Groove drummers): expressive drums on MIDI channel 10.
    Performance = 8,
}

impl ModelPick {
    /// Every pick, by its value (the menu puts Custom File last).
    pub const ALL: [Self; 9] = [
        Self::Melody,
        Self::MelodyLookback,
        Self::MelodyAttention,
        Self::Drums,
        Self::Improv,
        Self::CustomFile,
        Self::Polyphony,
        Self::Pianoroll,
        Self::Performance,
    ];

    /// The value [`crate::shared::Settings::model_pick`] holds when nothing is picked (the
    /// standalone): the worker keeps the model it was started with.
    pub const NONE: u8 = u8::MAX;

    /// The pick stored as `value`, if it is one.
    pub fn from_u8(value: u8) -> Option<Self> {
        Self::ALL.get(usize::from(value)).copied()
    }

    /// The name of the shipped model of this pick (`None` for [`ModelPick::CustomFile`]).
    pub fn shipped_name(self) -> Option<&'static str> {
        match self {
            Self::Melody => Some("melody_basic"),
            Self::MelodyLookback => Some("melody_lookback"),
            Self::MelodyAttention => Some("melody_attention"),
            Self::Drums => Some("drums_kit"),
            Self::Improv => Some("improv_chord_pitches"),
            Self::Polyphony => Some("polyphony_bach"),
            Self::Pianoroll => Some("pianoroll_nade_bach"),
            Self::Performance => Some("performance_groove"),
            Self::CustomFile => None,
        }
    }

    /// What this pick loads, given the project's own model file (`None`: the project names
    /// none). [`ModelPick::Melody`] keeps the behaviour of projects from before the Model
    /// parameter: their own file when they have one, else the shipped `melody_basic`.
    /// [`ModelPick::CustomFile`] without a file is [`ModelChoice::NoFile`].
    pub fn choice(self, custom_file: Option<&PathBuf>) -> ModelChoice {
        match (self, custom_file) {
            (Self::Melody | Self::CustomFile, Some(path)) => ModelChoice::File(path.clone()),
            (Self::CustomFile, None) => ModelChoice::NoFile,
            (pick, _) => pick
                .shipped_name()
                .map_or(ModelChoice::Default, ModelChoice::Shipped),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_each_pick_when_stored_as_a_byte_then_it_reads_back_and_none_is_no_pick() {
        for pick in ModelPick::ALL {
            assert_eq!(ModelPick::from_u8(pick as u8), Some(pick));
        }
        assert_eq!(ModelPick::from_u8(ModelPick::NONE), None);
    }

    #[test]
    fn given_a_project_file_when_picking_then_only_melody_and_custom_file_load_it() {
        let file = PathBuf::from("/songs/mine.onnx");
        assert_eq!(
            ModelPick::Melody.choice(Some(&file)),
            ModelChoice::File(file.clone())
        );
        assert_eq!(
            ModelPick::Melody.choice(None),
            ModelChoice::Shipped("melody_basic")
        );
        assert_eq!(
            ModelPick::Drums.choice(Some(&file)),
            ModelChoice::Shipped("drums_kit")
        );
        assert_eq!(
            ModelPick::CustomFile.choice(Some(&file)),
            ModelChoice::File(file)
        );
        assert_eq!(ModelPick::CustomFile.choice(None), ModelChoice::NoFile);
    }

    #[test]
    fn given_a_model_this_build_does_not_ship_when_resolved_then_the_refusal_says_so() {
        let err = ModelChoice::Shipped("no_such_model").source().unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("no_such_model") && text.contains("not shipped in this build"),
            "{text}"
        );
        assert!(text.contains("melody_basic"), "names what it has: {text}");
        assert!(ModelChoice::Shipped("melody_basic").source().is_ok());
        let text = ModelChoice::NoFile.source().unwrap_err().to_string();
        assert!(text.contains("no model file"), "{text}");
    }
}
