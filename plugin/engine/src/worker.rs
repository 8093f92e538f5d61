//! The worker: one thread per instance that owns the model, follows the player's phrases and
//! sends answers ahead of the playhead. It never blocks the audio thread: it only reads atomics
//! and the capture ring, and writes the answer ring.
//!
//! Answers are planned speculatively: as soon as every key is up, the worker answers the call as
//! it stands, tagged with how much input it had seen. If the player goes on before the silence is
//! over, the audio thread drops that answer and the worker plans again. So the answer is usually
//! complete long before its first bar line, and the first note is ready within a few
//! milliseconds of the call's end at the latest.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::Duration;

use antiphon_models::generate::load_generator;
use antiphon_models::session::ModelSource;
use antiphon_models::{GenerateRequest, Generator, ModelError, Rng, StepControl, shipped};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use crate::clock::BarGrid;
use crate::phrase::{Call, CallEnd, CallLimits, PhraseDetector};
use crate::plan::{AnswerPlan, plan_answer};
use crate::queues::{AnswerHeader, AnswerMsg, AnswerNote, AnswerProducer, CaptureConsumer};
use crate::shared::{Shared, WorkerStatus};

/// How often the worker looks at the input while a call is in progress or answers are queued.
const BUSY_POLL: Duration = Duration::from_millis(2);
/// How often it looks when nothing is going on.
const IDLE_POLL: Duration = Duration::from_millis(20);
/// How long before a call's maximum length the answer is planned (keys still down), in beats.
const MAX_LENGTH_LEAD_BEATS: f64 = 1.0;
/// Most answer messages held back while the answer ring is full.
const OUTBOX_LIMIT: usize = 65_536;

/// Which model to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelChoice {
    /// The built-in default model.
    Default,
    /// A `.onnx` file.
    File(PathBuf),
}

/// Messages to the worker, from non-audio threads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// Load another model; the current one keeps answering until the new one is ready, and
    /// stays if the new one is refused.
    LoadModel(ModelChoice),
    /// Stop the thread.
    Shutdown,
}

/// How to start a worker.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The model to load first.
    pub model: ModelChoice,
    /// Folders searched for the ONNX Runtime library.
    pub runtime_dirs: Vec<PathBuf>,
    /// Seed of the random generator (`None`: from the clock).
    pub seed: Option<u64>,
}

/// Owns the worker thread; dropping it stops and joins the thread.
pub struct WorkerHandle {
    /// Control messages to the worker.
    control: Sender<Control>,
    /// The thread, until joined.
    thread: Option<JoinHandle<()>>,
}

impl WorkerHandle {
    /// Starts the worker thread.
    pub fn spawn(
        shared: Arc<Shared>,
        capture: CaptureConsumer,
        answers: AnswerProducer,
        config: WorkerConfig,
    ) -> std::io::Result<Self> {
        let (control, inbox) = crossbeam_channel::unbounded();
        let epoch = shared.epoch.load(Ordering::Acquire);
        let worker = Worker {
            rng: config.seed.map_or_else(Rng::from_entropy, Rng::seeded),
            shared,
            capture,
            answers,
            inbox,
            detector: PhraseDetector::new(epoch),
            generator: None,
            runtime_dirs: config.runtime_dirs,
            planned_seen: None,
            outbox: VecDeque::new(),
            next_answer_id: 1,
        };
        let thread = std::thread::Builder::new()
            .name("antiphon-worker".into())
            .spawn(move || worker.run(config.model))?;
        Ok(Self {
            control,
            thread: Some(thread),
        })
    }

    /// Asks the worker to load another model.
    pub fn load_model(&self, choice: ModelChoice) {
        let _ = self.control.send(Control::LoadModel(choice));
    }
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        let _ = self.control.send(Control::Shutdown);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The worker thread's state.
struct Worker {
    /// State shared with the audio thread.
    shared: Arc<Shared>,
    /// Captured input.
    capture: CaptureConsumer,
    /// Answers out.
    answers: AnswerProducer,
    /// Control messages in.
    inbox: Receiver<Control>,
    /// Follows the calls.
    detector: PhraseDetector,
    /// The model, once loaded.
    generator: Option<Box<dyn Generator>>,
    /// Where ONNX Runtime is looked for.
    runtime_dirs: Vec<PathBuf>,
    /// Sampling randomness.
    rng: Rng,
    /// The input count the answer sent for the current call was planned from.
    planned_seen: Option<u64>,
    /// Answer messages waiting for room in the ring.
    outbox: VecDeque<AnswerMsg>,
    /// Identifier of the next answer.
    next_answer_id: u32,
}

impl Worker {
    /// The thread's main loop.
    fn run(mut self, model: ModelChoice) {
        self.load(model);
        loop {
            let wait = if self.detector.is_active() || !self.outbox.is_empty() {
                BUSY_POLL
            } else {
                IDLE_POLL
            };
            match self.inbox.recv_timeout(wait) {
                Ok(Control::Shutdown) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(Control::LoadModel(choice)) => self.load(choice),
                Err(RecvTimeoutError::Timeout) => {}
            }
            self.tick();
        }
        self.shared.set_status(WorkerStatus::Stopped);
    }

