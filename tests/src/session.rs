//! A DAW-like session over a processing plugin, for the transport tests: a transport that plays,
//! stops, seeks, loops and changes tempo (at once, or a ramp that sets a new tempo every block)
//! in any time signature; blocks of a fixed or random size; deactivation and reactivation (at
//! another sample rate) in the middle of a jam; and a log of every block, so a test can place
//! every event the plugin sent on the musical timeline the plugin should have followed.
//!
//! Input comes two ways, as in a DAW:
//! - a clip: notes and parameter pulses placed in beats on the host's timeline, sent whenever the
//!   playing transport crosses them (again after a loop wrap, not at all when a seek skips them);
//! - live input: events at a session sample, whatever the transport does.
//!
//! When the transport jumps (seek, loop wrap, stop) or the plugin is reactivated while clip notes
//! are held, the session sends their note-offs at the start of the next block, as hosts do.
//!
//! Samples are counted over the whole session ("session samples"), across activations, so one
//! [`NoteLedger`] pairs each note-on with its note-off even when they fall in different
//! activations.
//!
//! The reference clock is the musical clock the design specifies (`shared/design.md`, "Musical
//! time"): while the transport plays, the host's position; while it is stopped, the plugin's own
//! clock, which goes on from where the previous block ended at the host's tempo (from beat 0
//! after an activation), with the bar grid the host gave last. [`BlockRecord::clock_beats`] is
//! where that clock stands at each block's first sample.

use std::time::{Duration, Instant};

use clap_sys::id::clap_id;

use crate::events::{InputEvent, InputKind, OutEvent};
use crate::host::{HostError, HostResult, Lifecycle, PluginInstance};
use crate::jam::{NoteLedger, PhraseNote, SentInput};
use crate::transport::TransportInfo;

/// How far (in beats) a playing position may stray from where the previous block ended and
/// still continue it (the design's jump tolerance is 1/64 beat).
const CONTINUITY_TOLERANCE_BEATS: f64 = 1.0 / 64.0;

/// How the session picks each block's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockSizes {
    /// Every block has this many samples (at most the activation's maximum).
    Fixed(u32),
    /// Seeded random lengths from 1 to the activation's maximum: a tenth of the blocks are one
    /// sample long, a tenth are the maximum, a fifth are 1..=16 samples, the rest uniform.
    Random {
        /// Seed of the generator (non-zero).
        seed: u64,
    },
}

/// A tempo that moves linearly with the song position; the host reports the tempo at each
/// block's first sample (constant inside a block, as CLAP's `tempo` with `tempo_inc` 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TempoRamp {
    /// Where the ramp starts, in beats.
    pub from_beats: f64,
    /// Where it ends, in beats; after it the tempo stays `to_bpm`.
    pub to_beats: f64,
    /// Tempo at `from_beats`, BPM.
    pub from_bpm: f64,
    /// Tempo at `to_beats` and after, BPM.
    pub to_bpm: f64,
}

impl TempoRamp {
    /// The tempo at song position `beats`.
    pub fn tempo_at(&self, beats: f64) -> f64 {
        let span = (self.to_beats - self.from_beats).max(f64::EPSILON);
        let t = ((beats - self.from_beats) / span).clamp(0.0, 1.0);
        self.from_bpm + t * (self.to_bpm - self.from_bpm)
    }
}

/// What a clip event does.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ClipKind {
    /// Send this input event.
    Input(InputKind),
    /// Set the parameter to 1 at the start of the block that crosses the event, and back to 0
    /// at the start of the next block (a momentary button).
    Pulse {
        /// The parameter.
        param_id: clap_id,
    },
}

/// An event placed on the host's timeline.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ClipEvent {
    /// Song position, in beats.
    beats: f64,
    /// What it does.
    kind: ClipKind,
}

/// One processed block, as the session saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockRecord {
    /// Session sample of the block's first sample.
    pub start_sample: u64,
    /// Length in samples.
    pub frames: u32,
    /// Sample rate of the activation it belongs to.
    pub sample_rate: f64,
    /// Which activation (0 for the first).
    pub activation: u32,
    /// The transport the host reported.
    pub transport: TransportInfo,
    /// The reference clock at the block's first sample, in beats (see the module docs).
    pub clock_beats: f64,
    /// Bar length of the reference clock's grid, in beats.
    pub bar_len_beats: f64,
    /// A bar line of the reference clock's grid, in beats.
    pub bar_origin_beats: f64,
    /// Whether the reference clock does not continue the previous block here (activation,
    /// transport start or stop, seek, loop wrap).
    pub jumped: bool,
    /// Whether any input went in with this block.
    pub had_input: bool,
    /// The plugin's events of this block: indices into [`Session::outputs`].
    pub events: std::ops::Range<usize>,
}

