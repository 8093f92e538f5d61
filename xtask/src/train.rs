//! `cargo xtask train --family F [--data DIR] --out FILE [args…]`: re-trains a model with the
//! Python package in `models/python/` inside a venv at `target/train-venv/`.
//!
//! The venv is created when missing; `models/python/requirements.txt` is (re)installed into it
//! whenever its sha256 differs from the one recorded in `<venv>/antiphon-requirements.sha256`.
//! Training runs as `<venv python> -m antiphon_train <family> --out FILE [--data DIR] <rest>`
//! with `PYTHONPATH=models/python`, from the workspace root, with inherited stdio.

use crate::args::Args;
use crate::digest::sha256_bytes;
use crate::workspace::Workspace;
use anyhow::{Context, Result, bail};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// Usage line of the command.
const USAGE: &str =
    "train --family <family> [--data DIR] --out FILE [further args for antiphon_train]";

/// Runs the command; the exit code is the trainer's.
pub fn run(ws: &Workspace, args: &[String]) -> Result<ExitCode> {
    let mut args = Args::new(args);
    let family = args.value("--family")?;
    let data = args.value("--data")?;
    let out = args.value("--out")?;
    let rest = args.into_rest();
    let (Some(family), Some(out)) = (family, out) else {
        bail!("--family and --out are required; usage: cargo xtask {USAGE}");
    };

    let python_dir = ws.root.join("models").join("python");
    let requirements = python_dir.join("requirements.txt");
    let requirements_text = fs::read(&requirements).map_err(|e| {
        anyhow::anyhow!(
            "{} is missing ({e}): the training package in models/python/ is not set up yet, \
             so its dependencies cannot be installed",
            ws.relative(&requirements).display()
        )
    })?;
    if !python_dir.join("antiphon_train").is_dir() {
        bail!("models/python/antiphon_train/ does not exist yet; nothing to train with");
    }

    let venv = ws.train_venv();
    let python = ensure_venv(ws, &venv)?;
    ensure_requirements(ws, &venv, &python, &requirements, &requirements_text)?;

    let mut command = Command::new(&python);
    command
        .args(["-m", "antiphon_train", &family, "--out"])
        .arg(ws.user_path(&out));
    if let Some(data) = data {
        command.arg("--data").arg(ws.user_path(&data));
    }
    command
        .args(&rest)
        .env("PYTHONPATH", &python_dir)
        .current_dir(&ws.root);
    println!("Training {family}: {}", describe(ws, &command));
    let status = command
        .status()
        .with_context(|| format!("cannot run {}", python.display()))?;
    match status.code() {
        Some(0) => Ok(ExitCode::SUCCESS),
        Some(code) => {
            eprintln!("error: antiphon_train exited with code {code}");
            Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
        }
        None => bail!("antiphon_train was killed ({status})"),
    }
}

/// Creates the venv with `python3 -m venv` (or `$ANTIPHON_PYTHON -m venv`) when it has no
/// interpreter yet; returns the venv's interpreter.
fn ensure_venv(ws: &Workspace, venv: &Path) -> Result<PathBuf> {
    let python = venv_python(venv);
    if python.exists() {
        return Ok(python);
    }
    let base = std::env::var("ANTIPHON_PYTHON").unwrap_or_else(|_| default_python().to_string());
    println!("Creating the training venv {}", ws.relative(venv).display());
    let status = Command::new(&base)
        .args(["-m", "venv"])
        .arg(venv)
        .status()
        .with_context(|| format!("cannot run '{base}' (is Python 3 installed?)"))?;
    if !status.success() || !python.exists() {
        bail!("'{base} -m venv {}' failed ({status})", venv.display());
    }
    Ok(python)
}

/// Installs `requirements.txt` into the venv unless the recorded hash says it already is.
fn ensure_requirements(
    ws: &Workspace,
    venv: &Path,
    python: &Path,
    requirements: &Path,
    text: &[u8],
) -> Result<()> {
    let marker = venv.join("antiphon-requirements.sha256");
    let hash = sha256_bytes(text);
    if fs::read_to_string(&marker).is_ok_and(|m| m.trim() == hash) {
        return Ok(());
    }
    println!(
        "Installing {} into {}",
        ws.relative(requirements).display(),
        ws.relative(venv).display()
    );
    let status = Command::new(python)
        .args(["-m", "pip", "install", "--disable-pip-version-check", "-r"])
        .arg(requirements)
        .status()
        .with_context(|| format!("cannot run {}", python.display()))?;
    if !status.success() {
        bail!(
            "pip install -r {} failed ({status})",
            requirements.display()
        );
    }
    fs::write(&marker, hash + "\n").with_context(|| format!("cannot write {}", marker.display()))
}

/// The interpreter inside a venv.
fn venv_python(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    }
}

/// The Python used to create the venv when `ANTIPHON_PYTHON` is not set.
fn default_python() -> &'static str {
    if cfg!(windows) { "python" } else { "python3" }
}

/// A command line for messages, with paths inside the workspace shortened.
fn describe(ws: &Workspace, command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|a| ws.relative(Path::new(a)).display().to_string())
        .collect::<Vec<_>>()
        .join(" ")
}