    /// Loads a model; on failure keeps the current one and reports why.
    fn load(&mut self, choice: ModelChoice) {
        let source = match &choice {
            ModelChoice::Default => shipped::DEFAULT,
            ModelChoice::File(path) => ModelSource::File(path.clone()),
        };
        if self.generator.is_none() {
            self.shared.set_status(WorkerStatus::Loading);
        }
        match load_generator(&source, &self.runtime_dirs) {
            Ok(generator) => {
                let name = generator.info().name.clone();
                tracing::info!("Antiphon: model {name} loaded ({})", source.describe());
                if let Ok(mut text) = self.shared.message.lock() {
                    text.model_name = name;
                    text.error.clear();
                }
                self.generator = Some(generator);
                self.shared.set_status(WorkerStatus::Ready);
            }
            Err(error) => {
                let status = match error {
                    ModelError::Runtime(_) => WorkerStatus::RuntimeMissing,
                    _ => WorkerStatus::ModelRefused,
                };
                tracing::error!("Antiphon: {error}; MIDI thru goes on without answers");
                if let Ok(mut text) = self.shared.message.lock() {
                    text.error = error.to_string();
                }
                self.shared.set_status(status);
            }
        }
    }

    /// The call limits from the settings.
    fn limits(&self) -> CallLimits {
        let settings = &self.shared.settings;
        let bar = self.shared.bar_len_beats.load(Ordering::Relaxed).max(0.25);
        CallLimits {
            silence_beats: f64::from(settings.silence_beats.load(Ordering::Relaxed))
                .max(1.0 / 64.0),
            max_call_beats: f64::from(settings.max_call_bars.load(Ordering::Relaxed).max(1)) * bar,
        }
    }

    /// Looks at the input and the clock once, and answers what is due.
    fn tick(&mut self) {
        let limits = self.limits();
        // Read the playhead first: every event before it is already in the ring.
        let playhead = self.shared.playhead_beats.load(Ordering::Acquire);
        while let Some(event) = self.capture.pop() {
            if event.epoch != self.detector.epoch() {
                self.start_epoch(event.epoch);
            }
            let seen_before = self.detector.seen();
            if let Some(call) = self.detector.feed(&event, &limits) {
                if self.planned_seen != Some(seen_before) {
                    self.answer(&call, seen_before, false);
                }
                self.planned_seen = None;
            }
        }
        let epoch = self.shared.epoch.load(Ordering::Acquire);
        if epoch != self.detector.epoch() {
            self.start_epoch(epoch);
        }
        if self.detector.is_active() {
            let seen = self.detector.seen();
            let due = match self.detector.projected_end(&limits) {
                Some(CallEnd::Silence { at_beats }) => Some(at_beats),
                Some(CallEnd::MaxLength { at_beats })
                    if playhead >= at_beats - MAX_LENGTH_LEAD_BEATS =>
                {
                    Some(at_beats)
                }
                _ => None,
            };
            if let Some(end) = due
                && self.planned_seen != Some(seen)
                && let Some(call) = self.detector.snapshot(end)
            {
                self.answer(&call, seen, true);
                self.planned_seen = Some(seen);
            }
            if self.detector.poll(playhead, &limits).is_some() {
                self.planned_seen = None;
            }
        }
        self.flush();
        self.shared
            .worker_seen_events
            .store(self.detector.seen(), Ordering::Release);
        self.shared.worker_ticks.fetch_add(1, Ordering::AcqRel);
    }

    /// Follows a new timeline epoch: the call in progress and unsent answers are void.
    fn start_epoch(&mut self, epoch: u32) {
        self.detector.reset(epoch);
        self.planned_seen = None;
        self.outbox.clear();
    }