impl BlockRecord {
    /// Samples per quarter-note beat in this block.
    pub fn samples_per_beat(&self) -> f64 {
        self.sample_rate * 60.0 / self.transport.tempo_bpm
    }

    /// Whether session sample `sample` lies in this block.
    pub fn contains(&self, sample: u64) -> bool {
        sample >= self.start_sample && sample < self.start_sample + u64::from(self.frames)
    }

    /// The reference clock's position at session sample `sample` of this block, in beats.
    pub fn clock_beats_at(&self, sample: u64) -> f64 {
        self.clock_beats + (sample as f64 - self.start_sample as f64) / self.samples_per_beat()
    }
}

/// What happened over a session besides the notes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionStats {
    /// Blocks processed.
    pub blocks: u64,
    /// Blocks whose process call returned `CLAP_PROCESS_ERROR`.
    pub error_blocks: u64,
    /// Events the plugin pushed at or past the end of their block.
    pub out_of_block_events: usize,
    /// Session samples of blocks whose events were not in non-decreasing time order.
    pub unordered_blocks: Vec<u64>,
    /// Pushed events that were neither notes, note MIDI nor parameter values.
    pub other_events: usize,
    /// The loudest output sample seen.
    pub output_peak: f32,
}

/// A random block-size source (xorshift64*).
#[derive(Debug, Clone, Copy)]
struct SizeRng(u64);

impl SizeRng {
    /// The next 64 random bits.
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A block length in `1..=max` with the distribution of [`BlockSizes::Random`].
    fn size(&mut self, max: u32) -> u32 {
        let max = u64::from(max.max(1));
        let pick = self.next() % 100;
        let r = self.next();
        let size = match pick {
            0..10 => 1,
            10..20 => max,
            20..40 => 1 + r % 16.min(max),
            _ => 1 + r % max,
        };
        size as u32
    }
}

/// Plays a session into a processing plugin (see the module docs).
pub struct Session<'p> {
    /// The plugin, processing between calls.
    plugin: &'p mut PluginInstance,
    /// Sample rate of the current activation.
    sample_rate: f64,
    /// The current activation's maximum block length.
    max_block_samples: u32,
    /// How blocks are sized.
    sizes: BlockSizes,
    /// Random block sizes.
    rng: SizeRng,
    /// Whether the transport plays.
    playing: bool,
    /// The host's song position at the next block, in beats.
    position_beats: f64,
    /// The host's tempo, BPM.
    tempo_bpm: f64,
    /// Time signature (numerator, denominator).
    time_sig: (u16, u16),
    /// The active loop range in beats.
    loop_range_beats: Option<(f64, f64)>,
    /// A tempo ramp that sets the tempo at each block while playing.
    ramp: Option<TempoRamp>,
    /// Clip notes and pulses.
    clip: Vec<ClipEvent>,
    /// Live input: (session sample, order, event), not yet sent.
    live: Vec<(u64, u64, InputKind)>,
    /// Order counter for live input.
    next_seq: u64,
    /// Clip notes whose note-on went in and whose note-off did not: (channel, key).
    held_clip: Vec<(u8, u8)>,
    /// Send note-offs for the held clip notes at the start of the next block.
    release_held: bool,
    /// Parameters pulsed in the previous block, to set back to 0.
    pulsed: Vec<clap_id>,
    /// Live button presses not yet sent: (session sample, parameter).
    live_pulses: Vec<(u64, clap_id)>,
    /// Session sample of the next block.
    now_sample: u64,
    /// Which activation.
    activation: u32,
    /// Reference clock: where the previous block ended, `None` after an activation.
    clock_prev_end: Option<f64>,
    /// Reference clock: whether the previous block followed the playing host.
    clock_prev_playing: bool,
    /// Reference clock: the bar line it keeps while stopped.
    clock_bar_origin: f64,
    /// Every block.
    blocks: Vec<BlockRecord>,
    /// Every note event the plugin sent, at session samples.
    outputs: Vec<OutEvent>,
    /// Every event that went in, at session samples.
    sent: Vec<SentInput>,
    /// Run statistics.
    stats: SessionStats,
    /// Real-time pacing reference: (instant, session sample then); `None` to start afresh.
    pace_anchor: Option<(Instant, u64)>,
    /// Whether blocks are paced in real time.
    real_time: bool,
}

