//! A "jam driver": plays a timeline into a plugin block by block as a DAW would, and a
//! [`NoteLedger`] that pairs the note-ons and note-offs that came back.
//!
//! The driver keeps an absolute sample counter (the plugin's samples since activation). While
//! the transport plays, the song position of sample `s` is
//! `anchor_beats + (s - anchor_sample) / samples_per_beat`; a stopped transport stays at the
//! position where it stopped. Input notes are scheduled in beats (converted to the exact sample
//! while the transport plays) or at absolute samples, and are sent at their exact offset inside
//! the block that contains them.
//!
//! By default the driver paces blocks in real time (each block is processed no earlier than
//! its wall-clock time since the driver started), because a live host does, and a plugin may
//! do work on other threads between blocks.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use clap_sys::id::clap_id;

use crate::events::{InputEvent, InputKind, OutEvent, OutKind, OutParamValue};
use crate::host::{HostResult, Lifecycle, PluginInstance};
use crate::transport::TransportInfo;

/// How the driver paces its blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pacing {
    /// Each block waits for its wall-clock time, as in a live host.
    RealTime,
    /// Blocks follow each other as fast as the plugin processes them.
    Unpaced,
}

/// The fixed settings of a jam.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JamConfig {
    /// Samples per second.
    pub sample_rate: f64,
    /// Samples per process call.
    pub block_size_samples: u32,
    /// Tempo in quarter-note beats per minute.
    pub tempo_bpm: f64,
    /// Time signature numerator.
    pub time_sig_numerator: u16,
    /// Time signature denominator.
    pub time_sig_denominator: u16,
    /// Real-time or unpaced.
    pub pacing: Pacing,
}

impl JamConfig {
    /// A 4/4 jam paced in real time.
    pub fn new(sample_rate: f64, block_size_samples: u32, tempo_bpm: f64) -> Self {
        Self {
            sample_rate,
            block_size_samples,
            tempo_bpm,
            time_sig_numerator: 4,
            time_sig_denominator: 4,
            pacing: Pacing::RealTime,
        }
    }

    /// A 4/4 jam unpaced: each block follows the last at once, as in a bounce.
    pub fn unpaced(sample_rate: f64, block_size_samples: u32, tempo_bpm: f64) -> Self {
        Self {
            pacing: Pacing::Unpaced,
            ..Self::new(sample_rate, block_size_samples, tempo_bpm)
        }
    }

    /// Samples per quarter-note beat (24,000 at 48 kHz and 120 BPM).
    pub fn samples_per_beat(&self) -> f64 {
        self.sample_rate * 60.0 / self.tempo_bpm
    }

    /// Quarter-note beats per bar (4 in 4/4).
    pub fn beats_per_bar(&self) -> f64 {
        f64::from(self.time_sig_numerator) * 4.0 / f64::from(self.time_sig_denominator)
    }
}

/// The transport's timeline: which song position each absolute sample has.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timeline {
    /// The jam's settings.
    pub config: JamConfig,
    /// Whether the transport plays.
    pub playing: bool,
    /// The absolute sample where the position was last set (start or stop).
    pub anchor_sample: u64,
    /// The song position at `anchor_sample`, in beats.
    pub anchor_beats: f64,
    /// The loop range reported to the plugin (reported only; the timeline never jumps).
    pub loop_range_beats: Option<(f64, f64)>,
}

impl Timeline {
    /// A stopped transport at beat 0.
    pub fn new(config: JamConfig) -> Self {
        Self {
            config,
            playing: false,
            anchor_sample: 0,
            anchor_beats: 0.0,
            loop_range_beats: None,
        }
    }

    /// Starts playing at absolute sample `sample` from song position `beats`.
    pub fn play_from(&mut self, sample: u64, beats: f64) {
        self.playing = true;
        self.anchor_sample = sample;
        self.anchor_beats = beats;
    }

    /// Stops at absolute sample `sample`; the position stays where it was then.
    pub fn stop(&mut self, sample: u64) {
        self.anchor_beats = self.beats_at(sample);
        self.anchor_sample = sample;
        self.playing = false;
    }

