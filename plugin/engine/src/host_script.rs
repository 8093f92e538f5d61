//! Random hosts for property tests (feature `host-script`): proptest strategies that make a
//! [`HostScript`] — a sample rate, a run of blocks of 1..8192 samples, what the host does between
//! them (play, stop, seek, loop wraps, tempo changes and ramps, time-signature changes, bypass,
//! reset, deactivate and reactivate at another sample rate, parameter changes) and a stream of
//! player MIDI (note pairs on random channels and keys, overlapping same-key notes, note-offs
//! without note-ons, note-ons with velocity 0, CCs, momentary controls) — and the host simulation
//! that turns a script into the [`HostBlock`]s a host would process, with an [`OutputChecker`]
//! for the invariants every host may count on.
//!
//! Nothing here knows how the blocks are processed: the engine's property tests feed them to an
//! [`crate::AudioEngine`], and a test host can feed the same blocks to the built plugin.
//!
//! Channels: the player's MIDI never uses the two [`HostScript::answer_channels`]; answers play on
//! them (the output-channel setting switches between them), so any note on those channels is
//! Antiphon's own.

use std::fmt;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

use crate::audio::{AudioSettings, InputEvent};
use crate::clock::HostTransport;
use crate::mode::JamControl;
use crate::output::OutKind;

/// The sample rates hosts use most; a script may also pick any rate between the extremes.
pub const COMMON_SAMPLE_RATES_HZ: [f64; 7] = [
    22_050.0, 44_100.0, 48_000.0, 88_200.0, 96_000.0, 176_400.0, 192_000.0,
];
/// The shortest and longest blocks, in samples.
pub const BLOCK_LEN_RANGE_SAMPLES: (u32, u32) = (1, 8192);
/// The slowest and fastest host tempos, in quarter notes per minute.
pub const TEMPO_RANGE_BPM: (f64, f64) = (20.0, 300.0);
/// Parts of a script's length in which its MIDI is placed (see [`ScriptNote::at_ppm`]).
const PPM: u64 = 1_000_000;
/// Length of each of the two closing blocks, in samples.
const CLOSING_BLOCK_SAMPLES: u32 = 256;
/// The most blocks a tempo ramp takes.
const MAX_RAMP_BLOCKS: u32 = 64;
/// Sixteenth notes per quarter note: the grid answers keep to.
pub const STEPS_PER_QUARTER: f64 = 4.0;

/// How big a script may get; the tiers of the property tests use different sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScriptLimits {
    /// Most segments (runs of equal blocks) in a script, ≥ 1.
    pub max_segments: usize,
    /// Most blocks in one segment, ≥ 1.
    pub max_repeat: u32,
    /// Most player notes in a script.
    pub max_notes: usize,
    /// Most host actions before one segment.
    pub max_actions: usize,
}

impl ScriptLimits {
    /// Scripts of about 360 blocks on average (at most 2,048): a few bars at most tempos and
    /// block sizes, enough for calls to be answered.
    pub const DEFAULT: Self = Self {
        max_segments: 32,
        max_repeat: 64,
        max_notes: 40,
        max_actions: 3,
    };

    /// A little shorter than [`ScriptLimits::DEFAULT`], for the tiers whose every block waits
    /// for a real model's answer (the engine with its worker, the built plugin binaries).
    pub const WITH_MODEL: Self = Self {
        max_segments: 24,
        max_repeat: 48,
        max_notes: 32,
        max_actions: 3,
    };
}

impl Default for ScriptLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// One random host: how it starts, what it does block by block, and what the player plays.
#[derive(Debug, Clone, PartialEq)]
pub struct HostScript {
    /// Sample rate at the first activation, in Hz.
    pub sample_rate_hz: f64,
    /// The host's usual block length, in samples (segments may use others).
    pub block_len_samples: u32,
    /// Whether the transport plays at the start.
    pub playing: bool,
    /// Host position at the start, in quarter notes.
    pub pos_beats: f64,
    /// Host tempo at the start, in quarter notes per minute.
    pub tempo_bpm: f64,
    /// Time signature at the start (numerator, denominator).
    pub time_sig: (u32, u32),
    /// The host's loop region at the start (start, length in quarter notes), when looping.
    pub loop_beats: Option<(f64, f64)>,
    /// What the host reports in its transport.
    pub reports: Reports,
    /// The two channels the answers may play on (distinct); the player never uses them.
    pub answer_channels: [u8; 2],
    /// The audio settings at the start (see [`HostScript::render`] for the output channel).
    pub settings: ScriptSettings,
    /// Runs of blocks, in order.
    pub segments: Vec<Segment>,
    /// What the player plays, placed over the whole script.
    pub midi: ScriptMidi,
}

/// Which transport fields a host fills in (hosts differ; the rest are `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reports {
    /// The tempo.
    pub tempo: bool,
    /// The song position.
    pub position: bool,
    /// The time signature.
    pub time_sig: bool,
    /// The start of the current bar.
    pub bar_start: bool,
}

/// The plugin settings a script starts with or changes (the engine's [`AudioSettings`], with
/// channels as indices so they stay clear of the answer channels).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScriptSettings {
    /// MIDI thru.
    pub midi_thru: bool,
    /// New input cuts a playing answer short.
    pub interrupt: bool,
    /// Bypassed.
    pub bypassed: bool,
    /// Tempo when the host gives none, quarter notes per minute.
    pub fallback_tempo_bpm: f64,
    /// Listen to one player channel (an index into the player's 14 channels), or all.
    pub listen_channel: Option<u8>,
    /// The key that triggers Continue instead of sounding.
    pub continue_key: Option<u8>,
    /// Which of the two answer channels is the output channel (0 or 1).
    pub out_channel_index: u8,
}

/// Equal blocks in a row, after the host actions that come before them.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// What the host does before the first block.
    pub actions: Vec<HostAction>,
    /// Length of each block, in samples; `None`: the script's usual block length.
    pub len_samples: Option<u32>,
    /// Number of blocks, ≥ 1.
    pub repeat: u32,
}

/// Something a host does between two blocks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HostAction {
    /// The transport starts.
    Play,
    /// The transport stops (the position stays).
    Stop,
    /// The position jumps, in quarter notes (playing or not).
    Seek(f64),
    /// The loop region (start, length in quarter notes) is set, or looping is turned off.
    Loop(Option<(f64, f64)>),
    /// The tempo jumps, in quarter notes per minute.
    Tempo(f64),
    /// The tempo moves linearly to `to_bpm` over `blocks` blocks.
    Ramp {
        /// Target tempo.
        to_bpm: f64,
        /// Blocks the ramp takes, ≥ 1.
        blocks: u32,
    },
    /// The time signature changes; the current bar is counted in it from its start.
    TimeSig(u32, u32),
    /// Bypass on or off.
    Bypass(bool),
    /// MIDI thru on or off.
    Thru(bool),
    /// Interrupt on or off.
    Interrupt(bool),
    /// The listen channel (player channel index) changes.
    Listen(Option<u8>),
    /// The Continue key changes.
    ContinueKey(Option<u8>),
    /// The output channel switches to the other answer channel.
    SwitchOutChannel,
    /// The fallback tempo changes.
    FallbackTempo(f64),
    /// The host calls `reset()`.
    Reset,
    /// The host deactivates and activates again, at a new sample rate if given.
    Reactivate(Option<f64>),
}

