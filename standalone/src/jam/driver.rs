//! The real-time driver thread: a block clock that plays the part of an audio callback.
//!
//! Block `k` covers `[k·B, (k+1)·B)` seconds since the jam's origin (B = `block_samples` at
//! the nominal sample rate). The thread wakes at the block's end, hands the engine the MIDI
//! that arrived during the block at its exact sample offsets, and sends each event the engine
//! returns when its time comes: at the block's end plus its offset. Input to output therefore
//! has a constant latency of one block (2.7 ms at 128 samples), and timing inside a block is
//! exact to the block clock. Following an external clock gains from the same delay: the
//! transport of a block is read from ticks that have already arrived, never extrapolated.
//!
//! Nothing here allocates, locks or logs once the loop runs: the input ring and the output
//! buffer are made before it, midir's JACK `send` writes into a JACK ring buffer, and the
//! status for people goes out through atomics.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use antiphon_engine::{AudioEngine, AudioSettings, BlockTime, HostTransport, OutKind};
use atomic_float::AtomicF64;
use ringbuf::HeapCons;
use ringbuf::traits::Consumer;

use super::follow::{ClockFollower, TICKS_PER_BEAT};
use super::input::{Incoming, IncomingKind};

/// Capacity of one block's outgoing messages.
const OUT_CAPACITY: usize = 4096;
/// Capacity of one block's incoming note events.
const IN_CAPACITY: usize = 1024;
/// A block that starts this late (in seconds) is given up: the clock skips ahead.
const OVERRUN_S: f64 = 0.05;
/// Metronome keys (General MIDI percussion, channel 10): high and low wood block.
const CLICK_BAR_KEY: u8 = 76;
/// Metronome key on the other beats.
const CLICK_BEAT_KEY: u8 = 77;
/// Length of a metronome click, in beats.
const CLICK_BEATS: f64 = 0.25;
/// MIDI channel index of the metronome (GM percussion).
const CLICK_CHANNEL: u8 = 9;

/// What the driver tells the status line, as atomics.
#[derive(Debug, Default)]
pub struct DriverStatus {
    /// Whether an answer is playing (rather than Antiphon listening).
    pub answering: AtomicBool,
    /// Whether the timeline follows an external MIDI clock that runs now.
    pub following: AtomicBool,
    /// The tempo of the last block, in quarter notes per minute.
    pub tempo_bpm: AtomicF64,
    /// Blocks given up because the thread woke too late.
    pub overruns: AtomicU64,
    /// Messages midir refused to send.
    pub send_errors: AtomicU64,
}

/// How the driver keeps time and what it adds to the engine's output.
#[derive(Debug, Clone, Copy)]
pub struct DriverConfig {
    /// Samples per block of the block clock.
    pub block_samples: u32,
    /// Nominal sample rate of the block clock, in Hz.
    pub sample_rate: f64,
    /// Follow an incoming MIDI clock instead of the internal tempo.
    pub follow_clock: bool,
    /// Send MIDI clock (24 ppqn, Start at the beginning, Stop at the end).
    pub clock_out: bool,
    /// Play a metronome on channel 10.
    pub metronome: bool,
}

/// Where the jam's MIDI goes: an output port, or the built-in synth.
pub enum Sink {
    /// A MIDI output port (an external synth).
    Midi(midir::MidiOutputConnection),
    /// The built-in General MIDI synth.
    #[cfg(target_os = "linux")]
    Synth(super::synth::SynthSink),
}

impl Sink {
    /// Sends one message now; `Err` when it could not go.
    fn send(&mut self, bytes: &[u8]) -> Result<(), ()> {
        match self {
            Self::Midi(conn) => conn.send(bytes).map_err(|_| ()),
            #[cfg(target_os = "linux")]
            Self::Synth(synth) => synth.send(bytes),
        }
    }

    /// Closes the port (or stops the synth) once the last messages have gone out.
    pub fn close(self) {
        // JACK sends MIDI in its next cycle: give the last note-offs time to leave.
        std::thread::sleep(Duration::from_millis(50));
        match self {
            Self::Midi(conn) => {
                conn.close();
            }
            #[cfg(target_os = "linux")]
            Self::Synth(synth) => synth.close(),
        }
    }
}

/// One outgoing MIDI message at a sample offset of the current block.
#[derive(Debug, Clone, Copy)]
struct OutMessage {
    /// Sample offset inside the block.
    offset: u32,
    /// The bytes; `len` of them are used.
    bytes: [u8; 3],
    /// Number of bytes used.
    len: u8,
}

