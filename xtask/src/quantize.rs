//! `cargo xtask quantize --model FILE --out FILE`: int8 weights for an exported model, with the
//! Python package's `antiphon_train.quantize` inside the training venv (see [`crate::train`]).
//!
//! The shipped int8 models were made this way from the float exports kept in
//! `models/onnx/fp32/`; `cargo xtask eval` on both files gives the quality cost.

use crate::args::Args;
use crate::train::{provision, python_package_dir};
use crate::workspace::Workspace;
use anyhow::{Context, Result, bail};
use std::process::{Command, ExitCode};

/// Usage of the command.
const USAGE: &str = "quantize --model FILE.onnx --out FILE.onnx";

/// Runs the command; the exit code is the quantizer's.
pub fn run(ws: &Workspace, args: &[String]) -> Result<ExitCode> {
    let mut args = Args::new(args);
    let model = args.value("--model")?;
    let out = args.value("--out")?;
    let rest = args.into_rest();
    let (Some(model), Some(out)) = (model, out) else {
        bail!("--model and --out are required; usage: cargo xtask {USAGE}");
    };
    if !rest.is_empty() {
        bail!("unexpected arguments {rest:?}; usage: cargo xtask {USAGE}");
    }
    let python = provision(ws)?;
    let status = Command::new(&python)
        .args(["-m", "antiphon_train.quantize"])
        .arg(ws.user_path(&model))
        .arg(ws.user_path(&out))
        .env("PYTHONPATH", python_package_dir(ws))
        .current_dir(&ws.root)
        .status()
        .with_context(|| format!("cannot run {}", python.display()))?;
    match status.code() {
        Some(0) => Ok(ExitCode::SUCCESS),
        Some(code) => Ok(ExitCode::from(u8::try_from(code).unwrap_or(1))),
        None => bail!("antiphon_train.quantize was killed ({status})"),
    }
}