/// The player's MIDI, placed on the script's sample timeline.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScriptMidi {
    /// Notes.
    pub notes: Vec<ScriptNote>,
    /// Note-offs for keys that may not be down.
    pub stray_offs: Vec<(u32, u8, u8)>,
    /// Control changes: (place in ppm, channel index, controller, value).
    pub ccs: Vec<(u32, u8, u8, u8)>,
    /// Momentary controls (a parameter or a learned CC): (place in ppm, control).
    pub controls: Vec<(u32, JamControl)>,
}

/// One note the player plays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScriptNote {
    /// Where it starts, in millionths of the script's length (so a script's notes stay spread
    /// over it however its blocks shrink).
    pub at_ppm: u32,
    /// How long it is held, in samples.
    pub len_samples: u32,
    /// Player channel index (0..14, mapped around the answer channels).
    pub channel: u8,
    /// MIDI key.
    pub key: u8,
    /// MIDI velocity, 1..=127.
    pub velocity: u8,
    /// How it ends.
    pub end: NoteEnd,
}

/// How a player's note ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteEnd {
    /// A note-off.
    Off,
    /// A note-on with velocity 0.
    ZeroVelocityOn,
    /// Never: the key is still down when the script ends.
    Held,
}

/// A MIDI or control event inside a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptEvent {
    /// A note-on (velocity 0 means note-off, as in MIDI).
    NoteOn {
        /// MIDI channel, 0..=15.
        channel: u8,
        /// MIDI key.
        key: u8,
        /// MIDI velocity.
        velocity: u8,
    },
    /// A note-off.
    NoteOff {
        /// MIDI channel, 0..=15.
        channel: u8,
        /// MIDI key.
        key: u8,
    },
    /// A control change.
    Cc {
        /// MIDI channel, 0..=15.
        channel: u8,
        /// Controller number, 0..=127.
        cc: u8,
        /// Value, 0..=127.
        value: u8,
    },
    /// A momentary jam control (a parameter switched on, or a learned CC).
    Control(JamControl),
}

/// An event at a sample offset inside its block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedEvent {
    /// Sample offset, below the block's length.
    pub offset: u32,
    /// The event.
    pub event: ScriptEvent,
}

/// One block as the host processes it.
#[derive(Debug, Clone, PartialEq)]
pub struct HostBlock {
    /// Its number, from 0.
    pub index: usize,
    /// Length in samples, 1..=8192.
    pub len_samples: u32,
    /// Sample rate, in Hz (changes only after [`HostBlock::reactivated`]).
    pub sample_rate_hz: f64,
    /// The transport as the host reports it.
    pub transport: HostTransport,
    /// The host's loop region (start, end in quarter notes) while looping.
    pub loop_beats: Option<(f64, f64)>,
    /// The plugin's settings in this block (the output channel is one of the answer channels).
    pub settings: AudioSettings,
    /// The host called `reset()` before this block.
    pub reset: bool,
    /// The host deactivated and activated the plugin before this block.
    pub reactivated: bool,
    /// The player's events, in time order.
    pub events: Vec<TimedEvent>,
}

/// MIDI CC: all sound off.
pub const CC_ALL_SOUND_OFF: u8 = 120;
/// MIDI CC: all notes off.
pub const CC_ALL_NOTES_OFF: u8 = 123;

impl HostBlock {
    /// The block's events as the engine takes them, mapped as the plugin maps host MIDI: all
    /// notes off and all sound off are [`InputEvent::AllNotesOff`], other CCs never reach the
    /// engine.
    pub fn input_events(&self) -> impl Iterator<Item = InputEvent> + '_ {
        self.events.iter().filter_map(|e| {
            let offset = e.offset;
            match e.event {
                ScriptEvent::NoteOn {
                    channel,
                    key,
                    velocity,
                } => Some(InputEvent::NoteOn {
                    offset,
                    channel,
                    key,
                    velocity,
                }),
                ScriptEvent::NoteOff { channel, key } => Some(InputEvent::NoteOff {
                    offset,
                    channel,
                    key,
                }),
                ScriptEvent::Cc {
                    channel,
                    cc: CC_ALL_NOTES_OFF | CC_ALL_SOUND_OFF,
                    ..
                } => Some(InputEvent::AllNotesOff { offset, channel }),
                ScriptEvent::Cc { .. } => None,
                ScriptEvent::Control(control) => Some(InputEvent::Control { offset, control }),
            }
        })
    }

    /// Whether the plugin's notes must all end at the start of this block (reset, reactivated).
    pub fn releases_all(&self) -> bool {
        self.reset || self.reactivated
    }
}

// ---------------------------------------------------------------------------------------------
// Strategies.

/// A sample rate: mostly 44.1 or 48 kHz, often another common one, sometimes any in
/// 22.05 kHz..192 kHz.
pub fn sample_rate_hz() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => select(vec![44_100.0, 48_000.0]),
        2 => select(COMMON_SAMPLE_RATES_HZ.to_vec()),
        1 => (22_050u32..=192_000).prop_map(f64::from),
    ]
}

/// A block length in samples, 1..=8192: the usual powers of two, odd sizes, and tiny blocks.
pub fn block_len_samples() -> impl Strategy<Value = u32> {
    prop_oneof![
        3 => select(vec![32u32, 64, 128, 256, 441, 480, 512, 1024, 2048, 4096, 8192]),
        3 => BLOCK_LEN_RANGE_SAMPLES.0..=BLOCK_LEN_RANGE_SAMPLES.1,
        1 => 1u32..=16,
    ]
}

/// A host's usual block length: mostly 128..8192 samples, sometimes tiny (hosts that split
/// blocks at every event) or odd.
pub fn usual_block_len_samples() -> impl Strategy<Value = u32> {
    prop_oneof![
        4 => select(vec![128u32, 256, 441, 512, 1024, 2048, 4096, 8192]),
        3 => 2048u32..=BLOCK_LEN_RANGE_SAMPLES.1,
        1 => BLOCK_LEN_RANGE_SAMPLES.0..=64,
        1 => BLOCK_LEN_RANGE_SAMPLES.0..=BLOCK_LEN_RANGE_SAMPLES.1,
    ]
}

/// A tempo in 20..300 quarter notes per minute: round ones and any.
pub fn tempo_bpm() -> impl Strategy<Value = f64> {
    prop_oneof![
        1 => select(vec![60.0, 90.0, 120.0, 140.0, 174.0]),
        2 => TEMPO_RANGE_BPM.0..=TEMPO_RANGE_BPM.1,
    ]
}