    /// The song position of absolute sample `sample`, in beats.
    pub fn beats_at(&self, sample: u64) -> f64 {
        if self.playing {
            self.anchor_beats
                + (sample as f64 - self.anchor_sample as f64) / self.config.samples_per_beat()
        } else {
            self.anchor_beats
        }
    }

    /// The absolute sample (rounded to the nearest) where the playing transport reaches
    /// `beats`; `None` while stopped or for a position before the current play start.
    pub fn sample_at_beats(&self, beats: f64) -> Option<u64> {
        if !self.playing || beats < self.anchor_beats {
            return None;
        }
        let offset = ((beats - self.anchor_beats) * self.config.samples_per_beat()).round();
        Some(self.anchor_sample + offset as u64)
    }

    /// The transport reported for a block whose first sample is `block_start_sample`.
    pub fn transport_at(&self, block_start_sample: u64) -> TransportInfo {
        TransportInfo {
            playing: self.playing,
            tempo_bpm: self.config.tempo_bpm,
            position_beats: self.beats_at(block_start_sample),
            time_sig_numerator: self.config.time_sig_numerator,
            time_sig_denominator: self.config.time_sig_denominator,
            loop_range_beats: self.loop_range_beats,
        }
    }
}

/// How a scheduled note is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteDialect {
    /// `CLAP_EVENT_NOTE_ON` / `CLAP_EVENT_NOTE_OFF`.
    Clap,
    /// `CLAP_EVENT_MIDI` with `0x9n` / `0x8n`.
    Midi,
}

/// A note of a phrase, in beats.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PhraseNote {
    /// MIDI channel index 0..=15.
    pub channel: u8,
    /// MIDI key.
    pub key: u8,
    /// MIDI velocity 1..=127.
    pub velocity_midi: u8,
    /// Song position of the note-on, in beats.
    pub start_beats: f64,
    /// Length in beats.
    pub length_beats: f64,
}

/// An event that went into the plugin, at its absolute sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SentInput {
    /// Absolute sample index since activation.
    pub sample: u64,
    /// The event.
    pub kind: InputKind,
}

/// What happened over a run, besides the notes.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct JamStats {
    /// Blocks processed.
    pub blocks: u64,
    /// Blocks whose process call returned `CLAP_PROCESS_ERROR`.
    pub error_blocks: u64,
    /// Events the plugin pushed at or past the end of their block.
    pub out_of_block_events: usize,
    /// Pushed events that were neither notes, note MIDI nor parameter values.
    pub other_events: usize,
    /// Non-note MIDI messages.
    pub other_midi: usize,
    /// The loudest output sample seen.
    pub output_peak: f32,
    /// Blocks that started later than their real-time deadline by more than one block length
    /// (real-time pacing only).
    pub late_blocks: u64,
}

/// Plays a timeline into a processing plugin (see the module docs).
pub struct JamDriver<'p> {
    /// The plugin, between `start_processing` and `stop_processing`.
    plugin: &'p mut PluginInstance,
    /// The transport.
    timeline: Timeline,
    /// Events still to send: (absolute sample, order of scheduling, event).
    scheduled: Vec<(u64, u64, InputKind)>,
    /// Counter giving scheduled events a stable order.
    next_seq: u64,
    /// Everything sent so far.
    sent: Vec<SentInput>,
    /// Every note event the plugin sent back.
    outputs: Vec<OutEvent>,
    /// Every parameter value the plugin reported.
    param_outputs: Vec<OutParamValue>,
    /// Run statistics.
    stats: JamStats,
    /// Wall-clock reference for real-time pacing: (instant, absolute sample at that instant).
    clock: Option<(Instant, u64)>,
}

impl<'p> JamDriver<'p> {
    /// A driver over a plugin that is processing; the transport starts stopped at beat 0.
    pub fn new(plugin: &'p mut PluginInstance, config: JamConfig) -> HostResult<Self> {
        if plugin.lifecycle() != Lifecycle::Processing {
            return Err(crate::host::HostError(format!(
                "the jam driver needs a processing plugin, it is {:?}",
                plugin.lifecycle()
            )));
        }
        Ok(Self {
            plugin,
            timeline: Timeline::new(config),
            scheduled: Vec::new(),
            next_seq: 0,
            sent: Vec::new(),
            outputs: Vec::new(),
            param_outputs: Vec::new(),
            stats: JamStats::default(),
            clock: None,
        })
    }

