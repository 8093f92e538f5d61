//! The worker: one thread per instance that owns the model, follows the player's phrases and
//! sends answers ahead of the playhead. It never blocks the audio thread: it only reads atomics
//! and the capture ring, and writes the answer ring.
//!
//! Answers are planned speculatively: as soon as every key is up, the worker answers the call as
//! it stands, tagged with how much input it had seen. If the player goes on before the silence is
//! over, the audio thread drops that answer and the worker plans again. So the answer is usually
//! complete long before its first bar line, and the first note is ready within a few
//! milliseconds of the call's end at the latest.
//!
//! With an Improv model, chord notes (see [`crate::chords`]) are not part of the call; the held
//! chord goes into the primer and the answer, and a chord change makes the worker generate again
//! what it already sent: the whole answer if it has not started (the audio thread dropped it by
//! the same rule), or the rest of it from the step of the change if it is playing.
//!
//! Models load on a thread of their own, so the current model answers until the new one is
//! ready. The model follows the player's pick ([`crate::shared::Settings::model_pick`]) within a
//! tick.
//!
//! The thread runs the worker under a [`supervisor`]: a panic, or a model whose run fails
//! ([`ModelError::Inference`]), ends that run only. The supervisor reports it, has the audio
//! thread end every sounding answer note at its next block, and starts a fresh worker over the
//! same ring ends with the same model choice (backing off while failures follow one another).
//! [`fault`] makes such failures on purpose, for tests.

pub mod fault;
pub mod supervisor;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use antiphon_models::generate::load_generator;
use antiphon_models::{
    ChordChange, Family, GenerateRequest, GeneratedNote, Generator, ModelError, Rng, StepControl,
    StepNote,
};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};

pub use crate::choice::ModelChoice;
use crate::choice::ModelPick;
use crate::chords::{ChordTimeline, voids_answer};
use crate::clock::BarGrid;
use crate::history::NoteHistory;
use crate::mode::{JamControl, JamMode};
use crate::phrase::{Call, CallEnd, CallLimits, CallNote, PhraseDetector};
use crate::plan::{AnswerPlan, AnswerStart, plan_answer_from};
use crate::queues::{
    AnswerHeader, AnswerMsg, AnswerNote, AnswerProducer, CaptureConsumer, CaptureEvent, NoteRole,
};
use crate::shared::{Shared, WorkerStatus};
use crate::turns::{AccompanyBars, Repeats, trade_turn_due};
use fault::FaultPlan;

/// How often the worker looks at the input while a call is in progress, answers are queued,
/// a model loads or an answer may still follow a chord change.
const BUSY_POLL: Duration = Duration::from_millis(2);
/// How often it looks when nothing is going on.
const IDLE_POLL: Duration = Duration::from_millis(20);
/// How often it looks while the host renders offline (the audio thread waits for each look).
const OFFLINE_POLL: Duration = Duration::from_micros(100);
/// How long before a call's maximum length the answer is planned (keys still down), in beats.
const MAX_LENGTH_LEAD_BEATS: f64 = 1.0;
/// Most answer messages held back while the answer ring is full.
const OUTBOX_LIMIT: usize = 65_536;
/// The shortest time a Trade turn or Accompany's first bar is made before its bar line: a 16th.
const MIN_LEAD_BEATS: f64 = 0.25;
/// Accompany: bars of context (the player's notes and Antiphon's own) primed before each bar.
const ACCOMPANY_CONTEXT_BARS: f64 = 2.0;
/// Accompany: how long before its bar line each bar after the first is made, in beats (at most
/// a bar): it hears the player up to then, and a beat leaves every model ample time.
const ACCOMPANY_LEAD_BEATS: f64 = 1.0;
/// A model that finished loading waits for the next bar line, but never longer than the time
/// to that bar line at the current tempo plus this (the audio may have stopped running).
const SWAP_GRACE: Duration = Duration::from_millis(500);

/// Messages to the worker, from non-audio threads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// Load another model. The current one keeps answering while the new one loads (on a
    /// thread of its own); if the new one is refused, answers stop (MIDI thru goes on) and the
    /// refusal is the status text's error.
    LoadModel(ModelChoice),
    /// The project's own model file changed (`None`: it names none). Loaded at once when the
    /// player's pick uses it ([`ModelPick::Melody`] or [`ModelPick::CustomFile`]).
    SetCustomFile(Option<PathBuf>),
    /// Stop the thread.
    Shutdown,
}

/// How to start a worker.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The model to load first, unless [`crate::shared::Settings::model_pick`] holds a pick
    /// (then the pick's model is loaded).
    pub model: ModelChoice,
    /// The project's own model file, for the picks that use it (see [`ModelPick::choice`]).
    pub custom_file: Option<PathBuf>,
    /// Folders searched for the ONNX Runtime library.
    pub runtime_dirs: Vec<PathBuf>,
    /// Seed of the random generator (`None`: from the clock).
    pub seed: Option<u64>,
}

/// Owns the worker thread; dropping it stops and joins the thread.
pub struct WorkerHandle {
    /// Control messages to the worker.
    control: Sender<Control>,
    /// The worker thread, unparked after each message (it parks between its looks).
    wake: std::thread::Thread,
    /// The thread, until joined.
    thread: Option<JoinHandle<()>>,
}

impl WorkerHandle {
    /// Starts the worker thread, under its supervisor. Failures are injected only if
    /// [`fault::FAULT_ENV`] asks for them (tests).
    pub fn spawn(
        shared: Arc<Shared>,
        capture: CaptureConsumer,
        answers: AnswerProducer,
        config: WorkerConfig,
    ) -> std::io::Result<Self> {
        let faults = FaultPlan::from_env().map(Arc::new);
        Self::spawn_with_faults(shared, capture, answers, config, faults)
    }

    /// [`WorkerHandle::spawn`] with the failures `faults` plans (tests; `None`: the model runs
    /// as it is).
    pub fn spawn_with_faults(
        shared: Arc<Shared>,
        capture: CaptureConsumer,
        answers: AnswerProducer,
        config: WorkerConfig,
        faults: Option<Arc<FaultPlan>>,
    ) -> std::io::Result<Self> {
        let (control, inbox) = crossbeam_channel::unbounded();
        let worker = Worker::new(Kept {
            shared,
            capture,
            answers,
            inbox,
            first_model: config.model,
            custom_file: config.custom_file,
            runtime_dirs: config.runtime_dirs,
            rng: config.seed.map_or_else(Rng::from_entropy, Rng::seeded),
            faults,
        });
        let thread = std::thread::Builder::new()
            .name("antiphon-worker".into())
            .spawn(move || supervisor::supervise(worker))?;
        Ok(Self {
            control,
            wake: thread.thread().clone(),
            thread: Some(thread),
        })
    }

