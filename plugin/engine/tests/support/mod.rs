//! A jam driven in memory, shared by the engine's integration tests: the audio side in simulated
//! blocks, the real worker thread with a fixed seed, ONNX Runtime from `target/onnxruntime`
//! (`cargo xtask fetch-ort`).

// Each test crate uses the helpers it needs.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use antiphon_engine::{
    AudioSettings, HostTransport, InputEvent, Instance, ModelChoice, OutKind, Shared, WorkerConfig,
    WorkerStatus,
};

pub const SAMPLE_RATE: f64 = 48_000.0;
pub const BLOCK: u32 = 512;

/// Where `cargo xtask fetch-ort` puts the runtime.
pub fn runtime_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/onnxruntime")
}

/// An output event at an absolute sample position.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Heard {
    /// Absolute sample.
    pub sample: u64,
    /// On or off.
    pub kind: OutKind,
    /// MIDI channel index.
    pub channel: u8,
    /// MIDI key.
    pub key: u8,
}

/// Drives one engine instance block by block.
pub struct Jam {
    /// The engine.
    pub instance: Instance,
    /// The audio settings of every block.
    pub settings: AudioSettings,
    /// Absolute sample of the next block.
    pub sample: u64,
    /// Host tempo.
    pub tempo_bpm: f64,
    /// Host position of the next block, when the transport plays.
    pub pos_beats: Option<f64>,
    /// Everything the engine sent.
    pub heard: Vec<Heard>,
    /// (beats, event) of input waiting to be played.
    pub queued: Vec<(f64, InputEvent)>,
}

impl Jam {
    /// A jam with the shipped default model.
    pub fn start() -> Self {
        Self::start_with(ModelChoice::Default, |_| {})
    }

    /// A jam with `model`, after `setup` set the shared settings, once the model is ready.
    pub fn start_with(model: ModelChoice, setup: impl FnOnce(&Shared)) -> Self {
        let shared = Arc::new(Shared::default());
        setup(&shared);
        let config = WorkerConfig {
            model,
            custom_file: None,
            runtime_dirs: vec![runtime_dir()],
            seed: Some(7),
        };
        let instance = antiphon_engine::start(shared, config).expect("worker starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        while instance.shared.status() == WorkerStatus::Loading && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(
            instance.shared.status(),
            WorkerStatus::Ready,
            "model not ready: {:?} (is ONNX Runtime in {}? run `cargo xtask fetch-ort`)",
            instance.shared.status_text(),
            runtime_dir().display()
        );
        Self {
            instance,
            settings: AudioSettings {
                out_channel: 1,
                ..AudioSettings::default()
            },
            sample: 0,
            tempo_bpm: 120.0,
            pos_beats: Some(0.0),
            heard: Vec::new(),
            queued: Vec::new(),
        }
    }

    pub fn shared(&self) -> &Shared {
        &self.instance.shared
    }

    pub fn samples_per_beat(&self) -> f64 {
        SAMPLE_RATE * 60.0 / self.tempo_bpm
    }

    /// Queues the one-bar call C4 D4 E4 F4 from `start` (quarter notes, each half a beat).
    pub fn call(&mut self, start: f64) {
        for (i, key) in [60, 62, 64, 65].into_iter().enumerate() {
            self.note(key, start + i as f64, start + 0.5 + i as f64);
        }
    }

    /// Queues a note (beats on the timeline the blocks will follow).
    pub fn note(&mut self, key: u8, on: f64, off: f64) {
        self.queued.push((
            on,
            InputEvent::NoteOn {
                offset: 0,
                channel: 0,
                key,
                velocity: 100,
            },
        ));
        self.queued.push((
            off,
            InputEvent::NoteOff {
                offset: 0,
                channel: 0,
                key,
            },
        ));
        self.queued.sort_by(|a, b| a.0.total_cmp(&b.0));
    }

    /// Queues a momentary control at `beats`.
    pub fn control(&mut self, beats: f64, control: antiphon_engine::JamControl) {
        self.queued
            .push((beats, InputEvent::Control { offset: 0, control }));
        self.queued.sort_by(|a, b| a.0.total_cmp(&b.0));
    }

    /// Processes blocks until the host position reaches `beats`, giving the worker a look
    /// after every block (what a real-time host's pace gives it; the modes that play on the
    /// clock need it).
    pub fn run_synced_to(&mut self, beats: f64) {
        while self.pos_beats.is_some_and(|p| p < beats) {
            self.block();
            self.sync();
        }
    }

