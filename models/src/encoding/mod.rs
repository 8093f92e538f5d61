//! Event encodings: how notes become model inputs and class indices, and back.
//!
//! Each encoding is pure logic, shared bit for bit with the Python training pipeline through the
//! test vectors in `models/testdata/`.

pub mod chords;
pub mod drums;
pub mod key_melody;
pub mod lookback;
pub mod melody;

use serde::{Deserialize, Serialize};

/// Writes the ±1 binary counter of `value` into `bits`: bit `i` is +1 when set, −1 when clear
/// (Magenta's metric-position and length counters).
pub fn write_binary_counter(value: usize, bits: &mut [f32]) {
    for (i, bit) in bits.iter_mut().enumerate() {
        *bit = if (value >> i) & 1 == 1 { 1.0 } else { -1.0 };
    }
}

/// An encoding and its parameters, as written in a model's `antiphon.encoding` metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum EncodingSpec {
    /// Magenta's Melody RNN one-hot encoding.
    MelodyOnehot(melody::MelodyOneHot),
}

impl EncodingSpec {
    /// The encoding's name as it appears in the metadata.
    pub fn name(&self) -> &'static str {
        match self {
            Self::MelodyOnehot(_) => "melody_onehot",
        }
    }

    /// Width of one input row.
    pub fn input_size(&self) -> usize {
        match self {
            Self::MelodyOnehot(m) => m.num_classes(),
        }
    }

    /// Number of output classes.
    pub fn num_classes(&self) -> usize {
        match self {
            Self::MelodyOnehot(m) => m.num_classes(),
        }
    }

    /// Model steps per quarter note.
    pub fn steps_per_quarter(&self) -> u32 {
        match self {
            Self::MelodyOnehot(m) => m.steps_per_quarter,
        }
    }

    /// Checks the parameters for consistency.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Self::MelodyOnehot(m) => m.validate(),
        }
    }
}