    /// Sends a control message and wakes the worker for it.
    fn send(&self, message: Control) {
        let _ = self.control.send(message);
        self.wake.unpark();
    }

    /// Asks the worker to load another model.
    pub fn load_model(&self, choice: ModelChoice) {
        self.send(Control::LoadModel(choice));
    }

    /// Tells the worker the project's own model file (`None`: none).
    pub fn set_custom_file(&self, file: Option<PathBuf>) {
        self.send(Control::SetCustomFile(file));
    }
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        self.send(Control::Shutdown);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A model loading on its own thread.
struct Loading {
    /// What is being loaded.
    choice: ModelChoice,
    /// Where the loaded model (or the refusal) arrives.
    result: mpsc::Receiver<Result<Box<dyn Generator>, ModelError>>,
}

/// An answer the worker sent and may still have to change: generate again over a new chord
/// before it starts, or continue from a chord change while it plays.
#[derive(Debug, Clone)]
struct SentAnswer {
    /// Its identifier.
    answer_id: u32,
    /// The epoch it was planned in.
    epoch: u32,
    /// The call it answers.
    call: Call,
    /// Its plan.
    plan: AnswerPlan,
    /// Its notes as sent, in answer steps (step 0 = the answer's first step).
    notes: Vec<GeneratedNote>,
    /// [`Worker::model_serial`] of the model that generated it.
    model_serial: u64,
    /// The channel its notes play on (a MIDI channel, or [`AnswerNote::OUTPUT_CHANNEL`]).
    channel: u8,
    /// How it was placed (a chord change that voids it makes it again the same way).
    placement: Placement,
}

impl SentAnswer {
    /// Its notes in beats, as a call (for a mutation seeded by it).
    fn as_call(&self) -> Call {
        let plan = &self.plan;
        Call {
            notes: self
                .notes
                .iter()
                .map(|n| CallNote {
                    key: n.pitch,
                    velocity: n.velocity,
                    channel: 0,
                    start_beats: plan.answer_step_beats(n.start_step),
                    end_beats: Some(
                        plan.answer_step_beats(n.end_step)
                            .min(plan.answer_end_beats),
                    ),
                })
                .collect(),
            start_beats: plan.answer_start_beats,
            end_beats: plan.answer_end_beats,
        }
    }
}

/// How to place an answer other than call and response's own rule.
#[derive(Debug, Clone, Copy)]
struct Placement {
    /// Where it starts.
    start: AnswerStart,
    /// Its length in bars (0: as long as the call).
    bars: u32,
    /// Player notes before this (that the worker had not seen) void it; later ones don't.
    void_before_beats: f64,
    /// Polyphony may harmonise it (call and response only).
    harmonize: bool,
}

/// A loaded model waiting for the next bar line to take over.
struct Swap {
    /// The model.
    generator: Box<dyn Generator>,
    /// The bar line where it takes over.
    at_beats: f64,
    /// The epoch it waits in (a jump installs it at once).
    epoch: u32,
    /// When it takes over even if the playhead never gets there.
    deadline: std::time::Instant,
}

/// What a worker keeps across a failure: its ends of the rings and the control channel, and
/// what it was told (model choice, project file, where the runtime is), so a restarted worker
/// goes on with the same model and settings.
struct Kept {
    /// State shared with the audio thread.
    shared: Arc<Shared>,
    /// Captured input.
    capture: CaptureConsumer,
    /// Answers out.
    answers: AnswerProducer,
    /// Control messages in.
    inbox: Receiver<Control>,
    /// The model to load when the player's pick names none (the last one asked for).
    first_model: ModelChoice,
    /// The project's own model file.
    custom_file: Option<PathBuf>,
    /// Where ONNX Runtime is looked for.
    runtime_dirs: Vec<PathBuf>,
    /// Sampling randomness.
    rng: Rng,
    /// Failures to inject (tests).
    faults: Option<Arc<FaultPlan>>,
}

/// How one run of the worker ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Exit {
    /// It was told to stop (or its handle is gone).
    Shutdown,
    /// Its model failed to run ([`ModelError::Inference`]); the text says how. (A panic ends
    /// a run too: the supervisor catches it.)
    Failed(String),
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
    /// Counts installed (or dropped) models, so an answer knows whether its model is current.
    model_serial: u64,
    /// The model asked for last.
    requested: Option<ModelChoice>,
    /// Whether that model was refused (asking again retries it).
    request_failed: bool,
    /// The model loading now, if any.
    loading: Option<Loading>,
    /// Loader threads, joined before the worker ends (they run the plugin's code).
    loaders: Vec<JoinHandle<()>>,
    /// The last value of [`crate::shared::Settings::model_pick`] acted on.
    seen_pick: u8,
    /// The project's own model file.
    custom_file: Option<PathBuf>,
    /// Where ONNX Runtime is looked for.
    runtime_dirs: Vec<PathBuf>,
    /// Sampling randomness.
    rng: Rng,
    /// [`Worker::relevant`] when the speculative answer to the call in progress was planned.
    planned: Option<u64>,
    /// Number of captured events up to the last one that can change an answer (a melody note
    /// or a chord change); chord notes that change nothing don't count.
    relevant: u64,
    /// The speculative answer to the call in progress.
    speculative: Option<SentAnswer>,
    /// Answers to finished calls that have not ended yet.
    finals: Vec<SentAnswer>,
    /// The player's chords.
    chords: ChordTimeline,
    /// Answer messages waiting for room in the ring.
    outbox: VecDeque<AnswerMsg>,
    /// Identifier of the next answer.
    next_answer_id: u32,
    /// The player's recent notes (Trade, Accompany, Continue).
    history: NoteHistory,
    /// The last call that ended (Continue's phrase when none is in progress).
    last_call: Option<Call>,
    /// The last answer made (seed of a mutation; what a loop repeats).
    last_answer: Option<SentAnswer>,
    /// Repeats of the last answer while Loop Answer is on.
    repeats: Option<Repeats>,
    /// Accompany's bars.
    accompany: AccompanyBars,
    /// Antiphon's own accompaniment notes of the last bars, in beats (Accompany's context).
    own_notes: Vec<CallNote>,
    /// Start of the last Trade turn prepared.
    trade_prepared: Option<f64>,
    /// The mode followed.
    mode: JamMode,
    /// A loaded model waiting for its bar line.
    swap: Option<Swap>,
    /// The model to load when the player's pick names none.
    first_model: ModelChoice,
    /// Failures to inject (tests).
    faults: Option<Arc<FaultPlan>>,
    /// The model failed to run during this tick: the run ends and the supervisor restarts it.
    failure: Option<String>,
}