    /// Moves queued answer messages into the ring while there is room.
    fn flush(&mut self) {
        flush_outbox(&mut self.outbox, &mut self.answers);
    }

    /// Plans and generates the answer to `call`, streaming its notes to the audio thread.
    /// `speculative`: the call may still go on, so stop as soon as input shows it did.
    fn answer(&mut self, call: &Call, seen: u64, speculative: bool) {
        let Some(generator) = self.generator.as_mut() else {
            return;
        };
        let shared = &self.shared;
        let settings = &shared.settings;
        let grid = BarGrid {
            origin_beats: shared.bar_origin_beats.load(Ordering::Relaxed),
            bar_len_beats: shared.bar_len_beats.load(Ordering::Relaxed),
        };
        let Some(plan) = plan_answer(
            call,
            grid,
            generator.info().encoding.steps_per_quarter(),
            settings.answer_bars.load(Ordering::Relaxed),
            settings.max_call_bars.load(Ordering::Relaxed),
        ) else {
            return;
        };
        let answer_id = self.next_answer_id;
        self.next_answer_id = self.next_answer_id.wrapping_add(1).max(1);
        let epoch = self.detector.epoch();
        self.outbox.push_back(AnswerMsg::Begin(AnswerHeader {
            answer_id,
            epoch,
            input_seen: seen,
            call_end_beats: call.end_beats,
            start_beats: plan.answer_start_beats,
            end_beats: plan.answer_end_beats,
        }));
        let temperature = settings.temperature.load(Ordering::Relaxed).max(0.01);
        let request = GenerateRequest {
            temperature,
            velocity: plan.velocity,
            beam: settings.beam(),
            mask: settings.pitch_mask(),
            ..GenerateRequest::new(&plan.primer, plan.primer_steps, plan.answer_steps)
        };
        // Drum models answer on the GM drum channel, the others on the output channel setting.
        let channel = generator
            .output_channel()
            .unwrap_or(AnswerNote::OUTPUT_CHANNEL);
        let (outbox, answers, capture) = (&mut self.outbox, &mut self.answers, &self.capture);
        let call_end = call.end_beats;
        let mut on_note = |note: antiphon_models::GeneratedNote| {
            outbox.push_back(AnswerMsg::Note(answer_note(
                &plan, answer_id, channel, note,
            )));
            flush_outbox(outbox, answers);
            let overtaken = speculative && capture.peek().is_some_and(|e| e.beats < call_end);
            let jumped = shared.epoch.load(Ordering::Relaxed) != epoch;
            if overtaken || jumped || outbox.len() > OUTBOX_LIMIT {
                StepControl::Stop
            } else {
                StepControl::Continue
            }
        };
        match generator.generate(&request, &mut self.rng, &mut on_note) {
            Ok(stats) => {
                if stats.steps > 0 {
                    shared.last_step_us.store(
                        stats.steps_us as f32 / stats.steps as f32,
                        Ordering::Relaxed,
                    );
                }
                shared
                    .last_primer_us
                    .store(stats.primer_us as f32, Ordering::Relaxed);
            }
            Err(error) => {
                tracing::error!("Antiphon: generating an answer failed: {error}");
                if let Ok(mut text) = shared.message.lock() {
                    text.error = error.to_string();
                }
            }
        }
        self.flush();
        self.shared
            .answers_generated
            .fetch_add(1, Ordering::Release);
    }
}

/// An answer note in beats from a generated note in answer steps, on `channel` (a MIDI channel
/// index, or [`AnswerNote::OUTPUT_CHANNEL`]).
fn answer_note(
    plan: &AnswerPlan,
    answer_id: u32,
    channel: u8,
    note: antiphon_models::GeneratedNote,
) -> AnswerNote {
    let start_beats = plan.answer_step_beats(note.start_step);
    let end_beats = plan
        .answer_step_beats(note.end_step)
        .min(plan.answer_end_beats);
    AnswerNote {
        answer_id,
        key: note.pitch,
        velocity: note.velocity,
        channel,
        start_beats,
        end_beats: end_beats.max(start_beats + plan.step_beats / 4.0),
    }
}

/// Moves messages from `outbox` into the ring while there is room.
fn flush_outbox(outbox: &mut VecDeque<AnswerMsg>, answers: &mut AnswerProducer) {
    while let Some(msg) = outbox.pop_front() {
        if let Err(msg) = answers.push(msg) {
            outbox.push_front(msg);
            break;
        }
    }
}
