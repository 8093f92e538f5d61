//! `cargo xtask test`: the whole test suite, as README and CI run it:
//!
//! 1. provisions ONNX Runtime (`target/onnxruntime/`);
//! 2. runs the Python pipeline's tests with the plain `python3` (standard library only: this
//!    proves the encoders need nothing installed; the PyTorch ones skip themselves);
//! 3. provisions the training venv (`target/train-venv/`, [`train::provision`]) and runs the
//!    Python tests again with its interpreter, so the PyTorch, ONNX and music21 tests run too;
//! 4. runs every Rust test of the workspace (unit, engine jams, the binary-level plugin tests,
//!    training a model on a folder of MIDI files end to end) with `ANTIPHON_TRAIN_PYTHON` set to
//!    the venv's interpreter — under `xvfb-run` when there is no `DISPLAY`, so the editor test has
//!    an X server.

use std::path::Path;
use std::process::{Command, ExitCode};

use anyhow::{Context, Result};

use crate::args::Args;
use crate::fetch_ort::{self, Request};
use crate::platform::Platform;
use crate::train;
use crate::workspace::Workspace;

/// Environment variable through which the Rust tests find the Python that trains models.
pub const TRAIN_PYTHON_ENV: &str = "ANTIPHON_TRAIN_PYTHON";

/// Runs `test [-- cargo test arguments]`.
pub fn run(ws: &Workspace, args: &[String]) -> Result<ExitCode> {
    let extra = Args::new(args).into_rest();
    fetch_ort::ensure(ws, &Request::default_for(ws, Platform::host()?))?;

    let python = std::env::var("ANTIPHON_PYTHON").unwrap_or_else(|_| "python3".into());
    println!("== Python pipeline tests, standard library only ({python} -m unittest)");
    if !python_tests(ws, Path::new(&python))? {
        return Ok(ExitCode::FAILURE);
    }

    println!(
        "== Training venv ({})",
        ws.relative(&ws.train_venv()).display()
    );
    let venv_python = train::provision(ws)?;
    println!(
        "== Python pipeline tests with PyTorch ({} -m unittest)",
        ws.relative(&venv_python).display()
    );
    if !python_tests(ws, &venv_python)? {
        return Ok(ExitCode::FAILURE);
    }

    println!(
        "== Rust tests ({TRAIN_PYTHON_ENV}={} cargo test --workspace)",
        ws.relative(&venv_python).display()
    );
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // The editor test opens the plugin's GUI: without a display, give it a virtual one.
    let headless = std::env::var_os("DISPLAY").is_none_or(|d| d.is_empty());
    let mut command = if headless && on_path("xvfb-run") {
        println!("   (no DISPLAY: under xvfb-run, for the editor test)");
        let mut c = Command::new("xvfb-run");
        c.args(["-a", "-s", "-screen 0 1280x1024x24"]).arg(cargo);
        c
    } else {
        Command::new(cargo)
    };
    let status = command
        .args(["test", "--workspace"])
        .args(&extra)
        .env(TRAIN_PYTHON_ENV, &venv_python)
        .current_dir(&ws.root)
        .status()
        .context("cannot run cargo test")?;
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Whether `program` is on the `PATH`.
fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// Runs `models/python/tests` with `python -m unittest discover`; true when they pass.
fn python_tests(ws: &Workspace, python: &Path) -> Result<bool> {
    let status = Command::new(python)
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
        .with_context(|| format!("cannot run {}", python.display()))?;
    Ok(status.success())
}
