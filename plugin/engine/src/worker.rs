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
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

pub use crate::choice::ModelChoice;
use crate::choice::ModelPick;
use crate::chords::{ChordTimeline, voids_answer};
use crate::clock::BarGrid;
use crate::phrase::{Call, CallEnd, CallLimits, PhraseDetector};
use crate::plan::{AnswerPlan, plan_answer};
use crate::queues::{
    AnswerHeader, AnswerMsg, AnswerNote, AnswerProducer, CaptureConsumer, CaptureEvent, NoteRole,
};
use crate::shared::{Shared, WorkerStatus};

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
            model_serial: 0,
            requested: None,
            request_failed: false,
            loading: None,
            loaders: Vec::new(),
            seen_pick: ModelPick::NONE,
            custom_file: config.custom_file,
            runtime_dirs: config.runtime_dirs,
            planned: None,
            relevant: 0,
            speculative: None,
            finals: Vec::new(),
            chords: ChordTimeline::new(),
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

    /// Tells the worker the project's own model file (`None`: none).
    pub fn set_custom_file(&self, file: Option<PathBuf>) {
        let _ = self.control.send(Control::SetCustomFile(file));
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
}

impl Worker {
    /// The thread's main loop.
    fn run(mut self, model: ModelChoice) {
        self.seen_pick = self.shared.settings.model_pick.load(Ordering::Relaxed);
        let first = ModelPick::from_u8(self.seen_pick)
            .map_or(model, |pick| pick.choice(self.custom_file.as_ref()));
        self.request(first);
        loop {
            let busy = self.detector.is_active()
                || !self.outbox.is_empty()
                || self.loading.is_some()
                || (self.uses_chords() && !self.finals.is_empty());
            let wait = if self.shared.offline.load(Ordering::Relaxed) {
                OFFLINE_POLL
            } else if busy {
                BUSY_POLL
            } else {
                IDLE_POLL
            };
            match self.inbox.recv_timeout(wait) {
                Ok(Control::Shutdown) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(Control::LoadModel(choice)) => self.request(choice),
                Ok(Control::SetCustomFile(file)) => {
                    self.custom_file = file;
                    if let Some(pick) = ModelPick::from_u8(self.seen_pick) {
                        self.request(pick.choice(self.custom_file.as_ref()));
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
            self.tick();
        }
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
                self.install(result);
            }
        }
        let (done, running): (Vec<_>, Vec<_>) =
            self.loaders.drain(..).partition(|l| l.is_finished());
        self.loaders = running;
        for loader in done {
            let _ = loader.join();
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
                if let Ok(mut text) = self.shared.message.lock() {
                    text.model_name = name;
                    text.error.clear();
                }
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
        if let Ok(mut text) = self.shared.message.lock() {
            text.model_name.clear();
            text.error = error.to_string();
        }
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
                && self.planned != Some(self.relevant)
                && let Some(call) = self.detector.snapshot(end)
            {
                self.speculative = self.answer(&call, seen, true);
                self.planned = Some(self.relevant);
            }
            if let Some(call) = self.detector.poll(playhead, &limits) {
                self.close_call(call, seen, self.relevant);
            }
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
                if let Some(call) = self.detector.feed(event, limits) {
                    self.close_call(call, seen_before, relevant_before);
                }
                self.relevant = self.detector.seen();
            }
            NoteRole::Control => {
                self.detector.mark_seen(event.seq);
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
    fn close_call(&mut self, call: Call, seen_before: u64, relevant_before: u64) {
        let sent = if self.planned == Some(relevant_before) {
            self.speculative.take()
        } else {
            self.answer(&call, seen_before, false)
        };
        self.planned = None;
        self.speculative = None;
        self.finals.extend(sent);
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
                if let Some(again) = self.answer(&answer.call, seen, false) {
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
        let generator = self.generator.as_ref()?;
        let shared = &self.shared;
        let settings = &shared.settings;
        let grid = BarGrid {
            origin_beats: shared.bar_origin_beats.load(Ordering::Relaxed),
            bar_len_beats: shared.bar_len_beats.load(Ordering::Relaxed),
        };
        let tempo_qpm = shared.tempo_bpm.load(Ordering::Relaxed);
        let plan = plan_answer(
            call,
            grid,
            generator.info().encoding.steps_per_quarter_at(tempo_qpm),
            settings.answer_bars.load(Ordering::Relaxed),
            settings.max_call_bars.load(Ordering::Relaxed),
        )?;
        let answer_id = self.next_answer_id;
        self.next_answer_id = self.next_answer_id.wrapping_add(1).max(1);
        let epoch = self.detector.epoch();
        let chords = self.chord_changes(&plan, 0);
        let notes = self.generate(Job {
            header: AnswerHeader {
                answer_id,
                epoch,
                input_seen: seen,
                call_end_beats: call.end_beats,
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
        });
        Some(SentAnswer {
            answer_id,
            epoch,
            call: call.clone(),
            plan,
            notes,
            model_serial: self.model_serial,
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
        });
        answer.notes.retain(|n| n.start_step < resume_step);
        answer.notes.extend(notes);
        answer
    }

    /// Sends the job's header, generates its notes and streams them to the audio thread;
    /// returns them in answer steps. Stops early when input shows the answer will be dropped.
    fn generate(&mut self, job: Job<'_>) -> Vec<GeneratedNote> {
        let mut sent = Vec::new();
        let uses_chords = self.uses_chords();
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

/// Moves messages from `outbox` into the ring while there is room.
fn flush_outbox(outbox: &mut VecDeque<AnswerMsg>, answers: &mut AnswerProducer) {
    while let Some(msg) = outbox.pop_front() {
        if let Err(msg) = answers.push(msg) {
            outbox.push_front(msg);
            break;
        }
    }
}
