//! First answer note latency: from the moment the audio side hands the call's last key-up to the
//! worker (pushes it into the capture ring) until the first note of the answer is in the answer
//! ring, through the real worker thread and the real rings, with shipped models.
//!
//! The benchmark stands in for the audio side: it pushes the call's events into the capture
//! ring as `AudioEngine` would (stamped in beats, numbered, with the playhead after them) and
//! pops the answer ring in a spin loop. Once every key is up, the worker answers the call as it
//! stands (speculatively, a beat before the silence ends the call), so this is the time the
//! player waits at most for the worker; the answer itself starts at the next bar line.
//!
//! Two ways the worker notices the key-up:
//! - `polled`: as shipped. During a call the worker looks at the input every 2 ms, so the
//!   latency holds a wait of 0–2 ms; the key-up comes at a random moment of that period.
//! - `woken`: a control message wakes the worker at once (one for the model it already has,
//!   which it ignores), so the latency is the worker's own work: taking the input in, planning,
//!   running the primer and the steps up to the first note.
//!
//! Goal: < 5 ms, and always before the next 16th note at 300 BPM (50 ms).
//!
//! The answer ring is looked at every 20 µs (plus the timer's slack), so the times are late by
//! up to about 0.1 ms.
//!
//! These are wall times: on a busy machine the worker also waits for a CPU. The report adds the
//! worker's own time for the primer and per step (its statistics in `Shared`), which do not
//! count the wait to be scheduled. Criterion also measures the seam on this thread alone
//! (`seam_*`): planning the answer to the call (`plan::plan_answer_from`) and generating until
//! the first note, as the worker's `answer_placed` does, without the rings and the wake-up.

mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use antiphon_engine::phrase::{Call, CallNote};
use antiphon_engine::plan::{AnswerStart, plan_answer_from};
use antiphon_engine::queues::{
    AnswerConsumer, AnswerMsg, CaptureEvent, CaptureProducer, NoteKind, NoteRole, answer_queue,
    capture_queue,
};
use antiphon_engine::{BarGrid, ModelChoice, Shared, WorkerHandle};
use antiphon_models::generate::load_generator;
use antiphon_models::{GenerateRequest, GeneratedNote, Generator, Rng, StepControl};
use criterion::{BenchmarkId, Criterion, SamplingMode};

use support::{
    BLOCK_SAMPLES, Jitter, SAMPLE_RATE_HZ, Summary, TEMPO_BPM, bench_mode, config, fmt_us,
    runtime_dir, shipped, wait_ready, wanted,
};

/// The models measured: the shipped default, a four-voice one and the drum kit.
const MODELS: [&str; 3] = ["melody_basic", "polyphony_bach", "drums_kit"];
/// How often the worker looks at the input during a call (`worker.rs`'s `BUSY_POLL`), in µs.
const BUSY_POLL_US: u64 = 2_000;
/// Beats from one call's start to the next one's (room for an 8-bar call and its answer).
const CALL_SPACING_BEATS: f64 = 80.0;
/// How long the benchmark sleeps between looks at the answer ring. Sleeping, not spinning,
/// leaves the CPU to the worker (a spinning reader takes one of a 2-core machine's cores, which
/// the audio thread does not); the times are late by about this plus the timer slack (50 µs).
const RING_POLL: Duration = Duration::from_micros(20);
/// Length of one block in beats at the benchmark's tempo (what the playhead moves per block).
const BLOCK_BEATS: f64 = BLOCK_SAMPLES as f64 * TEMPO_BPM / (60.0 * SAMPLE_RATE_HZ);

/// How the worker comes to look at the last key-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wake {
    /// At its next poll (as shipped).
    Polled,
    /// At once, woken by a control message.
    Woken,
}

/// A call: (key, start, end) of each note in beats from the call's first bar line.
struct CallShape {
    /// What it is, for the report.
    label: &'static str,
    /// Its notes.
    notes: Vec<(u8, f64, f64)>,
}

