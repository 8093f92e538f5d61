//! Generation as the generator pays for it, through the real generators of the shipped models:
//!
//! - `generate_step/<model>`: one generated step (encode the input row, run the model, sample,
//!   decode, hand the notes out), plain sampling, after the model's example primer
//!   ([`antiphon_models::primers`]). A sample generates `iters` steps in one `generate` call and
//!   counts its wall time less the primer's model call, so the figure is per step. For Polyphony
//!   a step is a 16th note of several events (model calls); for Performance a 10 ms step.
//! - `beam_8x2/<model>`: the same with beam search of 8 entries × branch factor 2 (16 candidates
//!   a step, pruned every step), for `melody_basic` and `drums_kit`.
//! - `seed_job/polyphony_bach_180s`: Magenta's seed primer at 75 QPM continued to 180 s on
//!   `polyphony_bach` at temperature 1, the whole generation in-process as `antiphon generate`
//!   runs it (loading the model is `load/polyphony_bach` in the `step` benchmark).
//!
//! Every sample uses the same random seed, so each measures the same work.
//!
//! Run: `cargo bench -p antiphon-models --bench generate` (ONNX Runtime from `cargo xtask
//! fetch-ort`; `ANTIPHON_BENCH_MODEL_DIR=models/onnx/fp32` measures the files of that folder
//! instead).

mod common;

use std::time::{Duration, Instant};

use antiphon_models::encoding::polyphony;
use antiphon_models::generate::{Generator, load_generator};
use antiphon_models::primers::{self, MAGENTA_SEED_BEATS, PRIMER_VELOCITY, Primer};
use antiphon_models::session::ModelSource;
use antiphon_models::{BeamSettings, GenerateRequest, Rng, StepControl, StepNote, shipped};
use criterion::{BenchmarkId, Criterion, SamplingMode};

/// The random seed of every generation.
const SEED: u64 = 7;

/// Beam search of 8 entries, each copied twice, pruned after every step.
const BEAM_8X2: BeamSettings = BeamSettings::new(8, 2, 1);

/// Tempo of the seed job, in quarter notes per minute (`antiphon generate`'s default).
const SEED_TEMPO_QPM: f64 = 75.0;

/// Length of the seed job's piece, primer included, in seconds.
const SEED_SECONDS: f64 = 180.0;

/// The name and generator of a shipped model (see [`common::model`]).
fn generator(shipped: &ModelSource) -> (&'static str, Box<dyn Generator>) {
    let (name, source) = common::model(shipped);
    let generator =
        load_generator(&source, &common::runtime_dirs()).unwrap_or_else(|e| common::fail(name, e));
    (name, generator)
}

/// Wall time of generating `steps` steps after `primer` with `beam`, less the primer's model
/// call.
fn time_steps(
    generator: &mut dyn Generator,
    primer: &Primer,
    beam: BeamSettings,
    steps: usize,
) -> Duration {
    let request = GenerateRequest {
        chords: &primer.chords,
        beam,
        ..GenerateRequest::new(&primer.notes, primer.steps, steps)
    };
    let started = Instant::now();
    let stats = generator
        .generate(&request, &mut Rng::seeded(SEED), &mut |_| {
            StepControl::Continue
        })
        .unwrap_or_else(|e| common::fail("generating", e));
    let elapsed = started.elapsed();
    assert_eq!(stats.steps, steps, "the generator stopped early");
    elapsed.saturating_sub(Duration::from_micros(stats.primer_us))
}

/// Per-step cost of `models` with `beam`, as group `group_name`.
fn per_step(c: &mut Criterion, group_name: &str, models: &[ModelSource], beam: BeamSettings) {
    let mut group = common::group(c, group_name, 20, 3);
    group.sampling_mode(SamplingMode::Flat);
    for shipped in models {
        let (name, mut generator) = generator(shipped);
        let primer = primers::example(generator.info());
        group.bench_function(name, |b| {
            b.iter_custom(|iters| time_steps(&mut *generator, &primer, beam, iters as usize));
        });
    }
    group.finish();
}

/// Magenta's seed job on `polyphony_bach` (see the module doc).
fn seed_job(c: &mut Criterion) {
    let (_, mut generator) = generator(&shipped::POLYPHONY_BACH);
    let spq = f64::from(
        generator
            .info()
            .encoding
            .steps_per_quarter_at(SEED_TEMPO_QPM),
    );
    let step = |beats: f64| (beats * spq).round() as i64;
    let primer: Vec<StepNote> = MAGENTA_SEED_BEATS
        .iter()
        .map(|&(pitch, start, end)| StepNote::new(pitch, PRIMER_VELOCITY, step(start), step(end)))
        .collect();
    let primer_steps = primer.iter().map(|n| n.end_step).max().unwrap_or(0) as usize;
    let total_steps = (SEED_SECONDS * SEED_TEMPO_QPM / 60.0 * spq).round() as usize;
    let request = GenerateRequest {
        temperature: 1.0,
        velocity: PRIMER_VELOCITY,
        ..GenerateRequest::new(&primer, primer_steps, total_steps - primer_steps)
    };
    let mut run = |notes: &mut Vec<StepNote>| {
        generator
            .generate(&request, &mut Rng::seeded(SEED), &mut |n| {
                notes.push(n);
                StepControl::Continue
            })
            .unwrap_or_else(|e| common::fail("the seed job", e))
    };
    let mut notes = Vec::new();
    let stats = run(&mut notes);
    // The events of the generated stream (without START and END): one model call each.
    let events = polyphony::notes_to_events(&notes).len().saturating_sub(2);
    eprintln!(
        "seed job: {} steps after a primer of {primer_steps}, {} notes, about {events} model \
         calls",
        stats.steps, stats.notes
    );
    let mut group = common::group(c, "seed_job", 10, 10);
    group.sampling_mode(SamplingMode::Flat);
    group.bench_function(BenchmarkId::from_parameter("polyphony_bach_180s"), |b| {
        b.iter(|| {
            notes.clear();
            run(&mut notes)
        });
    });
    group.finish();
}

/// Runs the generation benchmarks.
fn main() {
    let mut c = Criterion::default().configure_from_args();
    per_step(&mut c, "generate_step", shipped::ALL, BeamSettings::PLAIN);
    per_step(
        &mut c,
        "beam_8x2",
        &[shipped::MELODY_BASIC, shipped::DRUMS_KIT],
        BEAM_8X2,
    );
    seed_job(&mut c);
    c.final_summary();
}