impl<'p> Session<'p> {
    /// A session over a plugin that is processing, activated at `sample_rate` with
    /// `max_block_samples`; the transport is stopped at beat 0 at `tempo_bpm` in 4/4, blocks are
    /// `Fixed(max_block_samples)` and paced in real time.
    pub fn new(
        plugin: &'p mut PluginInstance,
        sample_rate: f64,
        max_block_samples: u32,
        tempo_bpm: f64,
    ) -> HostResult<Self> {
        if plugin.lifecycle() != Lifecycle::Processing {
            return Err(HostError(format!(
                "a session needs a processing plugin, it is {:?}",
                plugin.lifecycle()
            )));
        }
        Ok(Self {
            plugin,
            sample_rate,
            max_block_samples,
            sizes: BlockSizes::Fixed(max_block_samples),
            rng: SizeRng(0x9e37_79b9_7f4a_7c15),
            playing: false,
            position_beats: 0.0,
            tempo_bpm,
            time_sig: (4, 4),
            loop_range_beats: None,
            ramp: None,
            clip: Vec::new(),
            live: Vec::new(),
            next_seq: 0,
            held_clip: Vec::new(),
            release_held: false,
            pulsed: Vec::new(),
            live_pulses: Vec::new(),
            now_sample: 0,
            activation: 0,
            clock_prev_end: None,
            clock_prev_playing: false,
            clock_bar_origin: 0.0,
            blocks: Vec::new(),
            outputs: Vec::new(),
            sent: Vec::new(),
            stats: SessionStats::default(),
            pace_anchor: None,
            real_time: true,
        })
    }

    /// The plugin (to set parameters between blocks).
    pub fn plugin(&mut self) -> &mut PluginInstance {
        self.plugin
    }

    /// Paces blocks in real time (the default) or not.
    pub fn set_real_time(&mut self, real_time: bool) {
        self.real_time = real_time;
        self.pace_anchor = None;
    }

    /// Sizes the next blocks so.
    pub fn set_block_sizes(&mut self, sizes: BlockSizes) {
        if let BlockSizes::Random { seed } = sizes {
            self.rng = SizeRng(seed.max(1));
        }
        self.sizes = sizes;
    }

    /// Sets the time signature from the next block on.
    pub fn set_time_signature(&mut self, numerator: u16, denominator: u16) {
        self.time_sig = (numerator, denominator);
    }

    /// The length of a bar of the current signature, in beats.
    pub fn bar_len_beats(&self) -> f64 {
        f64::from(self.time_sig.0) * 4.0 / f64::from(self.time_sig.1)
    }

    /// Sets the tempo from the next block on (and ends a ramp).
    pub fn set_tempo(&mut self, tempo_bpm: f64) {
        self.tempo_bpm = tempo_bpm;
        self.ramp = None;
    }

    /// The host's tempo for the next block (before a ramp moves it).
    pub fn tempo_bpm(&self) -> f64 {
        self.tempo_bpm
    }

    /// Ramps the tempo from the next block on.
    pub fn set_ramp(&mut self, ramp: TempoRamp) {
        self.ramp = Some(ramp);
    }

    /// Activates a loop (or none): the playing transport wraps from its end to its start at a
    /// block boundary (the block before the wrap ends exactly at the loop's end).
    pub fn set_loop(&mut self, loop_range_beats: Option<(f64, f64)>) {
        self.loop_range_beats = loop_range_beats;
    }

    /// Starts the transport at song position `beats` from the next block on.
    pub fn play_from(&mut self, beats: f64) {
        self.playing = true;
        self.position_beats = beats;
        self.release_held = true;
    }

    /// Stops the transport from the next block on; returns that block's session sample.
    pub fn stop(&mut self) -> u64 {
        self.playing = false;
        self.release_held = true;
        self.now_sample
    }