/// What to generate and how to send it.
struct Job<'a> {
    /// The header sent first.
    header: AnswerHeader,
    /// The answer's plan (grid, velocity, beats of answer steps).
    plan: &'a AnswerPlan,
    /// The primer notes, in steps from the primer's start.
    primer: &'a [StepNote],
    /// Primer length in steps.
    primer_steps: usize,
    /// The answer step of the first generated step.
    first_step: i64,
    /// Steps to generate.
    steps: usize,
    /// Chords over primer and continuation (Improv).
    chords: &'a [ChordChange],
    /// The call may still go on: stop at a melody note before its end.
    speculative: bool,
    /// Polyphony may harmonise (call and response answers).
    harmonize: bool,
}

impl Worker {
    /// A fresh worker over `kept`, idle in the current epoch, with no model yet.
    fn new(kept: Kept) -> Self {
        let epoch = kept.shared.epoch.load(Ordering::Acquire);
        Worker {
            rng: kept.rng,
            shared: kept.shared,
            capture: kept.capture,
            answers: kept.answers,
            inbox: kept.inbox,
            detector: PhraseDetector::new(epoch),
            generator: None,
            model_serial: 0,
            requested: None,
            request_failed: false,
            loading: None,
            loaders: Vec::new(),
            seen_pick: ModelPick::NONE,
            custom_file: kept.custom_file,
            runtime_dirs: kept.runtime_dirs,
            planned: None,
            relevant: 0,
            speculative: None,
            finals: Vec::new(),
            chords: ChordTimeline::new(),
            outbox: VecDeque::new(),
            next_answer_id: 1,
            history: NoteHistory::new(),
            last_call: None,
            last_answer: None,
            repeats: None,
            accompany: AccompanyBars::new(),
            own_notes: Vec::new(),
            trade_prepared: None,
            mode: JamMode::CallResponse,
            swap: None,
            first_model: kept.first_model,
            faults: kept.faults,
            failure: None,
        }
    }

    /// A fresh worker in place of `old`, whose run failed: the same ring ends, control channel,
    /// model choice and settings, a count of seen input that goes on, answer identifiers that
    /// go on, and `old`'s loader threads still to join. Everything else (the model, the call
    /// in progress, answers sent) is dropped: the audio thread drops those answers too.
    fn after_failure(old: Self) -> Self {
        let Self {
            shared,
            capture,
            answers,
            inbox,
            detector,
            loaders,
            custom_file,
            runtime_dirs,
            requested,
            first_model,
            rng,
            next_answer_id,
            faults,
            ..
        } = old;
        let seen = detector
            .seen()
            .max(shared.worker_seen_events.load(Ordering::Acquire));
        let mut fresh = Self::new(Kept {
            shared,
            capture,
            answers,
            inbox,
            first_model: requested.unwrap_or(first_model),
            custom_file,
            runtime_dirs,
            rng,
            faults,
        });
        if let Some(last) = seen.checked_sub(1) {
            fresh.detector.mark_seen(last);
        }
        fresh.loaders = loaders;
        fresh.next_answer_id = next_answer_id;
        fresh
    }

    /// One run: loads the model (the player's pick, else [`Worker::first_model`]) and follows
    /// the jam until told to stop or the model fails to run. May panic (the supervisor catches
    /// it).
    fn run(&mut self) -> Exit {
        if let Some(faults) = &self.faults {
            faults.on_start();
        }
        self.seen_pick = self.shared.settings.model_pick.load(Ordering::Relaxed);
        let first = ModelPick::from_u8(self.seen_pick).map_or_else(
            || self.first_model.clone(),
            |pick| pick.choice(self.custom_file.as_ref()),
        );
        self.request(first);
        loop {
            let busy = self.detector.is_active()
                || !self.outbox.is_empty()
                || self.loading.is_some()
                || self.swap.is_some()
                || matches!(self.mode, JamMode::Trade | JamMode::Accompany)
                || self.repeats.is_some()
                || (self.uses_chords() && !self.finals.is_empty());
            let wait = if self.shared.offline.load(Ordering::Relaxed) {
                OFFLINE_POLL
            } else if busy {
                BUSY_POLL
            } else {
                IDLE_POLL
            };
            match self.next_control(wait) {
                Err(TryRecvError::Disconnected) | Ok(Control::Shutdown) => {
                    return Exit::Shutdown;
                }
                Ok(Control::LoadModel(choice)) => self.request(choice),
                Ok(Control::SetCustomFile(file)) => {
                    self.custom_file = file;
                    if let Some(pick) = ModelPick::from_u8(self.seen_pick) {
                        self.request(pick.choice(self.custom_file.as_ref()));
                    }
                }
                Err(TryRecvError::Empty) => {}
            }
            self.tick();
            if let Some(failure) = self.failure.take() {
                return Exit::Failed(failure);
            }
        }
    }

    /// The next control message, waiting up to `wait` for one. The thread parks meanwhile and
    /// [`WorkerHandle`] unparks it after each send: a blocking channel receive spins and yields
    /// before it sleeps, which cost 16 idle instances about twice the CPU of parking (measured by
    /// the `idle_instances` bench).
    fn next_control(&self, wait: Duration) -> Result<Control, TryRecvError> {
        match self.inbox.try_recv() {
            Err(TryRecvError::Empty) => {
                std::thread::park_timeout(wait);
                self.inbox.try_recv()
            }
            message => message,
        }
    }