/// A time signature from 1/2 to 13/16 (denominators 2, 4, 8, 16: every bar line lies on the
/// 16th grid).
pub fn time_sig() -> impl Strategy<Value = (u32, u32)> {
    prop_oneof![
        2 => select(vec![(4u32, 4u32), (3, 4), (6, 8), (2, 4)]),
        1 => (1u32..=13, select(vec![2u32, 4, 8, 16])),
    ]
}

/// A position in quarter notes: on a beat, on a 16th, or anywhere (a little before 0 too).
pub fn position_beats() -> impl Strategy<Value = f64> {
    prop_oneof![
        (0i32..64).prop_map(f64::from),
        (-16i32..512).prop_map(|s| f64::from(s) / 4.0),
        -4.0..256.0f64,
    ]
}

/// A loop region: start and length in quarter notes (from a 16th to 8 bars).
pub fn loop_region() -> impl Strategy<Value = (f64, f64)> {
    prop_oneof![
        (0i32..16, 1i32..=8).prop_map(|(bar, bars)| (f64::from(bar * 4), f64::from(bars * 4))),
        (0.0..64.0f64, 0.25..32.0f64),
    ]
}

/// One host action between blocks, weighted so transport changes are the common ones.
pub fn host_action() -> impl Strategy<Value = HostAction> {
    prop_oneof![
        3 => Just(HostAction::Play),
        3 => Just(HostAction::Stop),
        3 => position_beats().prop_map(HostAction::Seek),
        2 => proptest::option::weighted(0.7, loop_region()).prop_map(HostAction::Loop),
        3 => tempo_bpm().prop_map(HostAction::Tempo),
        2 => (tempo_bpm(), 1u32..=MAX_RAMP_BLOCKS)
            .prop_map(|(to_bpm, blocks)| HostAction::Ramp { to_bpm, blocks }),
        2 => time_sig().prop_map(|(n, d)| HostAction::TimeSig(n, d)),
        2 => proptest::bool::weighted(0.3).prop_map(HostAction::Bypass),
        1 => any::<bool>().prop_map(HostAction::Thru),
        1 => any::<bool>().prop_map(HostAction::Interrupt),
        1 => proptest::option::of(0u8..14).prop_map(HostAction::Listen),
        1 => proptest::option::of(55u8..72).prop_map(HostAction::ContinueKey),
        1 => Just(HostAction::SwitchOutChannel),
        1 => tempo_bpm().prop_map(HostAction::FallbackTempo),
        1 => Just(HostAction::Reset),
        1 => proptest::option::of(sample_rate_hz()).prop_map(HostAction::Reactivate),
    ]
}

/// A segment: some actions, then `repeat` blocks of one length (mostly one block).
pub fn segment(limits: ScriptLimits) -> impl Strategy<Value = Segment> {
    let max_repeat = limits.max_repeat.max(1);
    let actions = vec(host_action(), 1..=limits.max_actions.max(1));
    (
        // Mostly nothing happens between blocks.
        prop_oneof![3 => Just(Vec::new()), 1 => actions],
        proptest::option::weighted(0.3, block_len_samples()),
        prop_oneof![1 => Just(1u32), 2 => 1u32..=max_repeat],
    )
        .prop_map(|(actions, len_samples, repeat)| Segment {
            actions,
            len_samples,
            repeat,
        })
}

/// A MIDI key: mostly a narrow range (so notes on one key overlap), sometimes any key.
pub fn key() -> impl Strategy<Value = u8> {
    prop_oneof![4 => 55u8..72, 1 => 0u8..=127]
}

/// One player note: up to two seconds at 48 kHz, occasionally with a velocity-0 note-on for
/// its end or held to the end. Most notes fall in the first 40% of the script (a call, then
/// room for its answer), the others anywhere.
pub fn script_note() -> impl Strategy<Value = ScriptNote> {
    (
        prop_oneof![2 => 0..(PPM * 2 / 5) as u32, 1 => 0..PPM as u32],
        prop_oneof![3 => 1u32..24_000, 1 => 0u32..96_000],
        prop_oneof![3 => Just(0u8), 1 => 0u8..14],
        key(),
        1u8..=127,
        prop_oneof![
            8 => Just(NoteEnd::Off),
            1 => Just(NoteEnd::ZeroVelocityOn),
            1 => Just(NoteEnd::Held),
        ],
    )
        .prop_map(
            |(at_ppm, len_samples, channel, key, velocity, end)| ScriptNote {
                at_ppm,
                len_samples,
                channel,
                key,
                velocity,
                end,
            },
        )
}

/// The player's MIDI: notes, stray note-offs, CCs (all-notes-off among them) and controls.
pub fn script_midi(limits: ScriptLimits) -> impl Strategy<Value = ScriptMidi> {
    let ppm = 0..PPM as u32;
    (
        prop_oneof![
            vec(script_note(), 0..=limits.max_notes.min(8)),
            vec(script_note(), 0..=limits.max_notes),
        ],
        vec((ppm.clone(), 0u8..14, key()), 0..4),
        vec(
            (
                ppm.clone(),
                0u8..14,
                prop_oneof![
                    select(vec![1u8, 7, 64, 74, CC_ALL_SOUND_OFF, CC_ALL_NOTES_OFF]),
                    0u8..=127
                ],
                0u8..=127,
            ),
            0..4,
        ),
        vec((ppm, select(JamControl::ALL.to_vec())), 0..3),
    )
        .prop_map(|(notes, stray_offs, ccs, controls)| ScriptMidi {
            notes,
            stray_offs,
            ccs,
            controls,
        })
}

/// The settings a script starts with: mostly the defaults, everything possible.
pub fn script_settings() -> impl Strategy<Value = ScriptSettings> {
    (
        proptest::bool::weighted(0.8),
        any::<bool>(),
        proptest::bool::weighted(0.1),
        tempo_bpm(),
        proptest::option::weighted(0.2, 0u8..14),
        proptest::option::weighted(0.2, 55u8..72),
        0u8..2,
    )
        .prop_map(
            |(
                midi_thru,
                interrupt,
                bypassed,
                fallback_tempo_bpm,
                listen_channel,
                continue_key,
                out_channel_index,
            )| ScriptSettings {
                midi_thru,
                interrupt,
                bypassed,
                fallback_tempo_bpm,
                listen_channel,
                continue_key,
                out_channel_index,
            },
        )
}

/// Two distinct answer channels.
pub fn answer_channels() -> impl Strategy<Value = [u8; 2]> {
    (0u8..16, 0u8..15).prop_map(|(a, b)| [a, if b >= a { b + 1 } else { b }])
}

/// What a host reports: mostly everything (the bar start only from some hosts).
pub fn reports() -> impl Strategy<Value = Reports> {
    (
        proptest::bool::weighted(0.95),
        proptest::bool::weighted(0.95),
        proptest::bool::weighted(0.9),
        any::<bool>(),
    )
        .prop_map(|(tempo, position, time_sig, bar_start)| Reports {
            tempo,
            position,
            time_sig,
            bar_start,
        })
}

