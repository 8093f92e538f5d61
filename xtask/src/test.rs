//! `cargo xtask test`: the whole test suite, as README and CI run it — provisions ONNX Runtime,
//! runs the Python pipeline's tests (standard library only; the PyTorch ones skip themselves
//! when PyTorch is absent), then every Rust test of the workspace (unit, engine jams, the
//! binary-level plugin tests).

use std::process::{Command, ExitCode};

use anyhow::{Context, Result};

use crate::args::Args;
use crate::fetch_ort::{self, Request};
use crate::platform::Platform;
use crate::workspace::Workspace;

/// Runs `test [-- cargo test arguments]`.
pub fn run(ws: &Workspace, args: &[String]) -> Result<ExitCode> {
    let extra = Args::new(args).into_rest();
    fetch_ort::ensure(ws, &Request::default_for(ws, Platform::host()?))?;

    let python = std::env::var("ANTIPHON_PYTHON").unwrap_or_else(|_| "python3".into());
    println!("== Python pipeline tests ({python} -m unittest)");
    let status = Command::new(&python)
        .args([
            "-m",
            "unittest",
            "discover",
            "-s",
            "models/python/tests",
            "-t",
            "models/python",
        ])
        .current_dir(&ws.root)
        .status()
        .with_context(|| format!("cannot run {python}"))?;
    if !status.success() {
        return Ok(ExitCode::FAILURE);
    }

    println!("== Rust tests (cargo test --workspace)");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["test", "--workspace"])
        .args(&extra)
        .current_dir(&ws.root)
        .status()
        .context("cannot run cargo test")?;
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
