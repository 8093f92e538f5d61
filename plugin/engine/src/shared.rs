//! State shared between the audio thread, the worker and the editor: atomics only, so no side
//! ever waits for another. (The exceptions are [`Shared::message`], a text for people, and
//! [`Shared::roll`], the notes the editor draws: the worker writes them and the editor reads them;
//! the audio thread never touches either.)

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};

use antiphon_models::{BeamSettings, PitchMask, Scale};
use atomic_float::{AtomicF32, AtomicF64};

use crate::choice::ModelPick;
use crate::chords::ChordInput;
use crate::mode::JamMode;
use crate::phrase::Call;
use crate::roll::RollView;

/// What the worker is doing, for the editor and the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum WorkerStatus {
    /// Starting, or loading a model.
    Loading = 0,
    /// A model is loaded and answers are being made.
    Ready = 1,
    /// ONNX Runtime could not be loaded; MIDI still passes through.
    RuntimeMissing = 2,
    /// The chosen model was refused; MIDI still passes through.
    ModelRefused = 3,
    /// The worker has stopped.
    Stopped = 4,
    /// The worker failed (it panicked, or its model failed to run) and waits before it restarts
    /// with the same model ([`StatusText::failure`] says why); MIDI still passes through.
    Failed = 5,
}

impl WorkerStatus {
    /// The status stored as `value`.
    pub fn from_u8(value: u8) -> Self {
        match value {
            1 => Self::Ready,
            2 => Self::RuntimeMissing,
            3 => Self::ModelRefused,
            4 => Self::Stopped,
            5 => Self::Failed,
            _ => Self::Loading,
        }
    }

    /// A short word for the status.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Loading => "loading",
            Self::Ready => "ready",
            Self::RuntimeMissing => "ONNX Runtime missing",
            Self::ModelRefused => "model refused",
            Self::Stopped => "stopped",
            Self::Failed => "failed, restarting",
        }
    }
}

/// The jam settings the worker reads when it plans an answer. The plugin copies its parameters
/// here every block; the standalone sets them from its command line.
#[derive(Debug)]
pub struct Settings {
    /// Softmax temperature for sampling, > 0.
    pub temperature: AtomicF32,
    /// Beats of silence (no key down, no new note) that end a call, > 0.
    pub silence_beats: AtomicF32,
    /// Answer length in bars; 0 means "as long as the call, rounded up to whole bars".
    pub answer_bars: AtomicU32,
    /// A call ends after this many bars even if the player goes on, ≥ 1.
    pub max_call_bars: AtomicU32,
    /// Beam search: entries kept per iteration (1 with the other two at 1: plain sampling).
    pub beam_size: AtomicU32,
    /// Beam search: copies of each entry per iteration.
    pub branch_factor: AtomicU32,
    /// Beam search: steps sampled per iteration.
    pub steps_per_iteration: AtomicU32,
    /// Lowest MIDI pitch an answer may play.
    pub low_pitch: AtomicU8,
    /// Highest MIDI pitch an answer may play (inclusive).
    pub high_pitch: AtomicU8,
    /// The scale answers keep to, packed by [`Settings::set_pitch_mask`] (0: any pitch class).
    pub scale: AtomicU32,
    /// The player's model pick (a [`ModelPick`] as `u8`), or [`ModelPick::NONE`]: the worker
    /// loads what it was told to (the standalone). The worker follows changes within a tick.
    pub model_pick: AtomicU8,
    /// Where chord notes come from, packed by [`ChordInput::pack`]; read only while the model
    /// reads chords (Improv).
    pub chord_input: AtomicU32,
    /// Polyphony models answer by harmonising the call (its notes as the top voice, the model
    /// writing the voices below) instead of continuing it.
    pub harmonize: AtomicBool,
    /// Pianoroll models choose each key by the 0.5 threshold (Magenta's sampling) instead of
    /// drawing it at the temperature.
    pub threshold: AtomicBool,
    /// The jam mode, a [`JamMode`] as `u8`; the worker follows changes at once.
    pub mode: AtomicU8,
    /// Trade: bars in each turn (the player's, then Antiphon's), ≥ 1.
    pub trade_bars: AtomicU32,
    /// Call and response: the answer repeats until the player plays again.
    pub loop_answer: AtomicBool,
    /// Silence does not end a call shorter than this, in beats (≥ 0; the maximum length and
    /// End Call still do).
    pub min_call_beats: AtomicF32,
    /// Answers start on the next beat instead of the next bar line.
    pub answer_on_beat: AtomicBool,
    /// Seed for answers (0: a fresh random seed). With a seed, an answer's random numbers
    /// follow from the seed, where it starts and what primes it, so the same call at the same
    /// place gets the same answer (an offline render, a jam played again).
    pub seed: AtomicU64,
    /// Density, in nats added to the log-odds of starting a note (0: the model's own).
    pub density_nats: AtomicF32,
}