/// A whole random host within `limits`.
pub fn host_script(limits: ScriptLimits) -> impl Strategy<Value = HostScript> {
    let start = (
        (sample_rate_hz(), usual_block_len_samples()),
        proptest::bool::weighted(0.8),
        position_beats(),
        tempo_bpm(),
        time_sig(),
        proptest::option::weighted(0.2, loop_region()),
        reports(),
    );
    (
        start,
        answer_channels(),
        script_settings(),
        vec(segment(limits), 1..=limits.max_segments.max(1)),
        script_midi(limits),
    )
        .prop_map(
            |(
                (
                    (sample_rate_hz, block_len_samples),
                    playing,
                    pos_beats,
                    tempo_bpm,
                    time_sig,
                    loop_beats,
                    reports,
                ),
                answer_channels,
                settings,
                segments,
                midi,
            )| HostScript {
                sample_rate_hz,
                block_len_samples,
                playing,
                pos_beats,
                tempo_bpm,
                time_sig,
                loop_beats,
                reports,
                answer_channels,
                settings,
                segments,
                midi,
            },
        )
}

// ---------------------------------------------------------------------------------------------
// The host simulation.

impl HostScript {
    /// The MIDI channel of player channel index `index` (0..14): the channels other than the
    /// answer channels, in order.
    pub fn player_channel(&self, index: u8) -> u8 {
        (0u8..16)
            .filter(|c| !self.answer_channels.contains(c))
            .nth(usize::from(index % 14))
            .unwrap_or(0)
    }

    /// The length of `segment`'s blocks, in samples.
    pub fn segment_block_len(&self, segment: &Segment) -> u32 {
        segment
            .len_samples
            .unwrap_or(self.block_len_samples)
            .clamp(BLOCK_LEN_RANGE_SAMPLES.0, BLOCK_LEN_RANGE_SAMPLES.1)
    }

    /// Number of samples in the script's segments (the closing blocks not counted).
    pub fn len_samples(&self) -> u64 {
        self.segments
            .iter()
            .map(|s| u64::from(self.segment_block_len(s)) * u64::from(s.repeat.max(1)))
            .sum()
    }

    /// The player's events on the script's sample timeline, in time order (at one sample, in
    /// the order they were made: note-offs of earlier notes before later note-ons).
    fn timeline(&self) -> Vec<(u64, ScriptEvent)> {
        let total = self.len_samples();
        let place = |ppm: u32| u64::from(ppm) * total / PPM;
        let mut events = Vec::new();
        for n in &self.midi.notes {
            let channel = self.player_channel(n.channel);
            let on = place(n.at_ppm);
            events.push((
                on,
                ScriptEvent::NoteOn {
                    channel,
                    key: n.key,
                    velocity: n.velocity.max(1),
                },
            ));
            let off = on + u64::from(n.len_samples);
            match n.end {
                NoteEnd::Off => events.push((
                    off,
                    ScriptEvent::NoteOff {
                        channel,
                        key: n.key,
                    },
                )),
                NoteEnd::ZeroVelocityOn => events.push((
                    off,
                    ScriptEvent::NoteOn {
                        channel,
                        key: n.key,
                        velocity: 0,
                    },
                )),
                NoteEnd::Held => {}
            }
        }
        for &(at, channel, key) in &self.midi.stray_offs {
            let channel = self.player_channel(channel);
            events.push((place(at), ScriptEvent::NoteOff { channel, key }));
        }
        for &(at, channel, cc, value) in &self.midi.ccs {
            let channel = self.player_channel(channel);
            events.push((place(at), ScriptEvent::Cc { channel, cc, value }));
        }
        for &(at, control) in &self.midi.controls {
            events.push((place(at), ScriptEvent::Control(control)));
        }
        // Stable: equal samples keep the order above.
        events.sort_by_key(|&(sample, _)| sample);
        events.retain(|&(sample, _)| sample < total);
        events
    }

    /// The engine settings for `s`.
    fn audio_settings(&self, s: &ScriptSettings) -> AudioSettings {
        AudioSettings {
            midi_thru: s.midi_thru,
            out_channel: self.answer_channels[usize::from(s.out_channel_index & 1)],
            interrupt: s.interrupt,
            bypassed: s.bypassed,
            fallback_tempo_bpm: s.fallback_tempo_bpm,
            listen_channel: s.listen_channel.map(|c| self.player_channel(c)),
            continue_key: s.continue_key,
        }
    }

    /// Plays the script as a host would: every block with its transport, settings and events,
    /// followed by two closing blocks (the transport stops, then the host deactivates and
    /// activates again), after which nothing may sound.
    pub fn render(&self) -> Vec<HostBlock> {
        let mut host = HostState::new(self);
        let timeline = self.timeline();
        let mut next_event = 0;
        let mut sample: u64 = 0;
        let mut blocks = Vec::new();
        for segment in &self.segments {
            for action in &segment.actions {
                host.apply(*action);
            }
            for _ in 0..segment.repeat.max(1) {
                let len = self.segment_block_len(segment);
                let end = sample + u64::from(len);
                let mut events = Vec::new();
                while let Some(&(at, event)) = timeline.get(next_event) {
                    if at >= end {
                        break;
                    }
                    events.push(TimedEvent {
                        offset: (at - sample) as u32,
                        event,
                    });
                    next_event += 1;
                }
                blocks.push(host.block(self, blocks.len(), len, events));
                sample = end;
            }
        }
        host.apply(HostAction::Stop);
        blocks.push(host.block(self, blocks.len(), CLOSING_BLOCK_SAMPLES, Vec::new()));
        host.apply(HostAction::Reactivate(None));
        blocks.push(host.block(self, blocks.len(), CLOSING_BLOCK_SAMPLES, Vec::new()));
        blocks
    }
}

/// The host between blocks.
#[derive(Debug, Clone)]
struct HostState {
    /// Sample rate, Hz.
    sample_rate_hz: f64,
    /// Whether the transport plays.
    playing: bool,
    /// Position of the next block's first sample, quarter notes.
    pos_beats: f64,
    /// Tempo at the next block's first sample.
    tempo_bpm: f64,
    /// A tempo ramp in progress: (tempo change per block, blocks left).
    ramp: Option<(f64, u32)>,
    /// Time signature.
    time_sig: (u32, u32),
    /// A bar line of the current signature (where it took effect).
    sig_origin_beats: f64,
    /// Loop region (start, end), quarter notes.
    loop_beats: Option<(f64, f64)>,
    /// Settings.
    settings: ScriptSettings,
    /// `reset()` was called since the last block.
    reset: bool,
    /// Deactivated and activated since the last block.
    reactivated: bool,
}

impl HostState {
    /// The host at the start of `script`.
    fn new(script: &HostScript) -> Self {
        Self {
            sample_rate_hz: script.sample_rate_hz,
            playing: script.playing,
            pos_beats: script.pos_beats,
            tempo_bpm: script.tempo_bpm.clamp(TEMPO_RANGE_BPM.0, TEMPO_RANGE_BPM.1),
            ramp: None,
            time_sig: script.time_sig,
            sig_origin_beats: 0.0,
            loop_beats: script.loop_beats.map(|(s, l)| (s, s + l.max(0.25))),
            settings: script.settings,
            reset: false,
            reactivated: false,
        }
    }

