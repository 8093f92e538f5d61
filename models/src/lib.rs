//! What notes mean to a network.
//!
//! This crate holds everything between notes and an ONNX model: the event encodings of each model
//! family ([`encoding`]), the model contract that a `.onnx` file must follow ([`contract`]), the
//! process-wide ONNX Runtime ([`runtime`]), a stepping session over a model ([`session`]),
//! sampling ([`sampling`]), generation ([`generate`]) and evaluation ([`eval`]); with the
//! `test-support` feature, tiny ONNX models for tests (`test_support`). Nothing here knows
//! about plugins, hosts or threads; the jam engine and the standalone build on it.

pub mod contract;
pub mod encoding;
pub mod error;
pub mod eval;
pub mod generate;
pub mod midi_file;
pub mod notes;
pub mod primers;
pub mod runtime;
pub mod sampling;
pub mod session;
pub mod shipped;
#[cfg(feature = "test-support")]
pub mod test_support;

pub use contract::{Family, ModelInfo};
pub use error::ModelError;
pub use generate::{
    BeamSettings, ChordChange, GenerateRequest, GeneratedNote, Generator, PitchMask, Scale,
    StepControl,
};
pub use notes::StepNote;
pub use sampling::Rng;
pub use session::StepModel;