    /// Moves the song position to `beats` from the next block on; returns that block's session
    /// sample.
    pub fn seek(&mut self, beats: f64) -> u64 {
        self.position_beats = beats;
        self.release_held = true;
        self.now_sample
    }

    /// Whether the transport plays.
    pub fn is_playing(&self) -> bool {
        self.playing
    }

    /// The host's song position at the next block.
    pub fn position_beats(&self) -> f64 {
        self.position_beats
    }

    /// The session sample of the next block's first sample.
    pub fn now_sample(&self) -> u64 {
        self.now_sample
    }

    /// The sample rate of the current activation.
    pub fn sample_rate(&self) -> f64 {
        self.sample_rate
    }

    /// The current activation's maximum block length.
    pub fn max_block_samples(&self) -> u32 {
        self.max_block_samples
    }

    /// Where the reference clock will stand at the next block's first sample (assuming no jump).
    pub fn clock_now(&self) -> f64 {
        if self.playing {
            self.position_beats
        } else {
            self.clock_prev_end.unwrap_or(0.0)
        }
    }

    /// The session sample where the reference clock reaches `beats`, if the tempo stays as it
    /// is and nothing jumps (rounded to the nearest sample; never before the next block).
    pub fn sample_at_clock(&self, beats: f64) -> u64 {
        let samples_per_beat = self.sample_rate * 60.0 / self.tempo_bpm;
        let ahead = ((beats - self.clock_now()) * samples_per_beat)
            .round()
            .max(0.0);
        self.now_sample + ahead as u64
    }

    /// Places notes on the timeline (see the module docs).
    pub fn add_clip_notes(&mut self, notes: &[PhraseNote]) {
        for note in notes {
            self.clip.push(ClipEvent {
                beats: note.start_beats,
                kind: ClipKind::Input(InputKind::NoteOn {
                    channel: note.channel,
                    key: note.key,
                    velocity: f32::from(note.velocity_midi) / 127.0,
                }),
            });
            self.clip.push(ClipEvent {
                beats: note.start_beats + note.length_beats,
                kind: ClipKind::Input(InputKind::NoteOff {
                    channel: note.channel,
                    key: note.key,
                    velocity: 0.0,
                }),
            });
        }
        self.clip.sort_by(|a, b| a.beats.total_cmp(&b.beats));
    }

    /// Places a momentary button press on the timeline: the parameter goes to 1 at the start of
    /// the block that crosses `beats` and back to 0 at the start of the next block.
    pub fn add_clip_pulse(&mut self, beats: f64, param_id: clap_id) {
        self.clip.push(ClipEvent {
            beats,
            kind: ClipKind::Pulse { param_id },
        });
        self.clip.sort_by(|a, b| a.beats.total_cmp(&b.beats));
    }

    /// Sends `kind` live at session sample `sample` (not before the next block).
    pub fn schedule_live(&mut self, sample: u64, kind: InputKind) -> HostResult<()> {
        if sample < self.now_sample {
            return Err(HostError(format!(
                "cannot schedule at session sample {sample}, already at {}",
                self.now_sample
            )));
        }
        self.live.push((sample, self.next_seq, kind));
        self.next_seq += 1;
        Ok(())
    }

    /// Plays notes live, placed in beats of the reference clock as it runs now (see
    /// [`Self::sample_at_clock`]).
    pub fn schedule_live_notes(&mut self, notes: &[PhraseNote]) -> HostResult<()> {
        for note in notes {
            let on = self.sample_at_clock(note.start_beats);
            let off = self.sample_at_clock(note.start_beats + note.length_beats);
            self.schedule_live(
                on,
                InputKind::NoteOn {
                    channel: note.channel,
                    key: note.key,
                    velocity: f32::from(note.velocity_midi) / 127.0,
                },
            )?;
            self.schedule_live(
                off,
                InputKind::NoteOff {
                    channel: note.channel,
                    key: note.key,
                    velocity: 0.0,
                },
            )?;
        }
        Ok(())
    }

    /// Presses a momentary button live: the parameter goes to 1 at the start of the block that
    /// holds session sample `sample` and back to 0 at the start of the next block.
    pub fn schedule_live_pulse(&mut self, sample: u64, param_id: clap_id) {
        self.live_pulses
            .push((sample.max(self.now_sample), param_id));
    }