    /// Length of a bar in quarter notes.
    fn bar_len_beats(&self) -> f64 {
        f64::from(self.time_sig.0.max(1)) * 4.0 / f64::from(self.time_sig.1.max(1))
    }

    /// The start of the bar holding `beats`.
    fn bar_start_beats(&self, beats: f64) -> f64 {
        let bar = self.bar_len_beats();
        self.sig_origin_beats + ((beats - self.sig_origin_beats) / bar).floor() * bar
    }

    /// Does what the host does between blocks.
    fn apply(&mut self, action: HostAction) {
        match action {
            HostAction::Play => self.playing = true,
            HostAction::Stop => self.playing = false,
            HostAction::Seek(beats) => self.pos_beats = beats,
            HostAction::Loop(region) => {
                self.loop_beats = region.map(|(s, l)| (s, s + l.max(0.25)));
            }
            HostAction::Tempo(bpm) => {
                self.tempo_bpm = bpm.clamp(TEMPO_RANGE_BPM.0, TEMPO_RANGE_BPM.1);
                self.ramp = None;
            }
            HostAction::Ramp { to_bpm, blocks } => {
                let blocks = blocks.max(1);
                let to = to_bpm.clamp(TEMPO_RANGE_BPM.0, TEMPO_RANGE_BPM.1);
                self.ramp = Some(((to - self.tempo_bpm) / f64::from(blocks), blocks));
            }
            HostAction::TimeSig(num, den) => {
                let origin = self.bar_start_beats(self.pos_beats);
                self.time_sig = (num.max(1), den.max(1));
                self.sig_origin_beats = origin;
            }
            HostAction::Bypass(on) => self.settings.bypassed = on,
            HostAction::Thru(on) => self.settings.midi_thru = on,
            HostAction::Interrupt(on) => self.settings.interrupt = on,
            HostAction::Listen(channel) => self.settings.listen_channel = channel,
            HostAction::ContinueKey(key) => self.settings.continue_key = key,
            HostAction::SwitchOutChannel => self.settings.out_channel_index ^= 1,
            HostAction::FallbackTempo(bpm) => self.settings.fallback_tempo_bpm = bpm,
            HostAction::Reset => self.reset = true,
            HostAction::Reactivate(rate) => {
                self.reactivated = true;
                if let Some(rate) = rate {
                    self.sample_rate_hz = rate;
                }
            }
        }
    }

    /// The next block, then the host moves on past it.
    fn block(
        &mut self,
        script: &HostScript,
        index: usize,
        len_samples: u32,
        events: Vec<TimedEvent>,
    ) -> HostBlock {
        let reports = script.reports;
        let transport = HostTransport {
            playing: self.playing,
            tempo_bpm: reports.tempo.then_some(self.tempo_bpm),
            pos_beats: reports.position.then_some(self.pos_beats),
            time_sig: reports.time_sig.then_some(self.time_sig),
            bar_start_beats: (reports.bar_start && reports.position)
                .then(|| self.bar_start_beats(self.pos_beats)),
        };
        let block = HostBlock {
            index,
            len_samples,
            sample_rate_hz: self.sample_rate_hz,
            transport,
            loop_beats: self.loop_beats,
            settings: script.audio_settings(&self.settings),
            reset: std::mem::take(&mut self.reset),
            reactivated: std::mem::take(&mut self.reactivated),
            events,
        };
        // Move on: the tempo ramps during the block; the position advances by its integral.
        let start_bpm = self.tempo_bpm;
        if let Some((step, left)) = self.ramp {
            self.tempo_bpm = (self.tempo_bpm + step).clamp(TEMPO_RANGE_BPM.0, TEMPO_RANGE_BPM.1);
            self.ramp = (left > 1).then_some((step, left - 1));
        }
        if self.playing {
            let seconds = f64::from(len_samples) / self.sample_rate_hz;
            let mut pos = self.pos_beats + seconds * (start_bpm + self.tempo_bpm) / 2.0 / 60.0;
            if let Some((start, end)) = self.loop_beats
                && self.pos_beats < end
                && pos >= end
            {
                pos = start + (pos - end) % (end - start);
            }
            self.pos_beats = pos;
        }
        block
    }
}

// ---------------------------------------------------------------------------------------------
// Checking what came out.

/// A note event the plugin sent, as a host sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    /// Sample offset inside the block.
    pub offset: u32,
    /// On or off.
    pub kind: OutKind,
    /// MIDI channel, 0..=15.
    pub channel: u8,
    /// MIDI key.
    pub key: u8,
}

/// Where a block sat on the plugin's own beat timeline, when the checker can know it (the
/// engine reports it; a host knows it while its transport plays).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlockBeats {
    /// Beat position of the block's first sample.
    pub start_beats: f64,
    /// Samples per quarter note in the block.
    pub samples_per_beat: f64,
    /// The block does not continue the previous one (start, stop, seek, loop, reset).
    pub jumped: bool,
}

/// Where a [`ClockModel`] puts a block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelledBlock {
    /// Beat position of the block's first sample.
    pub start_beats: f64,
    /// Samples per quarter note in the block.
    pub samples_per_beat: f64,
    /// Beat position just past the block's last sample.
    pub end_beats: f64,
    /// The block follows the host's timeline (it plays and reports a position).
    pub host_playing: bool,
    /// The block does not continue the previous one.
    pub jumped: bool,
    /// Bar length in beats (the last time signature reported, else 4/4).
    pub bar_len_beats: f64,
}

impl ModelledBlock {
    /// What an [`OutputChecker`] needs of it.
    pub fn beats(&self) -> BlockBeats {
        BlockBeats {
            start_beats: self.start_beats,
            samples_per_beat: self.samples_per_beat,
            jumped: self.jumped,
        }
    }
}

/// A reference model of the engine's musical clock ([`crate::MusicalClock`]), written from its
/// documentation: where each block starts on the plugin's beat timeline, its samples per beat,
/// and whether the timeline jumped. The engine's property tests check the engine's clock
/// against it; a test host uses it to know the built plugin's timeline.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClockModel {
    /// End of the previous block in beats, unless the clock was reset.
    prev_end_beats: Option<f64>,
    /// Whether the previous block followed the host.
    prev_host_playing: bool,
    /// Bar length in beats, once a time signature was reported.
    bar_len_beats: Option<f64>,
}

