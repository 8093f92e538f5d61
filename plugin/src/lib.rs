//! Antiphon as a CLAP and VST3 plugin (nice-plug).
//!
//! The plugin is thin: `process` hands the host's notes to the engine's audio side and sends back
//! what it returns; the worker thread (started in `activate`) owns the model. MIDI goes in and
//! out; the stereo audio output stays silent so every host accepts a note effect.

pub mod clap_shim;
pub mod editor;
pub mod events;
pub mod params;
pub mod vst3_shim;

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use antiphon_engine::{
    AudioSettings, HostTransport, InputEvent, Instance, ModelChoice, Shared, WorkerConfig,
};
use antiphon_models::runtime;
use nice_plug::prelude::*;

use crate::events::{CcAction, CcControls, Incoming, classify, control_change, to_note_event};
use crate::params::{AnswerStartParam, AntiphonParams, LearnParam};

/// Environment variable naming a `.onnx` model to load when the project has none chosen.
pub const MODEL_ENV: &str = "ANTIPHON_MODEL";

/// Nats of note-start bias at Density ±100 %.
const DENSITY_FULL_NATS: f32 = 3.0;

/// Capacity for passed-through non-note events per block.
const PASSTHROUGH_CAPACITY: usize = 1024;
/// Offline rendering: the longest wait for the worker after a block. Generous, because a bounce
/// may run far faster than real time and a long answer takes a while to generate.
const OFFLINE_WORKER_WAIT: Duration = Duration::from_secs(5);
/// Offline rendering: the longest wait for the first model to load before the first block.
const OFFLINE_MODEL_WAIT: Duration = Duration::from_secs(30);
/// How often an offline wait for the model looks again.
const OFFLINE_POLL: Duration = Duration::from_micros(500);

/// The plugin instance.
pub struct Antiphon {
    /// Parameters and persisted fields.
    params: Arc<AntiphonParams>,
    /// Atomics shared with the worker and editor; lives as long as the plugin.
    shared: Arc<Shared>,
    /// The engine, once activated: audio side plus worker.
    instance: Option<Instance>,
    /// Sample rate of the current activation, in Hz.
    sample_rate_hz: f32,
    /// Non-note MIDI events of this block to pass on; capacity fixed.
    passthrough: Vec<PluginNoteEvent<Self>>,
    /// The momentary control parameters as seen in the last block (a control acts when its
    /// parameter switches on).
    controls_on: [bool; 4],
    /// Whether the host renders offline (faster than real time): then `process` waits for the
    /// worker after each block so answers are never late.
    offline: bool,
    /// Learned CCs and learning, as the audio thread sees them.
    cc_controls: CcControls,
    /// The MIDI Learn parameter as seen last (learning is armed when it changes to a control).
    learn_seen: LearnParam,
}

impl Default for Antiphon {
    fn default() -> Self {
        Self {
            params: Arc::new(AntiphonParams::default()),
            shared: Arc::new(Shared::default()),
            instance: None,
            sample_rate_hz: 48_000.0,
            passthrough: Vec::with_capacity(PASSTHROUGH_CAPACITY),
            controls_on: [false; 4],
            offline: false,
            cc_controls: CcControls::default(),
            learn_seen: LearnParam::Off,
        }
    }
}

impl Antiphon {
    /// The project's own model file: its saved `model_path`, else `ANTIPHON_MODEL`, else none.
    /// Model = Custom File loads it; so does Model = Melody (the default), as every project did
    /// before the Model parameter existed.
    fn custom_file(&self) -> Option<PathBuf> {
        let saved = self
            .params
            .model_path
            .read()
            .map(|p| p.clone())
            .unwrap_or_default();
        let path = if saved.trim().is_empty() {
            std::env::var(MODEL_ENV).unwrap_or_default()
        } else {
            saved
        };
        let path = path.trim();
        (!path.is_empty()).then(|| PathBuf::from(path))
    }

