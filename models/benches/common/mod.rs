//! What both benchmark binaries share: where ONNX Runtime is, the shipped models by name, and
//! the size of a benchmark group (kept modest so `cargo bench -p antiphon-models` takes minutes
//! on two cores).
//!
//! The models are the ones built into the crate, unless [`MODEL_DIR_ENV`] names a folder of
//! `.onnx` files of the same names (e.g. `models/onnx/fp32`, to compare float and int8 weights).

use std::path::PathBuf;
use std::time::Duration;

use antiphon_models::session::ModelSource;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};

/// The folders searched for ONNX Runtime: `target/onnxruntime/`, where `cargo xtask fetch-ort`
/// puts it (`ANTIPHON_ORT_LIB` overrides the search).
pub fn runtime_dirs() -> Vec<PathBuf> {
    vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/onnxruntime")]
}

/// Environment variable naming a folder whose `<name>.onnx` files are benchmarked instead of the
/// built-in models; a relative path is taken from the workspace root.
pub const MODEL_DIR_ENV: &str = "ANTIPHON_BENCH_MODEL_DIR";

/// A shipped model as benchmarked: its name, and where it is loaded from (built in, or the file
/// of that name in [`MODEL_DIR_ENV`]'s folder).
pub fn model(shipped: &ModelSource) -> (&'static str, ModelSource) {
    let name = match shipped {
        ModelSource::Embedded { name, .. } => *name,
        // PANIC: `shipped` holds embedded models only.
        ModelSource::File(_) => unreachable!("the shipped models are embedded"),
    };
    let source = match std::env::var_os(MODEL_DIR_ENV).filter(|d| !d.is_empty()) {
        Some(dir) => {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
            ModelSource::File(root.join(dir).join(format!("{name}.onnx")))
        }
        None => shipped.clone(),
    };
    (name, source)
}

/// Stops the benchmark with the loader's message (most often: ONNX Runtime not found, run
/// `cargo xtask fetch-ort`).
pub fn fail(what: &str, error: impl std::fmt::Display) -> ! {
    panic!("{what}: {error} (ONNX Runtime comes from `cargo xtask fetch-ort`)")
}

/// A benchmark group of `sample_size` samples measured for `measurement_s` seconds after one
/// second of warm-up.
pub fn group<'c>(
    c: &'c mut Criterion,
    name: &str,
    sample_size: usize,
    measurement_s: u64,
) -> BenchmarkGroup<'c, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(sample_size)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(measurement_s));
    group
}