    /// Waits `wait` before a restart, following control messages meanwhile (a model asked for
    /// is the one the restart loads). Returns false when told to stop.
    fn back_off(&mut self, wait: Duration) -> bool {
        let deadline = std::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return true;
            }
            match self.inbox.recv_timeout(left) {
                Ok(Control::Shutdown) | Err(RecvTimeoutError::Disconnected) => return false,
                Ok(Control::LoadModel(choice)) => self.first_model = choice,
                Ok(Control::SetCustomFile(file)) => self.custom_file = file,
                Err(RecvTimeoutError::Timeout) => return true,
            }
        }
    }

    /// The thread ends: no model loads any more, the loader threads are joined (they run the
    /// plugin's code, which may be unloaded next) and the status says so.
    fn finish(&mut self) {
        self.loading = None;
        for loader in self.loaders.drain(..) {
            let _ = loader.join();
        }
        self.shared.set_status(WorkerStatus::Stopped);
    }

    /// Whether the model reads chords.
    fn uses_chords(&self) -> bool {
        self.generator
            .as_ref()
            .is_some_and(|g| g.info().encoding.uses_chords())
    }

    /// Starts loading `choice` on a thread of its own, unless it is the model already asked
    /// for (and not refused). The current model answers until the new one is ready.
    fn request(&mut self, choice: ModelChoice) {
        if self.requested.as_ref() == Some(&choice) && !self.request_failed {
            return;
        }
        self.requested = Some(choice.clone());
        self.request_failed = false;
        self.loading = None;
        self.swap = None;
        if self.generator.is_none() {
            self.shared.set_status(WorkerStatus::Loading);
        }
        let source = match choice.source() {
            Ok(source) => source,
            Err(error) => {
                self.refuse(error);
                return;
            }
        };
        let (tx, rx) = mpsc::channel();
        let dirs = self.runtime_dirs.clone();
        let thread_source = source.clone();
        let spawned = std::thread::Builder::new()
            .name("antiphon-model-loader".into())
            .spawn(move || {
                let _ = tx.send(load_generator(&thread_source, &dirs));
            });
        match spawned {
            Ok(handle) => {
                self.loaders.push(handle);
                self.loading = Some(Loading { choice, result: rx });
            }
            Err(_) => {
                let result = load_generator(&source, &self.runtime_dirs);
                self.install(result);
            }
        }
    }

    /// Follows the player's model pick and takes a model that finished loading.
    fn follow_models(&mut self) {
        let pick = self.shared.settings.model_pick.load(Ordering::Relaxed);
        if pick != self.seen_pick {
            self.seen_pick = pick;
            if let Some(pick) = ModelPick::from_u8(pick) {
                self.request(pick.choice(self.custom_file.as_ref()));
            }
        }
        if let Some(loading) = &self.loading {
            let result = match loading.result.try_recv() {
                Ok(result) => Some(result),
                Err(mpsc::TryRecvError::Empty) => None,
                Err(mpsc::TryRecvError::Disconnected) => Some(Err(ModelError::Runtime(format!(
                    "loading {:?} stopped without a result",
                    loading.choice
                )))),
            };
            if let Some(result) = result {
                self.loading = None;
                self.arrive(result);
            }
        }
        self.take_swap();
        let (done, running): (Vec<_>, Vec<_>) =
            self.loaders.drain(..).partition(|l| l.is_finished());
        self.loaders = running;
        for loader in done {
            let _ = loader.join();
        }
    }

    /// A model finished loading: with a model playing, it takes over at the next bar line
    /// ([`Worker::take_swap`]); otherwise, or if it was refused, at once.
    fn arrive(&mut self, result: Result<Box<dyn Generator>, ModelError>) {
        self.swap = None;
        match result {
            Ok(generator) if self.generator.is_some() => {
                let playhead = self.shared.playhead_beats.load(Ordering::Acquire);
                let at_beats = self.grid().bar_at_or_after(playhead);
                let tempo = self.shared.tempo_bpm.load(Ordering::Relaxed).max(1.0);
                let wait_s = ((at_beats - playhead) * 60.0 / tempo).clamp(0.0, 60.0);
                self.swap = Some(Swap {
                    generator,
                    at_beats,
                    epoch: self.shared.epoch.load(Ordering::Acquire),
                    deadline: std::time::Instant::now()
                        + Duration::from_secs_f64(wait_s)
                        + SWAP_GRACE,
                });
            }
            other => self.install(other),
        }
    }

    /// Installs the waiting model once the playhead reaches its bar line (or the timeline
    /// jumped, or the audio stopped running).
    fn take_swap(&mut self) {
        let Some(swap) = &self.swap else {
            return;
        };
        let due = self.shared.playhead_beats.load(Ordering::Acquire) >= swap.at_beats
            || self.shared.epoch.load(Ordering::Acquire) != swap.epoch
            || std::time::Instant::now() >= swap.deadline;
        if due && let Some(swap) = self.swap.take() {
            self.install(Ok(swap.generator));
        }
    }

    /// Puts a loaded model to work, or reports why it was refused.
    fn install(&mut self, result: Result<Box<dyn Generator>, ModelError>) {
        match result {
            Ok(generator) => {
                let name = generator.info().name.clone();
                let uses_chords = generator.info().encoding.uses_chords();
                tracing::info!(
                    "Antiphon: model {name} loaded ({:?})",
                    self.requested.as_ref().unwrap_or(&ModelChoice::Default)
                );
                self.shared.edit_text(|text| {
                    text.model_name = name;
                    text.error.clear();
                });
                let generator = match &self.faults {
                    Some(faults) => FaultPlan::wrap(faults.clone(), generator),
                    None => generator,
                };
                self.generator = Some(generator);
                self.model_serial += 1;
                self.shared
                    .model_uses_chords
                    .store(uses_chords, Ordering::Release);
                self.shared.set_status(WorkerStatus::Ready);
            }
            Err(error) => self.refuse(error),
        }
    }

    /// The model asked for was refused: no answers until another one loads (MIDI thru goes
    /// on); the reason is logged and becomes the status text's error.
    fn refuse(&mut self, error: ModelError) {
        self.request_failed = true;
        let status = match error {
            ModelError::Runtime(_) => WorkerStatus::RuntimeMissing,
            _ => WorkerStatus::ModelRefused,
        };
        tracing::error!("Antiphon: {error}; MIDI thru goes on without answers");
        self.shared.edit_text(|text| {
            text.model_name.clear();
            text.error = error.to_string();
        });
        self.generator = None;
        self.model_serial += 1;
        self.shared
            .model_uses_chords
            .store(false, Ordering::Release);
        self.shared.set_status(status);
    }

    /// The call limits from the settings.
    fn limits(&self) -> CallLimits {
        let settings = &self.shared.settings;
        let bar = self.shared.bar_len_beats.load(Ordering::Relaxed).max(0.25);
        CallLimits {
            silence_beats: f64::from(settings.silence_beats.load(Ordering::Relaxed))
                .max(1.0 / 64.0),
            max_call_beats: f64::from(settings.max_call_bars.load(Ordering::Relaxed).max(1)) * bar,
            min_call_beats: f64::from(settings.min_call_beats.load(Ordering::Relaxed)).max(0.0),
        }
    }

    /// Looks at the input and the clock once, and answers what is due.
    fn tick(&mut self) {
        self.follow_models();
        let limits = self.limits();
        // Read the playhead first: every event before it is already in the ring.
        let playhead = self.shared.playhead_beats.load(Ordering::Acquire);
        while let Some(event) = self.capture.pop() {
            if event.epoch != self.detector.epoch() {
                self.start_epoch(event.epoch);
            }
            self.take_event(&event, &limits);
        }
        let epoch = self.shared.epoch.load(Ordering::Acquire);
        if epoch != self.detector.epoch() {
            self.start_epoch(epoch);
        }
        let mode = self.shared.settings.mode();
        if mode != self.mode {
            self.change_mode(mode);
        }
        if mode == JamMode::CallResponse && self.detector.is_active() {
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
                && self.planned != Some(self.relevant)
                && let Some(call) = self.detector.snapshot(end)
            {
                self.speculative = self.answer(&call, seen, true);
                self.planned = Some(self.relevant);
            }
        }
        let seen = self.detector.seen();
        if let Some(call) = self.detector.poll(playhead, &limits) {
            self.close_call(call, seen, self.relevant);
        }
        match mode {
            JamMode::CallResponse | JamMode::Continue => self.follow_loop(playhead),
            JamMode::Trade => self.follow_trade(playhead),
            JamMode::Accompany => self.follow_accompany(playhead),
        }
        if self.failure.is_some() {
            // A failed look does not count: whoever waits for the worker waits for the
            // restarted one (after the audio thread can see the failure).
            return;
        }
        self.finals
            .retain(|a| a.plan.answer_end_beats > playhead && a.epoch == epoch);
        self.flush();
        self.shared
            .worker_seen_events
            .store(self.detector.seen(), Ordering::Release);
        self.shared.worker_ticks.fetch_add(1, Ordering::AcqRel);
    }

    /// Follows one captured event.
    fn take_event(&mut self, event: &CaptureEvent, limits: &CallLimits) {
        let seen_before = self.detector.seen();
        let relevant_before = self.relevant;
        match event.role {
            NoteRole::Melody => {
                self.history.apply(event);
                if let Some(call) = self.detector.feed(event, limits) {
                    self.close_call(call, seen_before, relevant_before);
                }
                self.relevant = self.detector.seen();
            }
            NoteRole::Control => {
                self.detector.mark_seen(event.seq);
                // A call may have ended before the control.
                if let Some(call) = self.detector.poll(event.beats, limits) {
                    self.close_call(call, seen_before, relevant_before);
                }
                self.relevant = self.detector.seen();
                self.take_control(JamControl::from_u8(event.key), event.beats);
            }
            NoteRole::Chord | NoteRole::ChordChange => {
                // Chord notes are not part of a call, but a call may have ended before one.
                if let Some(call) = self.detector.poll(event.beats, limits) {
                    self.close_call(call, seen_before, relevant_before);
                }
                self.detector.mark_seen(event.seq);
                self.chords.apply(event);
                if event.role == NoteRole::ChordChange {
                    self.relevant = self.detector.seen();
                    self.follow_chord_change(event.beats);
                }
            }
        }
    }

    /// A call ended: its speculative answer stands if it was planned from everything before the
    /// end (`relevant_before`), else the call is answered now. The answer joins the finals.
    /// In the other modes a call is only remembered (Continue's phrase).
    fn close_call(&mut self, call: Call, seen_before: u64, relevant_before: u64) {
        let sent = if self.mode != JamMode::CallResponse {
            None
        } else if self.planned == Some(relevant_before) {
            self.speculative.take()
        } else {
            self.answer(&call, seen_before, false)
        };
        self.planned = None;
        self.speculative = None;
        self.last_call = Some(call);
        self.keep_answer(sent);
    }

    /// Keeps an answer that was sent: it may change with the chords, be mutated, be looped.
    fn keep_answer(&mut self, sent: Option<SentAnswer>) {
        if let Some(sent) = sent {
            self.repeats = None;
            self.last_answer = Some(sent.clone());
            self.finals.push(sent);
        }
    }

    /// Follows a change of mode: the other modes' schedules stop (answers already sent play
    /// out).
    fn change_mode(&mut self, mode: JamMode) {
        self.mode = mode;
        self.planned = None;
        self.speculative = None;
        self.repeats = None;
        self.accompany.stop();
        self.trade_prepared = None;
    }

    /// A momentary control at `beats`.
    fn take_control(&mut self, control: Option<JamControl>, beats: f64) {
        match control {
            Some(JamControl::EndCall) => {
                // The audio thread dropped any answer planned for a later end.
                if self.mode == JamMode::CallResponse
                    && let Some(call) = self.detector.snapshot(beats)
                {
                    let epoch = self.detector.epoch();
                    self.detector.reset(epoch);
                    self.planned = None;
                    self.speculative = None;
                    let sent = self.answer(&call, self.detector.seen(), false);
                    self.last_call = Some(call);
                    self.keep_answer(sent);
                }
            }
            Some(JamControl::Mutate) => self.mutate(beats),
            Some(JamControl::Continue) => self.continue_phrase(beats),
            // Panic is the audio thread's (it starts a new epoch).
            Some(JamControl::Panic) | None => {}
        }
    }

    /// The grid of the last block.
    fn grid(&self) -> BarGrid {
        BarGrid {
            origin_beats: self.shared.bar_origin_beats.load(Ordering::Relaxed),
            bar_len_beats: self.shared.bar_len_beats.load(Ordering::Relaxed).max(0.25),
        }
    }

    /// Where the answers already sent end (at least `beats`): a new one starts after them.
    fn scheduled_end(&self, beats: f64) -> f64 {
        let finals = self.finals.iter().map(|a| a.plan.answer_end_beats);
        let last = self.last_answer.iter().map(|a| a.plan.answer_end_beats);
        let repeats = self.repeats.iter().map(|r| r.next_start_beats);
        finals.chain(last).chain(repeats).fold(beats, f64::max)
    }

    /// The first bar line (or beat, with Answer Start = Next Beat) at or after `beats`.
    fn next_start(&self, beats: f64) -> f64 {
        let grid = self.grid();
        if self.shared.settings.answer_on_beat.load(Ordering::Relaxed) {
            grid.beat_at_or_after(beats)
        } else {
            grid.bar_at_or_after(beats)
        }
    }

    /// Mutate at `beats`: answers again, seeded by the last answer instead of the call, as long
    /// as it, after everything already sent. With Loop Answer on, the mutation is what loops.
    fn mutate(&mut self, beats: f64) {
        let Some(last) = self.last_answer.clone() else {
            return;
        };
        let call = last.as_call();
        if call.notes.is_empty() {
            return;
        }
        let bar = self.grid().bar_len_beats;
        let len_beats = last.plan.answer_end_beats - last.plan.answer_start_beats;
        let start = self.next_start(self.scheduled_end(beats));
        let placement = Placement {
            start: AnswerStart::At {
                answer_beats: start,
                primer_end_beats: Some(last.plan.answer_end_beats),
            },
            bars: (len_beats / bar).round().max(1.0) as u32,
            void_before_beats: beats,
            harmonize: false,
        };
        let sent = self.answer_placed(&call, self.detector.seen(), false, placement);
        self.keep_answer(sent);
    }

    /// Continue at `beats`: one continuation of the phrase as it stands (the call in progress,
    /// else the last call), from the next bar line (or beat) after everything already sent,
    /// Answer Length bars long (0: as long as the phrase).
    fn continue_phrase(&mut self, beats: f64) {
        let Some(call) = self
            .detector
            .snapshot(beats)
            .or_else(|| self.last_call.clone())
        else {
            return;
        };
        let start = self.next_start(self.scheduled_end(beats));
        let placement = Placement {
            start: AnswerStart::At {
                answer_beats: start,
                primer_end_beats: None,
            },
            bars: self.shared.settings.answer_bars.load(Ordering::Relaxed),
            void_before_beats: beats,
            harmonize: false,
        };
        let sent = self.answer_placed(&call, self.detector.seen(), false, placement);
        self.keep_answer(sent);
    }

    /// Loop Answer: while no call is in progress, the last answer repeats back to back, each
    /// repeat sent a bar before it starts. A note the player plays before a repeat starts
    /// drops it (it is a new call).
    fn follow_loop(&mut self, playhead: f64) {
        if !self.shared.settings.loop_answer.load(Ordering::Relaxed) {
            self.repeats = None;
            return;
        }
        if self.detector.is_active() {
            return;
        }
        let Some((from, to)) = self
            .last_answer
            .as_ref()
            .map(|a| (a.plan.answer_start_beats, a.plan.answer_end_beats))
        else {
            return;
        };
        if self.repeats.is_none() {
            self.repeats = Repeats::after(from, to);
        }
        let lead = self.grid().bar_len_beats;
        let Some(start) = self.repeats.as_mut().and_then(|r| r.due(playhead, lead)) else {
            return;
        };
        let Some(last) = self.last_answer.clone() else {
            return;
        };
        let plan = &last.plan;
        let shift = start - plan.answer_start_beats;
        let mut shifted = plan.clone();
        shifted.answer_start_beats += shift;
        shifted.answer_end_beats += shift;
        let answer_id = self.take_answer_id();
        let header = AnswerHeader {
            answer_id,
            epoch: last.epoch,
            input_seen: self.detector.seen(),
            call_end_beats: start,
            start_beats: shifted.answer_start_beats,
            end_beats: shifted.answer_end_beats,
            resume_from_beats: None,
        };
        self.outbox.push_back(AnswerMsg::Begin(header));
        for note in &last.notes {
            self.outbox.push_back(AnswerMsg::Note(answer_note(
                &shifted,
                answer_id,
                last.channel,
                *note,
            )));
        }
        self.flush();
    }

    /// How long before its bar line a Trade turn or Accompany's first bar is made: a grid step
    /// of the model at the current tempo but at least a 16th (Performance RNN's 10 ms steps
    /// would leave its primer too little time), or a block when blocks are longer (an offline
    /// render's), so it is ready before the block that holds the bar line. `None` without a
    /// model.
    fn lead_beats(&self) -> Option<f64> {
        let generator = self.generator.as_ref()?;
        let tempo = self.shared.tempo_bpm.load(Ordering::Relaxed);
        let step_beats = 1.0 / f64::from(generator.info().encoding.steps_per_quarter_at(tempo));
        Some(
            step_beats
                .max(MIN_LEAD_BEATS)
                .max(self.shared.block_len_beats.load(Ordering::Relaxed)),
        )
    }

    /// Trade: the lead ([`Worker::lead_beats`]) before the player's turn ends, answers what they
    /// played in it, in Antiphon's turn of the same length. A silent turn is answered with
    /// silence.
    fn follow_trade(&mut self, playhead: f64) {
        let Some(cut_beats) = self.lead_beats() else {
            return;
        };
        let bars = self
            .shared
            .settings
            .trade_bars
            .load(Ordering::Relaxed)
            .max(1);
        let Some(turn) = trade_turn_due(self.grid(), bars, cut_beats, playhead) else {
            return;
        };
        if self.trade_prepared == Some(turn.start_beats) {
            return;
        }
        self.trade_prepared = Some(turn.start_beats);
        let Some(call) = self.history.window(turn.player_start_beats, turn.cut_beats) else {
            return;
        };
        let placement = Placement {
            start: AnswerStart::At {
                answer_beats: turn.start_beats,
                primer_end_beats: Some(turn.start_beats),
            },
            bars,
            void_before_beats: turn.cut_beats,
            harmonize: false,
        };
        let sent = self.answer_placed(&call, self.detector.seen(), false, placement);
        self.keep_answer(sent);
    }

    /// Accompany: while the player has played in the last Max Call Length bars, Antiphon plays
    /// bar after bar from the bar line after their first note ([`AccompanyBars`]), each bar made
    /// a beat before it starts from the last two bars of the player's notes and its own.
    fn follow_accompany(&mut self, playhead: f64) {
        let grid = self.grid();
        let bar = grid.bar_len_beats;
        let idle_bars = self
            .shared
            .settings
            .max_call_bars
            .load(Ordering::Relaxed)
            .max(1);
        let active = self
            .history
            .active_since(playhead - f64::from(idle_bars) * bar);
        let Some(lead) = self.lead_beats() else {
            return;
        };
        let Some((start, _end)) =
            self.accompany
                .due(grid, playhead, active, lead, ACCOMPANY_LEAD_BEATS)
        else {
            return;
        };
        let from = start - ACCOMPANY_CONTEXT_BARS * bar;
        self.own_notes
            .retain(|n| n.end_beats.is_none_or(|e| e > from - bar));
        let mut call = self.history.window(from, start).unwrap_or(Call {
            notes: Vec::new(),
            start_beats: start,
            end_beats: start,
        });
        call.notes.extend(
            self.own_notes
                .iter()
                .filter(|n| n.start_beats >= from && n.start_beats < start)
                .copied(),
        );
        if call.notes.is_empty() {
            return;
        }
        call.notes
            .sort_by(|a, b| a.start_beats.total_cmp(&b.start_beats));
        call.start_beats = call.notes[0].start_beats;
        let placement = Placement {
            start: AnswerStart::At {
                answer_beats: start,
                primer_end_beats: Some(start),
            },
            bars: 1,
            void_before_beats: playhead,
            harmonize: false,
        };
        let sent = self.answer_placed(&call, self.detector.seen(), false, placement);
        if let Some(sent) = &sent {
            self.own_notes.extend(sent.as_call().notes);
        }
        self.keep_answer(sent);
    }

    /// The identifier of a new answer.
    fn take_answer_id(&mut self) -> u32 {
        let id = self.next_answer_id;
        self.next_answer_id = self.next_answer_id.wrapping_add(1).max(1);
        id
    }

    /// The held chord changed at `beats`. An answer it voids ([`voids_answer`]) was dropped by
    /// the audio thread: a final one is generated again over the new chord now, a speculative
    /// one when it is due. Any other answer that has not ended goes on over the new chord from
    /// the step of the change (from its first step if it has not started), when the model reads
    /// chords.
    fn follow_chord_change(&mut self, beats: f64) {
        let epoch = self.detector.epoch();
        let can_continue = |worker: &Self, a: &SentAnswer| {
            worker.uses_chords() && a.model_serial == worker.model_serial
        };
        if let Some(speculative) = self.speculative.take()
            && !voids_answer(beats, speculative.plan.answer_start_beats)
        {
            // It stands at the audio thread: keep it (no new answer when due).
            self.planned = Some(self.relevant);
            self.speculative = Some(if can_continue(self, &speculative) {
                self.continue_answer(speculative, beats, true)
            } else {
                speculative
            });
        }
        for answer in std::mem::take(&mut self.finals) {
            if answer.epoch != epoch || beats >= answer.plan.answer_end_beats {
                continue;
            }
            if voids_answer(beats, answer.plan.answer_start_beats) {
                let seen = self.detector.seen();
                if let Some(again) = self.answer_placed(&answer.call, seen, false, answer.placement)
                {
                    self.finals.push(again);
                }
            } else if can_continue(self, &answer) {
                let continued = self.continue_answer(answer, beats, false);
                self.finals.push(continued);
            } else {
                self.finals.push(answer);
            }
        }
    }

    /// Follows a new timeline epoch: the call in progress, unsent answers and the chords are
    /// void.
    fn start_epoch(&mut self, epoch: u32) {
        self.detector.reset(epoch);
        self.planned = None;
        self.speculative = None;
        self.finals.clear();
        self.chords.reset();
        self.outbox.clear();
        self.history.clear();
        self.last_call = None;
        self.last_answer = None;
        self.repeats = None;
        self.accompany.stop();
        self.own_notes.clear();
        self.trade_prepared = None;
    }

    /// Moves queued answer messages into the ring while there is room.
    fn flush(&mut self) {
        flush_outbox(&mut self.outbox, &mut self.answers);
    }

    /// The chords of an Improv answer: those held over the primer window, those held over the
    /// first `answer_steps` steps of the answer (a continuation's past), then the chord held
    /// now to the end. Empty for models that read no chords.
    fn chord_changes(&self, plan: &AnswerPlan, answer_steps: usize) -> Vec<ChordChange> {
        if !self.uses_chords() {
            return Vec::new();
        }
        let mut changes = Vec::new();
        self.chords.window(
            plan.primer_start_beats,
            plan.step_beats,
            plan.primer_steps,
            0,
            &mut changes,
        );
        let primer_steps = plan.primer_steps as i64;
        self.chords.window(
            plan.answer_start_beats,
            plan.step_beats,
            answer_steps,
            primer_steps,
            &mut changes,
        );
        changes.push(ChordChange {
            start_step: primer_steps + answer_steps as i64,
            chord: self.chords.current(),
        });
        changes
    }

    /// Plans and generates the answer to `call`, streaming its notes to the audio thread.
    /// `speculative`: the call may still go on, so stop as soon as input shows it did.
    fn answer(&mut self, call: &Call, seen: u64, speculative: bool) -> Option<SentAnswer> {
        let settings = &self.shared.settings;
        let placement = Placement {
            start: if settings.answer_on_beat.load(Ordering::Relaxed) {
                AnswerStart::NextBeat
            } else {
                AnswerStart::NextBar
            },
            bars: settings.answer_bars.load(Ordering::Relaxed),
            void_before_beats: call.end_beats,
            harmonize: true,
        };
        self.answer_placed(call, seen, speculative, placement)
    }

    /// Plans and generates an answer to `call` placed as `placement` says.
    fn answer_placed(
        &mut self,
        call: &Call,
        seen: u64,
        speculative: bool,
        placement: Placement,
    ) -> Option<SentAnswer> {
        let generator = self.generator.as_ref()?;
        let shared = &self.shared;
        let settings = &shared.settings;
        let tempo_qpm = shared.tempo_bpm.load(Ordering::Relaxed);
        let plan = plan_answer_from(
            call,
            self.grid(),
            generator.info().encoding.steps_per_quarter_at(tempo_qpm),
            placement.bars,
            settings.max_call_bars.load(Ordering::Relaxed),
            placement.start,
        )?;
        let channel = generator
            .output_channel()
            .unwrap_or(AnswerNote::OUTPUT_CHANNEL);
        let answer_id = self.take_answer_id();
        let epoch = self.detector.epoch();
        let chords = self.chord_changes(&plan, 0);
        let notes = self.generate(Job {
            header: AnswerHeader {
                answer_id,
                epoch,
                input_seen: seen,
                call_end_beats: placement.void_before_beats,
                start_beats: plan.answer_start_beats,
                end_beats: plan.answer_end_beats,
                resume_from_beats: None,
            },
            plan: &plan,
            primer: &plan.primer,
            primer_steps: plan.primer_steps,
            first_step: 0,
            steps: plan.answer_steps,
            chords: &chords,
            speculative,
            harmonize: placement.harmonize,
        });
        let beats = |step: i64| plan.answer_step_beats(step);
        let roll = notes
            .iter()
            .map(|n| (n.pitch, beats(n.start_step), beats(n.end_step)));
        let (start, end) = (plan.answer_start_beats, plan.answer_end_beats);
        self.shared.publish_roll(call, start, end, epoch, roll);
        Some(SentAnswer {
            answer_id,
            epoch,
            call: call.clone(),
            plan,
            notes,
            model_serial: self.model_serial,
            channel,
            placement,
        })
    }

    /// Generates the rest of an answer again from the grid step nearest to `beats` (a chord
    /// change; step 0 if that is before the answer starts), over the chord held now: the primer
    /// is the call and the answer up to that step. The audio thread swaps the answer's notes
    /// from there for the new ones. `speculative`: the call may still go on.
    fn continue_answer(
        &mut self,
        mut answer: SentAnswer,
        beats: f64,
        speculative: bool,
    ) -> SentAnswer {
        let plan = answer.plan.clone();
        let resume = ((beats - plan.answer_start_beats) / plan.step_beats)
            .round()
            .max(0.0) as usize;
        if resume >= plan.answer_steps {
            return answer;
        }
        let resume_step = resume as i64;
        let offset = plan.primer_steps as i64;
        let mut primer = plan.primer.clone();
        primer.extend(
            answer
                .notes
                .iter()
                .filter(|n| n.start_step < resume_step)
                .map(|n| {
                    StepNote::new(
                        n.pitch,
                        n.velocity,
                        offset + n.start_step,
                        offset + n.end_step.min(resume_step),
                    )
                }),
        );
        let chords = self.chord_changes(&plan, resume);
        let notes = self.generate(Job {
            header: AnswerHeader {
                answer_id: answer.answer_id,
                epoch: answer.epoch,
                input_seen: self.detector.seen(),
                call_end_beats: answer.call.end_beats,
                start_beats: plan.answer_start_beats,
                end_beats: plan.answer_end_beats,
                resume_from_beats: Some(plan.answer_step_beats(resume_step)),
            },
            plan: &plan,
            primer: &primer,
            primer_steps: plan.primer_steps + resume,
            first_step: resume_step,
            steps: plan.answer_steps - resume,
            chords: &chords,
            speculative,
            harmonize: false,
        });
        answer.notes.retain(|n| n.start_step < resume_step);
        answer.notes.extend(notes);
        answer
    }

    /// Sends the job's header, generates its notes and streams them to the audio thread;
    /// returns them in answer steps. Stops early when input shows the answer will be dropped.
    /// A model run that fails ([`ModelError::Inference`]) ends this run of the worker (see
    /// [`Worker::failure`]); nothing more is generated until the supervisor restarts it.
    fn generate(&mut self, job: Job<'_>) -> Vec<GeneratedNote> {
        let mut sent = Vec::new();
        let uses_chords = self.uses_chords();
        if self.failure.is_some() {
            return sent;
        }
        let Some(generator) = self.generator.as_mut() else {
            return sent;
        };
        let shared = &self.shared;
        let settings = &shared.settings;
        let header = job.header;
        self.outbox.push_back(AnswerMsg::Begin(header));
        let mut mask = settings.pitch_mask();
        if uses_chords {
            // Improv answers stay out of the chord range.
            mask.low_pitch = mask.low_pitch.max(settings.chord_input().melody_floor());
        }
        // Polyphony may harmonise the call: no primer, the call's notes injected as the top
        // voice from the answer's first step (Magenta's harmonisation).
        let harmonize = generator.info().family == Family::Polyphony
            && settings.harmonize.load(Ordering::Relaxed)
            && job.harmonize
            && job.first_step == 0;
        let (primer, primer_steps, melody) = if harmonize {
            (&[][..], 0, job.primer)
        } else {
            (job.primer, job.primer_steps, &[][..])
        };
        let request = GenerateRequest {
            temperature: settings.temperature.load(Ordering::Relaxed).max(0.01),
            velocity: job.plan.velocity,
            beam: settings.beam(),
            mask,
            chords: job.chords,
            melody,
            threshold: settings.threshold.load(Ordering::Relaxed),
            density_nats: settings.density_nats.load(Ordering::Relaxed),
            ..GenerateRequest::new(primer, primer_steps, job.steps)
        };
        // Drum models answer on the GM drum channel, the others on the output channel setting.
        let channel = generator
            .output_channel()
            .unwrap_or(AnswerNote::OUTPUT_CHANNEL);
        let (outbox, answers, capture) = (&mut self.outbox, &mut self.answers, &self.capture);
        let plan = job.plan;
        let mut on_note = |note: GeneratedNote| {
            let note = StepNote {
                start_step: note.start_step + job.first_step,
                end_step: note.end_step + job.first_step,
                ..note
            };
            sent.push(note);
            outbox.push_back(AnswerMsg::Note(answer_note(
                plan,
                header.answer_id,
                channel,
                note,
            )));
            flush_outbox(outbox, answers);
            let overtaken = capture.peek().is_some_and(|e| match e.role {
                NoteRole::Melody => job.speculative && e.beats < header.call_end_beats,
                NoteRole::ChordChange => voids_answer(e.beats, header.start_beats),
                NoteRole::Chord | NoteRole::Control => false,
            });
            let jumped = shared.epoch.load(Ordering::Relaxed) != header.epoch;
            if overtaken || jumped || outbox.len() > OUTBOX_LIMIT {
                StepControl::Stop
            } else {
                StepControl::Continue
            }
        };
        // With a seed, the same primer answered at the same place always draws the same
        // numbers, however many speculative answers came before.
        let seed = settings.seed.load(Ordering::Relaxed);
        if seed != 0 {
            self.rng = Rng::seeded(answer_seed(seed, &job));
        }
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
            // The supervisor reports it and restarts the worker.
            Err(error @ ModelError::Inference(_)) => self.failure = Some(error.to_string()),
            Err(error) => {
                tracing::error!("Antiphon: generating an answer failed: {error}");
                shared.edit_text(|text| text.error = error.to_string());
            }
        }
        self.flush();
        self.shared
            .answers_generated
            .fetch_add(1, Ordering::Release);
        sent
    }
}

/// An answer note in beats from a generated note in answer steps, on `channel` (a MIDI channel
/// index, or [`AnswerNote::OUTPUT_CHANNEL`]).
fn answer_note(plan: &AnswerPlan, answer_id: u32, channel: u8, note: GeneratedNote) -> AnswerNote {
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

/// The random seed of one answer under the Seed setting `seed`: a hash of the seed, where the
/// answer starts and what primes it.
fn answer_seed(seed: u64, job: &Job<'_>) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = 0xcbf2_9ce4_8422_2325 ^ seed;
    let mut mix = |value: u64| {
        hash ^= value;
        hash = hash.wrapping_mul(PRIME);
    };
    mix(job.header.start_beats.to_bits());
    mix(job.first_step as u64);
    mix(job.primer_steps as u64);
    for note in job.primer {
        mix(u64::from(note.pitch));
        mix(note.start_step as u64);
        mix(note.end_step as u64);
    }
    hash
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