    /// The plugin (e.g. to read its logs or parameters between blocks).
    pub fn plugin(&mut self) -> &mut PluginInstance {
        self.plugin
    }

    /// The jam's settings.
    pub fn config(&self) -> JamConfig {
        self.timeline.config
    }

    /// The transport's timeline.
    pub fn timeline(&self) -> &Timeline {
        &self.timeline
    }

    /// The absolute sample of the next block's first sample.
    pub fn now_sample(&self) -> u64 {
        self.plugin.samples_processed()
    }

    /// The song position at the next block's first sample.
    pub fn now_beats(&self) -> f64 {
        self.timeline.beats_at(self.now_sample())
    }

    /// Starts the transport at the next block, from song position `beats`.
    pub fn play_from(&mut self, beats: f64) {
        let now = self.now_sample();
        self.timeline.play_from(now, beats);
    }

    /// Stops the transport from the next block on; returns the absolute sample where it stopped.
    pub fn stop(&mut self) -> u64 {
        let now = self.now_sample();
        self.timeline.stop(now);
        now
    }

    /// Reports a loop range (or none) from the next block on.
    pub fn set_loop(&mut self, loop_range_beats: Option<(f64, f64)>) {
        self.timeline.loop_range_beats = loop_range_beats;
    }

    /// The absolute sample where the playing transport reaches `beats`.
    pub fn sample_at_beats(&self, beats: f64) -> HostResult<u64> {
        self.timeline.sample_at_beats(beats).ok_or_else(|| {
            crate::host::HostError(format!(
                "beat {beats} has no sample: playing {}, anchored at beat {}",
                self.timeline.playing, self.timeline.anchor_beats
            ))
        })
    }

    /// Schedules `kind` at absolute sample `sample` (not in the past).
    pub fn schedule_at(&mut self, sample: u64, kind: InputKind) -> HostResult<()> {
        if sample < self.now_sample() {
            return Err(crate::host::HostError(format!(
                "cannot schedule at sample {sample}, already at {}",
                self.now_sample()
            )));
        }
        self.scheduled.push((sample, self.next_seq, kind));
        self.next_seq += 1;
        Ok(())
    }

    /// Schedules a note's on and off at the samples where the playing transport reaches its
    /// start and end; returns those samples. The samples are fixed now: stopping the transport
    /// later does not move or cancel them.
    pub fn schedule_note(
        &mut self,
        note: PhraseNote,
        dialect: NoteDialect,
    ) -> HostResult<(u64, u64)> {
        let on = self.sample_at_beats(note.start_beats)?;
        let off = self.sample_at_beats(note.start_beats + note.length_beats)?;
        let (on_kind, off_kind) = match dialect {
            NoteDialect::Clap => (
                InputKind::NoteOn {
                    channel: note.channel,
                    key: note.key,
                    velocity: f32::from(note.velocity_midi) / 127.0,
                },
                InputKind::NoteOff {
                    channel: note.channel,
                    key: note.key,
                    velocity: 0.0,
                },
            ),
            NoteDialect::Midi => (
                InputKind::Midi {
                    data: [0x90 | (note.channel & 0x0f), note.key, note.velocity_midi],
                },
                InputKind::Midi {
                    data: [0x80 | (note.channel & 0x0f), note.key, 0],
                },
            ),
        };
        self.schedule_at(on, on_kind)?;
        self.schedule_at(off, off_kind)?;
        Ok((on, off))
    }

    /// Schedules every note of a phrase (see [`Self::schedule_note`]).
    pub fn schedule_phrase(
        &mut self,
        notes: &[PhraseNote],
        dialect: NoteDialect,
    ) -> HostResult<()> {
        for note in notes {
            self.schedule_note(*note, dialect)?;
        }
        Ok(())
    }

    /// Schedules a parameter value change at absolute sample `sample`.
    pub fn schedule_param(&mut self, sample: u64, param_id: clap_id, value: f64) -> HostResult<()> {
        self.schedule_at(sample, InputKind::ParamValue { param_id, value })
    }