    /// Copies the parameters the worker reads into the shared settings. Runs in `process`:
    /// atomic stores only.
    fn publish_settings(&self) {
        let p = &self.params;
        let s = &self.shared.settings;
        s.set_model_pick(p.model.value().pick());
        s.set_beam(p.beam());
        s.set_pitch_mask(p.pitch_mask());
        s.set_chord_input(p.chord_input());
        s.temperature
            .store(p.temperature.value(), Ordering::Relaxed);
        s.silence_beats
            .store(p.silence_beats.value(), Ordering::Relaxed);
        s.answer_bars
            .store(p.answer_bars.value().max(0) as u32, Ordering::Relaxed);
        s.max_call_bars
            .store(p.max_call_bars.value().max(1) as u32, Ordering::Relaxed);
        s.harmonize.store(p.harmonize.value(), Ordering::Relaxed);
        s.threshold.store(p.threshold.value(), Ordering::Relaxed);
        s.set_mode(p.mode.value().mode());
        s.trade_bars
            .store(p.trade_bars.value().max(1) as u32, Ordering::Relaxed);
        s.loop_answer
            .store(p.loop_answer.value(), Ordering::Relaxed);
        s.min_call_beats
            .store(p.min_call_beats.value().max(0.0), Ordering::Relaxed);
        s.answer_on_beat.store(
            p.answer_start.value() == AnswerStartParam::Beat,
            Ordering::Relaxed,
        );
        s.seed
            .store(p.seed.value().max(0) as u64, Ordering::Relaxed);
        s.density_nats
            .store(p.density.value() * DENSITY_FULL_NATS, Ordering::Relaxed);
    }

    /// The settings the audio side needs for this block.
    fn audio_settings(&self) -> AudioSettings {
        let p = &self.params;
        AudioSettings {
            midi_thru: p.midi_thru.value(),
            out_channel: (p.out_channel.value().clamp(1, 16) - 1) as u8,
            interrupt: p.interrupt.value(),
            bypassed: p.bypass.value(),
            fallback_tempo_bpm: f64::from(p.tempo.value()),
            listen_channel: match p.listen_channel.value() {
                c @ 1..=16 => Some((c - 1) as u8),
                _ => None,
            },
            continue_key: u8::try_from(p.continue_key.value()).ok(),
        }
    }
}

/// Offline rendering only: waits (sleeping, allocating nothing) while the worker loads its
/// first model, so the first call of a bounce is answered; gives up after `limit`.
fn wait_for_model(shared: &Shared, limit: Duration) {
    if shared.status() != antiphon_engine::WorkerStatus::Loading {
        return;
    }
    let deadline = std::time::Instant::now() + limit;
    while shared.status() == antiphon_engine::WorkerStatus::Loading
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(OFFLINE_POLL);
    }
}

/// The engine's view of nice-plug's transport.
fn host_transport(transport: &Transport) -> HostTransport {
    HostTransport {
        playing: transport.playing,
        tempo_bpm: transport.tempo,
        pos_beats: transport.pos_beats(),
        time_sig: transport
            .time_sig_numerator
            .zip(transport.time_sig_denominator)
            .and_then(|(n, d)| Some((u32::try_from(n).ok()?, u32::try_from(d).ok()?))),
        bar_start_beats: transport.bar_start_pos_beats(),
    }
}