/// The driver: owns the engine's audio side and the output connection.
pub struct Driver {
    /// The engine's audio side.
    engine: AudioEngine,
    /// Timed input from midir's callback.
    input: HeapCons<Incoming>,
    /// Where the engine's notes go.
    output: Sink,
    /// The engine's per-block settings.
    settings: AudioSettings,
    /// Timing and extras.
    config: DriverConfig,
    /// The external clock, when followed.
    follower: ClockFollower,
    /// Set by Ctrl-C: end every note and return.
    stop: Arc<AtomicBool>,
    /// For the status line.
    status: Arc<DriverStatus>,
    /// Time 0 of all timestamps.
    origin: Instant,
    /// An event read from the ring that belongs to a later block.
    pending: Option<Incoming>,
    /// This block's note input; capacity fixed.
    block_input: Vec<antiphon_engine::InputEvent>,
    /// This block's output; capacity fixed.
    block_output: Vec<OutMessage>,
    /// The metronome click sounding: its key and the beat it ends.
    click: Option<(u8, f64)>,
    /// Whether MIDI clock Start has been sent.
    clock_started: bool,
    /// Player keys down (approximate: for the status line).
    keys_down: u32,
}

impl Driver {
    /// A driver over the engine's audio side, midir's input ring and output connection.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        engine: AudioEngine,
        input: HeapCons<Incoming>,
        output: Sink,
        settings: AudioSettings,
        config: DriverConfig,
        stop: Arc<AtomicBool>,
        status: Arc<DriverStatus>,
        origin: Instant,
    ) -> Self {
        Self {
            engine,
            input,
            output,
            settings,
            config,
            follower: ClockFollower::new(),
            stop,
            status,
            origin,
            pending: None,
            block_input: Vec::with_capacity(IN_CAPACITY),
            block_output: Vec::with_capacity(OUT_CAPACITY),
            click: None,
            clock_started: false,
            keys_down: 0,
        }
    }

    /// Runs until the stop flag is set, then ends every sounding note and returns the output
    /// connection (so it closes after the last note-off has left).
    pub fn run(mut self) -> Sink {
        let block_s = f64::from(self.config.block_samples) / self.config.sample_rate;
        // Drop what arrived while the model loaded: the jam starts now.
        let start_s = self.origin.elapsed().as_secs_f64();
        while let Some(old) = self.input.try_pop() {
            if let IncomingKind::Clock(message) = old.kind {
                self.follower.receive(message, old.at_s);
            }
        }
        let mut block = (start_s / block_s).floor() as u64;
        loop {
            let stopping = self.stop.load(Ordering::Acquire);
            let block_start_s = block as f64 * block_s;
            let due_s = block_start_s + block_s;
            self.sleep_until(due_s);
            let late_s = self.origin.elapsed().as_secs_f64() - due_s;
            if late_s > OVERRUN_S && !stopping {
                self.status.overruns.fetch_add(1, Ordering::Relaxed);
                block = (self.origin.elapsed().as_secs_f64() / block_s).floor() as u64 - 1;
                continue;
            }
            if stopping {
                self.engine.release_all_next_block();
            }
            let time = self.process(block_start_s, block_s, stopping);
            self.add_extras(&time, stopping);
            insertion_sort(&mut self.block_output);
            for i in 0..self.block_output.len() {
                let message = self.block_output[i];
                if !stopping {
                    self.sleep_until(due_s + f64::from(message.offset) / self.config.sample_rate);
                }
                self.send(&message.bytes[..usize::from(message.len)]);
            }
            if stopping {
                break;
            }
            block += 1;
        }
        if self.engine.any_sounding() {
            // NOTE: the engine releases everything above; this is a last resort for a synth.
            for channel in 0..16u8 {
                self.send(&[0xB0 | channel, 123, 0]);
            }
        }
        self.output
    }

    /// Reads this block's input and runs the engine over it; fills `block_output`.
    fn process(&mut self, start_s: f64, len_s: f64, stopping: bool) -> BlockTime {
        let end_s = start_s + len_s;
        self.block_input.clear();
        loop {
            let next = match self.pending.take() {
                Some(event) => event,
                None => match self.input.try_pop() {
                    Some(event) => event,
                    None => break,
                },
            };
            if next.at_s >= end_s && !stopping {
                self.pending = Some(next);
                break;
            }
            let offset = ((next.at_s - start_s).max(0.0) * self.config.sample_rate) as u32;
            match next.kind {
                IncomingKind::Clock(message) => self.follower.receive(message, next.at_s),
                IncomingKind::Event(event) => {
                    if self.block_input.len() < IN_CAPACITY {
                        self.count_key(&event);
                        self.block_input.push(event.with_offset(offset));
                    }
                }
            }
        }
        let transport = if self.config.follow_clock {
            self.follower
                .transport(start_s, len_s, self.settings.fallback_tempo_bpm)
        } else {
            HostTransport {
                playing: false,
                tempo_bpm: Some(self.settings.fallback_tempo_bpm),
                pos_beats: None,
                time_sig: Some((4, 4)),
                bar_start_beats: None,
            }
        };
        self.status
            .following
            .store(transport.playing, Ordering::Relaxed);
        let out = self.engine.process_block(
            &transport,
            self.config.block_samples,
            self.config.sample_rate,
            &self.settings,
            self.block_input.iter().copied(),
        );
        self.block_output.clear();
        for e in out.events {
            if self.block_output.len() == OUT_CAPACITY && e.kind == OutKind::On {
                continue;
            }
            let (status, velocity) = match e.kind {
                OutKind::On => (0x90, e.velocity.max(1)),
                OutKind::Off => (0x80, 0),
            };
            push_message(
                &mut self.block_output,
                e.offset,
                [status | (e.channel & 0x0F), e.key & 0x7F, velocity],
                3,
            );
        }
        self.status
            .answering
            .store(out.keep_alive && self.keys_down == 0, Ordering::Relaxed);
        self.status
            .tempo_bpm
            .store(out.time.tempo_bpm, Ordering::Relaxed);
        out.time
    }

    /// Adds MIDI clock out and the metronome for this block.
    fn add_extras(&mut self, time: &BlockTime, stopping: bool) {
        let last = time.len_samples.saturating_sub(1);
        let offset_of = |beats: f64| time.offset_of(beats).clamp(0, i64::from(last)) as u32;
        if self.config.clock_out {
            if stopping {
                if self.clock_started {
                    push_message(&mut self.block_output, 0, [0xFC, 0, 0], 1);
                }
            } else {
                if !self.clock_started || time.jumped {
                    // The tick after Start is beat 0 of the receiver: start on a tick.
                    self.clock_started = true;
                    push_message(&mut self.block_output, 0, [0xFA, 0, 0], 1);
                }
                let first = (time.start_beats * TICKS_PER_BEAT - 1e-9).ceil() as i64;
                let mut tick = first;
                while (tick as f64) / TICKS_PER_BEAT < time.end_beats {
                    let at = offset_of(tick as f64 / TICKS_PER_BEAT);
                    push_message(&mut self.block_output, at, [0xF8, 0, 0], 1);
                    tick += 1;
                }
            }
        }
        if self.config.metronome {
            // A jump (Song Position Pointer, Start) ends the click at once: its end may now lie
            // far ahead, or behind.
            if let Some((key, end_beats)) = self.click
                && (stopping || time.jumped || end_beats < time.end_beats)
            {
                let at = if stopping || time.jumped {
                    0
                } else {
                    offset_of(end_beats)
                };
                push_message(
                    &mut self.block_output,
                    at,
                    [0x80 | CLICK_CHANNEL, key, 0],
                    3,
                );
                self.click = None;
            }
            if !stopping {
                let beat = (time.start_beats - 1e-9).ceil();
                if beat < time.end_beats && self.click.is_none() {
                    let in_bar = (beat - time.bar_origin_beats).rem_euclid(time.bar_len_beats);
                    let on_bar = in_bar < 1e-6 || time.bar_len_beats - in_bar < 1e-6;
                    let (key, velocity) = if on_bar {
                        (CLICK_BAR_KEY, 110)
                    } else {
                        (CLICK_BEAT_KEY, 80)
                    };
                    push_message(
                        &mut self.block_output,
                        offset_of(beat),
                        [0x90 | CLICK_CHANNEL, key, velocity],
                        3,
                    );
                    self.click = Some((key, beat + CLICK_BEATS));
                }
            }
        }
    }

    /// Keeps the count of the player's keys down.
    fn count_key(&mut self, event: &antiphon_engine::InputEvent) {
        match *event {
            antiphon_engine::InputEvent::NoteOn { velocity, .. } if velocity > 0 => {
                self.keys_down += 1;
            }
            antiphon_engine::InputEvent::NoteOn { .. }
            | antiphon_engine::InputEvent::NoteOff { .. } => {
                self.keys_down = self.keys_down.saturating_sub(1);
            }
            antiphon_engine::InputEvent::AllNotesOff { .. } => self.keys_down = 0,
            antiphon_engine::InputEvent::Control { .. } => {}
        }
    }

    /// Sends one message, counting failures.
    fn send(&mut self, bytes: &[u8]) {
        if self.output.send(bytes).is_err() {
            self.status.send_errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Sleeps until `at_s` seconds after the origin (returns at once if that has passed).
    fn sleep_until(&self, at_s: f64) {
        let now_s = self.origin.elapsed().as_secs_f64();
        if at_s > now_s {
            std::thread::sleep(Duration::from_secs_f64(at_s - now_s));
        }
    }
}

/// Appends a message unless the buffer is full (note-offs and clock always find room: the
/// buffer keeps spare capacity for them by refusing note-ons first, see `process`).
fn push_message(out: &mut Vec<OutMessage>, offset: u32, bytes: [u8; 3], len: u8) {
    if out.len() < out.capacity() {
        out.push(OutMessage { offset, bytes, len });
    }
}

/// Sorts by offset, keeping equal offsets in order, without allocating.
fn insertion_sort(messages: &mut [OutMessage]) {
    for i in 1..messages.len() {
        let mut j = i;
        while j > 0 && messages[j - 1].offset > messages[j].offset {
            messages.swap(j - 1, j);
            j -= 1;
        }
    }
}