    /// Processes one block of the configured size and returns the note events it produced.
    pub fn run_block(&mut self) -> HostResult<Vec<OutEvent>> {
        let frames = self.timeline.config.block_size_samples;
        let start = self.now_sample();
        let end = start + u64::from(frames);

        self.scheduled
            .sort_by_key(|&(sample, seq, _)| (sample, seq));
        let due = self
            .scheduled
            .partition_point(|&(sample, _, _)| sample < end);
        let events: Vec<InputEvent> = self
            .scheduled
            .drain(..due)
            .map(|(sample, _, kind)| {
                self.sent.push(SentInput { sample, kind });
                InputEvent {
                    offset_samples: (sample - start) as u32,
                    kind,
                }
            })
            .collect();

        if self.timeline.config.pacing == Pacing::RealTime {
            let (t0, s0) = *self.clock.get_or_insert((Instant::now(), start));
            let due_at = t0
                + Duration::from_secs_f64((start - s0) as f64 / self.timeline.config.sample_rate);
            let now = Instant::now();
            if due_at > now {
                std::thread::sleep(due_at - now);
            } else if now - due_at
                > Duration::from_secs_f64(f64::from(frames) / self.timeline.config.sample_rate)
            {
                self.stats.late_blocks += 1;
            }
        }

        let transport = self.timeline.transport_at(start);
        let out = self.plugin.process(frames, &events, Some(&transport))?;
        self.stats.blocks += 1;
        if out.is_error() {
            self.stats.error_blocks += 1;
        }
        self.stats.out_of_block_events += out.out_of_block_events;
        self.stats.other_events += out.other_events;
        self.stats.other_midi += out.other_midi.len();
        self.stats.output_peak = self.stats.output_peak.max(out.output_peak);
        self.outputs.extend_from_slice(&out.notes);
        self.param_outputs.extend_from_slice(&out.params);
        Ok(out.notes)
    }

    /// Processes whole blocks until the next block would start at or after `sample`.
    pub fn run_until_sample(&mut self, sample: u64) -> HostResult<()> {
        while self.now_sample() < sample {
            self.run_block()?;
        }
        Ok(())
    }

    /// Processes whole blocks until the playing transport has reached `beats`.
    pub fn run_until_beats(&mut self, beats: f64) -> HostResult<()> {
        let sample = self.sample_at_beats(beats)?;
        self.run_until_sample(sample)
    }

    /// Processes whole blocks for at least `seconds` of audio.
    pub fn run_for_seconds(&mut self, seconds: f64) -> HostResult<()> {
        let samples = (seconds * self.timeline.config.sample_rate).ceil() as u64;
        let end = self.now_sample() + samples;
        self.run_until_sample(end)
    }

    /// Processes whole blocks until a note on `channel` sounds at a block boundary (see
    /// [`NoteLedger::sounding_before`]) or the next block would start at or after `end_sample`;
    /// returns whether one sounds.
    pub fn run_until_sounding(&mut self, channel: u8, end_sample: u64) -> HostResult<bool> {
        while self.now_sample() < end_sample {
            if !self
                .ledger(channel)
                .sounding_before(self.now_sample())
                .is_empty()
            {
                return Ok(true);
            }
            self.run_block()?;
        }
        Ok(false)
    }

    /// Every note event the plugin sent so far, in order.
    pub fn outputs(&self) -> &[OutEvent] {
        &self.outputs
    }

    /// Every parameter value the plugin reported so far.
    pub fn param_outputs(&self) -> &[OutParamValue] {
        &self.param_outputs
    }

    /// Every event sent so far, with its absolute sample.
    pub fn sent(&self) -> &[SentInput] {
        &self.sent
    }

    /// Events scheduled but not yet sent.
    pub fn pending_inputs(&self) -> usize {
        self.scheduled.len()
    }

    /// Run statistics so far.
    pub fn stats(&self) -> JamStats {
        self.stats
    }

    /// Pairs the note events of `channel` sent so far (see [`NoteLedger`]).
    pub fn ledger(&self, channel: u8) -> NoteLedger {
        NoteLedger::for_channel(&self.outputs, channel)
    }
}

