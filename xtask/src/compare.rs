//! `cargo xtask compare-ort [--model NAME|FILE] [--steps N]`: one model step (batch 1) timed
//! through ONNX Runtime from Rust and from Python on the same `.onnx` file, with the same inputs
//! and state, to tell the Rust side's overhead from the runtime's own cost.
//!
//! The state is the one the model's example primer leaves ([`antiphon_models::primers`]); the
//! step feeds the primer's last row. Every timed call starts from that same state, so each is the
//! same computation. Five ways are timed, `--steps` calls each after a warm-up:
//!
//! - Rust `StepModel::run`: the project's path (feeds borrowed, outputs copied out);
//! - Rust `Session::run`: ort with the inputs made once, outputs dropped;
//! - Rust `IoBinding`: inputs and outputs bound once, only the run (the bare ORT call);
//! - Python `InferenceSession.run`: numpy in, numpy out;
//! - Python `run_with_iobinding`: inputs and outputs bound once (the bare ORT call).
//!
//! Both sides use the project's session options (`models/src/session.rs`): one intra-op and one
//! inter-op thread, no spinning, all graph optimisations. Python runs
//! `models/python/compare_ort.py` with the training venv's interpreter (`target/train-venv/`,
//! made by [`train::provision`]; `ANTIPHON_TRAIN_PYTHON` names another), whose `onnxruntime` is the
//! wheel the Rust side's library comes from. The outputs of both must agree (largest absolute
//! difference at most [`TOLERANCE`]) or the command fails.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use antiphon_models::session::{self, ModelSource, RnnState};
use antiphon_models::{StepModel, primers, runtime, shipped};
use anyhow::{Context, Result, anyhow, bail};
use ort::memory::Allocator;
use ort::session::{Session, SessionInputValue};
use ort::value::{DynValue, Tensor};
use serde_json::{Value, json};

use crate::args::Args;
use crate::fetch_ort::{self, Request};
use crate::platform::Platform;
use crate::test::TRAIN_PYTHON_ENV;
use crate::train;
use crate::workspace::Workspace;

/// The usage line.
const USAGE: &str = "compare-ort [--model NAME|FILE] [--steps N]";

/// Timed calls per way when `--steps` is not given.
const DEFAULT_STEPS: usize = 2000;

/// The largest absolute difference allowed between the two sides' outputs.
pub const TOLERANCE: f32 = 1e-4;

/// The models compared when `--model` is not given.
const DEFAULT_MODELS: [&str; 2] = ["polyphony_bach", "melody_basic"];

/// Runs `compare-ort`.
pub fn run(ws: &Workspace, args: &[String]) -> Result<()> {
    let mut args = Args::new(args);
    let model = args.value("--model")?;
    let steps = args.value("--steps")?;
    args.finish(USAGE)?;
    let steps = match steps {
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|&n| n > 0)
            .context("--steps takes a positive whole number")?,
        None => DEFAULT_STEPS,
    };
    let models: Vec<PathBuf> = match model {
        Some(model) => vec![model_file(ws, &model)?],
        None => DEFAULT_MODELS
            .iter()
            .map(|name| model_file(ws, name))
            .collect::<Result<_>>()?,
    };
    let library = fetch_ort::ensure(ws, &Request::default_for(ws, Platform::host()?))?;
    let runtime_dirs: Vec<PathBuf> = library.parent().map(PathBuf::from).into_iter().collect();
    let python = match std::env::var_os(TRAIN_PYTHON_ENV).filter(|p| !p.is_empty()) {
        Some(python) => PathBuf::from(python),
        None => train::provision(ws)?,
    };
    let work = ws.root.join("target").join("compare-ort");
    std::fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    for path in models {
        compare(ws, &path, steps, &runtime_dirs, &python, &work)?;
    }
    Ok(())
}

/// The `.onnx` file of `model`: a file, or a shipped model's file in `models/onnx/`.
fn model_file(ws: &Workspace, model: &str) -> Result<PathBuf> {
    let path = ws.user_path(model);
    if path.is_file() {
        return Ok(path);
    }
    if shipped::by_name(model).is_some() {
        return Ok(ws
            .root
            .join("models")
            .join("onnx")
            .join(format!("{model}.onnx")));
    }
    bail!(
        "no model file {} and no shipped model named {model:?}",
        path.display()
    )
}

/// The step compared: the state after the example primer but its last row, and that row.
struct Step {
    /// The model's name.
    name: String,
    /// Width of an input row.
    input_size: usize,
    /// Widths of the state tensors.
    state_sizes: Vec<usize>,
    /// The input row fed.
    row: Vec<f32>,
    /// The state it starts from (batch 1).
    state: RnnState,
}

impl Step {
    /// The step of `model`.
    fn of(model: &mut StepModel) -> Result<Self> {
        let info = model.info().clone();
        let rows = primers::input_rows(&info, &primers::example(&info));
        let mut state = model.zero_state(1);
        let before = rows.time - 1;
        if before > 0 {
            let mut logits = Vec::new();
            model.run(
                &rows.inputs[..before * info.input_size],
                before,
                &mut state,
                &mut logits,
            )?;
        }
        Ok(Self {
            name: info.name.clone(),
            input_size: info.input_size,
            state_sizes: info.state_sizes.clone(),
            row: rows.row(before).to_vec(),
            state,
        })
    }