impl CallShape {
    /// One bar: four quarter notes, half a beat each (the README's call), on `keys`.
    fn one_bar(keys: [u8; 4]) -> Self {
        Self {
            label: "1-bar call",
            notes: (0..4)
                .map(|i| (keys[i], i as f64, i as f64 + 0.5))
                .collect(),
        }
    }

    /// Thirty notes over eight bars (the silence ends it before the 8-bar maximum), cycling
    /// through `keys`.
    fn eight_bars(keys: [u8; 4]) -> Self {
        Self {
            label: "8-bar call",
            notes: (0..30)
                .map(|i| (keys[i % 4], i as f64, i as f64 + 0.5))
                .collect(),
        }
    }
}

impl CallShape {
    /// The call as the worker snapshots it when every key is up: from its first bar line
    /// (beat 0), ending where one beat of silence after the last key-up would end it.
    fn as_call(&self) -> Call {
        let last_off = self.notes.iter().map(|n| n.2).fold(0.0, f64::max);
        Call {
            notes: self
                .notes
                .iter()
                .map(|&(key, on, off)| CallNote {
                    key,
                    velocity: 100,
                    channel: 0,
                    start_beats: on,
                    end_beats: Some(off),
                })
                .collect(),
            start_beats: 0.0,
            end_beats: last_off + 1.0,
        }
    }
}

/// The seam on this thread: a model, and the answer to a call planned and generated until its
/// first note.
struct Seam {
    /// The model.
    generator: Box<dyn Generator>,
    /// Sampling randomness.
    rng: Rng,
    /// The call answered.
    call: Call,
}

impl Seam {
    /// `model` loaded here, answering `shape`.
    fn new(model: &'static str, shape: &CallShape) -> Self {
        let source = shipped(model).source().expect("a shipped model");
        Self {
            generator: load_generator(&source, &[runtime_dir()]).expect("the model loads"),
            rng: Rng::seeded(7),
            call: shape.as_call(),
        }
    }

    /// Plans the answer (4/4 from beat 0, as long as the call) and generates until its first
    /// note, which it returns (`None`: the answer has none).
    fn first_note(&mut self) -> Option<GeneratedNote> {
        let grid = BarGrid {
            origin_beats: 0.0,
            bar_len_beats: 4.0,
        };
        let steps_per_quarter = self
            .generator
            .info()
            .encoding
            .steps_per_quarter_at(TEMPO_BPM);
        let plan = plan_answer_from(
            &self.call,
            grid,
            steps_per_quarter,
            0,
            8,
            AnswerStart::NextBar,
        )?;
        let request = GenerateRequest {
            velocity: plan.velocity,
            ..GenerateRequest::new(&plan.primer, plan.primer_steps, plan.answer_steps)
        };
        let mut first = None;
        let mut on_note = |note: GeneratedNote| {
            first = Some(note);
            StepControl::Stop
        };
        self.generator
            .generate(&request, &mut self.rng, &mut on_note)
            .expect("generation runs");
        first
    }
}

/// The keys of a model's calls: a melody, or kick, hi-hat, snare, hi-hat for the drums.
fn call_keys(model: &str) -> [u8; 4] {
    if model == "drums_kit" {
        [36, 42, 38, 42]
    } else {
        [60, 62, 64, 65]
    }
}

/// What one call measured.
#[derive(Debug, Clone, Copy)]
struct Timing {
    /// Until the answer's header was in the ring.
    begin: Option<Duration>,
    /// Until its first note was in the ring (`None`: the answer has no note).
    first_note: Option<Duration>,
    /// Until the worker had sent the whole answer.
    complete: Duration,
    /// The worker's own time for the answer's primer (one model run over the call), µs.
    primer_us: f64,
    /// The worker's own mean time per generated step of the answer, µs.
    step_us: f64,
}

/// A worker with its rings; the benchmark holds the audio side's ends.
struct Rig {
    /// State shared with the worker.
    shared: Arc<Shared>,
    /// The audio side's end of the capture ring.
    capture: CaptureProducer,
    /// The audio side's end of the answer ring.
    answers: AnswerConsumer,
    /// The worker thread.
    worker: WorkerHandle,
    /// The model the worker has (sent again to wake it).
    choice: ModelChoice,
    /// Running number of the next captured event.
    seq: u64,
    /// Where the next call starts, in beats (a bar line).
    next_call_beats: f64,
    /// Random moments of the key-up within the worker's poll period.
    jitter: Jitter,
}