impl Settings {
    /// The beam-search settings.
    pub fn beam(&self) -> BeamSettings {
        BeamSettings {
            beam_size: self.beam_size.load(Ordering::Relaxed) as usize,
            branch_factor: self.branch_factor.load(Ordering::Relaxed) as usize,
            steps_per_iteration: self.steps_per_iteration.load(Ordering::Relaxed) as usize,
        }
        .normalized()
    }

    /// Sets the beam-search settings.
    pub fn set_beam(&self, beam: BeamSettings) {
        let to_u32 = |n: usize| u32::try_from(n.max(1)).unwrap_or(u32::MAX);
        self.beam_size
            .store(to_u32(beam.beam_size), Ordering::Relaxed);
        self.branch_factor
            .store(to_u32(beam.branch_factor), Ordering::Relaxed);
        self.steps_per_iteration
            .store(to_u32(beam.steps_per_iteration), Ordering::Relaxed);
    }

    /// The pitch mask answers keep to.
    pub fn pitch_mask(&self) -> PitchMask {
        let packed = self.scale.load(Ordering::Relaxed);
        PitchMask {
            low_pitch: self.low_pitch.load(Ordering::Relaxed),
            high_pitch: self.high_pitch.load(Ordering::Relaxed),
            scale: (packed & SCALE_SET != 0).then_some(Scale {
                root: ((packed >> 12) & 0x0f) as u8,
                intervals: (packed & 0x0fff) as u16,
            }),
        }
    }

    /// Sets the pitch mask answers keep to.
    pub fn set_pitch_mask(&self, mask: PitchMask) {
        self.low_pitch.store(mask.low_pitch, Ordering::Relaxed);
        self.high_pitch.store(mask.high_pitch, Ordering::Relaxed);
        let packed = mask.scale.map_or(0, |s| {
            SCALE_SET | (u32::from(s.root % 12) << 12) | u32::from(s.intervals & 0x0fff)
        });
        self.scale.store(packed, Ordering::Relaxed);
    }
}

impl Settings {
    /// Where chord notes come from.
    pub fn chord_input(&self) -> ChordInput {
        ChordInput::unpack(self.chord_input.load(Ordering::Relaxed))
    }

    /// Sets where chord notes come from.
    pub fn set_chord_input(&self, input: ChordInput) {
        self.chord_input.store(input.pack(), Ordering::Relaxed);
    }

    /// The player's model pick, if one was published.
    pub fn model_pick(&self) -> Option<ModelPick> {
        ModelPick::from_u8(self.model_pick.load(Ordering::Relaxed))
    }

    /// The jam mode.
    pub fn mode(&self) -> JamMode {
        JamMode::from_u8(self.mode.load(Ordering::Relaxed))
    }

    /// Sets the jam mode.
    pub fn set_mode(&self, mode: JamMode) {
        self.mode.store(mode as u8, Ordering::Relaxed);
    }

    /// Publishes the player's model pick.
    pub fn set_model_pick(&self, pick: ModelPick) {
        self.model_pick.store(pick as u8, Ordering::Relaxed);
    }
}