    /// The graph inputs by name: `(shape, values)`.
    fn feeds(&self) -> Vec<(String, Vec<usize>, &[f32])> {
        let mut feeds = vec![(
            "inputs".to_string(),
            vec![1, 1, self.input_size],
            self.row.as_slice(),
        )];
        for (k, (&n, values)) in self.state_sizes.iter().zip(&self.state.tensors).enumerate() {
            feeds.push((format!("state_in.{k}"), vec![1, n], values.as_slice()));
        }
        feeds
    }
}

/// Compares the two sides on the model at `path`.
fn compare(
    ws: &Workspace,
    path: &Path,
    steps: usize,
    runtime_dirs: &[PathBuf],
    python: &Path,
    work: &Path,
) -> Result<()> {
    let mut model = StepModel::load(&ModelSource::File(path.to_path_buf()), runtime_dirs)?;
    let step = Step::of(&mut model)?;
    let warmup = (steps / 10).max(50);

    // Rust, through the project's StepModel.
    let mut state = step.state.clone();
    let mut logits = Vec::new();
    let step_model = time_calls(steps, warmup, || {
        state.clone_from(&step.state);
        let started = Instant::now();
        model.run(&step.row, 1, &mut state, &mut logits)?;
        Ok(started.elapsed())
    })?;
    let mut rust_outputs = BTreeMap::from([("logits".to_string(), logits.clone())]);
    for (k, values) in state.tensors.iter().enumerate() {
        rust_outputs.insert(format!("state_out.{k}"), values.clone());
    }
    drop(model);

    // Rust, ort directly.
    let mut session = session(runtime_dirs, path)?;
    let (session_run, binding) = bare_rust(&mut session, &step, steps, warmup)?;

    // Python.
    let feeds_path = work.join(format!("{}.feeds.json", step.name));
    let result_path = work.join(format!("{}.python.json", step.name));
    let feeds: serde_json::Map<String, Value> = step
        .feeds()
        .into_iter()
        .map(|(name, shape, values)| {
            let values: Vec<f64> = values.iter().map(|&v| f64::from(v)).collect();
            (name, json!({ "shape": shape, "values": values }))
        })
        .collect();
    std::fs::write(&feeds_path, Value::Object(feeds).to_string())
        .with_context(|| format!("cannot write {}", feeds_path.display()))?;
    let script = train::python_package_dir(ws).join("compare_ort.py");
    let status = Command::new(python)
        .arg(&script)
        .arg("--model")
        .arg(path)
        .arg("--feeds")
        .arg(&feeds_path)
        .arg("--out")
        .arg(&result_path)
        .args([
            "--steps",
            &steps.to_string(),
            "--warmup",
            &warmup.to_string(),
        ])
        .current_dir(&ws.root)
        .status()
        .with_context(|| format!("cannot run {}", python.display()))?;
    if !status.success() {
        bail!("{} failed ({status})", ws.relative(&script).display());
    }
    let result: Value = serde_json::from_str(
        &std::fs::read_to_string(&result_path)
            .with_context(|| format!("cannot read {}", result_path.display()))?,
    )
    .with_context(|| format!("{} is not JSON", result_path.display()))?;
    let python_run = python_timings(&result, "run_ns")?;
    let python_binding = python_timings(&result, "iobinding_ns")?;

    // The outputs must agree.
    let mut largest = BTreeMap::new();
    for (name, ours) in &rust_outputs {
        let theirs = python_floats(&result["outputs"][name])
            .with_context(|| format!("the Python side returned no output {name}"))?;
        if theirs.len() != ours.len() {
            bail!(
                "{name}: {} values from Python, {} from Rust",
                theirs.len(),
                ours.len()
            );
        }
        let diff = ours
            .iter()
            .zip(&theirs)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        largest.insert(name.clone(), diff);
    }

    let runs = [
        ("Rust   StepModel::run", &step_model),
        ("Rust   ort Session::run", &session_run),
        ("Rust   ort IoBinding (bare)", &binding),
        ("Python InferenceSession.run", &python_run),
        ("Python run_with_iobinding (bare)", &python_binding),
    ];
    println!(
        "{} ({}): one step, batch 1, {steps} calls after {warmup} warm-up; 1 intra-op and 1 \
         inter-op thread, no spinning, all optimisations; Python onnxruntime {}",
        step.name,
        ws.relative(path).display(),
        result["onnxruntime"].as_str().unwrap_or("?")
    );
    println!("  {:<34} {:>10} {:>10}", "", "median µs", "p90 µs");
    for (label, times) in runs {
        println!(
            "  {label:<34} {:>10.1} {:>10.1}",
            percentile_us(times, 0.5),
            percentile_us(times, 0.9)
        );
    }
    let median = |times: &[Duration]| percentile_us(times, 0.5);
    println!(
        "  Rust-side overhead (median): StepModel::run − Python run = {:+.1} µs; StepModel::run − \
         ort Session::run = {:+.1} µs; bare Rust − bare Python = {:+.1} µs",
        median(&step_model) - median(&python_run),
        median(&step_model) - median(&session_run),
        median(&binding) - median(&python_binding),
    );
    let worst = largest.values().copied().fold(0.0f32, f32::max);
    let listed: Vec<String> = largest
        .iter()
        .map(|(name, diff)| format!("{name} {diff:e}"))
        .collect();
    println!("  outputs, largest |Rust − Python|: {}", listed.join(", "));
    if worst > TOLERANCE {
        bail!(
            "{}: the two sides disagree by up to {worst:e} (more than {TOLERANCE:e}): not the \
             same computation",
            step.name
        );
    }
    Ok(())
}

