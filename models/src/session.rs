//! A stepping session over one model: run any number of steps for a batch of sequences, carrying
//! the recurrent state from call to call.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::{TensorElementType, TensorRef, ValueType};

use crate::contract::{self, ModelInfo, TensorDecl};
use crate::error::ModelError;
use crate::runtime;

/// The recurrent state of a batch of sequences, one flat buffer per `state_in.K`.
#[derive(Debug, Clone, PartialEq)]
pub struct RnnState {
    /// Number of sequences.
    pub batch: usize,
    /// `tensors[k]` holds `batch × state_sizes[k]` floats, row-major.
    pub tensors: Vec<Vec<f32>>,
}

impl RnnState {
    /// The all-zero state of `batch` sequences for states of widths `state_sizes` (none: a
    /// model without state).
    pub fn zeros(batch: usize, state_sizes: &[usize]) -> Self {
        Self {
            batch,
            tensors: state_sizes.iter().map(|&n| vec![0.0; batch * n]).collect(),
        }
    }

    /// Copies sequence `from` of `source` into row `to` of `self` (for beam search).
    pub fn copy_row(&mut self, to: usize, source: &RnnState, from: usize) {
        for (dst, src) in self.tensors.iter_mut().zip(&source.tensors) {
            let width = dst.len() / self.batch;
            dst[to * width..(to + 1) * width]
                .copy_from_slice(&src[from * width..(from + 1) * width]);
        }
    }
}

/// A loaded model that passed the contract, ready to step.
pub struct StepModel {
    /// The ONNX Runtime session; `run` needs `&mut`.
    session: Session,
    /// What the model is.
    info: ModelInfo,
    /// Names of the state inputs, by K.
    state_in_names: Vec<String>,
    /// Names of the state outputs, by K.
    state_out_names: Vec<String>,
}

impl std::fmt::Debug for StepModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepModel")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// Where a model comes from.
#[derive(Debug, Clone)]
pub enum ModelSource {
    /// A `.onnx` file on disk.
    File(PathBuf),
    /// Bytes built into the program (the shipped models), with a name for messages.
    Embedded {
        /// The model's name.
        name: &'static str,
        /// The `.onnx` file's bytes.
        bytes: &'static [u8],
    },
}

impl ModelSource {
    /// A name for messages: the file path or the embedded model's name.
    pub fn describe(&self) -> String {
        match self {
            Self::File(path) => path.display().to_string(),
            Self::Embedded { name, .. } => format!("built-in model {name}"),
        }
    }
}

impl StepModel {
    /// Loads a model, refusing one that doesn't follow the contract. `runtime_dirs` are the
    /// folders searched for ONNX Runtime if it isn't loaded yet.
    pub fn load(source: &ModelSource, runtime_dirs: &[PathBuf]) -> Result<Self, ModelError> {
        let env = runtime::environment(runtime_dirs)?;
        let described = source.describe();
        let not_onnx = |e: ort::Error| ModelError::NotOnnx {
            model: described.clone(),
            message: e.to_string(),
        };
        let mut builder =
            configure(env).map_err(|e| ModelError::Runtime(format!("session options: {e}")))?;
        let (session, fallback_name) = match source {
            ModelSource::File(path) => {
                let bytes = read_model_file(path)?;
                (
                    builder.commit_from_memory(&bytes).map_err(not_onnx)?,
                    stem(path),
                )
            }
            ModelSource::Embedded { name, bytes } => (
                builder.commit_from_memory(bytes).map_err(not_onnx)?,
                (*name).to_string(),
            ),
        };
        let metadata = read_metadata(&session).map_err(not_onnx)?;
        let inputs: Vec<TensorDecl> = session
            .inputs()
            .iter()
            .map(|o| decl(o.name(), o.dtype()))
            .collect();
        let outputs: Vec<TensorDecl> = session
            .outputs()
            .iter()
            .map(|o| decl(o.name(), o.dtype()))
            .collect();
        let info =
            contract::check(&fallback_name, &metadata, &inputs, &outputs).map_err(|message| {
                ModelError::Contract {
                    model: described.clone(),
                    message,
                }
            })?;
        let n = info.state_sizes.len();
        Ok(Self {
            session,
            info,
            state_in_names: (0..n).map(|k| format!("state_in.{k}")).collect(),
            state_out_names: (0..n).map(|k| format!("state_out.{k}")).collect(),
        })
    }