    /// Sets a parameter at the start of the next block (through the block's input events).
    pub fn set_param_next_block(&mut self, param_id: clap_id, value: f64) -> HostResult<()> {
        self.schedule_live(self.now_sample, InputKind::ParamValue { param_id, value })
    }

    /// Whether a note the player sent (clip or live) is still down: its note-on went in and its
    /// note-off did not.
    pub fn player_keys_down(&self) -> bool {
        let mut down: Vec<(u8, u8)> = Vec::new();
        for sent in &self.sent {
            match sent.kind {
                InputKind::NoteOn { channel, key, .. } => down.push((channel, key)),
                InputKind::NoteOff { channel, key, .. } => {
                    if let Some(i) = down.iter().position(|&k| k == (channel, key)) {
                        down.swap_remove(i);
                    }
                }
                _ => {}
            }
        }
        !down.is_empty()
    }

    /// Stops processing, deactivates, activates again at `sample_rate` with blocks of up to
    /// `max_block_samples`, and starts processing: what a host does to change the sample rate or
    /// the block size. The session sample count goes on; the reference clock starts over.
    pub fn reactivate(&mut self, sample_rate: f64, max_block_samples: u32) -> HostResult<()> {
        self.plugin.stop_processing()?;
        self.plugin.deactivate()?;
        self.plugin.activate(sample_rate, 1, max_block_samples)?;
        self.plugin.start_processing()?;
        self.sample_rate = sample_rate;
        self.max_block_samples = max_block_samples;
        if let BlockSizes::Fixed(n) = self.sizes {
            self.sizes = BlockSizes::Fixed(n.min(max_block_samples));
        }
        self.activation += 1;
        self.clock_prev_end = None;
        self.clock_prev_playing = false;
        self.release_held = true;
        self.pace_anchor = None;
        Ok(())
    }

    /// The next block's length (before a loop end shortens it).
    fn next_block_size(&mut self) -> u32 {
        match self.sizes {
            BlockSizes::Fixed(n) => n.clamp(1, self.max_block_samples),
            BlockSizes::Random { .. } => self.rng.size(self.max_block_samples),
        }
    }

