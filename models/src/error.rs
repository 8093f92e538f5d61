//! The errors a model can give, each with a message a musician can act on.

use std::fmt;

/// Why a model could not be loaded or run.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelError {
    /// ONNX Runtime itself is missing or unusable.
    Runtime(String),
    /// The file could not be read.
    Io {
        /// The file that was read.
        path: String,
        /// What the operating system said.
        message: String,
    },
    /// The file is not an ONNX model ONNX Runtime can open.
    NotOnnx {
        /// The model's name or path.
        model: String,
        /// What ONNX Runtime said.
        message: String,
    },
    /// The model does not follow the Antiphon model contract.
    Contract {
        /// The model's name or path.
        model: String,
        /// What was expected and what was found.
        message: String,
    },
    /// The model follows the contract but uses an encoding this build does not know.
    Unsupported {
        /// The model's name or path.
        model: String,
        /// What is not supported.
        message: String,
    },
    /// Running the model failed.
    Inference(String),
    /// The input data could not be used.
    Data(String),
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Runtime(message) => write!(f, "ONNX Runtime is not available: {message}"),
            Self::Io { path, message } => write!(f, "cannot read model file {path}: {message}"),
            Self::NotOnnx { model, message } => {
                write!(
                    f,
                    "model refused: {model} is not a valid ONNX model ({message})"
                )
            }
            Self::Contract { model, message } => write!(
                f,
                "model refused: {model} does not follow the Antiphon model contract: {message}"
            ),
            Self::Unsupported { model, message } => {
                write!(f, "model refused: {model}: {message}")
            }
            Self::Inference(message) => write!(f, "inference failed: {message}"),
            Self::Data(message) => write!(f, "bad input data: {message}"),
        }
    }
}

impl std::error::Error for ModelError {}
