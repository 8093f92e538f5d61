//! Transport changes in the middle of a block: the host sends a `CLAP_EVENT_TRANSPORT` at an
//! offset inside the block (a seek, a stop, a tempo change) while an answer note of Antiphon
//! sounds. nice-plug splits the block there, so the plugin must treat the rest of the block as
//! a new block on the new timeline.
//!
//! Checked through the built `.clap` (with `assert_process_allocs`), Call and Response with the
//! Melody model, 2,048-sample blocks paced in real time at 48 kHz, 120 BPM, the event at offset
//! [`EVENT_OFFSET`] of its block (on no grid line):
//! - a seek or a stop ends the answer notes sounding at it on the event's own sample, and no
//!   answer note of the old timeline starts after it;
//! - after a seek, the next call is answered on the 16th grid of the new timeline, in the window
//!   the design puts it;
//! - after a tempo change, the answer goes on on the 16th grid of the new tempo;
//! - a note the player starts after the event in the same block passes through on its sample;
//! - every note-on gets its note-off, and every block's events are in order and inside it.

use std::time::{Duration, Instant};

use antiphon_tests::antiphon::{
    ANSWER_CHANNEL, AnswerWindow, BEATS_PER_BAR, CALL_CHANNEL, DEFAULT_SILENCE_BEATS, SAMPLE_RATE,
    TEMPO_BPM, assert_no_stuck_notes, check_thru, describe, expected_answer_window,
    load_with_channel_2_thru, one_bar_call,
};
use antiphon_tests::events::{InputEvent, InputKind, OutEvent, OutKind};
use antiphon_tests::host::PluginInstance;
use antiphon_tests::jam::{NoteLedger, PhraseNote, SentInput};
use antiphon_tests::transport::TransportInfo;

/// Samples per block.
const BLOCK: u32 = 2_048;
/// Where in its block the transport event lies.
const EVENT_OFFSET: u32 = 1_001;
/// Where the first call starts (its answer: beats 12..16).
const FIRST_CALL_BEATS: f64 = 4.0;
/// Where a seek goes.
const SEEK_TO_BEATS: f64 = 40.0;
/// The tempo after a tempo change.
const NEW_TEMPO_BPM: f64 = 150.0;
/// How far an answer note-on may be from its 16th grid line, in samples.
const GRID_TOLERANCE_SAMPLES: f64 = 0.5 + 1e-6;

/// One stretch of the host's timeline: from `start_sample` on, the transport is `transport`
/// (its `position_beats` at `start_sample`).
#[derive(Debug, Clone, Copy)]
struct Segment {
    /// Session sample where it starts.
    start_sample: u64,
    /// The transport from there.
    transport: TransportInfo,
}

/// The host's timeline, piece by piece.
#[derive(Debug, Default)]
struct Timeline {
    /// In order of `start_sample`; never empty once playing.
    segments: Vec<Segment>,
}

impl Timeline {
    /// The segment that holds `sample`.
    fn at(&self, sample: u64) -> Segment {
        *self
            .segments
            .iter()
            .rev()
            .find(|s| s.start_sample <= sample)
            .expect("a timeline from sample 0")
    }

    /// The transport at `sample` (position advanced while playing).
    fn transport_at(&self, sample: u64) -> TransportInfo {
        let s = self.at(sample);
        let mut t = s.transport;
        if t.playing {
            t.position_beats += (sample - s.start_sample) as f64 / samples_per_beat(t.tempo_bpm);
        }
        t
    }

    /// The song position at `sample`, in beats.
    fn beats_at(&self, sample: u64) -> f64 {
        self.transport_at(sample).position_beats
    }

    /// The session sample where the timeline reaches `beats` (in the segment that holds it,
    /// counting from `from_sample`'s segment).
    fn sample_at(&self, from_sample: u64, beats: f64) -> u64 {
        let s = self.at(from_sample);
        let t = s.transport;
        s.start_sample + ((beats - t.position_beats) * samples_per_beat(t.tempo_bpm)).round() as u64
    }
}

/// Samples per beat at `tempo_bpm`.
fn samples_per_beat(tempo_bpm: f64) -> f64 {
    SAMPLE_RATE * 60.0 / tempo_bpm
}

/// What a host does in the middle of a block.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Change {
    /// Seek to [`SEEK_TO_BEATS`], playing on.
    Seek,
    /// Stop.
    Stop,
    /// [`NEW_TEMPO_BPM`] from here, the position going on.
    Tempo,
}

/// A jam through the built plugin, with the timeline it was played on.
struct MidBlockJam {
    /// The plugin, processing.
    plugin: PluginInstance,
    /// The host's timeline.
    timeline: Timeline,
    /// Session sample of the next block.
    now_sample: u64,
    /// Inputs still to send, at session samples.
    pending: Vec<SentInput>,
    /// Everything sent.
    sent: Vec<SentInput>,
    /// Everything the plugin sent.
    outputs: Vec<OutEvent>,
    /// Blocks with an event out of order or outside the block.
    bad_blocks: Vec<String>,
    /// Wall-clock start, for real-time pacing.
    started: Instant,
}