/// A note with its start and end.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairedNote {
    /// MIDI channel index.
    pub channel: u8,
    /// MIDI key.
    pub key: u8,
    /// Absolute sample of the note-on.
    pub on_sample: u64,
    /// Absolute sample of the note-off.
    pub off_sample: u64,
    /// Note-on velocity, 0..=1.
    pub velocity: f32,
}

/// Note-ons paired with note-offs per (channel, key).
///
/// Events are taken in sample order (stable: events at one sample keep their order). A note-off
/// ends the oldest sounding note of its channel and key. A note-on while the same key already
/// sounds is also listed in `retriggers` (it still opens a note of its own).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NoteLedger {
    /// Complete notes, in order of their note-off.
    pub notes: Vec<PairedNote>,
    /// Note-ons that never got a note-off (still sounding).
    pub unpaired_ons: Vec<OutEvent>,
    /// Note-offs with no sounding note to end.
    pub offs_without_on: Vec<OutEvent>,
    /// Note-ons of a key that was already sounding.
    pub retriggers: Vec<OutEvent>,
}

impl NoteLedger {
    /// Pairs all of `events`.
    pub fn new(events: &[OutEvent]) -> Self {
        let mut sorted: Vec<&OutEvent> = events.iter().collect();
        sorted.sort_by_key(|e| e.sample);
        let mut sounding: HashMap<(u8, u8), VecDeque<OutEvent>> = HashMap::new();
        let mut ledger = Self::default();
        for event in sorted {
            let queue = sounding.entry((event.channel, event.key)).or_default();
            match event.kind {
                OutKind::On => {
                    if !queue.is_empty() {
                        ledger.retriggers.push(*event);
                    }
                    queue.push_back(*event);
                }
                OutKind::Off => match queue.pop_front() {
                    Some(on) => ledger.notes.push(PairedNote {
                        channel: on.channel,
                        key: on.key,
                        on_sample: on.sample,
                        off_sample: event.sample,
                        velocity: on.velocity,
                    }),
                    None => ledger.offs_without_on.push(*event),
                },
            }
        }
        let mut unpaired: Vec<OutEvent> = sounding.into_values().flatten().collect();
        unpaired.sort_by_key(|e| (e.sample, e.channel, e.key));
        ledger.unpaired_ons = unpaired;
        ledger
    }

    /// Pairs only the events of `channel`.
    pub fn for_channel(events: &[OutEvent], channel: u8) -> Self {
        let filtered: Vec<OutEvent> = events
            .iter()
            .filter(|e| e.channel == channel)
            .copied()
            .collect();
        Self::new(&filtered)
    }

    /// Whether every note-on got a note-off and every note-off ended a note.
    pub fn is_balanced(&self) -> bool {
        self.unpaired_ons.is_empty() && self.offs_without_on.is_empty()
    }

