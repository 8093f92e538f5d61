//! What the engine's benchmarks share: ONNX Runtime from `target/onnxruntime` (`cargo xtask
//! fetch-ort`), starting an instance with a shipped model, and summaries of timings.

// Each bench binary uses the helpers it needs.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use antiphon_engine::{Instance, ModelChoice, Shared, WorkerConfig, WorkerStatus};

/// Sample rate of every simulated block, in Hz.
pub const SAMPLE_RATE_HZ: f64 = 48_000.0;
/// Length of every simulated block, in samples.
pub const BLOCK_SAMPLES: u32 = 512;
/// Host tempo of the benchmarks, in quarter notes per minute.
pub const TEMPO_BPM: f64 = 120.0;

/// Where `cargo xtask fetch-ort` puts the runtime.
pub fn runtime_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/onnxruntime")
}

/// Whether the binary runs as a benchmark (`cargo bench` passes `--bench`); otherwise it runs
/// as a quick test (`cargo test --benches`) and the hand-made measurements shrink.
pub fn bench_mode() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// Criterion's options that take a value (the value is not a filter).
const OPTIONS_WITH_VALUE: &[&str] = &[
    "--save-baseline",
    "--baseline",
    "--baseline-lenient",
    "--load-baseline",
    "--sample-size",
    "--warm-up-time",
    "--measurement-time",
    "--nresamples",
    "--noise-threshold",
    "--confidence-level",
    "--significance-level",
    "--profile-time",
    "--color",
    "--output-format",
    "--plotting-backend",
    "--format",
];

/// Whether the hand-made measurement `name` should run: when no filter is given
/// (`cargo bench -p antiphon-engine -- FILTER`), or when `name` contains the filter.
pub fn wanted(name: &str) -> bool {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if OPTIONS_WITH_VALUE.contains(&arg.as_str()) {
            i += 2;
            continue;
        }
        if !arg.starts_with('-') {
            return name.contains(arg.as_str());
        }
        i += 1;
    }
    true
}

/// The worker configuration for `model` with a fixed seed.
pub fn config(model: ModelChoice) -> WorkerConfig {
    WorkerConfig {
        model,
        custom_file: None,
        runtime_dirs: vec![runtime_dir()],
        seed: Some(7),
    }
}

/// Waits (sleeping 100 µs at a time, up to 60 s) until the worker's status leaves `Loading`;
/// panics unless it is `Ready`.
pub fn wait_ready(shared: &Shared) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while shared.status() == WorkerStatus::Loading && Instant::now() < deadline {
        std::thread::sleep(Duration::from_micros(100));
    }
    assert_eq!(
        shared.status(),
        WorkerStatus::Ready,
        "model not ready: {:?} (is ONNX Runtime in {}? run `cargo xtask fetch-ort`)",
        shared.status_text(),
        runtime_dir().display()
    );
}

/// Starts an instance with `model`, `setup` applied to its shared settings first, and waits
/// until the model is ready.
pub fn start_ready(model: ModelChoice, setup: impl FnOnce(&Shared)) -> Instance {
    let shared = Arc::new(Shared::default());
    setup(&shared);
    let instance = antiphon_engine::start(shared, config(model)).expect("worker starts");
    wait_ready(&instance.shared);
    instance
}

/// The shipped models the benchmarks use, by name, with how to ask for them.
pub fn shipped(name: &'static str) -> ModelChoice {
    if name == "melody_basic" {
        ModelChoice::Default
    } else {
        ModelChoice::Shipped(name)
    }
}

/// A summary of many timings: median, tail percentiles and extremes, in microseconds.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    /// Number of timings.
    pub count: usize,
    /// Smallest, µs.
    pub min_us: f64,
    /// Median, µs.
    pub median_us: f64,
    /// Mean, µs.
    pub mean_us: f64,
    /// 90th percentile, µs.
    pub p90_us: f64,
    /// 99th percentile, µs.
    pub p99_us: f64,
    /// 99.9th percentile, µs.
    pub p999_us: f64,
    /// Largest, µs.
    pub max_us: f64,
}

impl Summary {
    /// Summarises `times` (sorted here); `None` when empty.
    pub fn of(times: &mut [Duration]) -> Option<Self> {
        if times.is_empty() {
            return None;
        }
        times.sort_unstable();
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        // Nearest rank: the smallest timing with at least q of all timings at or below it.
        let rank = |q: f64| {
            let index = (q * times.len() as f64).ceil() as usize;
            us(times[index.clamp(1, times.len()) - 1])
        };
        let total: f64 = times.iter().map(|&d| us(d)).sum();
        Some(Self {
            count: times.len(),
            min_us: us(times[0]),
            median_us: rank(0.5),
            mean_us: total / times.len() as f64,
            p90_us: rank(0.9),
            p99_us: rank(0.99),
            p999_us: rank(0.999),
            max_us: us(times[times.len() - 1]),
        })
    }

    /// One line: `label` and every figure.
    pub fn line(&self, label: &str) -> String {
        format!(
            "{label:<44} n={:<7} min {:>9} median {:>9} mean {:>9} p90 {:>9} p99 {:>9} \
             p99.9 {:>9} max {:>9}",
            self.count,
            fmt_us(self.min_us),
            fmt_us(self.median_us),
            fmt_us(self.mean_us),
            fmt_us(self.p90_us),
            fmt_us(self.p99_us),
            fmt_us(self.p999_us),
            fmt_us(self.max_us),
        )
    }
}

/// A duration in microseconds as text with a unit that keeps it short (`2.41 µs`, `3.10 ms`).
pub fn fmt_us(us: f64) -> String {
    if us >= 1000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{us:.2} µs")
    }
}

/// A tiny deterministic generator (xorshift64*) for jitter in the benchmarks' own pacing.
#[derive(Debug, Clone)]
pub struct Jitter {
    /// State; never 0.
    state: u64,
}

impl Jitter {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed.max(1) }
    }

    /// A number uniform in `0..bound` (`bound` > 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d) % bound
    }
}