/// `calls` durations of `call` after `warmup` untimed ones.
fn time_calls(
    calls: usize,
    warmup: usize,
    mut call: impl FnMut() -> Result<Duration>,
) -> Result<Vec<Duration>> {
    for _ in 0..warmup {
        call()?;
    }
    (0..calls).map(|_| call()).collect()
}

/// A session over `path` with the options of [`session::configure`], the ones every model of
/// the project runs with.
fn session(runtime_dirs: &[PathBuf], path: &Path) -> Result<Session> {
    let env = runtime::environment(runtime_dirs)?;
    session::configure(env)
        .map_err(|e| anyhow!("session options: {e}"))?
        .commit_from_file(path)
        .map_err(|e| anyhow!("{}: {e}", path.display()))
}

/// Times `Session::run` with the inputs made once, then `run_binding` with inputs and outputs
/// bound once.
fn bare_rust(
    session: &mut Session,
    step: &Step,
    steps: usize,
    warmup: usize,
) -> Result<(Vec<Duration>, Vec<Duration>)> {
    let mut values: BTreeMap<String, DynValue> = BTreeMap::new();
    for (name, shape, data) in step.feeds() {
        let tensor = Tensor::from_array((shape, data.to_vec()))?;
        values.insert(name, tensor.into_dyn());
    }
    // In the graph's input order, as `Session::run` takes a slice.
    let feeds: Vec<SessionInputValue<'_>> = session
        .inputs()
        .iter()
        .map(|input| {
            values
                .get(input.name())
                .map(SessionInputValue::from)
                .with_context(|| format!("no value for graph input {}", input.name()))
        })
        .collect::<Result<_>>()?;
    let mut output_shapes = Vec::new();
    {
        let outputs = session.run(feeds.as_slice())?;
        for (name, value) in outputs.iter() {
            let (shape, _) = value.try_extract_tensor::<f32>()?;
            output_shapes.push((name.to_string(), shape.to_vec()));
        }
    }
    let run = time_calls(steps, warmup, || {
        let started = Instant::now();
        drop(session.run(feeds.as_slice())?);
        Ok(started.elapsed())
    })?;
    drop(feeds);

    let mut binding = session.create_binding()?;
    for (name, value) in &values {
        binding.bind_input(name.as_str(), value)?;
    }
    for (name, shape) in output_shapes {
        let dims: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
        binding.bind_output(name, Tensor::<f32>::new(&Allocator::default(), dims)?)?;
    }
    let bound = time_calls(steps, warmup, || {
        let started = Instant::now();
        drop(session.run_binding(&binding)?);
        Ok(started.elapsed())
    })?;
    Ok((run, bound))
}

/// The durations the Python side measured under `key` (nanoseconds).
fn python_timings(result: &Value, key: &str) -> Result<Vec<Duration>> {
    result[key]
        .as_array()
        .with_context(|| format!("the Python side returned no {key}"))?
        .iter()
        .map(|v| {
            v.as_u64()
                .map(Duration::from_nanos)
                .with_context(|| format!("{key} holds {v}, not nanoseconds"))
        })
        .collect()
}

/// The floats of a JSON array.
fn python_floats(value: &Value) -> Option<Vec<f32>> {
    value
        .as_array()?
        .iter()
        .map(|v| v.as_f64().map(|x| x as f32))
        .collect()
}

/// The `q` quantile of `times` (nearest rank), in microseconds.
fn percentile_us(times: &[Duration], q: f64) -> f64 {
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
    sorted
        .get(rank - 1)
        .map_or(f64::NAN, |d| d.as_secs_f64() * 1e6)
}

#[cfg(test)]
mod tests {
    //! Quantiles.

    use super::percentile_us;
    use std::time::Duration;

    #[test]
    fn nearest_rank_quantiles() {
        let times: Vec<Duration> = (1..=10).rev().map(Duration::from_micros).collect();
        assert_eq!(percentile_us(&times, 0.5), 5.0);
        assert_eq!(percentile_us(&times, 0.9), 9.0);
        assert_eq!(percentile_us(&times[..1], 0.9), 10.0);
        assert!(percentile_us(&[], 0.5).is_nan());
    }
}