/// Flag of [`Settings::scale`]: a scale is set (bits 12..16 root, bits 0..12 intervals).
const SCALE_SET: u32 = 1 << 31;

impl Default for Settings {
    fn default() -> Self {
        Self {
            temperature: AtomicF32::new(1.0),
            silence_beats: AtomicF32::new(1.0),
            answer_bars: AtomicU32::new(0),
            max_call_bars: AtomicU32::new(8),
            beam_size: AtomicU32::new(1),
            branch_factor: AtomicU32::new(1),
            steps_per_iteration: AtomicU32::new(1),
            low_pitch: AtomicU8::new(0),
            high_pitch: AtomicU8::new(127),
            scale: AtomicU32::new(0),
            model_pick: AtomicU8::new(ModelPick::NONE),
            chord_input: AtomicU32::new(ChordInput::DEFAULT.pack()),
            harmonize: AtomicBool::new(false),
            threshold: AtomicBool::new(false),
            mode: AtomicU8::new(JamMode::CallResponse as u8),
            trade_bars: AtomicU32::new(2),
            loop_answer: AtomicBool::new(false),
            min_call_beats: AtomicF32::new(0.0),
            answer_on_beat: AtomicBool::new(false),
            seed: AtomicU64::new(0),
            density_nats: AtomicF32::new(0.0),
        }
    }
}

/// Everything shared by one instance's threads.
#[derive(Debug)]
pub struct Shared {
    /// Beat position just after the last processed block; written after that block's input
    /// events were pushed to the capture ring (release), so a reader that sees it also sees them.
    pub playhead_beats: AtomicF64,
    /// Tempo of the last block, quarter notes per minute.
    pub tempo_bpm: AtomicF64,
    /// Length of the last block in quarter notes (what the playhead may jump before the worker
    /// looks again).
    pub block_len_beats: AtomicF64,
    /// Bar length of the last block, in quarter notes.
    pub bar_len_beats: AtomicF64,
    /// A bar line of the last block.
    pub bar_origin_beats: AtomicF64,
    /// Increments at every timeline jump (transport start/stop, seek, loop, reset): positions
    /// from different epochs don't compare.
    pub epoch: AtomicU32,
    /// Whether the host's transport was playing in the last block.
    pub host_playing: AtomicBool,
    /// The host renders offline (faster than real time): the plugin waits for the worker after
    /// every block ([`Shared::wait_for_worker`]), so the worker looks much more often.
    pub offline: AtomicBool,
    /// The jam settings.
    pub settings: Settings,
    /// The worker's [`WorkerStatus`], as its `u8`.
    pub status: AtomicU8,
    /// Answer notes that came too late to play and were skipped.
    pub late_notes: AtomicU64,
    /// Captured events dropped because the capture ring was full.
    pub dropped_events: AtomicU64,
    /// Answers that started playing.
    pub answers_played: AtomicU64,
    /// Times the worker failed (a panic, or a model run that failed) and was restarted. The
    /// audio thread polls it every block: when it changes, every sounding answer note ends and
    /// the answers it holds are dropped.
    pub worker_failures: AtomicU64,
    /// Whether the loaded model reads chords (Improv): only then are chord notes told apart
    /// from melody notes.
    pub model_uses_chords: AtomicBool,
    /// Answers the worker finished generating (including ones later dropped; continuations
    /// count too).
    pub answers_generated: AtomicU64,
    /// Captured events the worker has taken into account (written at the end of each look).
    pub worker_seen_events: AtomicU64,
    /// Number of times the worker has looked at the input and the clock.
    pub worker_ticks: AtomicU64,
    /// Mean worker time per generated step of the last answer, in microseconds.
    pub last_step_us: AtomicF32,
    /// Worker time to run the last primer, in microseconds.
    pub last_primer_us: AtomicF32,
    /// Name of the loaded model and the last error, for people (editor, log); never touched by
    /// the audio thread.
    pub message: Mutex<StatusText>,
    /// The last call and its answer, for the editor's piano roll: the worker writes it
    /// ([`Shared::publish_roll`]), the editor copies it out on the GUI thread; never touched by
    /// the audio thread.
    pub roll: Mutex<RollView>,
}