impl Plugin for Antiphon {
    const NAME: &'static str = "Antiphon";
    const VENDOR: &'static str = "Antiphon";
    const URL: &'static str = "https://antiphon.invalid";
    const EMAIL: &'static str = "antiphon@antiphon.invalid";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    const AUDIO_IO_LAYOUTS: &'static [AudioIOLayout] = &[
        AudioIOLayout {
            main_input_channels: None,
            main_output_channels: NonZeroU32::new(2),
            ..AudioIOLayout::const_default()
        },
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(2),
            main_output_channels: NonZeroU32::new(2),
            ..AudioIOLayout::const_default()
        },
    ];

    const MIDI_INPUT: MidiConfig = MidiConfig::MidiCCs;
    const MIDI_OUTPUT: MidiConfig = MidiConfig::MidiCCs;
    const SAMPLE_ACCURATE_AUTOMATION: bool = false;

    type Editor = editor::AntiphonEditor;
    type SysExMessage = ();
    type BackgroundTask = ();

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    fn editor(&mut self, _async_executor: AsyncExecutor<Self>) -> Option<Self::Editor> {
        Some(editor::AntiphonEditor::new(
            self.params.clone(),
            self.shared.clone(),
        ))
    }

    fn activate(
        &mut self,
        _audio_io_layout: &AudioIOLayout,
        buffer_config: &BufferConfig,
        _context: &mut impl ActivateContext<Self>,
    ) -> bool {
        self.sample_rate_hz = buffer_config.sample_rate;
        self.offline = buffer_config.process_mode == ProcessMode::Offline;
        self.shared.offline.store(self.offline, Ordering::Relaxed);
        // A value restored with the project does not arm learning; only a change does.
        self.learn_seen = self.params.midi_learn.value();
        // The Model parameter is published here and in every block; the worker follows it.
        self.publish_settings();
        let custom_file = self.custom_file();
        match &self.instance {
            Some(instance) => instance.worker.set_custom_file(custom_file),
            None => {
                let config = WorkerConfig {
                    model: ModelChoice::Default,
                    custom_file,
                    runtime_dirs: runtime::module_dir().into_iter().collect(),
                    seed: None,
                };
                match antiphon_engine::start(self.shared.clone(), config) {
                    Ok(instance) => {
                        self.instance = Some(instance);
                    }
                    Err(error) => {
                        nice_error!("Antiphon: could not start its worker thread: {error}");
                        return false;
                    }
                }
            }
        }
        true
    }

    fn reset(&mut self) {
        if let Some(instance) = &mut self.instance {
            instance.audio.release_all_next_block();
        }
    }

    fn deactivate(&mut self) {
        // No events can be sent now: every sounding note ends at the start of the next block.
        if let Some(instance) = &mut self.instance {
            instance.audio.release_all_next_block();
        }
        // Not on the audio thread: the jam's counters, in the log, where a long session can be
        // judged by them afterwards.
        let s = &self.shared;
        nice_log!(
            "Antiphon: deactivated; answers generated {}, answers played {}, late notes {}, \
             dropped input events {}",
            s.answers_generated.load(Ordering::Relaxed),
            s.answers_played.load(Ordering::Relaxed),
            s.late_notes.load(Ordering::Relaxed),
            s.dropped_events.load(Ordering::Relaxed)
        );
    }

    fn process(
        &mut self,
        buffer: &mut Buffer,
        _aux: &mut AuxiliaryBuffers,
        context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        for channel in buffer.as_slice() {
            channel.fill(0.0);
        }
        self.publish_settings();
        let settings = self.audio_settings();
        let transport = host_transport(context.transport());
        let len_samples = buffer.samples() as u32;
        let sample_rate = f64::from(self.sample_rate_hz);
        let Some(instance) = self.instance.as_mut() else {
            return ProcessStatus::Normal;
        };

        if self.offline {
            wait_for_model(&self.shared, OFFLINE_MODEL_WAIT);
        }
        // MIDI learn: armed by the editor, or by the MIDI Learn parameter switching to a control.
        let learn = self.params.midi_learn.value();
        if learn != self.learn_seen {
            self.learn_seen = learn;
            if let Some(control) = learn.control() {
                self.params.arm_learn(Some(control));
            }
        }
        self.cc_controls.assigned = self.params.learned_ccs();
        self.cc_controls.learning = self.params.learning();
        let mut learned = None;

        // Momentary controls act at the block's start when their parameter switches on.
        let mut switched_on = [None; 4];
        for (i, (param, control)) in self.params.control_params().into_iter().enumerate() {
            let on = param.value();
            if on && !self.controls_on[i] {
                switched_on[i] = Some(InputEvent::Control { offset: 0, control });
            }
            self.controls_on[i] = on;
        }
        let passthrough = &mut self.passthrough;
        passthrough.clear();
        let pass_others = settings.midi_thru || settings.bypassed;
        let controls = switched_on.into_iter().flatten();
        let cc_controls = &mut self.cc_controls;
        let learned_slot = &mut learned;
        let input = controls.chain(std::iter::from_fn(|| context.next_event()).filter_map(
            |event| {
                // A learned CC is a control, not MIDI to pass on.
                if let Some((offset, cc, value)) = control_change(&event) {
                    match cc_controls.on_cc(cc, value) {
                        CcAction::Learned { control, cc } => {
                            *learned_slot = Some((control, cc));
                            return None;
                        }
                        CcAction::Trigger(control) => {
                            return Some(InputEvent::Control { offset, control });
                        }
                        CcAction::Consumed => return None,
                        CcAction::Pass => {}
                    }
                }
                match classify(event) {
                    Incoming::Note(note) => Some(note),
                    Incoming::Other(other) => {
                        if pass_others && passthrough.len() < PASSTHROUGH_CAPACITY {
                            passthrough.push(other);
                        }
                        None
                    }
                    Incoming::Ignore => None,
                }
            },
        ));
        let block =
            instance
                .audio
                .process_block(&transport, len_samples, sample_rate, &settings, input);
        let keep_alive = block.keep_alive;

        // Merge the engine's notes with passed-through events, both in time order.
        let mut others = self.passthrough.iter().peekable();
        for event in block.events {
            while let Some(other) = others.next_if(|o| o.timing() < event.offset) {
                let _ = context.try_send_event(*other);
            }
            let _ = context.try_send_event(to_note_event(event));
        }
        for other in others {
            let _ = context.try_send_event(*other);
        }

        if let Some((control, cc)) = learned {
            self.params.set_learned_cc(control, Some(cc));
            let _ = self.params.learning.compare_exchange(
                control as u8,
                params::NO_CC,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }

        // Offline, the host does not give the worker the time real time would: wait until it
        // has taken in this block's input and looked at the clock once more, so whatever it
        // plans from them (an answer is generated whole inside that look) is queued before the
        // next block. Waiting is allowed here, and the wait allocates nothing.
        if self.offline
            && let Some(instance) = &self.instance
        {
            let captured = instance.audio.captured_events();
            instance
                .shared
                .wait_for_worker(captured, OFFLINE_WORKER_WAIT);
        }

        if keep_alive {
            ProcessStatus::KeepAlive
        } else {
            ProcessStatus::Normal
        }
    }
}

impl ClapPlugin for Antiphon {
    const CLAP_ID: &'static str = "dev.antiphon.antiphon";
    const CLAP_DESCRIPTION: Option<&'static str> =
        Some("Hears your phrase and answers it with a trained LSTM, on the beat");
    const CLAP_MANUAL_URL: Option<&'static str> = None;
    const CLAP_SUPPORT_URL: Option<&'static str> = None;
    const CLAP_FEATURES: &'static [ClapFeature] = &[ClapFeature::NoteEffect, ClapFeature::Utility];
}

impl Vst3Plugin for Antiphon {
    const VST3_CLASS_ID: [u8; 16] = *b"AntiphonJamAnswr";
    const VST3_SUBCATEGORIES: &'static [Vst3SubCategory] =
        &[Vst3SubCategory::Instrument, Vst3SubCategory::Tools];
}

// The CLAP entry is `clap_shim`'s: nice-plug's plugin behind a thin layer that can send notes as
// raw MIDI. The VST3 entry is `vst3_shim`'s: nice-plug's plugin with its offline mode mended.
