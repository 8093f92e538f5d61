//! Instantiate and load: from `antiphon_engine::start` (shared state, rings, audio side, worker
//! thread) until the worker reports its model ready — what the plugin's `activate` starts, and
//! what a player waits for before the first answer (goal: < 100 ms).
//!
//! The first instance in a process also loads the ONNX Runtime library and makes its
//! environment; that cold start is timed once, before everything else. Then each shipped model
//! is timed warm, and criterion measures the default model (`melody_basic`) and the two largest
//! (`drums_kit`, `performance_groove`). Dropping an instance (joining its worker) is not timed.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use antiphon_engine::{Instance, Shared};
use antiphon_models::session::ModelSource;
use antiphon_models::shipped;
use criterion::{BenchmarkId, Criterion, SamplingMode};

use support::{Summary, bench_mode, config, fmt_us, wait_ready, wanted};

/// The models criterion measures: the default and the two largest files.
const CRITERION_MODELS: [&str; 3] = ["melody_basic", "drums_kit", "performance_groove"];

/// Starts an instance of the shipped model `name`; returns it once ready, with the time until
/// `start` returned and the time until the model was ready.
fn instantiate(name: &'static str) -> (Instance, Duration, Duration) {
    let start = Instant::now();
    let shared = Arc::new(Shared::default());
    let instance =
        antiphon_engine::start(shared, config(support::shipped(name))).expect("worker starts");
    let started = start.elapsed();
    wait_ready(&instance.shared);
    (instance, started, start.elapsed())
}

/// The shipped models, by name, with their sizes in bytes.
fn shipped_models() -> Vec<(&'static str, usize)> {
    shipped::ALL
        .iter()
        .filter_map(|m| match m {
            ModelSource::Embedded { name, bytes } => Some((*name, bytes.len())),
            ModelSource::File(_) => None,
        })
        .collect()
}

/// Times the cold start once, then `runs` warm starts of every shipped model.
fn percentiles(runs: usize) {
    let (cold, started, ready) = instantiate("melody_basic");
    drop(cold);
    println!(
        "instantiate + model load (goal < 100 ms): the first instance in the process (loads ONNX \
         Runtime): start returned in {}, model ready in {}",
        fmt_us(started.as_secs_f64() * 1e6),
        fmt_us(ready.as_secs_f64() * 1e6)
    );
    for (name, bytes) in shipped_models() {
        let mut starts = Vec::with_capacity(runs);
        let mut readies = Vec::with_capacity(runs);
        for _ in 0..runs {
            let (instance, started, ready) = instantiate(name);
            starts.push(started);
            readies.push(ready);
            drop(instance);
        }
        let label = format!("{name} ({:.1} MB): ready", bytes as f64 / 1e6);
        if let Some(s) = Summary::of(&mut readies) {
            println!("  {}", s.line(&label));
        }
        if let Some(s) = Summary::of(&mut starts) {
            println!(
                "    of which `start` (thread spawned): median {}",
                fmt_us(s.median_us)
            );
        }
    }
}

/// Criterion's measurement of instantiate + load for the default and the largest models.
fn criterion_instantiate(c: &mut Criterion) {
    let mut group = c.benchmark_group("instantiate_until_ready");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    for name in CRITERION_MODELS {
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let (instance, _, ready) = instantiate(name);
                    total += ready;
                    drop(instance);
                }
                total
            });
        });
    }
    group.finish();
}

/// Runs the hand-made timings, then criterion.
fn main() {
    if wanted("instantiate_until_ready/percentiles") {
        percentiles(if bench_mode() { 10 } else { 1 });
    }
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    criterion_instantiate(&mut criterion);
    criterion.final_summary();
}