    /// Processes one block.
    pub fn run_block(&mut self) -> HostResult<()> {
        let mut wrapped = false;
        if self.playing
            && let Some((loop_start, loop_end)) = self.loop_range_beats
            && self.position_beats >= loop_end - 1e-9
        {
            self.position_beats = loop_start;
            self.release_held = true;
            wrapped = true;
        }
        if self.playing
            && let Some(ramp) = self.ramp
        {
            self.tempo_bpm = ramp.tempo_at(self.position_beats);
        }
        let samples_per_beat = self.sample_rate * 60.0 / self.tempo_bpm;
        let mut frames = self.next_block_size();
        if self.playing
            && let Some((_, loop_end)) = self.loop_range_beats
            && self.position_beats < loop_end
        {
            let to_end = ((loop_end - self.position_beats) * samples_per_beat).round();
            frames = frames.min((to_end as u32).max(1));
        }
        let start = self.now_sample;
        let end = start + u64::from(frames);

        // The reference clock.
        let bar_len_beats = self.bar_len_beats();
        let (clock_beats, jumped) = if self.playing {
            let continues = self.clock_prev_playing
                && !wrapped
                && self.clock_prev_end.is_some_and(|prev| {
                    (self.position_beats - prev).abs() <= CONTINUITY_TOLERANCE_BEATS
                });
            self.clock_bar_origin = (self.position_beats / bar_len_beats).floor() * bar_len_beats;
            (self.position_beats, !continues)
        } else {
            match self.clock_prev_end {
                Some(prev) => (prev, self.clock_prev_playing),
                None => (0.0, true),
            }
        };

        // This block's input: note-offs of held clip notes after a jump, pulses set back to 0,
        // the clip, live input.
        let mut due: Vec<(u32, InputKind)> = Vec::new();
        if self.release_held {
            self.release_held = false;
            for (channel, key) in self.held_clip.drain(..) {
                due.push((
                    0,
                    InputKind::NoteOff {
                        channel,
                        key,
                        velocity: 0.0,
                    },
                ));
            }
        }
        for param_id in self.pulsed.drain(..) {
            due.push((
                0,
                InputKind::ParamValue {
                    param_id,
                    value: 0.0,
                },
            ));
        }
        if self.playing {
            let end_beats = self.position_beats + f64::from(frames) / samples_per_beat;
            for event in &self.clip {
                if event.beats < self.position_beats || event.beats >= end_beats {
                    continue;
                }
                let offset = ((event.beats - self.position_beats) * samples_per_beat)
                    .round()
                    .clamp(0.0, f64::from(frames - 1)) as u32;
                match event.kind {
                    ClipKind::Input(kind) => {
                        match kind {
                            InputKind::NoteOn { channel, key, .. } => {
                                self.held_clip.push((channel, key));
                            }
                            InputKind::NoteOff { channel, key, .. } => {
                                if let Some(i) =
                                    self.held_clip.iter().position(|&k| k == (channel, key))
                                {
                                    self.held_clip.swap_remove(i);
                                }
                            }
                            _ => {}
                        }
                        due.push((offset, kind));
                    }
                    ClipKind::Pulse { param_id } => {
                        due.push((
                            0,
                            InputKind::ParamValue {
                                param_id,
                                value: 1.0,
                            },
                        ));
                        self.pulsed.push(param_id);
                    }
                }
            }
        }
        let mut i = 0;
        while i < self.live_pulses.len() {
            if self.live_pulses[i].0 < end {
                let (_, param_id) = self.live_pulses.swap_remove(i);
                due.push((
                    0,
                    InputKind::ParamValue {
                        param_id,
                        value: 1.0,
                    },
                ));
                self.pulsed.push(param_id);
            } else {
                i += 1;
            }
        }
        self.live.sort_by_key(|&(sample, seq, _)| (sample, seq));
        let live_due = self.live.partition_point(|&(sample, _, _)| sample < end);
        for (sample, _, kind) in self.live.drain(..live_due) {
            due.push(((sample - start) as u32, kind));
        }
        // Stable: at one offset, the order above.
        due.sort_by_key(|&(offset, _)| offset);
        let events: Vec<InputEvent> = due
            .iter()
            .map(|&(offset_samples, kind)| InputEvent {
                offset_samples,
                kind,
            })
            .collect();
        for &(offset, kind) in &due {
            self.sent.push(SentInput {
                sample: start + u64::from(offset),
                kind,
            });
        }

        if self.real_time {
            let (t0, s0) = *self.pace_anchor.get_or_insert((Instant::now(), start));
            let due_at = t0 + Duration::from_secs_f64((start - s0) as f64 / self.sample_rate);
            let now = Instant::now();
            if due_at > now {
                std::thread::sleep(due_at - now);
            }
        }

        let transport = TransportInfo {
            playing: self.playing,
            tempo_bpm: self.tempo_bpm,
            position_beats: self.position_beats,
            time_sig_numerator: self.time_sig.0,
            time_sig_denominator: self.time_sig.1,
            loop_range_beats: self.loop_range_beats,
        };
        let out = self.plugin.process(frames, &events, Some(&transport))?;
        self.stats.blocks += 1;
        if out.is_error() {
            self.stats.error_blocks += 1;
        }
        self.stats.out_of_block_events += out.out_of_block_events;
        self.stats.other_events += out.other_events + out.other_midi.len();
        self.stats.output_peak = self.stats.output_peak.max(out.output_peak);
        let first = self.outputs.len();
        for note in &out.notes {
            let mut note = *note;
            note.sample = start + (note.sample - out.block_start_sample);
            self.outputs.push(note);
        }
        if self.outputs[first..]
            .windows(2)
            .any(|w| w[1].sample < w[0].sample)
        {
            self.stats.unordered_blocks.push(start);
        }
        self.blocks.push(BlockRecord {
            start_sample: start,
            frames,
            sample_rate: self.sample_rate,
            activation: self.activation,
            transport,
            clock_beats,
            bar_len_beats,
            bar_origin_beats: self.clock_bar_origin,
            jumped,
            had_input: !events.is_empty(),
            events: first..self.outputs.len(),
        });

        self.now_sample = end;
        let block_beats = f64::from(frames) / samples_per_beat;
        if self.playing {
            self.position_beats += block_beats;
        }
        self.clock_prev_end = Some(clock_beats + block_beats);
        self.clock_prev_playing = self.playing;
        Ok(())
    }