impl ClockModel {
    /// Where `block` sits, given the transport `t` the clock receives, the fallback tempo it
    /// holds and the sample rate it runs at; then moves on past the block (to its modelled end;
    /// see [`ClockModel::continue_from`]).
    pub fn block(
        &mut self,
        block: &HostBlock,
        t: &HostTransport,
        fallback_tempo_bpm: f64,
        sample_rate_hz: f64,
    ) -> ModelledBlock {
        if block.releases_all() {
            self.prev_end_beats = None;
        }
        let tempo = t
            .tempo_bpm
            .filter(|b| b.is_finite() && *b > 0.0)
            .unwrap_or(fallback_tempo_bpm)
            .clamp(1.0, 1000.0);
        let samples_per_beat = sample_rate_hz * 60.0 / tempo;
        let host_playing = t.playing && t.pos_beats.is_some();
        let (start_beats, jumped) = match (host_playing, t.pos_beats, self.prev_end_beats) {
            (true, Some(pos), Some(prev)) => (
                pos,
                !self.prev_host_playing || (pos - prev).abs() > 1.0 / 64.0,
            ),
            (true, Some(pos), None) => (pos, true),
            (_, _, Some(prev)) => (prev, self.prev_host_playing),
            (_, _, None) => (0.0, true),
        };
        if let Some((n, d)) = t.time_sig {
            self.bar_len_beats = Some(f64::from(n) * 4.0 / f64::from(d));
        }
        let end_beats = start_beats + f64::from(block.len_samples) / samples_per_beat;
        self.prev_end_beats = Some(end_beats);
        self.prev_host_playing = host_playing;
        ModelledBlock {
            start_beats,
            samples_per_beat,
            end_beats,
            host_playing,
            jumped,
            bar_len_beats: self.bar_len_beats.unwrap_or(4.0),
        }
    }

    /// Takes `end_beats` as the end of the block just modelled (the engine's own figure, so that
    /// a free-running next block starts exactly where the engine's did).
    pub fn continue_from(&mut self, end_beats: f64) {
        self.prev_end_beats = Some(end_beats);
    }
}

/// The number of cases for a property test: `tier_env` if set, else `PROPTEST_CASES` if set,
/// else `default_cases`.
pub fn cases(tier_env: &str, default_cases: u32) -> u32 {
    let read = |name: &str| std::env::var(name).ok().and_then(|v| v.trim().parse().ok());
    read(tier_env)
        .or_else(|| read("PROPTEST_CASES"))
        .unwrap_or(default_cases)
}

/// A proptest configuration with `cases` cases whose failures are kept in `regressions` (a path
/// under `proptest-regressions/`, replayed first on the next run) and shrunk for at most
/// `max_shrink_iters` steps.
pub fn config(cases: u32, regressions: &'static str, max_shrink_iters: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::Direct(regressions),
        )),
        max_shrink_iters,
        ..ProptestConfig::default()
    }
}

/// What an [`OutputChecker`] saw, summed over blocks (to show a run exercised something).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Seen {
    /// Blocks checked.
    pub blocks: u64,
    /// Note events checked.
    pub events: u64,
    /// Answer note-ons (on the answer channels) checked against the grid.
    pub answer_notes: u64,
    /// Player note-ons checked to pass through at their sample.
    pub thru_notes: u64,
    /// Answer notes ended by a jump of the timeline.
    pub ended_by_jump: u64,
    /// Bypassed blocks.
    pub bypassed_blocks: u64,
}

impl std::ops::AddAssign for Seen {
    fn add_assign(&mut self, o: Self) {
        self.blocks += o.blocks;
        self.events += o.events;
        self.answer_notes += o.answer_notes;
        self.thru_notes += o.thru_notes;
        self.ended_by_jump += o.ended_by_jump;
        self.bypassed_blocks += o.bypassed_blocks;
    }
}

impl fmt::Display for Seen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} blocks ({} bypassed), {} note events, {} answer notes on the grid, {} thru notes \
             at their sample, {} answer notes ended by a jump",
            self.blocks,
            self.bypassed_blocks,
            self.events,
            self.answer_notes,
            self.thru_notes,
            self.ended_by_jump
        )
    }
}

/// Checks a plugin's note output block by block against what every host may count on:
///
/// - events lie inside their block and in time order;
/// - a note-on never starts a note that sounds, a note-off never ends a silent one, and after
///   the script's closing blocks nothing sounds (every note-on was matched by a note-off);
/// - after `reset()` or a reactivation, every sounding note ends at sample 0 of the next block;
///   when the timeline jumps, every sounding answer note does;
/// - while bypassed no answer note starts, and the answer notes still sounding end at sample 0
///   of the first bypassed block;
/// - answer notes start on the 16th-note grid of the plugin's beats, within half a sample;
/// - a player's note-on that passes through (thru on and not the Continue key, or bypassed)
///   leaves at its own sample.
#[derive(Debug, Clone)]
pub struct OutputChecker {
    /// The answer channels.
    answer_channels: [u8; 2],
    /// Sounding notes: bit `key` of `sounding[channel]`.
    sounding: [u128; 16],
    /// What was checked so far.
    seen: Seen,
}

impl OutputChecker {
    /// A checker for `script`'s blocks.
    pub fn new(script: &HostScript) -> Self {
        Self {
            answer_channels: script.answer_channels,
            sounding: [0; 16],
            seen: Seen::default(),
        }
    }

    /// What was checked so far.
    pub fn seen(&self) -> Seen {
        self.seen
    }

    /// Whether any note sounds.
    pub fn any_sounding(&self) -> bool {
        self.sounding.iter().any(|&c| c != 0)
    }

    /// The sounding notes, as (channel, key).
    pub fn sounding(&self) -> Vec<(u8, u8)> {
        notes_of(&self.sounding, 0..16).collect()
    }