impl MidBlockJam {
    /// Loads the plugin ("Output Channel" 2, thru on), activates it and plays from beat 0.
    fn start() -> Self {
        let mut plugin = load_with_channel_2_thru();
        plugin.activate(SAMPLE_RATE, BLOCK, BLOCK).unwrap();
        plugin.start_processing().unwrap();
        Self {
            plugin,
            timeline: Timeline {
                segments: vec![Segment {
                    start_sample: 0,
                    transport: TransportInfo::playing(TEMPO_BPM, 0.0),
                }],
            },
            now_sample: 0,
            pending: Vec::new(),
            sent: Vec::new(),
            outputs: Vec::new(),
            bad_blocks: Vec::new(),
            started: Instant::now(),
        }
    }

    /// Schedules `notes` (beats of the timeline as it stands at the current sample).
    fn schedule(&mut self, notes: &[PhraseNote]) {
        for n in notes {
            let on = self.timeline.sample_at(self.now_sample, n.start_beats);
            let off = self
                .timeline
                .sample_at(self.now_sample, n.start_beats + n.length_beats);
            self.schedule_note(on, off, n.key);
        }
    }

    /// Schedules a note on the call channel at session samples `on..off`.
    fn schedule_note(&mut self, on: u64, off: u64, key: u8) {
        self.pending.push(SentInput {
            sample: on,
            kind: InputKind::NoteOn {
                channel: CALL_CHANNEL,
                key,
                velocity: 100.0 / 127.0,
            },
        });
        self.pending.push(SentInput {
            sample: off,
            kind: InputKind::NoteOff {
                channel: CALL_CHANNEL,
                key,
                velocity: 0.0,
            },
        });
    }

    /// Processes one block (with `change` at [`EVENT_OFFSET`], when given), paced in real time.
    fn block(&mut self, change: Option<Change>) {
        let start = self.now_sample;
        let end = start + u64::from(BLOCK);
        let header = self.timeline.transport_at(start);
        let mut events: Vec<InputEvent> = Vec::new();
        if let Some(change) = change {
            let at = start + u64::from(EVENT_OFFSET);
            let mut t = self.timeline.transport_at(at);
            match change {
                Change::Seek => t.position_beats = SEEK_TO_BEATS,
                Change::Stop => t.playing = false,
                Change::Tempo => t.tempo_bpm = NEW_TEMPO_BPM,
            }
            self.timeline.segments.push(Segment {
                start_sample: at,
                transport: t,
            });
            events.push(InputEvent {
                offset_samples: EVENT_OFFSET,
                kind: InputKind::Transport(t),
            });
        }
        let (due, later): (Vec<SentInput>, Vec<SentInput>) =
            self.pending.iter().partition(|i| i.sample < end);
        self.pending = later;
        for input in &due {
            events.push(InputEvent {
                offset_samples: (input.sample - start) as u32,
                kind: input.kind,
            });
        }
        events.sort_by_key(|e| e.offset_samples);
        self.sent.extend(due);
        let out = self.plugin.process(BLOCK, &events, Some(&header)).unwrap();
        let mut last = 0;
        for n in &out.notes {
            if n.sample < last || n.sample >= end || n.sample < start {
                self.bad_blocks
                    .push(format!("block at {start}: {:?}", out.notes));
                break;
            }
            last = n.sample;
        }
        if out.out_of_block_events > 0 {
            self.bad_blocks
                .push(format!("block at {start}: events outside it"));
        }
        self.outputs.extend(out.notes);
        self.now_sample = end;
        let due = Duration::from_secs_f64(end as f64 / SAMPLE_RATE);
        if let Some(wait) = due.checked_sub(self.started.elapsed()) {
            std::thread::sleep(wait);
        }
    }

    /// Runs blocks until the timeline reaches `beats` (in the current segment).
    fn run_until_beats(&mut self, beats: f64) {
        while self.timeline.beats_at(self.now_sample) < beats {
            self.block(None);
        }
    }

    /// Answer notes sounding at the start of the next block: (key, on sample).
    fn answer_sounding(&self) -> Vec<(u8, u64)> {
        let events: Vec<OutEvent> = self.answer().collect();
        NoteLedger::new(&events)
            .unpaired_ons
            .iter()
            .map(|e| (e.key, e.sample))
            .collect()
    }

