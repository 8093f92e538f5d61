//! Building the plugin bundle from a test.
//!
//! [`bundle_plugin`] runs, once per test process, from the workspace root:
//!
//! ```text
//! CARGO_TARGET_DIR=<workspace>/target/test-bundle \
//!     cargo run --release -p xtask -- bundle antiphon --features assert_process_allocs
//! ```
//!
//! The plugin itself is built in the debug profile on purpose: with `assert_process_allocs`,
//! nice-plug aborts the process on any allocation inside `process()` (only with debug
//! assertions), so every test that processes audio also checks the plugin's real-time safety.
//!
//! The bundler makes the VST3 folder `Antiphon.vst3` in the same run, from the same library;
//! [`bundle_vst3`] returns it.
//!
//! The separate target directory keeps this feature set from replacing the
//! `target/debug/libantiphon.so` the rest of the workspace builds. (Nested cargo does not wait
//! for the outer `cargo test`: cargo releases its build lock before it runs test binaries.)

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The file name nice-plug's bundler gives the CLAP plugin (from the bundle name "Antiphon").
pub const CLAP_BUNDLE_NAME: &str = "Antiphon.clap";

/// The file name the bundler uses when nothing names the bundle (the package name).
pub const FALLBACK_CLAP_BUNDLE_NAME: &str = "antiphon.clap";

/// The folder nice-plug's bundler makes for the VST3 plugin (from the bundle name "Antiphon").
pub const VST3_BUNDLE_NAME: &str = "Antiphon.vst3";

/// The VST3 folder's name when nothing names the bundle (the package name).
pub const FALLBACK_VST3_BUNDLE_NAME: &str = "antiphon.vst3";

/// The workspace root (the parent of this package's directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The target directory the tests bundle into: `<workspace>/target/test-bundle`.
pub fn bundle_target_dir() -> PathBuf {
    workspace_root().join("target").join("test-bundle")
}

/// The directory the bundler writes to: `<bundle target dir>/bundled`.
pub fn bundled_dir() -> PathBuf {
    bundle_target_dir().join("bundled")
}

/// The outcome of the one bundling run of this process.
static BUNDLE: OnceLock<Result<PathBuf, String>> = OnceLock::new();

/// Builds and bundles the plugin with `assert_process_allocs` (once per process) and returns
/// the path of `Antiphon.clap` (or of `antiphon.clap`, with a note on stderr, when no
/// `bundler.toml` names the bundle). Panics with the tail of the build's output when bundling fails.
pub fn bundle_plugin() -> PathBuf {
    match BUNDLE.get_or_init(run_bundler) {
        Ok(path) => path.clone(),
        Err(message) => panic!("bundling the plugin failed:\n{message}"),
    }
}

/// Builds and bundles the plugin with `assert_process_allocs` (once per process: the same run as
/// [`bundle_plugin`], which makes both formats) and returns the path of the `Antiphon.vst3`
/// folder (or `antiphon.vst3` when no `bundler.toml` names the bundle). Panics when bundling
/// fails or the folder lacks the plugin's shared library for this machine
/// ([`vst3_binary`]).
pub fn bundle_vst3() -> PathBuf {
    let clap = bundle_plugin();
    let dir = clap
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(bundled_dir);
    let named = dir.join(VST3_BUNDLE_NAME);
    let bundle = if named.is_dir() {
        named
    } else {
        dir.join(FALLBACK_VST3_BUNDLE_NAME)
    };
    let binary = vst3_binary(&bundle);
    assert!(
        binary.is_file(),
        "the bundler made {} but not {}",
        clap.display(),
        binary.display()
    );
    bundle
}

/// The plugin's shared library inside the VST3 folder `bundle`, as a Linux host finds it:
/// `Contents/<arch>-linux/<bundle name without .vst3>.so` (the VST3 module layout).
pub fn vst3_binary(bundle: &Path) -> PathBuf {
    let stem = bundle
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    bundle
        .join("Contents")
        .join(format!("{}-linux", std::env::consts::ARCH))
        .join(format!("{stem}.so"))
}

/// Runs the bundler and finds the `.clap` file.
fn run_bundler() -> Result<PathBuf, String> {
    let root = workspace_root();
    let target_dir = bundle_target_dir();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let args = [
        "run",
        "--release",
        "-p",
        "xtask",
        "--",
        "bundle",
        "antiphon",
        "--features",
        "assert_process_allocs",
    ];
    eprintln!(
        "bundling: CARGO_TARGET_DIR={} {cargo} {} (in {})",
        target_dir.display(),
        args.join(" "),
        root.display()
    );
    let started = std::time::Instant::now();
    let output = Command::new(&cargo)
        .args(args)
        .current_dir(&root)
        .env("CARGO_TARGET_DIR", &target_dir)
        .output()
        .map_err(|e| format!("cannot run {cargo}: {e}"))?;
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!(
        "bundling took {:.1} s, {}",
        started.elapsed().as_secs_f64(),
        output.status
    );
    if !output.status.success() {
        return Err(format!("{}\n{}", output.status, tail(&log, 6_000)));
    }
    let path = bundled_dir().join(CLAP_BUNDLE_NAME);
    if path.is_file() {
        return Ok(path);
    }
    // Without a `bundler.toml` naming the bundle "Antiphon", nice-plug's bundler uses the
    // package name.
    let fallback = bundled_dir().join(FALLBACK_CLAP_BUNDLE_NAME);
    if fallback.is_file() {
        eprintln!(
            "note: {} does not exist, using {} (no bundler.toml names the bundle \"Antiphon\")",
            path.display(),
            fallback.display()
        );
        return Ok(fallback);
    }
    let found: Vec<String> = std::fs::read_dir(bundled_dir())
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    Err(format!(
        "the bundler succeeded but {} does not exist; {} holds {found:?}\n{}",
        path.display(),
        bundled_dir().display(),
        tail(&log, 3_000)
    ))
}

/// The last `max_chars` characters of `text` (at a character boundary).
fn tail(text: &str, max_chars: usize) -> &str {
    if text.len() <= max_chars {
        return text;
    }
    let mut start = text.len() - max_chars;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_hang_off_the_workspace_root() {
        let root = workspace_root();
        assert!(root.join("Cargo.toml").is_file());
        assert!(root.join("tests").join("Cargo.toml").is_file());
        assert_eq!(
            bundled_dir(),
            root.join("target").join("test-bundle").join("bundled")
        );
    }

    #[test]
    fn the_vst3_library_lies_in_the_module_layout() {
        let binary = vst3_binary(Path::new("/b/Antiphon.vst3"));
        assert_eq!(
            binary,
            PathBuf::from(format!(
                "/b/Antiphon.vst3/Contents/{}-linux/Antiphon.so",
                std::env::consts::ARCH
            ))
        );
    }

    #[test]
    fn tail_keeps_the_end_at_a_char_boundary() {
        assert_eq!(tail("abcdef", 3), "def");
        assert_eq!(tail("ab", 3), "ab");
        assert_eq!(tail("xé", 1), "");
        assert_eq!(tail("xéy", 2), "y");
    }
}