    /// Processes blocks until the reference clock at the next block reaches `beats` (or
    /// `max_blocks` blocks went by, an error: a loop or a stop may keep it from getting there).
    pub fn run_until_clock(&mut self, beats: f64) -> HostResult<()> {
        let mut blocks = 0u64;
        while self.clock_now() < beats - 1e-9 {
            self.run_block()?;
            blocks += 1;
            if blocks > 10_000_000 {
                return Err(HostError(format!("the clock never reached beat {beats}")));
            }
        }
        Ok(())
    }

    /// Processes blocks for at least `seconds` of audio at the current sample rate.
    pub fn run_for_seconds(&mut self, seconds: f64) -> HostResult<()> {
        let end = self.now_sample + (seconds * self.sample_rate).ceil() as u64;
        while self.now_sample < end {
            self.run_block()?;
        }
        Ok(())
    }

    /// Processes blocks until, at a block boundary where the reference clock is at or past
    /// `from_beats` and no player key is down, a note sounds on `channel`; gives up (returns
    /// false) once the clock reaches `until_beats`.
    pub fn run_until_sounding(
        &mut self,
        channel: u8,
        from_beats: f64,
        until_beats: f64,
    ) -> HostResult<bool> {
        self.run_until_clock(from_beats)?;
        while self.clock_now() < until_beats {
            if !self.player_keys_down() && !self.sounding_now(channel).is_empty() {
                return Ok(true);
            }
            self.run_block()?;
        }
        Ok(false)
    }

    /// Notes on `channel` sounding at the next block's first sample: (channel, key, on sample).
    pub fn sounding_now(&self, channel: u8) -> Vec<(u8, u8, u64)> {
        self.ledger(channel).sounding_before(self.now_sample)
    }

    /// Every block so far.
    pub fn blocks(&self) -> &[BlockRecord] {
        &self.blocks
    }

    /// The block that holds session sample `sample`.
    pub fn block_at(&self, sample: u64) -> Option<&BlockRecord> {
        let i = self.blocks.partition_point(|b| b.start_sample <= sample);
        self.blocks[..i].last().filter(|b| b.contains(sample))
    }

    /// The reference clock's position of session sample `sample`, in beats.
    pub fn clock_beats_at(&self, sample: u64) -> Option<f64> {
        self.block_at(sample).map(|b| b.clock_beats_at(sample))
    }

    /// Every note event the plugin sent, at session samples.
    pub fn outputs(&self) -> &[OutEvent] {
        &self.outputs
    }

    /// Every event that went in, at session samples.
    pub fn sent(&self) -> &[SentInput] {
        &self.sent
    }

    /// Run statistics.
    pub fn stats(&self) -> &SessionStats {
        &self.stats
    }

    /// Pairs the note events of `channel` so far.
    pub fn ledger(&self, channel: u8) -> NoteLedger {
        NoteLedger::for_channel(&self.outputs, channel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramp_moves_linearly_and_holds_its_ends() {
        let r = TempoRamp {
            from_beats: 4.0,
            to_beats: 12.0,
            from_bpm: 120.0,
            to_bpm: 150.0,
        };
        assert_eq!(r.tempo_at(0.0), 120.0);
        assert_eq!(r.tempo_at(8.0), 135.0);
        assert_eq!(r.tempo_at(20.0), 150.0);
    }

    #[test]
    fn random_sizes_stay_in_range_and_include_both_ends() {
        let mut rng = SizeRng(7);
        let sizes: Vec<u32> = (0..2_000).map(|_| rng.size(4096)).collect();
        assert!(sizes.iter().all(|&s| (1..=4096).contains(&s)));
        assert!(sizes.contains(&1));
        assert!(sizes.contains(&4096));
        assert!(sizes.iter().any(|&s| s > 16 && s < 4096));
    }

    #[test]
    fn block_record_places_samples_on_the_clock() {
        let b = BlockRecord {
            start_sample: 1_000,
            frames: 512,
            sample_rate: 48_000.0,
            activation: 0,
            transport: TransportInfo::playing(120.0, 8.0),
            clock_beats: 8.0,
            bar_len_beats: 4.0,
            bar_origin_beats: 8.0,
            jumped: false,
            had_input: false,
            events: 0..0,
        };
        assert!(b.contains(1_000) && b.contains(1_511) && !b.contains(1_512));
        assert_eq!(b.clock_beats_at(1_000 + 6_000), 8.25);
    }
}