    /// The answer's note events.
    fn answer(&self) -> impl Iterator<Item = OutEvent> + '_ {
        self.outputs
            .iter()
            .filter(|e| e.channel == ANSWER_CHANNEL)
            .copied()
    }

    /// Runs blocks until an answer note sounds at a block start from which the next 16th grid
    /// line lies beyond [`EVENT_OFFSET`] (answer notes end on grid lines, so none can end on its
    /// own before an event there), at most until `until_beats`; whether it came to that.
    fn run_until_answer_sounds(&mut self, until_beats: f64) -> bool {
        while self.timeline.beats_at(self.now_sample) < until_beats {
            self.block(None);
            if !self.answer_sounding().is_empty() && self.no_grid_line_before_the_event() {
                return true;
            }
        }
        false
    }

    /// Whether the next block has no 16th grid line in `0..=EVENT_OFFSET`.
    fn no_grid_line_before_the_event(&self) -> bool {
        let t = self.timeline.transport_at(self.now_sample);
        let line_beats = (t.position_beats * 4.0 - 1e-9).ceil() / 4.0;
        let to_line_samples = (line_beats - t.position_beats) * samples_per_beat(t.tempo_bpm);
        to_line_samples > f64::from(EVENT_OFFSET) + 1.0
    }

    /// Ends the jam: the transport stops at a block start, a quarter second runs, and the
    /// plugin is deactivated and reactivated (which ends what still sounds at the first block
    /// after).
    fn finish(&mut self) {
        let at = self.now_sample;
        let mut t = self.timeline.transport_at(at);
        if t.playing {
            t.playing = false;
            self.timeline.segments.push(Segment {
                start_sample: at,
                transport: t,
            });
        }
        let quarter_second = (0.25 * SAMPLE_RATE / f64::from(BLOCK)).ceil() as usize;
        for _ in 0..quarter_second {
            self.block(None);
        }
        self.plugin.stop_processing().unwrap();
        self.plugin.deactivate().unwrap();
        self.plugin.activate(SAMPLE_RATE, BLOCK, BLOCK).unwrap();
        self.plugin.start_processing().unwrap();
        self.block(None);
    }

    /// Asserts: every note ended, blocks clean, thru exact.
    fn assert_clean(&self) {
        assert!(self.bad_blocks.is_empty(), "{:?}", self.bad_blocks);
        assert_no_stuck_notes(
            &self.outputs,
            &[CALL_CHANNEL, ANSWER_CHANNEL],
            "mid-block jam",
        );
        check_thru(&self.sent, &self.outputs, CALL_CHANNEL).unwrap();
    }

    /// Asserts every answer note-on in `from..to` (session samples) lies on the 16th grid of
    /// the timeline and inside `window` (its beats); returns how many there are.
    fn assert_on_grid_in(&self, from: u64, to: u64, window: AnswerWindow, who: &str) -> usize {
        let ons: Vec<OutEvent> = self
            .answer()
            .filter(|e| e.kind == OutKind::On && (from..to).contains(&e.sample))
            .collect();
        for on in &ons {
            let t = self.timeline.transport_at(on.sample);
            let beats = t.position_beats;
            let off_grid_samples =
                (beats - (beats * 4.0).round() / 4.0).abs() * samples_per_beat(t.tempo_bpm);
            assert!(
                off_grid_samples <= GRID_TOLERANCE_SAMPLES,
                "{who}: answer note-on at sample {} (beat {beats}) is {off_grid_samples} samples \
                 off the 16th grid at {} BPM",
                on.sample,
                t.tempo_bpm
            );
            assert!(
                beats >= window.start_beats - 1e-6 && beats < window.end_beats,
                "{who}: answer note-on at beat {beats}, outside {window:?}"
            );
        }
        ons.len()
    }
}

/// Calls a model may answer with rests before a test gives up.
const ATTEMPTS: usize = 3;

/// Plays calls from [`FIRST_CALL_BEATS`] (each next one a bar after the previous window) until
/// an answer note sounds at least half a beat before its window ends; that window.
fn first_answer_sounding(jam: &mut MidBlockJam) -> AnswerWindow {
    let mut start_beats = FIRST_CALL_BEATS;
    for _ in 0..ATTEMPTS {
        let call = one_bar_call(start_beats);
        let window = expected_answer_window(&call, DEFAULT_SILENCE_BEATS, BEATS_PER_BAR);
        jam.schedule(&call);
        if jam.run_until_answer_sounds(window.end_beats - 0.5) {
            return window;
        }
        jam.run_until_beats(window.end_beats);
        start_beats = window.end_beats + BEATS_PER_BAR;
    }
    panic!(
        "no answer note sounded in {ATTEMPTS} calls:\n{}",
        describe(&jam.outputs, samples_per_beat(TEMPO_BPM))
    );
}

