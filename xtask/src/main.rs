//! Antiphon's `cargo xtask`: nice-plug-xtask's bundling plus our own commands.
//!
//! - `fetch-ort`: provisions the ONNX Runtime library from PyPI ([`fetch_ort`]);
//! - `bundle` / `bundle-universal`: nice-plug bundling, then the runtime goes into the
//!   `antiphon` bundles ([`bundle`]);
//! - `train`: trains a model (on your own MIDI files with `--data`) with the Python package in
//!   `models/python/` ([`train`]);
//! - `eval`: evaluates a model through the Rust runtime ([`eval`]);
//! - `quantize`: int8 weights for an exported model ([`quantize`]);
//! - `compare-ort`: one model step through ONNX Runtime from Rust and from Python, timed and
//!   checked to agree ([`compare`]);
//! - `test`: the whole test suite, as README and CI run it ([`test`]);
//! - anything else is nice-plug-xtask's.

mod args;
mod bundle;
mod compare;
mod digest;
mod eval;
mod fetch_ort;
mod platform;
mod pypi;
mod quantize;
mod test;
mod train;
mod wheel;
mod workspace;

use std::process::ExitCode;
use workspace::Workspace;

/// How the xtask is invoked, for usage texts.
pub const COMMAND_NAME: &str = "cargo xtask";

/// Our commands, shown before nice-plug-xtask's usage.
const USAGE: &str = "Usage:
  cargo xtask fetch-ort [--version 1.31.1] [--dest DIR] [--target TRIPLE]
      (env ANTIPHON_ORT_WHEEL=/path/to/onnxruntime-….whl uses a local wheel)
  cargo xtask bundle antiphon [--release] [cargo build options]
      (also puts the ONNX Runtime library beside the .clap and into the .vst3)
  cargo xtask train --family melody|drums|improv|polyphony|performance|pianoroll [--model KIND] [--data DIR] --out FILE
      [--work DIR] [--resume] [--max-minutes M] [--epochs N] [args for antiphon_train]
      (trains on your own MIDI files with --data DIR, read recursively; a progress bar on
      stderr; checkpoints in <work>/checkpoints/, default target/train/<kind>, and --resume
      continues from the last; --model: basic|lookback|attention (melody), drum_kit, improv;
      the venv target/train-venv is made on first use)
  cargo xtask eval --model FILE|NAME --data DIR|FILE.json [--frames-per-quarter N]
      (one line per split: nll_per_step, steps, accuracy, unigram baseline)
  cargo xtask quantize --model FILE.onnx --out FILE.onnx
      (int8 weights for the LSTMs and the projection; same contract, a quarter of the bytes)
  cargo xtask compare-ort [--model NAME|FILE] [--steps N]
      (one step, batch 1, timed N times (2000) through ONNX Runtime from Rust and from Python
      with the same inputs, state and session options; checks the outputs agree; default
      models polyphony_bach and melody_basic)
  cargo xtask test [-- cargo test options]
      (ONNX Runtime, the Python pipeline's tests without and with the training venv,
      then cargo test --workspace with ANTIPHON_TRAIN_PYTHON set to the venv's python)
  Other commands (bundle-universal, known-packages) are nice-plug-xtask's.
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match dispatch(&args) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the command named by the first argument.
fn dispatch(args: &[String]) -> anyhow::Result<ExitCode> {
    let (command, rest) = match args.split_first() {
        Some((command, rest)) => (command.as_str(), rest),
        None => ("help", &[][..]),
    };
    let ws = Workspace::enter()?;
    match command {
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        "fetch-ort" => fetch_ort::run(&ws, rest).map(|()| ExitCode::SUCCESS),
        "train" => train::run(&ws, rest),
        "eval" => eval::run(&ws, rest).map(|()| ExitCode::SUCCESS),
        "quantize" => quantize::run(&ws, rest),
        "compare-ort" => compare::run(&ws, rest).map(|()| ExitCode::SUCCESS),
        "test" => test::run(&ws, rest),
        "bundle" | "bundle-universal" => {
            bundle::run(&ws, command, rest).map(|()| ExitCode::SUCCESS)
        }
        _ => nice_plug_xtask::main_with_args(COMMAND_NAME, args.iter().cloned())
            .map(|()| ExitCode::SUCCESS),
    }
}
