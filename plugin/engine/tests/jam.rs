//! Whole jams driven in memory: the audio side in simulated blocks, the real worker thread with
//! the shipped model and a fixed seed, ONNX Runtime from `target/onnxruntime` (`cargo xtask
//! fetch-ort`).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use antiphon_engine::{
    AudioSettings, HostTransport, InputEvent, Instance, ModelChoice, OutKind, Shared, WorkerConfig,
    WorkerStatus,
};

const SAMPLE_RATE: f64 = 48_000.0;
const BLOCK: u32 = 512;

/// Where `cargo xtask fetch-ort` puts the runtime.
fn runtime_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/onnxruntime")
}

/// An output event at an absolute sample position.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Heard {
    sample: u64,
    kind: OutKind,
    channel: u8,
    key: u8,
}

/// Drives one engine instance block by block.
struct Jam {
    instance: Instance,
    settings: AudioSettings,
    sample: u64,
    tempo_bpm: f64,
    /// Host position of the next block, when the transport plays.
    pos_beats: Option<f64>,
    heard: Vec<Heard>,
    /// (beats, event) of input waiting to be played.
    queued: Vec<(f64, InputEvent)>,
}

impl Jam {
    fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let config = WorkerConfig {
            model: ModelChoice::Default,
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

    fn shared(&self) -> &Shared {
        &self.instance.shared
    }

    fn samples_per_beat(&self) -> f64 {
        SAMPLE_RATE * 60.0 / self.tempo_bpm
    }

    /// Queues a note (beats on the timeline the blocks will follow).
    fn note(&mut self, key: u8, on: f64, off: f64) {
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

    /// Processes one block; returns its start in beats.
    fn block(&mut self) -> f64 {
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
        let had_input = !input.is_empty();
        let out = self.instance.audio.process_block(
            &transport,
            BLOCK,
            SAMPLE_RATE,
            &self.settings,
            input,
        );
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
        if let Some(pos) = self.pos_beats.as_mut() {
            *pos = end;
        }
        if had_input {
            self.sync();
        }
        block_start
    }

    /// Gives the worker the time a real-time host would: waits until it has taken in every
    /// captured event.
    fn sync(&self) {
        let captured = self.instance.audio.captured_events();
        assert!(
            self.shared()
                .wait_for_worker(captured, Duration::from_secs(20)),
            "the worker fell behind"
        );
    }

    /// Processes blocks until the host position reaches `beats`.
    fn run_to(&mut self, beats: f64) {
        while self.pos_beats.is_some_and(|p| p < beats) {
            self.block();
        }
    }

    /// Waits (real time) until the worker has generated `count` answers.
    fn wait_for_answers(&self, count: u64) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.shared().answers_generated.load(Ordering::Acquire) < count {
            assert!(
                Instant::now() < deadline,
                "the worker generated no answer in time"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn answer_notes(&self) -> Vec<Heard> {
        self.heard
            .iter()
            .copied()
            .filter(|h| h.channel == 1)
            .collect()
    }
}

/// Pairs ons with offs per key; panics on an off without on; returns (on, off) samples.
fn pairs(events: &[Heard]) -> (Vec<(u64, u64, u8)>, Vec<Heard>) {
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

#[test]
fn given_a_one_bar_call_when_the_silence_passes_then_the_answer_fills_the_next_bar_on_the_16th_grid()
 {
    let mut jam = Jam::start();
    for (i, key) in [60, 62, 64, 65].into_iter().enumerate() {
        jam.note(key, 4.0 + i as f64, 4.5 + i as f64);
    }
    jam.run_to(7.6);
    jam.wait_for_answers(1);
    jam.run_to(17.0);

    let answer = jam.answer_notes();
    let (notes, open) = pairs(&answer);
    assert!(open.is_empty(), "answer notes left sounding: {open:?}");
    assert!(!notes.is_empty(), "the model answered with silence");
    let spb = jam.samples_per_beat();
    for &(on, off, key) in &notes {
        assert!(
            on >= (12.0 * spb) as u64 && on < (16.0 * spb) as u64,
            "note {key} at {on} outside bar 12..16"
        );
        assert_eq!(on % 6000, 0, "note {key} at {on} is off the 16th grid");
        assert!(off <= (16.0 * spb) as u64);
    }
    // MIDI thru: the call came back on channel 0 at the samples it went in.
    let thru: Vec<u64> = jam
        .heard
        .iter()
        .filter(|h| h.channel == 0 && h.kind == OutKind::On)
        .map(|h| h.sample)
        .collect();
    assert_eq!(thru, vec![96_000, 120_000, 144_000, 168_000]);
    assert!(jam.shared().last_step_us.load(Ordering::Relaxed) > 0.0);
}

#[test]
fn given_the_player_goes_on_inside_the_silence_when_the_call_ends_later_then_only_the_whole_call_is_answered()
 {
    let mut jam = Jam::start();
    jam.note(60, 4.0, 4.5);
    jam.note(62, 5.0, 5.5);
    jam.run_to(5.6);
    // A speculative answer after each release; the one to the two-note call would start at 8.
    jam.wait_for_answers(2);
    jam.note(64, 6.25, 6.75); // inside the silence: the call goes on
    jam.note(67, 7.5, 9.0); // ...and crosses the bar line: the call ends at 10.0
    jam.run_to(9.1);
    jam.wait_for_answers(4);
    // Notes from 4 to 9: two bars of call, so two bars of answer from 12.
    jam.run_to(21.0);
    let answer = jam.answer_notes();
    let (notes, open) = pairs(&answer);
    assert!(open.is_empty());
    let spb = jam.samples_per_beat();
    for &(on, _, key) in &notes {
        assert!(
            on >= (12.0 * spb) as u64,
            "note {key} at {on}: the dropped answer (from beat 8) played"
        );
        assert!(
            on < (16.0 * spb) as u64 * 2,
            "note {key} at {on}: answer too long"
        );
    }
}

#[test]
fn given_an_answer_playing_when_the_transport_stops_then_every_answer_note_ends_in_the_first_stopped_block()
 {
    let mut jam = Jam::start();
    jam.settings.out_channel = 1;
    jam.note(60, 0.0, 3.9);
    jam.run_to(4.0);
    jam.wait_for_answers(1);
    // Answer: bar 8..12 (call ended at 4.9). Play into it and find a moment with a note sounding.
    let spb = jam.samples_per_beat();
    let mut stop_at = None;
    while jam.pos_beats.unwrap() < 12.0 {
        jam.block();
        let (_, open) = pairs(&jam.answer_notes());
        if !open.is_empty() {
            stop_at = Some(jam.sample);
            break;
        }
    }
    let stop_at = stop_at.expect("no answer note sounded");
    jam.pos_beats = None; // transport stops
    jam.block();
    let (_, open) = pairs(&jam.answer_notes());
    assert!(open.is_empty(), "still sounding after stop: {open:?}");
    assert!(
        jam.heard
            .iter()
            .filter(|h| h.sample >= stop_at)
            .all(|h| h.kind == OutKind::Off)
    );
    for _ in 0..200 {
        jam.block();
    }
    assert!(
        jam.heard
            .iter()
            .filter(|h| h.sample >= stop_at)
            .all(|h| h.kind == OutKind::Off),
        "a note started after the stop"
    );
    let _ = spb;
}

#[test]
fn given_an_answer_playing_when_the_host_loops_back_then_its_notes_end_at_the_jump() {
    let mut jam = Jam::start();
    jam.note(60, 0.0, 3.9);
    jam.run_to(4.0);
    jam.wait_for_answers(1);
    let mut jumped_at = None;
    while jam.pos_beats.unwrap() < 12.0 {
        jam.block();
        if !pairs(&jam.answer_notes()).1.is_empty() {
            jumped_at = Some(jam.sample);
            break;
        }
    }
    let jumped_at = jumped_at.expect("no answer note sounded");
    jam.pos_beats = Some(0.0); // loop back to the start
    jam.block();
    assert!(
        pairs(&jam.answer_notes()).1.is_empty(),
        "notes still sounding after the loop jump"
    );
    jam.run_to(13.0);
    assert!(
        jam.answer_notes()
            .iter()
            .filter(|h| h.sample >= jumped_at)
            .all(|h| h.kind == OutKind::Off),
        "the old answer went on after the jump"
    );
}

#[test]
fn given_a_tempo_change_inside_the_answer_when_it_plays_then_notes_stay_on_the_beat_grid() {
    let mut jam = Jam::start();
    jam.note(60, 0.0, 3.9);
    jam.run_to(4.0);
    jam.wait_for_answers(1);
    jam.run_to(8.0);
    // From beat 8 the tempo is 90 BPM: 32,000 samples per beat, a 16th is 8,000 samples.
    let switch_sample = jam.sample;
    let switch_beats = jam.pos_beats.unwrap();
    jam.tempo_bpm = 90.0;
    jam.run_to(13.0);
    for h in jam
        .answer_notes()
        .iter()
        .filter(|h| h.kind == OutKind::On && h.sample >= switch_sample)
    {
        let beats = switch_beats + (h.sample - switch_sample) as f64 / 32_000.0;
        let sixteenths = beats * 4.0;
        assert!(
            (sixteenths - sixteenths.round()).abs() < 1e-3,
            "note at beat {beats} is off the grid"
        );
    }
    assert!(pairs(&jam.answer_notes()).1.is_empty());
}

#[test]
fn given_a_stopped_transport_when_the_player_plays_then_the_own_clock_answers_on_its_bar_lines() {
    let mut jam = Jam::start();
    jam.pos_beats = None;
    // Own clock at 120 BPM from beat 0: play by sample position.
    let spb = jam.samples_per_beat();
    let mut events: Vec<(u64, InputEvent)> = Vec::new();
    for (i, key) in [67u8, 65, 64, 62].into_iter().enumerate() {
        let on = ((i as f64) * spb) as u64;
        let off = ((i as f64 + 0.5) * spb) as u64;
        events.push((
            on,
            InputEvent::NoteOn {
                offset: 0,
                channel: 0,
                key,
                velocity: 90,
            },
        ));
        events.push((
            off,
            InputEvent::NoteOff {
                offset: 0,
                channel: 0,
                key,
            },
        ));
    }
    let transport = HostTransport {
        playing: false,
        tempo_bpm: Some(120.0),
        ..Default::default()
    };
    while jam.sample < (13.0 * spb) as u64 {
        let block_end = jam.sample + u64::from(BLOCK);
        let input: Vec<InputEvent> = events
            .iter()
            .filter(|(s, _)| *s >= jam.sample && *s < block_end)
            .map(|&(s, e)| e.with_offset((s - jam.sample) as u32))
            .collect();
        let had_input = !input.is_empty();
        let out =
            jam.instance
                .audio
                .process_block(&transport, BLOCK, SAMPLE_RATE, &jam.settings, input);
        for e in out.events {
            jam.heard.push(Heard {
                sample: jam.sample + u64::from(e.offset),
                kind: e.kind,
                channel: e.channel,
                key: e.key,
            });
        }
        jam.sample = block_end;
        if had_input {
            jam.sync();
        }
    }
    let (notes, open) = pairs(&jam.answer_notes());
    assert!(open.is_empty());
    assert!(!notes.is_empty(), "no answer without the transport");
    for (on, _, _) in notes {
        // The call ends at 4.5 beats; the answer starts at the bar line at beat 8 of the own clock.
        assert!(
            on >= (8.0 * spb) as u64,
            "answer note at {on} before the bar line"
        );
        assert_eq!(on % 6000, 0);
    }
}