    /// Checks one block's output `sent`. `beats` tells where the block sat on the plugin's
    /// timeline when known (then the grid and the jump rules are checked too). Returns what
    /// broke, in words.
    pub fn block(
        &mut self,
        block: &HostBlock,
        beats: Option<BlockBeats>,
        sent: &[Sent],
    ) -> Result<(), String> {
        let at = |what: String| {
            format!(
                "block {} ({} samples): {what}",
                block.index, block.len_samples
            )
        };
        self.seen.blocks += 1;
        self.seen.events += sent.len() as u64;
        let bypassed = block.settings.bypassed;
        if bypassed {
            self.seen.bypassed_blocks += 1;
        }
        let before = self.sounding;

        let mut last = 0;
        for e in sent {
            if e.offset >= block.len_samples {
                return Err(at(format!("{e:?} lies outside the block")));
            }
            if e.offset < last {
                return Err(at(format!("{e:?} comes after an event at {last}")));
            }
            last = e.offset;
            let bit = 1u128 << (e.key & 0x7f);
            let slot = &mut self.sounding[usize::from(e.channel & 0x0f)];
            match e.kind {
                OutKind::On => {
                    if *slot & bit != 0 {
                        return Err(at(format!("{e:?} starts a note that sounds")));
                    }
                    *slot |= bit;
                }
                OutKind::Off => {
                    if *slot & bit == 0 {
                        return Err(at(format!("{e:?} ends a note that is silent")));
                    }
                    *slot &= !bit;
                }
            }
            let answer = self.answer_channels.contains(&e.channel);
            if answer && bypassed && (e.kind == OutKind::On || e.offset != 0) {
                return Err(at(format!("{e:?}: an answer note event while bypassed")));
            }
            if answer
                && e.kind == OutKind::On
                && let Some(b) = beats
            {
                let beat = b.start_beats + f64::from(e.offset) / b.samples_per_beat;
                let steps = beat * STEPS_PER_QUARTER;
                let off_grid_samples =
                    (steps - steps.round()).abs() * b.samples_per_beat / STEPS_PER_QUARTER;
                if off_grid_samples > 0.5 + 1e-6 {
                    return Err(at(format!(
                        "{e:?}: the answer note at beat {beat} is {off_grid_samples} samples off \
                         the 16th grid"
                    )));
                }
                self.seen.answer_notes += 1;
            }
        }

        // Whatever had to end at sample 0 did.
        let ended_at_zero = |channel: u8, key: u8| {
            sent.iter().any(|e| {
                e.offset == 0 && e.kind == OutKind::Off && e.channel == channel && e.key == key
            })
        };
        if block.releases_all() {
            for (channel, key) in notes_of(&before, 0..16) {
                if !ended_at_zero(channel, key) {
                    return Err(at(format!(
                        "note {key} on channel {channel} did not end at the reset"
                    )));
                }
            }
        }
        let jumped = beats.is_some_and(|b| b.jumped);
        if jumped || bypassed {
            for (channel, key) in notes_of(&before, self.answer_channels) {
                if !ended_at_zero(channel, key) {
                    let why = if jumped { "the jump" } else { "the bypass" };
                    return Err(at(format!(
                        "answer note {key} on channel {channel} did not end at {why}"
                    )));
                }
                self.seen.ended_by_jump += u64::from(jumped);
            }
        }

        // Thru: a player's note-on that passes leaves at its own sample.
        for e in &block.events {
            let ScriptEvent::NoteOn {
                channel,
                key,
                velocity,
            } = e.event
            else {
                continue;
            };
            let s = &block.settings;
            let passes =
                velocity > 0 && (s.bypassed || (s.midi_thru && s.continue_key != Some(key)));
            if !passes {
                continue;
            }
            let found = sent.iter().any(|o| {
                o.offset == e.offset
                    && o.kind == OutKind::On
                    && o.channel == channel
                    && o.key == key
            });
            if !found {
                return Err(at(format!(
                    "the player's note-on {e:?} did not pass through at its sample"
                )));
            }
            self.seen.thru_notes += 1;
        }
        Ok(())
    }

    /// Checks the end of a script: nothing sounds.
    pub fn finish(&self) -> Result<(), String> {
        if self.any_sounding() {
            return Err(format!(
                "notes still sounding at the end: {:?}",
                self.sounding()
            ));
        }
        Ok(())
    }
}