/// A seek or a stop at `EVENT_OFFSET` of the next block: the answer notes sounding end on its
/// sample, and nothing of that answer starts after it. Returns the event's sample.
fn cut_mid_block(jam: &mut MidBlockJam, change: Change) -> u64 {
    let sounding = jam.answer_sounding();
    let event_sample = jam.now_sample + u64::from(EVENT_OFFSET);
    jam.block(Some(change));
    jam.block(None);
    let offs: Vec<OutEvent> = jam
        .answer()
        .filter(|e| e.kind == OutKind::Off && e.sample >= event_sample - u64::from(EVENT_OFFSET))
        .collect();
    for (key, on_sample) in &sounding {
        let off = offs.iter().find(|e| e.key == *key).unwrap_or_else(|| {
            panic!("{change:?}: the answer note {key} (on at {on_sample}) did not end")
        });
        assert_eq!(
            off.sample, event_sample,
            "{change:?}: the answer note {key} sounding at the event ended at {}, not on the \
             event's sample {event_sample}",
            off.sample
        );
    }
    eprintln!(
        "{change:?} at sample {event_sample}: {} answer note(s) ended on it",
        sounding.len()
    );
    event_sample
}

#[test]
fn given_an_answer_sounding_when_the_host_seeks_in_the_middle_of_a_block_then_it_ends_on_that_sample_and_the_next_call_is_answered_on_the_new_timeline()
 {
    let mut jam = MidBlockJam::start();
    first_answer_sounding(&mut jam);
    let seek_sample = cut_mid_block(&mut jam, Change::Seek);
    // Calls on the new timeline until one is answered; nothing of the first answer comes
    // after the seek (every answer note-on after it lies in a window of the new calls).
    let mut answered = 0;
    let mut windows = Vec::new();
    let mut start_beats = SEEK_TO_BEATS + BEATS_PER_BAR;
    for _ in 0..ATTEMPTS {
        let call = one_bar_call(start_beats);
        let window = expected_answer_window(&call, DEFAULT_SILENCE_BEATS, BEATS_PER_BAR);
        jam.schedule(&call);
        let from = jam.timeline.sample_at(jam.now_sample, window.start_beats);
        jam.run_until_beats(window.end_beats + 0.5);
        windows.push(window);
        answered = jam.assert_on_grid_in(from, jam.now_sample, window, "after the seek");
        if answered > 0 {
            break;
        }
        start_beats = window.end_beats + BEATS_PER_BAR;
    }
    let before_windows = jam.timeline.sample_at(seek_sample, windows[0].start_beats);
    assert_eq!(
        jam.answer()
            .filter(|e| e.kind == OutKind::On && (seek_sample..before_windows).contains(&e.sample))
            .count(),
        0,
        "answer notes started after the seek, before the new call's answer"
    );
    let window = *windows.last().unwrap();
    jam.finish();
    jam.assert_clean();
    assert!(answered > 0, "the call after the seek was not answered");
    eprintln!("{answered} answer note-ons after the seek, in {window:?}");
}

#[test]
fn given_an_answer_sounding_when_the_host_stops_in_the_middle_of_a_block_then_it_ends_on_that_sample_and_a_later_note_in_the_block_passes_through_on_its_sample()
 {
    let mut jam = MidBlockJam::start();
    first_answer_sounding(&mut jam);
    // A key struck after the stop, in the same block, held for a beat.
    let event_sample = jam.now_sample + u64::from(EVENT_OFFSET);
    let key_on = event_sample + 300;
    jam.schedule_note(key_on, key_on + samples_per_beat(TEMPO_BPM) as u64, 72);
    cut_mid_block(&mut jam, Change::Stop);
    // A third of a second on with the transport stopped (the key's own call is not over yet).
    for _ in 0..8 {
        jam.block(None);
    }
    let late = jam
        .answer()
        .filter(|e| e.kind == OutKind::On && e.sample >= event_sample)
        .count();
    jam.finish();
    jam.assert_clean();
    assert_eq!(
        late, 0,
        "answer notes of the first answer started after the stop"
    );
}

#[test]
fn given_an_answer_playing_when_the_tempo_changes_in_the_middle_of_a_block_then_it_goes_on_on_the_grid_of_the_new_tempo()
 {
    let mut jam = MidBlockJam::start();
    let window = first_answer_sounding(&mut jam);
    let change_sample = jam.now_sample + u64::from(EVENT_OFFSET);
    jam.block(Some(Change::Tempo));
    jam.run_until_beats(window.end_beats + 0.5);
    let after = jam.assert_on_grid_in(change_sample, jam.now_sample, window, "after 150 BPM");
    let before = jam.assert_on_grid_in(0, change_sample, window, "before 150 BPM");
    jam.finish();
    jam.assert_clean();
    eprintln!(
        "answer note-ons: {before} before the tempo change, {after} after it:\n{}",
        describe(
            &jam.answer().collect::<Vec<_>>(),
            samples_per_beat(TEMPO_BPM)
        )
    );
    assert!(before > 0, "the answer sounded before the change");
}
