//! One model step (`StepModel::run`, time 1) of every shipped model, from a realistic state, for
//! one sequence (plain sampling, the worker) and batches of 8 and 16 (beam-search candidates); and
//! loading each model (session and contract check, plus the NADE weights for Pianoroll).
//!
//! The state is the one the model's example primer ([`antiphon_models::primers`]) leaves: every
//! primer row but the last runs in one call, and the measured step feeds the last row. Each
//! measured step starts again from that state, restored into the same buffers (as a generator
//! reuses its own); only the `run` call is timed.
//!
//! Run: `cargo bench -p antiphon-models --bench step` (ONNX Runtime from `cargo xtask fetch-ort`;
//! `ANTIPHON_BENCH_MODEL_DIR=models/onnx/fp32` measures the files of that folder instead).

mod common;

use std::time::{Duration, Instant};

use antiphon_models::generate::load_generator;
use antiphon_models::session::RnnState;
use antiphon_models::{StepModel, primers, shipped};
use criterion::{BenchmarkId, Criterion, Throughput};

/// Batch sizes measured: one sequence (plain sampling), 8 candidates (a small beam search) and 16
/// (beam search of 8 entries × branch factor 2, the `beam_8x2` generation benchmark).
const BATCHES: [usize; 3] = [1, 8, 16];

/// The state after the example primer of `model` but its last row, and that last row.
fn primed(model: &mut StepModel) -> (RnnState, Vec<f32>) {
    let info = model.info().clone();
    let rows = primers::input_rows(&info, &primers::example(&info));
    let mut state = model.zero_state(1);
    let mut logits = Vec::new();
    let before = rows.time - 1;
    if before > 0 {
        let inputs = &rows.inputs[..before * info.input_size];
        model
            .run(inputs, before, &mut state, &mut logits)
            .unwrap_or_else(|e| common::fail("running the primer", e));
    }
    (state, rows.row(before).to_vec())
}

/// `batch` copies of a one-sequence state.
fn repeated(state: &RnnState, model: &StepModel, batch: usize) -> RnnState {
    let mut out = model.zero_state(batch);
    for row in 0..batch {
        out.copy_row(row, state, 0);
    }
    out
}

/// One step of every shipped model at every batch size.
fn steps(c: &mut Criterion) {
    let mut group = common::group(c, "step", 30, 3);
    for shipped in shipped::ALL {
        let (name, source) = common::model(shipped);
        let mut model = StepModel::load(&source, &common::runtime_dirs())
            .unwrap_or_else(|e| common::fail(name, e));
        let (state, row) = primed(&mut model);
        let mut logits = Vec::new();
        for batch in BATCHES {
            let start = repeated(&state, &model, batch);
            let mut state = start.clone();
            let inputs = row.repeat(batch);
            group.throughput(Throughput::Elements(batch as u64));
            group.bench_function(BenchmarkId::new(name, format!("batch{batch}")), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        state.clone_from(&start);
                        let started = Instant::now();
                        model
                            .run(&inputs, 1, &mut state, &mut logits)
                            .unwrap_or_else(|e| common::fail(name, e));
                        total += started.elapsed();
                    }
                    total
                });
            });
        }
    }
    group.finish();
}

/// Loading every shipped model into its generator (what a model change costs the worker).
fn loads(c: &mut Criterion) {
    let mut group = common::group(c, "load", 10, 3);
    for shipped in shipped::ALL {
        let (name, source) = common::model(shipped);
        group.bench_function(name, |b| {
            // Dropping the session is not timed.
            b.iter_with_large_drop(|| {
                load_generator(&source, &common::runtime_dirs())
                    .unwrap_or_else(|e| common::fail(name, e))
            });
        });
    }
    group.finish();
}

/// Runs the step and load benchmarks.
fn main() {
    let mut c = Criterion::default().configure_from_args();
    steps(&mut c);
    loads(&mut c);
    c.final_summary();
}
