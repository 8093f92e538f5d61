//! `cargo xtask train --family F [--data DIR] --out FILE [args…]`: trains a model with the Python
//! package in `models/python/` inside a venv at `target/train-venv/`.
//!
//! [`provision`] makes the venv ready: it is created when missing (or when it has no working
//! pip), and `models/python/requirements.txt` is (re)installed into it whenever its sha256
//! differs from the one recorded in `<venv>/antiphon-requirements.sha256`. `cargo xtask test`
//! provisions it too, so the PyTorch tests run.
//!
//! Training runs as `<venv python> -m antiphon_train <family> --out FILE [--data DIR] <rest>`
//! with `PYTHONPATH=models/python`, from the workspace root, with inherited stdio (the trainer's
//! progress bar goes to stderr). Every other option (`--model`, `--resume`, `--max-minutes`,
//! `--epochs`, …) goes to the trainer unchanged, except that the paths of `--work`, `--cache`,
//! `--groove` and `--nottingham` are taken relative to the directory `cargo xtask` ran in, like
//! `--data` and `--out`.

use crate::args::Args;
use crate::digest::sha256_bytes;
use crate::workspace::Workspace;
use anyhow::{Context, Result, bail};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

/// Usage of the command.
const USAGE: &str = "train --family melody|drums|improv|polyphony|performance|pianoroll [--model KIND] [--data DIR] --out FILE
      [--work DIR] [--resume] [--max-minutes M] [--epochs N] [further args for antiphon_train]
      (trains on a folder of your own MIDI files with --data; checkpoints go to
      <work>/checkpoints/ (default target/train/<kind>), --resume continues from the last one;
      --model: basic|lookback|attention for melody, drum_kit, improv)";

/// Options whose value is a path, taken relative to the invocation directory.
const PATH_OPTIONS: [&str; 5] = ["--work", "--cache", "--groove", "--nottingham", "--jsb"];

/// Runs the command; the exit code is the trainer's.
pub fn run(ws: &Workspace, args: &[String]) -> Result<ExitCode> {
    let mut args = Args::new(args);
    let family = args.value("--family")?;
    let data = args.value("--data")?;
    let out = args.value("--out")?;
    let mut paths = Vec::new();
    for option in PATH_OPTIONS {
        if let Some(value) = args.value(option)? {
            paths.push((option, ws.user_path(&value)));
        }
    }
    let rest = args.into_rest();
    let (Some(family), Some(out)) = (family, out) else {
        bail!("--family and --out are required; usage: cargo xtask {USAGE}");
    };

    let python = provision(ws)?;
    let mut command = Command::new(&python);
    command
        .args(["-m", "antiphon_train", &family, "--out"])
        .arg(ws.user_path(&out));
    if let Some(data) = data {
        command.arg("--data").arg(ws.user_path(&data));
    }
    for (option, path) in paths {
        command.arg(option).arg(path);
    }
    command
        .args(&rest)
        .env("PYTHONPATH", python_package_dir(ws))
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

/// `models/python/`: the training package's root, to put on `PYTHONPATH`.
pub fn python_package_dir(ws: &Workspace) -> PathBuf {
    ws.root.join("models").join("python")
}

/// Makes the training venv ready (created, `models/python/requirements.txt` installed) and
/// returns its Python interpreter. Cheap when nothing changed since the last call.
pub fn provision(ws: &Workspace) -> Result<PathBuf> {
    let python_dir = python_package_dir(ws);
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
    let marker = venv.join("antiphon-requirements.sha256");
    let hash = sha256_bytes(&requirements_text);
    let python = venv_python(&venv);
    if python.exists() && fs::read_to_string(&marker).is_ok_and(|m| m.trim() == hash) {
        return Ok(python);
    }
    ensure_venv(ws, &venv)?;
    println!(
        "Installing {} into {} (PyTorch and friends: the first time, a download of a few GB)",
        ws.relative(&requirements).display(),
        ws.relative(&venv).display()
    );
    let status = Command::new(&python)
        .args(["-m", "pip", "install", "--disable-pip-version-check", "-r"])
        .arg(&requirements)
        .status()
        .with_context(|| format!("cannot run {}", python.display()))?;
    if !status.success() {
        bail!(
            "pip install -r {} failed ({status})",
            requirements.display()
        );
    }
    fs::write(&marker, hash + "\n")
        .with_context(|| format!("cannot write {}", marker.display()))?;
    Ok(python)
}

/// Creates the venv with `python3 -m venv` (or `$ANTIPHON_PYTHON -m venv`) unless it already
/// has an interpreter with a working pip; a half-made venv (e.g. from a Python without
/// `ensurepip`) is made again from scratch.
fn ensure_venv(ws: &Workspace, venv: &Path) -> Result<()> {
    let python = venv_python(venv);
    if python.exists() && has_pip(&python) {
        return Ok(());
    }
    let base = std::env::var("ANTIPHON_PYTHON").unwrap_or_else(|_| default_python().to_string());
    println!("Creating the training venv {}", ws.relative(venv).display());
    let status = Command::new(&base)
        .args(["-m", "venv", "--clear"])
        .arg(venv)
        .status()
        .with_context(|| format!("cannot run '{base}' (is Python 3 installed?)"))?;
    if !status.success() || !python.exists() || !has_pip(&python) {
        bail!(
            "'{base} -m venv {}' failed ({status}); Python's venv module with ensurepip is needed \
             (Debian/Ubuntu: apt-get install python3-venv)",
            venv.display()
        );
    }
    Ok(())
}

/// Whether `python -m pip --version` works.
fn has_pip(python: &Path) -> bool {
    Command::new(python)
        .args(["-m", "pip", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
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