/// The (channel, key) of every note set in `sounding` on `channels`.
fn notes_of(
    sounding: &[u128; 16],
    channels: impl IntoIterator<Item = u8>,
) -> impl Iterator<Item = (u8, u8)> {
    let sounding = *sounding;
    channels.into_iter().flat_map(move |channel| {
        let mut bits = sounding[usize::from(channel & 0x0f)];
        std::iter::from_fn(move || {
            (bits != 0).then(|| {
                let key = bits.trailing_zeros() as u8;
                bits &= bits - 1;
                (channel, key)
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plain script: 48 kHz, 120 BPM, 4/4 from beat 0, blocks of 480 samples (1/50 beat).
    fn plain(segments: Vec<Segment>) -> HostScript {
        HostScript {
            sample_rate_hz: 48_000.0,
            block_len_samples: 480,
            playing: true,
            pos_beats: 0.0,
            tempo_bpm: 120.0,
            time_sig: (4, 4),
            loop_beats: None,
            reports: Reports {
                tempo: true,
                position: true,
                time_sig: true,
                bar_start: true,
            },
            answer_channels: [0, 9],
            settings: ScriptSettings {
                midi_thru: true,
                interrupt: false,
                bypassed: false,
                fallback_tempo_bpm: 120.0,
                listen_channel: None,
                continue_key: None,
                out_channel_index: 0,
            },
            segments,
            midi: ScriptMidi::default(),
        }
    }

    fn run(actions: Vec<HostAction>, repeat: u32) -> Segment {
        Segment {
            actions,
            len_samples: None,
            repeat,
        }
    }

    #[test]
    fn given_a_loop_when_the_host_plays_past_its_end_then_it_wraps_to_the_start() {
        // 1/50 beat per block; loop 1..2: the 75th block would start at 1.5, after 100 blocks
        // the position passes 2 and wraps.
        let mut script = plain(vec![run(vec![HostAction::Loop(Some((1.0, 1.0)))], 120)]);
        script.pos_beats = 1.0;
        let blocks = script.render();
        let pos: Vec<f64> = blocks
            .iter()
            .map(|b| b.transport.pos_beats.unwrap())
            .collect();
        assert!((pos[49] - 1.98).abs() < 1e-9);
        assert!((pos[50] - 1.0).abs() < 1e-9, "wrapped: {}", pos[50]);
        assert_eq!(blocks[50].loop_beats, Some((1.0, 2.0)));
        // The closing blocks: the transport stops, then the host reactivates.
        let n = blocks.len();
        assert_eq!(n, 122);
        assert!(!blocks[n - 2].transport.playing && !blocks[n - 2].reactivated);
        assert!(!blocks[n - 1].transport.playing && blocks[n - 1].reactivated);
    }

    #[test]
    fn given_a_tempo_ramp_when_rendered_then_the_position_follows_the_tempo_integral() {
        let script = plain(vec![run(
            vec![HostAction::Ramp {
                to_bpm: 240.0,
                blocks: 10,
            }],
            12,
        )]);
        let blocks = script.render();
        let tempos: Vec<f64> = blocks[..12]
            .iter()
            .map(|b| b.transport.tempo_bpm.unwrap())
            .collect();
        assert_eq!(tempos[0], 120.0);
        assert!((tempos[5] - 180.0).abs() < 1e-9);
        assert_eq!(tempos[10], 240.0);
        assert_eq!(tempos[11], 240.0);
        // Block 0 ramps 120 → 132 over 10 ms: 0.01 s · 126 / 60 beats.
        let pos1 = blocks[1].transport.pos_beats.unwrap();
        assert!((pos1 - 0.01 * 126.0 / 60.0).abs() < 1e-12);
    }

    #[test]
    fn given_a_signature_change_mid_bar_when_rendered_then_bars_count_from_that_bar_line() {
        let script = plain(vec![
            run(vec![HostAction::Seek(5.5)], 1),
            run(vec![HostAction::TimeSig(7, 8)], 1),
            run(vec![HostAction::Seek(12.0)], 1),
        ]);
        let blocks = script.render();
        assert_eq!(blocks[0].transport.bar_start_beats, Some(4.0));
        assert_eq!(blocks[1].transport.time_sig, Some((7, 8)));
        assert_eq!(blocks[1].transport.bar_start_beats, Some(4.0));
        // 7/8 bars are 3.5 beats from beat 4: 4, 7.5, 11, 14.5.
        assert_eq!(blocks[2].transport.bar_start_beats, Some(11.0));
    }

    #[test]
    fn given_notes_when_rendered_then_each_event_lands_in_its_block_at_its_sample() {
        let mut script = plain(vec![run(Vec::new(), 10)]);
        script.midi.notes.push(ScriptNote {
            at_ppm: 250_000,
            len_samples: 960,
            channel: 0,
            key: 60,
            velocity: 90,
            end: NoteEnd::ZeroVelocityOn,
        });
        script.midi.ccs.push((999_999, 13, CC_ALL_NOTES_OFF, 0));
        let blocks = script.render();
        // 4,800 samples: the note starts at 1,200 (block 2, offset 240) and ends at 2,160.
        assert_eq!(
            blocks[2].events,
            vec![TimedEvent {
                offset: 240,
                event: ScriptEvent::NoteOn {
                    channel: 1,
                    key: 60,
                    velocity: 90
                }
            }]
        );
        assert_eq!(blocks[4].events[0].offset, 240);
        assert_eq!(
            blocks[4].input_events().collect::<Vec<_>>(),
            vec![InputEvent::NoteOn {
                offset: 240,
                channel: 1,
                key: 60,
                velocity: 0
            }]
        );
        // Player channel 13 is the last channel that is not an answer channel.
        assert_eq!(
            blocks[9].input_events().collect::<Vec<_>>(),
            vec![InputEvent::AllNotesOff {
                offset: 479,
                channel: 15
            }]
        );
    }

    fn on(offset: u32, channel: u8, key: u8) -> Sent {
        Sent {
            offset,
            kind: OutKind::On,
            channel,
            key,
        }
    }

    fn off(offset: u32, channel: u8, key: u8) -> Sent {
        Sent {
            offset,
            kind: OutKind::Off,
            channel,
            key,
        }
    }

    fn beats(start_beats: f64) -> Option<BlockBeats> {
        Some(BlockBeats {
            start_beats,
            samples_per_beat: 24_000.0,
            jumped: false,
        })
    }

    #[test]
    fn given_broken_output_when_checked_then_the_checker_says_what_broke() {
        let mut script = plain(vec![run(Vec::new(), 4)]);
        script.block_len_samples = 4800;
        let blocks = script.render();
        let b = &blocks[0];
        let check = |sent: &[Sent], beats| OutputChecker::new(&script).block(b, beats, sent);
        // On the grid: beat 0.25 is 6,000 samples after beat 0; the block starts at 0.2.
        assert!(check(&[on(1_200, 0, 60)], beats(0.2)).is_ok());
        let e = check(&[on(1_201, 0, 60)], beats(0.2)).unwrap_err();
        assert!(e.contains("off the 16th grid"), "{e}");
        // Player channels are not checked against the grid.
        assert!(check(&[on(1_201, 1, 60)], beats(0.2)).is_ok());
        let e = check(&[on(10, 1, 60), on(20, 1, 60)], None).unwrap_err();
        assert!(e.contains("starts a note that sounds"), "{e}");
        let e = check(&[off(10, 1, 60)], None).unwrap_err();
        assert!(e.contains("ends a note that is silent"), "{e}");
        let e = check(&[on(20, 1, 60), off(10, 1, 60)], None).unwrap_err();
        assert!(e.contains("comes after"), "{e}");
        let e = check(&[on(4800, 1, 60)], None).unwrap_err();
        assert!(e.contains("outside the block"), "{e}");

        let mut checker = OutputChecker::new(&script);
        checker.block(&blocks[0], None, &[on(5, 9, 36)]).unwrap();
        assert!(checker.finish().unwrap_err().contains("still sounding"));
        let mut bypassed = blocks[1].clone();
        bypassed.settings.bypassed = true;
        let e = checker.clone().block(&bypassed, None, &[]).unwrap_err();
        assert!(e.contains("did not end at the bypass"), "{e}");
        let e = checker
            .clone()
            .block(&bypassed, None, &[off(0, 9, 36), on(3, 9, 37)])
            .unwrap_err();
        assert!(e.contains("while bypassed"), "{e}");
        let jumped = Some(BlockBeats {
            jumped: true,
            ..beats(8.0).unwrap()
        });
        let e = checker.clone().block(&blocks[1], jumped, &[off(7, 9, 36)]);
        assert!(e.unwrap_err().contains("did not end at the jump"));
        checker.block(&blocks[1], jumped, &[off(0, 9, 36)]).unwrap();
        checker.finish().unwrap();
    }

    #[test]
    fn given_a_player_note_when_thru_is_on_then_the_checker_wants_it_at_its_sample() {
        let mut script = plain(vec![run(Vec::new(), 1)]);
        script.midi.notes.push(ScriptNote {
            at_ppm: 500_000,
            len_samples: 10_000,
            channel: 2,
            key: 64,
            velocity: 80,
            end: NoteEnd::Held,
        });
        let blocks = script.render();
        let mut checker = OutputChecker::new(&script);
        let e = checker
            .clone()
            .block(&blocks[0], None, &[on(241, 3, 64)])
            .unwrap_err();
        assert!(e.contains("did not pass through"), "{e}");
        checker.block(&blocks[0], None, &[on(240, 3, 64)]).unwrap();
        assert_eq!(checker.seen().thru_notes, 1);
        // The closing reactivation must end it at sample 0.
        let e = checker.clone().block(&blocks[2], None, &[]).unwrap_err();
        assert!(e.contains("did not end at the reset"), "{e}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Whatever the generator makes, the host plays it as a host may: blocks of 1..=8192
        /// samples at 22.05..192 kHz, tempos in range, valid signatures, events inside their
        /// blocks in order, the player off the answer channels.
        #[test]
        fn any_script_renders_to_valid_host_blocks(script in host_script(ScriptLimits::DEFAULT)) {
            let blocks = script.render();
            let repeats: u32 = script.segments.iter().map(|s| s.repeat).sum();
            prop_assert_eq!(blocks.len(), repeats as usize + 2);
            for (i, b) in blocks.iter().enumerate() {
                prop_assert_eq!(b.index, i);
                prop_assert!((1..=8192).contains(&b.len_samples));
                prop_assert!((22_050.0..=192_000.0).contains(&b.sample_rate_hz));
                if let Some(t) = b.transport.tempo_bpm {
                    prop_assert!((20.0..=300.0).contains(&t));
                }
                if let Some((n, d)) = b.transport.time_sig {
                    prop_assert!((1..=13).contains(&n) && [2, 4, 8, 16].contains(&d));
                }
                prop_assert!(script.answer_channels.contains(&b.settings.out_channel));
                if let Some(c) = b.settings.listen_channel {
                    prop_assert!(!script.answer_channels.contains(&c));
                }
                let mut last = 0;
                for e in &b.events {
                    prop_assert!(e.offset < b.len_samples && e.offset >= last);
                    last = e.offset;
                    let channel = match e.event {
                        ScriptEvent::NoteOn { channel, .. }
                        | ScriptEvent::NoteOff { channel, .. }
                        | ScriptEvent::Cc { channel, .. } => channel,
                        ScriptEvent::Control(_) => continue,
                    };
                    prop_assert!(!script.answer_channels.contains(&channel));
                }
            }
            prop_assert_eq!(blocks, script.render(), "rendering is deterministic");
        }
    }
}