impl Rig {
    /// A worker with `model` loaded, its rings made here.
    fn new(model: &'static str) -> Self {
        let shared = Arc::new(Shared::default());
        shared.block_len_beats.store(BLOCK_BEATS, Ordering::Relaxed);
        let (capture, capture_rx) = capture_queue();
        let (answer_tx, answers) = answer_queue();
        let choice = shipped(model);
        let worker = WorkerHandle::spawn(
            shared.clone(),
            capture_rx,
            answer_tx,
            config(choice.clone()),
        )
        .expect("worker starts");
        wait_ready(&shared);
        Self {
            shared,
            capture,
            answers,
            worker,
            choice,
            seq: 0,
            next_call_beats: 4.0,
            jitter: Jitter::new(0x5eed),
        }
    }

    /// Pushes a captured event as the audio side does, then moves the playhead to the end of
    /// the block that holds it.
    fn push(&mut self, kind: NoteKind, key: u8, beats: f64) {
        let event = CaptureEvent {
            kind,
            channel: 0,
            key,
            velocity: if kind == NoteKind::On { 100 } else { 0 },
            beats,
            epoch: self.shared.epoch.load(Ordering::Acquire),
            seq: self.seq,
            role: NoteRole::Melody,
        };
        assert!(self.capture.push(event), "the capture ring is full");
        self.seq += 1;
        self.shared
            .playhead_beats
            .store(beats + BLOCK_BEATS, Ordering::Release);
    }

    /// Answers the worker has finished so far.
    fn generated(&self) -> u64 {
        self.shared.answers_generated.load(Ordering::Acquire)
    }

    /// Plays `shape` and times the answer to it.
    fn call(&mut self, shape: &CallShape, wake: Wake) -> Timing {
        let base = self.next_call_beats;
        self.next_call_beats += CALL_SPACING_BEATS;
        let mut events: Vec<(f64, NoteKind, u8)> = shape
            .notes
            .iter()
            .flat_map(|&(key, on, off)| {
                [
                    (base + on, NoteKind::On, key),
                    (base + off, NoteKind::Off, key),
                ]
            })
            .collect();
        events.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (last_beats, last_kind, last_key) = events.pop().expect("a call has notes");
        assert_eq!(last_kind, NoteKind::Off, "a call ends with a key-up");
        for &(beats, kind, key) in &events {
            self.push(kind, key, beats);
        }
        // Let the worker take in everything before the last key-up (a key is still down, so
        // nothing is planned yet).
        self.worker.load_model(self.choice.clone());
        while self.shared.worker_seen_events.load(Ordering::Acquire) < self.seq {
            std::thread::sleep(Duration::from_micros(50));
        }
        if wake == Wake::Polled {
            // The key-up comes at a random moment of the worker's poll period.
            std::thread::sleep(Duration::from_micros(self.jitter.below(BUSY_POLL_US)));
        }
        let before = self.generated();

        let start = Instant::now();
        self.push(NoteKind::Off, last_key, last_beats);
        if wake == Wake::Woken {
            self.worker.load_model(self.choice.clone());
        }
        let mut begin = None;
        let mut first_note = None;
        loop {
            let done = self.generated() > before;
            match self.answers.pop() {
                Some(AnswerMsg::Begin(_)) => begin = begin.or(Some(start.elapsed())),
                Some(AnswerMsg::Note(_)) => {
                    first_note = Some(start.elapsed());
                    break;
                }
                None if done => break,
                None => std::thread::sleep(RING_POLL),
            }
        }
        while self.generated() == before {
            std::thread::sleep(RING_POLL);
        }
        let complete = start.elapsed();
        while self.answers.pop().is_some() {}
        let primer_us = f64::from(self.shared.last_primer_us.load(Ordering::Relaxed));
        let step_us = f64::from(self.shared.last_step_us.load(Ordering::Relaxed));

        // The silence ends the call and the answer plays out: move the playhead past both.
        self.shared
            .playhead_beats
            .store(self.next_call_beats - 1.0, Ordering::Release);
        Timing {
            begin,
            first_note,
            complete,
            primer_us,
            step_us,
        }
    }
}

