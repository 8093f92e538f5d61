//! Shared by the `antiphon generate` tests (`generate.rs`, `hostile_files.rs`): the built
//! binary, a scratch folder per test, and one run of the command.

// Each test crate uses the helpers it needs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_antiphon");

/// A fresh, empty folder for one test's files: `antiphon-{suite}-{test}-{pid}` in the system's
/// temporary folder (the process id keeps parallel runs apart).
pub fn scratch(suite: &str, test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("antiphon-{suite}-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `antiphon generate ARGS` in `dir` with no SoundFont named in the environment.
pub fn generate(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("generate")
        .args(args)
        .current_dir(dir)
        .env_remove("ANTIPHON_SOUNDFONT")
        .output()
        .unwrap()
}