    /// Processes one block; returns its start in beats.
    pub fn block(&mut self) -> f64 {
        let transport = HostTransport {
            playing: self.pos_beats.is_some(),
            tempo_bpm: Some(self.tempo_bpm),
            pos_beats: self.pos_beats,
            time_sig: Some((4, 4)),
            bar_start_beats: None,
        };
        let spb = self.samples_per_beat();
        let start = self.pos_beats.unwrap_or(0.0);
        let end = start + f64::from(BLOCK) / spb;
        let mut input = Vec::new();
        if self.pos_beats.is_some() {
            while let Some(&(beats, event)) = self.queued.first() {
                if beats >= end {
                    break;
                }
                let offset = ((beats - start) * spb)
                    .round()
                    .clamp(0.0, f64::from(BLOCK - 1)) as u32;
                input.push(event.with_offset(offset));
                self.queued.remove(0);
            }
        }
        let block_start = self.process(&transport, input);
        if let Some(pos) = self.pos_beats.as_mut() {
            *pos = end;
        }
        block_start
    }

    /// Processes one block of `input` under `transport` at [`Jam::sample`]: records what the
    /// engine sent in [`Jam::heard`], moves on a block, and (after input) [`Jam::sync`]s.
    /// Returns the block's start in beats.
    pub fn process(&mut self, transport: &HostTransport, input: Vec<InputEvent>) -> f64 {
        let had_input = !input.is_empty();
        let out =
            self.instance
                .audio
                .process_block(transport, BLOCK, SAMPLE_RATE, &self.settings, input);
        let block_start = out.time.start_beats;
        for e in out.events {
            self.heard.push(Heard {
                sample: self.sample + u64::from(e.offset),
                kind: e.kind,
                channel: e.channel,
                key: e.key,
            });
        }
        self.sample += u64::from(BLOCK);
        if had_input {
            self.sync();
        }
        block_start
    }

    /// Gives the worker the time a real-time host would: waits until it has taken in every
    /// captured event.
    pub fn sync(&self) {
        let captured = self.instance.audio.captured_events();
        assert!(
            self.shared()
                .wait_for_worker(captured, Duration::from_secs(20)),
            "the worker fell behind"
        );
    }

    /// Processes blocks until the host position reaches `beats`.
    pub fn run_to(&mut self, beats: f64) {
        while self.pos_beats.is_some_and(|p| p < beats) {
            self.block();
        }
    }

    /// Waits (real time) until the worker has generated `count` answers.
    pub fn wait_for_answers(&self, count: u64) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.shared().answers_generated.load(Ordering::Acquire) < count {
            assert!(
                Instant::now() < deadline,
                "the worker generated no answer in time"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    pub fn answer_notes(&self) -> Vec<Heard> {
        self.heard
            .iter()
            .copied()
            .filter(|h| h.channel == 1)
            .collect()
    }
}

/// Pairs ons with offs per key; panics on an off without on; returns (on, off) samples.
pub fn pairs(events: &[Heard]) -> (Vec<(u64, u64, u8)>, Vec<Heard>) {
    let mut open: Vec<Heard> = Vec::new();
    let mut done = Vec::new();
    for &e in events {
        match e.kind {
            OutKind::On => {
                assert!(
                    !open
                        .iter()
                        .any(|o| o.channel == e.channel && o.key == e.key),
                    "double note-on {e:?}"
                );
                open.push(e);
            }
            OutKind::Off => {
                let i = open
                    .iter()
                    .position(|o| o.channel == e.channel && o.key == e.key)
                    .unwrap_or_else(|| panic!("note-off without note-on: {e:?}"));
                let on = open.remove(i);
                assert!(e.sample >= on.sample);
                done.push((on.sample, e.sample, e.key));
            }
        }
    }
    (done, open)
}

/// Waits (real time, up to 20 s) until `ready` holds; panics with `what` otherwise.
pub fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

impl Jam {
    /// Waits until the worker reports `status`.
    pub fn wait_for_status(&self, status: WorkerStatus) {
        wait_until(&format!("status {status:?}"), || {
            self.shared().status() == status
        });
    }

    /// Answers generated so far (continuations included).
    pub fn generated(&self) -> u64 {
        self.shared().answers_generated.load(Ordering::Acquire)
    }

    /// Answers that started playing so far.
    pub fn played(&self) -> u64 {
        self.shared().answers_played.load(Ordering::Acquire)
    }

    /// The notes heard on `channel`.
    pub fn on_channel(&self, channel: u8) -> Vec<Heard> {
        self.heard
            .iter()
            .copied()
            .filter(|h| h.channel == channel)
            .collect()
    }

    /// Processes blocks until an answer note on `channel` sounds at a block boundary, before
    /// `limit_beats`; returns whether one did.
    pub fn run_until_sounding(&mut self, channel: u8, limit_beats: f64) -> bool {
        while self.pos_beats.is_some_and(|p| p < limit_beats) {
            self.block();
            if !pairs(&self.on_channel(channel)).1.is_empty() {
                return true;
            }
        }
        false
    }
}
