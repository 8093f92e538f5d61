//! `antiphon answer`: plays a call into the jam engine offline — the same audio side and worker
//! the plugin runs, in simulated 512-sample blocks at 48 kHz with a playing transport — and
//! reports the answer it plays back.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use antiphon_engine::{
    AudioSettings, HostTransport, InputEvent, ModelChoice, OutKind, Shared, WorkerConfig,
    WorkerStatus,
};

use antiphon_models::{BeamSettings, PitchMask};

use crate::phrase_arg::ArgNote;

/// Sample rate of the simulated host.
const SAMPLE_RATE: f64 = 48_000.0;
/// Block size of the simulated host.
const BLOCK: u32 = 512;
/// Channel index the answer plays on (drum models: 9, GM drums).
const ANSWER_CHANNEL: u8 = 1;
/// Channel index of the player's call.
const CALL_CHANNEL: u8 = 0;

/// What to answer, and how.
#[derive(Debug, Clone)]
pub struct AnswerJob {
    /// The call.
    pub call: Vec<ArgNote>,
    /// Host tempo, quarter notes per minute.
    pub tempo_bpm: f64,
    /// The model.
    pub model: ModelChoice,
    /// Seed of the sampling (for a reproducible answer).
    pub seed: Option<u64>,
    /// Softmax temperature.
    pub temperature: f32,
    /// Answer length in bars (0 = as long as the call).
    pub answer_bars: u32,
    /// Beats of silence that end the call.
    pub silence_beats: f32,
    /// Beam-search settings.
    pub beam: BeamSettings,
    /// Pitches the answer may play.
    pub mask: PitchMask,
    /// Folders searched for ONNX Runtime.
    pub runtime_dirs: Vec<PathBuf>,
}

/// A note the engine played back, in beats.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlayedNote {
    /// MIDI key.
    pub key: u8,
    /// MIDI velocity.
    pub velocity: u8,
    /// MIDI channel index (1 for melodies, 9 for drums).
    pub channel: u8,
    /// Start, in beats.
    pub start_beats: f64,
    /// End, in beats.
    pub end_beats: f64,
    /// Sample position of the note-on since the start.
    pub start_sample: u64,
}

/// What came back.
#[derive(Debug, Clone)]
pub struct AnswerResult {
    /// The answer's notes.
    pub notes: Vec<PlayedNote>,
    /// Name of the model that answered.
    pub model_name: String,
    /// Mean worker time per generated step, in microseconds.
    pub step_us: f32,
    /// Worker time for the primer, in microseconds.
    pub primer_us: f32,
    /// Answer notes skipped because they came late.
    pub late_notes: u64,
}

/// Plays the call and collects the answer.
pub fn run(job: &AnswerJob) -> Result<AnswerResult, String> {
    let shared = Arc::new(Shared::default());
    shared
        .settings
        .temperature
        .store(job.temperature, Ordering::Relaxed);
    shared
        .settings
        .answer_bars
        .store(job.answer_bars, Ordering::Relaxed);
    shared
        .settings
        .silence_beats
        .store(job.silence_beats, Ordering::Relaxed);
    shared.settings.set_beam(job.beam);
    shared.settings.set_pitch_mask(job.mask);
    let config = WorkerConfig {
        model: job.model.clone(),
        custom_file: None,
        runtime_dirs: job.runtime_dirs.clone(),
        seed: job.seed,
    };
    let mut instance = antiphon_engine::start(shared.clone(), config)
        .map_err(|e| format!("cannot start the worker: {e}"))?;
    wait_until(Duration::from_secs(60), || {
        shared.status() != WorkerStatus::Loading
    });
    if shared.status() != WorkerStatus::Ready {
        return Err(shared.status_text().error);
    }

    let settings = AudioSettings {
        out_channel: ANSWER_CHANNEL,
        midi_thru: true,
        ..AudioSettings::default()
    };
    let samples_per_beat = SAMPLE_RATE * 60.0 / job.tempo_bpm;
    let mut input: Vec<(u64, InputEvent)> = Vec::new();
    for n in &job.call {
        let on = (n.start_beats * samples_per_beat).round() as u64;
        let off = (n.end_beats * samples_per_beat).round() as u64;
        input.push((
            on,
            InputEvent::NoteOn {
                offset: 0,
                channel: CALL_CHANNEL,
                key: n.key,
                velocity: n.velocity,
            },
        ));
        input.push((
            off,
            InputEvent::NoteOff {
                offset: 0,
                channel: CALL_CHANNEL,
                key: n.key,
            },
        ));
    }
    input.sort_by_key(|(s, e)| (*s, matches!(e, InputEvent::NoteOn { .. })));
    let last_off = job.call.iter().map(|n| n.end_beats).fold(0.0, f64::max);
    let call_end_beats = last_off + f64::from(job.silence_beats);
    let give_up_beats = call_end_beats + 4.0 * 18.0;

    let mut sample: u64 = 0;
    let mut open: Vec<PlayedNote> = Vec::new();
    let mut notes: Vec<PlayedNote> = Vec::new();
    loop {
        let start_beats = sample as f64 / samples_per_beat;
        let transport = HostTransport {
            playing: true,
            tempo_bpm: Some(job.tempo_bpm),
            pos_beats: Some(start_beats),
            time_sig: Some((4, 4)),
            bar_start_beats: None,
        };
        let block_end = sample + u64::from(BLOCK);
        let events: Vec<InputEvent> = input
            .iter()
            .filter(|(s, _)| *s >= sample && *s < block_end)
            .map(|&(s, e)| e.with_offset((s - sample) as u32))
            .collect();
        let had_input = !events.is_empty();
        let out = instance
            .audio
            .process_block(&transport, BLOCK, SAMPLE_RATE, &settings, events);
        // The call is on channel index 0; the answer on ANSWER_CHANNEL, or 9 from a drum model.
        for e in out.events.iter().filter(|e| e.channel != CALL_CHANNEL) {
            let at = sample + u64::from(e.offset);
            let beats = at as f64 / samples_per_beat;
            match e.kind {
                OutKind::On => open.push(PlayedNote {
                    key: e.key,
                    velocity: e.velocity,
                    channel: e.channel,
                    start_beats: beats,
                    end_beats: beats,
                    start_sample: at,
                }),
                OutKind::Off => {
                    if let Some(i) = open
                        .iter()
                        .position(|n| n.key == e.key && n.channel == e.channel)
                    {
                        let mut n = open.remove(i);
                        n.end_beats = beats;
                        notes.push(n);
                    }
                }
            }
        }
        let keep_alive = out.keep_alive;
        sample = block_end;
        let now_beats = sample as f64 / samples_per_beat;
        if had_input {
            // Offline, the simulated clock runs faster than the worker: give it the time a
            // real-time host would.
            shared.wait_for_worker(instance.audio.captured_events(), Duration::from_secs(30));
        }
        if (now_beats > call_end_beats + 4.0 && !keep_alive) || now_beats > give_up_beats {
            break;
        }
    }
    notes.sort_by(|a, b| a.start_beats.total_cmp(&b.start_beats));
    Ok(AnswerResult {
        notes,
        model_name: shared.status_text().model_name,
        step_us: shared.last_step_us.load(Ordering::Relaxed),
        primer_us: shared.last_primer_us.load(Ordering::Relaxed),
        late_notes: shared.late_notes.load(Ordering::Relaxed),
    })
}

/// Waits until `done` holds or `limit` passes.
fn wait_until(limit: Duration, done: impl Fn() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
}