    /// What the model is.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// The all-zero state of `batch` fresh sequences.
    pub fn zero_state(&self, batch: usize) -> RnnState {
        RnnState::zeros(batch, &self.info.state_sizes)
    }

    /// The value of an output that does not depend on the inputs (such as `nade_weights`): its
    /// dimensions and values, from one step of one sequence from the zero state.
    pub fn constant_output(&mut self, name: &str) -> Result<(Vec<i64>, Vec<f32>), ModelError> {
        let err = |e: ort::Error| ModelError::Inference(e.to_string());
        let width = self.info.input_size;
        let inputs = vec![0.0f32; width];
        let states: Vec<Vec<f32>> = self
            .info
            .state_sizes
            .iter()
            .map(|&n| vec![0.0; n])
            .collect();
        let mut feeds = Vec::with_capacity(1 + states.len());
        feeds.push((
            "inputs".to_string(),
            TensorRef::from_array_view(([1usize, 1, width], inputs.as_slice()))
                .map_err(err)?
                .into_dyn(),
        ));
        for ((input, values), &n) in self
            .state_in_names
            .iter()
            .zip(&states)
            .zip(&self.info.state_sizes)
        {
            feeds.push((
                input.clone(),
                TensorRef::from_array_view(([1usize, n], values.as_slice()))
                    .map_err(err)?
                    .into_dyn(),
            ));
        }
        let outputs = self.session.run(feeds).map_err(err)?;
        let value = outputs
            .get(name)
            .ok_or_else(|| ModelError::Inference(format!("the model has no output `{name}`")))?;
        let (shape, data) = value.try_extract_tensor::<f32>().map_err(err)?;
        Ok((shape.to_vec(), data.to_vec()))
    }

    /// Runs `time` steps for `state.batch` sequences. `inputs` holds `batch × time × input_size`
    /// floats (row-major); `logits` receives `batch × time × classes`; `state` is advanced.
    pub fn run(
        &mut self,
        inputs: &[f32],
        time: usize,
        state: &mut RnnState,
        logits: &mut Vec<f32>,
    ) -> Result<(), ModelError> {
        let batch = state.batch;
        let width = self.info.input_size;
        if inputs.len() != batch * time * width || time == 0 {
            return Err(ModelError::Inference(format!(
                "expected {batch}×{time}×{width} input values, got {}",
                inputs.len()
            )));
        }
        let err = |e: ort::Error| ModelError::Inference(e.to_string());
        let mut feeds = Vec::with_capacity(1 + state.tensors.len());
        feeds.push((
            "inputs".to_string(),
            TensorRef::from_array_view(([batch, time, width], inputs))
                .map_err(err)?
                .into_dyn(),
        ));
        for ((name, values), &n) in self
            .state_in_names
            .iter()
            .zip(&state.tensors)
            .zip(&self.info.state_sizes)
        {
            feeds.push((
                name.clone(),
                TensorRef::from_array_view(([batch, n], values.as_slice()))
                    .map_err(err)?
                    .into_dyn(),
            ));
        }
        let outputs = self.session.run(feeds).map_err(err)?;
        let (shape, out) = outputs["logits"].try_extract_tensor::<f32>().map_err(err)?;
        check_shape("logits", shape, &[batch, time, self.info.classes])?;
        logits.clear();
        logits.extend_from_slice(out);
        for ((name, values), &n) in self
            .state_out_names
            .iter()
            .zip(state.tensors.iter_mut())
            .zip(&self.info.state_sizes)
        {
            let (shape, out) = outputs[name.as_str()]
                .try_extract_tensor::<f32>()
                .map_err(err)?;
            check_shape(name, shape, &[batch, n])?;
            values.copy_from_slice(out);
        }
        Ok(())
    }
}

