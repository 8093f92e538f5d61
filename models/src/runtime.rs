//! The process-wide ONNX Runtime: finding its library, loading it once, and saying clearly why
//! not when that fails.
//!
//! ONNX Runtime is loaded at run time (`ort`'s `load-dynamic`), from the first place that has it:
//! the file named by the `ANTIPHON_ORT_LIB` environment variable, else the folders the caller
//! lists (for a plugin: the folder of its own binary). One environment is created per process and
//! never dropped, as `ort` allows only one. A failed attempt is not remembered, so the library can
//! be installed and picked up without restarting the host.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ort::environment::Environment;

use crate::error::ModelError;

/// Environment variable naming the ONNX Runtime library file to load, overriding the search.
pub const ORT_LIB_ENV: &str = "ANTIPHON_ORT_LIB";

/// The ONNX Runtime release the project ships and tests with.
pub const ORT_VERSION: &str = "1.31.1";

/// The oldest ONNX Runtime minor version (1.x) the `ort` crate accepts.
pub const MIN_ORT_MINOR: u32 = ort::MINOR_VERSION;

/// The one environment of this process, once loaded.
static ENVIRONMENT: OnceLock<Environment> = OnceLock::new();

/// Serialises attempts to load the library.
static LOADING: Mutex<()> = Mutex::new(());

/// Returns the process's ONNX Runtime environment, loading the library on first use from
/// `ANTIPHON_ORT_LIB` or from the first of `search_dirs` that holds it.
pub fn environment(search_dirs: &[PathBuf]) -> Result<&'static Environment, ModelError> {
    if let Some(env) = ENVIRONMENT.get() {
        return Ok(env);
    }
    let _guard = LOADING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(env) = ENVIRONMENT.get() {
        return Ok(env);
    }
    let path = locate(search_dirs)?;
    let builder = ort::init_from(&path).map_err(|e| {
        ModelError::Runtime(format!(
            "the ONNX Runtime library at {} could not be loaded: {e} (Antiphon needs ONNX Runtime \
             1.{MIN_ORT_MINOR} or newer; `cargo xtask fetch-ort` provides {ORT_VERSION})",
            path.display()
        ))
    })?;
    let env = builder
        .with_name("antiphon")
        .with_telemetry(false)
        .build()
        .map_err(|e| {
            ModelError::Runtime(format!("creating the ONNX Runtime environment failed: {e}"))
        })?;
    Ok(ENVIRONMENT.get_or_init(|| env))
}

/// Finds the library file: the environment variable if set, else the newest ONNX Runtime library
/// in the first folder of `search_dirs` that has one.
pub fn locate(search_dirs: &[PathBuf]) -> Result<PathBuf, ModelError> {
    if let Some(path) = std::env::var_os(ORT_LIB_ENV).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(ModelError::Runtime(format!(
                "ONNX Runtime library not found: {ORT_LIB_ENV} names {}, which does not exist",
                path.display()
            )))
        };
    }
    for dir in search_dirs {
        if let Some(found) = library_in(dir) {
            return Ok(found);
        }
    }
    let looked: Vec<String> = search_dirs
        .iter()
        .map(|d| d.display().to_string())
        .collect();
    Err(ModelError::Runtime(format!(
        "ONNX Runtime library not found: looked in [{}] for {}; put it beside the plugin (the \
         bundles from `cargo xtask bundle` carry it) or set {ORT_LIB_ENV}",
        looked.join(", "),
        library_file_pattern()
    )))
}

/// The file names ONNX Runtime's library has on this platform, for messages.
fn library_file_pattern() -> &'static str {
    if cfg!(target_os = "windows") {
        "onnxruntime.dll"
    } else if cfg!(target_os = "macos") {
        "libonnxruntime*.dylib"
    } else {
        "libonnxruntime.so*"
    }
}

/// Whether `name` is a file name of the ONNX Runtime core library on this platform.
fn is_library_name(name: &str) -> bool {
    if cfg!(target_os = "windows") {
        name.eq_ignore_ascii_case("onnxruntime.dll")
    } else if cfg!(target_os = "macos") {
        name.starts_with("libonnxruntime.") && name.ends_with(".dylib")
    } else {
        name == "libonnxruntime.so" || name.starts_with("libonnxruntime.so.")
    }
}

/// The version numbers in a library file name, for choosing the newest (`libonnxruntime.so.1.31.1`
/// → `[1, 31, 1]`; no numbers → empty).
fn version_of(name: &str) -> Vec<u32> {
    name.split('.')
        .filter_map(|part| part.parse().ok())
        .collect()
}

/// The newest ONNX Runtime library file directly inside `dir`.
fn library_in(dir: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(dir).ok()?;
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_str().is_some_and(is_library_name))
        .map(|e| e.path())
        .max_by_key(|p| p.file_name().and_then(|n| n.to_str()).map(version_of))
}

/// The folder holding the binary (executable or shared library) this code was linked into: for
/// a plugin, the folder of the `.clap` file or of the `.so` inside a `.vst3` bundle.
pub fn module_dir() -> Option<PathBuf> {
    module_path().and_then(|p| p.parent().map(Path::to_path_buf))
}

/// The path of the binary this code was linked into.
#[cfg(unix)]
pub fn module_path() -> Option<PathBuf> {
    use std::ffi::CStr;
    use std::os::unix::ffi::OsStrExt;

    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    // SAFETY: dladdr only reads the address, which is this function's own code, and fills `info`.
    let found = unsafe { libc::dladdr(module_path as *const libc::c_void, &mut info) };
    if found == 0 || info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: dli_fname is a NUL-terminated string owned by the dynamic loader.
    let name = unsafe { CStr::from_ptr(info.dli_fname) };
    let path = PathBuf::from(std::ffi::OsStr::from_bytes(name.to_bytes()));
    path.canonicalize().ok().or(Some(path))
}

/// The path of the binary this code was linked into.
#[cfg(not(unix))]
pub fn module_path() -> Option<PathBuf> {
    std::env::current_exe().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_several_versions_when_searching_a_folder_then_the_newest_library_is_chosen() {
        let dir = std::env::temp_dir().join(format!("antiphon-rt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for name in [
            "libonnxruntime.so.1.9.0",
            "libonnxruntime.so.1.31.1",
            "libonnxruntime_providers_shared.so",
            "libonnxruntime.so.1.30.0",
        ] {
            std::fs::write(dir.join(name), b"").unwrap();
        }
        if cfg!(target_os = "linux") {
            let found = library_in(&dir).unwrap();
            assert_eq!(found.file_name().unwrap(), "libonnxruntime.so.1.31.1");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn given_no_library_anywhere_when_locating_then_the_error_names_the_folders() {
        if std::env::var_os(ORT_LIB_ENV).is_some() {
            return; // the override decides; covered by the binary tests
        }
        let err = locate(&[PathBuf::from("/nonexistent-antiphon-dir")]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("ONNX Runtime library not found"), "{text}");
        assert!(text.contains("/nonexistent-antiphon-dir"), "{text}");
    }

    #[test]
    fn given_this_test_binary_when_asking_for_the_module_path_then_it_exists() {
        assert!(module_path().unwrap().exists());
    }
}