/// Times `calls` one-bar calls (and a third as many eight-bar calls, whose answers take longer)
/// of each model and wake-up and prints their distributions.
fn percentiles(calls: usize) {
    println!(
        "first answer note: from the call's last key-up pushed into the capture ring to the first \
         answer note in the answer ring (goal < 5 ms; 50 ms = a 16th at 300 BPM)"
    );
    for model in MODELS {
        let mut rig = Rig::new(model);
        let keys = call_keys(model);
        let shapes = [
            (CallShape::one_bar(keys), calls),
            (CallShape::eight_bars(keys), calls.div_ceil(3)),
        ];
        for (shape, count) in shapes {
            for wake in [Wake::Polled, Wake::Woken] {
                let timings: Vec<Timing> = (0..count).map(|_| rig.call(&shape, wake)).collect();
                let label = format!("{model}, {}, {wake:?}", shape.label).to_lowercase();
                let mut firsts: Vec<Duration> =
                    timings.iter().filter_map(|t| t.first_note).collect();
                let mut begins: Vec<Duration> = timings.iter().filter_map(|t| t.begin).collect();
                let mut completes: Vec<Duration> = timings.iter().map(|t| t.complete).collect();
                let micros = |us: f64| Duration::from_secs_f64(us / 1e6);
                let mut primers: Vec<Duration> =
                    timings.iter().map(|t| micros(t.primer_us)).collect();
                let mut steps: Vec<Duration> = timings.iter().map(|t| micros(t.step_us)).collect();
                let over_50_ms = firsts
                    .iter()
                    .filter(|d| **d >= Duration::from_millis(50))
                    .count();
                if let Some(s) = Summary::of(&mut firsts) {
                    println!("  {}", s.line(&format!("{label}: first note")));
                }
                let median = |times: &mut [Duration]| {
                    Summary::of(times).map_or_else(|| "-".to_string(), |s| fmt_us(s.median_us))
                };
                println!(
                    "    medians: header {}, whole answer {}, worker's primer {}, worker's step \
                     {}; answers without a note: {}, first notes at or over 50 ms: {over_50_ms}",
                    median(&mut begins),
                    median(&mut completes),
                    median(&mut primers),
                    median(&mut steps),
                    count - firsts.len(),
                );
            }
        }
    }
}

/// Criterion's measurement of the first-note latency of a one-bar call, per model and wake-up.
fn criterion_latency(c: &mut Criterion) {
    let mut group = c.benchmark_group("first_answer_note");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    for model in MODELS {
        let mut rig = Rig::new(model);
        let shape = CallShape::one_bar(call_keys(model));
        for wake in [Wake::Polled, Wake::Woken] {
            let id = BenchmarkId::new(format!("{wake:?}").to_lowercase(), model);
            group.bench_function(id, |b| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| {
                            let t = rig.call(&shape, wake);
                            t.first_note.unwrap_or(t.complete)
                        })
                        .sum()
                });
            });
        }
        drop(rig);
        let keys = call_keys(model);
        for (name, shape) in [
            ("seam_1_bar", CallShape::one_bar(keys)),
            ("seam_8_bars", CallShape::eight_bars(keys)),
        ] {
            let mut seam = Seam::new(model, &shape);
            group.bench_function(BenchmarkId::new(name, model), |b| {
                b.iter(|| seam.first_note());
            });
        }
    }
    group.finish();
}

/// Runs the hand-made distributions, then criterion.
fn main() {
    if wanted("first_answer_note/percentiles") {
        percentiles(if bench_mode() { 150 } else { 3 });
    }
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .configure_from_args();
    criterion_latency(&mut criterion);
    criterion.final_summary();
}