/// The largest model file Antiphon loads, in bytes (512 MiB). The shipped models are a few
/// MiB; a step model many times larger could not answer in real time, and a file this large is
/// more likely a mistake (a disk image, a video) than a model. ONNX's protobuf itself stops at
/// 2 GiB. Checked before the file is read, so a huge file costs no memory.
pub const MAX_MODEL_BYTES: u64 = 512 * 1024 * 1024;

/// Reads a model file, refusing one larger than [`MAX_MODEL_BYTES`] before reading it.
fn read_model_file(path: &Path) -> Result<Vec<u8>, ModelError> {
    let io = |message: String| ModelError::Io {
        path: path.display().to_string(),
        message,
    };
    let size = std::fs::metadata(path)
        .map_err(|e| io(e.to_string()))?
        .len();
    if size > MAX_MODEL_BYTES {
        return Err(io(format!(
            "the file is {} MiB, larger than the {} MiB a model may have",
            size.div_ceil(1024 * 1024),
            MAX_MODEL_BYTES / (1024 * 1024)
        )));
    }
    std::fs::read(path).map_err(|e| io(e.to_string()))
}

/// Checks that an output tensor has the shape its declaration (and the contract) promised, so
/// a graph that computes something else than it declares is an error, not a wrong answer or a
/// panic further on.
fn check_shape(name: &str, found: &[i64], expected: &[usize]) -> Result<(), ModelError> {
    let fits = found.len() == expected.len()
        && found
            .iter()
            .zip(expected)
            .all(|(&f, &e)| usize::try_from(f) == Ok(e));
    if fits {
        Ok(())
    } else {
        Err(ModelError::Inference(format!(
            "the model's output `{name}` has shape {found:?} but its declaration promises \
             {expected:?}"
        )))
    }
}

/// A session builder with Antiphon's options: one thread, no spinning (many instances stay
/// cheap), all graph optimisations. Public so that tools timing ONNX Runtime against this crate
/// (`cargo xtask compare-ort`) use exactly these options.
pub fn configure(
    env: &ort::environment::Environment,
) -> Result<ort::session::builder::SessionBuilder, String> {
    let text = |e: ort::Error<ort::session::builder::SessionBuilder>| e.to_string();
    Session::builder(env)
        .map_err(|e| e.to_string())?
        .with_intra_threads(1)
        .map_err(text)?
        .with_inter_threads(1)
        .map_err(text)?
        .with_intra_op_spinning(false)
        .map_err(text)?
        .with_inter_op_spinning(false)
        .map_err(text)?
        .with_optimization_level(GraphOptimizationLevel::All)
        .map_err(text)
}

/// The file stem of a path, for a model without a card name.
fn stem(path: &Path) -> String {
    path.file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("model")
        .to_string()
}

/// The model's `metadata_props` as a map.
fn read_metadata(session: &Session) -> ort::Result<BTreeMap<String, String>> {
    let metadata = session.metadata()?;
    let mut map = BTreeMap::new();
    for key in metadata.custom_keys()? {
        if let Some(value) = metadata.custom(&key) {
            map.insert(key, value);
        }
    }
    Ok(map)
}

/// The contract's view of a graph input or output.
fn decl(name: &str, dtype: &ValueType) -> TensorDecl {
    TensorDecl {
        name: name.to_string(),
        is_f32: dtype.tensor_type() == Some(TensorElementType::Float32),
        dims: dtype.tensor_shape().map(|s| s.to_vec()).unwrap_or_default(),
    }
}
