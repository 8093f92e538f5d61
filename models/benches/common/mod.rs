//! What both benchmark binaries share: where ONNX Runtime is, the shipped models by name, and
//! the size of a benchmark group (kept modest so `cargo bench -p antiphon-models` takes minutes
//! on two cores).

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

/// The name of a shipped model (`melody_basic`, …).
pub fn name_of(source: &ModelSource) -> &'static str {
    match source {
        ModelSource::Embedded { name, .. } => name,
        // PANIC: `shipped::ALL` holds embedded models only.
        ModelSource::File(_) => unreachable!("the shipped models are embedded"),
    }
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