/// Texts for people about the worker's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusText {
    /// Name of the loaded model, if any.
    pub model_name: String,
    /// The last error, if the status is an error.
    pub error: String,
    /// The last worker failure and how it was handled (empty if the worker never failed); it
    /// stays after the restarted worker is ready. [`Shared::worker_failures`] counts them.
    pub failure: String,
}

impl Default for Shared {
    fn default() -> Self {
        Self {
            playhead_beats: AtomicF64::new(0.0),
            tempo_bpm: AtomicF64::new(120.0),
            block_len_beats: AtomicF64::new(0.0),
            bar_len_beats: AtomicF64::new(4.0),
            bar_origin_beats: AtomicF64::new(0.0),
            epoch: AtomicU32::new(0),
            host_playing: AtomicBool::new(false),
            offline: AtomicBool::new(false),
            settings: Settings::default(),
            status: AtomicU8::new(WorkerStatus::Loading as u8),
            late_notes: AtomicU64::new(0),
            dropped_events: AtomicU64::new(0),
            answers_played: AtomicU64::new(0),
            worker_failures: AtomicU64::new(0),
            model_uses_chords: AtomicBool::new(false),
            answers_generated: AtomicU64::new(0),
            worker_seen_events: AtomicU64::new(0),
            worker_ticks: AtomicU64::new(0),
            last_step_us: AtomicF32::new(0.0),
            last_primer_us: AtomicF32::new(0.0),
            message: Mutex::new(StatusText::default()),
            roll: Mutex::new(RollView::default()),
        }
    }
}

impl Shared {
    /// The worker's status.
    pub fn status(&self) -> WorkerStatus {
        WorkerStatus::from_u8(self.status.load(Ordering::Acquire))
    }

    /// Sets the worker's status.
    pub fn set_status(&self, status: WorkerStatus) {
        self.status.store(status as u8, Ordering::Release);
    }

    /// Waits (on a non-audio thread) until the worker has taken in the first `captured` events
    /// and finished a look at the clock that began after this call, or until `limit` passes.
    /// Offline rendering and tests use it to give the worker the time a real-time host would.
    pub fn wait_for_worker(&self, captured: u64, limit: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + limit;
        let ticks = self.worker_ticks.load(Ordering::Acquire);
        loop {
            let caught_up = self.worker_seen_events.load(Ordering::Acquire) >= captured
                && self.worker_ticks.load(Ordering::Acquire) >= ticks + 2;
            // A stopped worker, or a failed one waiting to restart, does not look at all.
            if caught_up || matches!(self.status(), WorkerStatus::Stopped | WorkerStatus::Failed) {
                return caught_up;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
    }

    /// Publishes `call` and its answer for the editor (worker thread): `notes` are the answer's
    /// (key, start, end) in beats inside `answer_start_beats..answer_end_beats`, positions of
    /// timeline `epoch`. See [`RollView::set`].
    pub fn publish_roll(
        &self,
        call: &Call,
        answer_start_beats: f64,
        answer_end_beats: f64,
        epoch: u32,
        notes: impl Iterator<Item = (u8, f64, f64)>,
    ) {
        let mut roll = self.roll.lock().unwrap_or_else(|e| e.into_inner());
        roll.set(call, answer_start_beats, answer_end_beats, epoch, notes);
    }

    /// A copy of the texts for people.
    pub fn status_text(&self) -> StatusText {
        self.message
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Changes the texts for people (worker thread). A lock poisoned by a worker that panicked
    /// is taken over: the texts are plain values, whole after any panic.
    pub fn edit_text(&self, edit: impl FnOnce(&mut StatusText)) {
        edit(&mut self.message.lock().unwrap_or_else(|e| e.into_inner()));
    }
}