    /// Notes sounding just before absolute sample `sample`: started before it, and not ended
    /// before it (a note-off exactly at `sample` still counts as sounding). Unpaired note-ons
    /// count with an open end. Returns (channel, key, on_sample).
    pub fn sounding_before(&self, sample: u64) -> Vec<(u8, u8, u64)> {
        let mut out: Vec<(u8, u8, u64)> = self
            .notes
            .iter()
            .filter(|n| n.on_sample < sample && n.off_sample >= sample)
            .map(|n| (n.channel, n.key, n.on_sample))
            .chain(
                self.unpaired_ons
                    .iter()
                    .filter(|e| e.sample < sample)
                    .map(|e| (e.channel, e.key, e.sample)),
            )
            .collect();
        out.sort_by_key(|&(c, k, s)| (s, c, k));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(sample: u64, kind: OutKind, channel: u8, key: u8) -> OutEvent {
        OutEvent {
            sample,
            kind,
            channel,
            key,
            velocity: 0.5,
        }
    }

    #[test]
    fn samples_per_beat_at_48k_120() {
        let c = JamConfig::new(48_000.0, 512, 120.0);
        assert_eq!(c.samples_per_beat(), 24_000.0);
        assert_eq!(c.beats_per_bar(), 4.0);
    }

    #[test]
    fn timeline_maps_beats_and_samples_while_playing() {
        let mut t = Timeline::new(JamConfig::new(48_000.0, 512, 120.0));
        assert_eq!(t.sample_at_beats(1.0), None);
        t.play_from(1_000, 0.0);
        assert_eq!(t.sample_at_beats(4.0), Some(97_000));
        assert_eq!(t.sample_at_beats(4.5), Some(109_000));
        assert_eq!(t.beats_at(1_000 + 6_000), 0.25);
        let tr = t.transport_at(1_000 + 13 * 24_000);
        assert!(tr.playing);
        assert_eq!(tr.position_beats, 13.0);
        assert_eq!(tr.bar_number(), 3);
    }

    #[test]
    fn stopped_timeline_freezes_position() {
        let mut t = Timeline::new(JamConfig::new(48_000.0, 512, 120.0));
        t.play_from(0, 2.0);
        t.stop(12_000);
        assert!(!t.playing);
        assert_eq!(t.beats_at(12_000), 2.5);
        assert_eq!(t.beats_at(1_000_000), 2.5);
        assert_eq!(t.sample_at_beats(3.0), None);
        let tr = t.transport_at(50_000);
        assert!(!tr.playing);
        assert_eq!(tr.position_beats, 2.5);
    }

    #[test]
    fn ledger_pairs_per_channel_and_key() {
        let events = [
            ev(0, OutKind::On, 0, 60),
            ev(10, OutKind::On, 1, 60),
            ev(20, OutKind::Off, 0, 60),
            ev(30, OutKind::Off, 1, 60),
            ev(40, OutKind::Off, 1, 61),
            ev(50, OutKind::On, 1, 62),
        ];
        let l = NoteLedger::new(&events);
        assert_eq!(l.notes.len(), 2);
        assert_eq!(
            (
                l.notes[0].channel,
                l.notes[0].on_sample,
                l.notes[0].off_sample
            ),
            (0, 0, 20)
        );
        assert_eq!(
            (
                l.notes[1].channel,
                l.notes[1].on_sample,
                l.notes[1].off_sample
            ),
            (1, 10, 30)
        );
        assert_eq!(l.offs_without_on, vec![events[4]]);
        assert_eq!(l.unpaired_ons, vec![events[5]]);
        assert!(!l.is_balanced());
        assert!(l.retriggers.is_empty());
    }

    #[test]
    fn ledger_handles_retrigger_and_same_sample_legato() {
        let events = [
            ev(0, OutKind::On, 0, 60),
            ev(5, OutKind::On, 0, 60),
            ev(9, OutKind::Off, 0, 60),
            ev(9, OutKind::On, 0, 60),
            ev(12, OutKind::Off, 0, 60),
            ev(15, OutKind::Off, 0, 60),
        ];
        let l = NoteLedger::new(&events);
        assert_eq!(l.retriggers.len(), 2);
        let spans: Vec<(u64, u64)> = l
            .notes
            .iter()
            .map(|n| (n.on_sample, n.off_sample))
            .collect();
        assert_eq!(spans, vec![(0, 9), (5, 12), (9, 15)]);
        assert!(l.is_balanced());
    }

    #[test]
    fn ledger_sorts_by_sample_but_keeps_order_within_a_sample() {
        let events = [ev(100, OutKind::Off, 0, 60), ev(50, OutKind::On, 0, 60)];
        let l = NoteLedger::new(&events);
        assert!(l.is_balanced());
        assert_eq!((l.notes[0].on_sample, l.notes[0].off_sample), (50, 100));
    }

    #[test]
    fn ledger_sounding_before() {
        let events = [
            ev(0, OutKind::On, 1, 60),
            ev(100, OutKind::Off, 1, 60),
            ev(100, OutKind::On, 1, 62),
            ev(300, OutKind::On, 1, 64),
        ];
        let l = NoteLedger::new(&events);
        assert_eq!(l.sounding_before(100), vec![(1, 60, 0)]);
        assert_eq!(l.sounding_before(101), vec![(1, 62, 100)]);
        assert_eq!(l.sounding_before(301), vec![(1, 62, 100), (1, 64, 300)]);
        assert_eq!(l.sounding_before(0), vec![]);
    }
}
