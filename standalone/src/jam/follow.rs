//! Following an incoming MIDI clock: 24 ticks per quarter note, Start, Stop, Continue and Song
//! Position Pointer, turned into the host transport the jam engine reads each block.
//!
//! Times are seconds since the jam started (`f64`), so the logic tests without a clock. The
//! tempo is the mean of the last [`TICK_WINDOW`] tick intervals (one beat), which averages out
//! the jitter of tick arrival (up to one JACK period). The position handed to the engine is
//! phase-locked: each block continues where the previous one ended and moves a small fraction
//! towards the position the ticks say, so arrival jitter never looks like a seek to the engine
//! (its jump tolerance is 1/64 beat); a real move (Start, a Song Position Pointer, a stall) is
//! more than [`RELOCK_BEATS`] away and is followed at once.

use antiphon_engine::HostTransport;

/// MIDI clock ticks per quarter note.
pub const TICKS_PER_BEAT: f64 = 24.0;
/// Tick intervals averaged for the tempo: one beat.
const TICK_WINDOW: usize = 24;
/// Intervals longer than this (in seconds) are a paused clock, not a tempo (10 BPM).
const MAX_TICK_INTERVAL_S: f64 = 60.0 / 10.0 / TICKS_PER_BEAT;
/// Fraction of the measured phase error corrected per block.
const LOCK_GAIN: f64 = 0.05;
/// A phase error larger than this (in beats) is a move of the timeline, followed at once.
const RELOCK_BEATS: f64 = 0.25;

/// A MIDI clock message, at the time it arrived.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ClockMessage {
    /// Timing clock (0xF8).
    Tick,
    /// Start (0xFA): the next tick is beat 0.
    Start,
    /// Continue (0xFB): the next tick is where the clock stopped (or the last song position).
    Continue,
    /// Stop (0xFC).
    Stop,
    /// Song Position Pointer (0xF2), in 16th notes.
    SongPosition(u16),
}

impl ClockMessage {
    /// The clock message in a raw MIDI message, if it is one.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        match *bytes {
            [0xF8, ..] => Some(Self::Tick),
            [0xFA, ..] => Some(Self::Start),
            [0xFB, ..] => Some(Self::Continue),
            [0xFC, ..] => Some(Self::Stop),
            [0xF2, lsb, msb, ..] => Some(Self::SongPosition(
                u16::from(lsb & 0x7F) | (u16::from(msb & 0x7F) << 7),
            )),
            _ => None,
        }
    }
}

/// The state of an external MIDI clock, as far as the messages so far tell.
#[derive(Debug, Clone)]
pub struct ClockFollower {
    /// Whether the external transport runs (between Start/Continue and Stop).
    running: bool,
    /// Beat position the next tick will have.
    next_tick_beats: f64,
    /// The last tick while running: (arrival in seconds, its beat position).
    last_tick: Option<(f64, f64)>,
    /// Arrival of the previous tick (running or not), for the tempo.
    prev_tick_s: Option<f64>,
    /// The last tick intervals in seconds, a ring.
    intervals_s: [f64; TICK_WINDOW],
    /// Number of valid entries in `intervals_s`.
    interval_count: usize,
    /// Next slot of `intervals_s` to write.
    interval_next: usize,
    /// Where the previous followed block ended, in beats (`None`: not following a running clock).
    prev_end_beats: Option<f64>,
}

impl Default for ClockFollower {
    fn default() -> Self {
        Self::new()
    }
}

impl ClockFollower {
    /// A follower that has heard nothing: stopped at beat 0, tempo unknown.
    pub fn new() -> Self {
        Self {
            running: false,
            next_tick_beats: 0.0,
            last_tick: None,
            prev_tick_s: None,
            intervals_s: [0.0; TICK_WINDOW],
            interval_count: 0,
            interval_next: 0,
            prev_end_beats: None,
        }
    }

    /// Takes one clock message that arrived at `at_s` seconds.
    pub fn receive(&mut self, message: ClockMessage, at_s: f64) {
        match message {
            ClockMessage::Tick => {
                if let Some(prev) = self.prev_tick_s {
                    let interval = at_s - prev;
                    if interval > 0.0 && interval < MAX_TICK_INTERVAL_S {
                        self.intervals_s[self.interval_next] = interval;
                        self.interval_next = (self.interval_next + 1) % TICK_WINDOW;
                        self.interval_count = (self.interval_count + 1).min(TICK_WINDOW);
                    }
                }
                self.prev_tick_s = Some(at_s);
                if self.running {
                    self.last_tick = Some((at_s, self.next_tick_beats));
                    self.next_tick_beats += 1.0 / TICKS_PER_BEAT;
                }
            }
            ClockMessage::Start => {
                self.running = true;
                self.next_tick_beats = 0.0;
                self.last_tick = None;
            }
            ClockMessage::Continue => {
                self.running = true;
                self.last_tick = None;
            }
            ClockMessage::Stop => {
                self.running = false;
                self.last_tick = None;
            }
            ClockMessage::SongPosition(sixteenths) => {
                self.next_tick_beats = f64::from(sixteenths) / 4.0;
                self.last_tick = None;
            }
        }
    }

    /// Whether the external transport runs.
    #[cfg(test)]
    pub fn running(&self) -> bool {
        self.running
    }

    /// The tempo the ticks show, in quarter notes per minute (`None` before two ticks).
    pub fn tempo_bpm(&self) -> Option<f64> {
        if self.interval_count == 0 {
            return None;
        }
        let mean_s = self.intervals_s[..self.interval_count].iter().sum::<f64>()
            / self.interval_count as f64;
        Some(60.0 / (mean_s * TICKS_PER_BEAT))
    }

    /// The beat position at `at_s` seconds by the ticks: the last tick's position moved on at
    /// the measured tempo, never more than one tick either way (`None` while stopped or before
    /// the first tick after Start or Continue).
    pub fn position_at(&self, at_s: f64) -> Option<f64> {
        let (tick_s, tick_beats) = self.last_tick?;
        let tempo = self.tempo_bpm()?;
        let moved =
            ((at_s - tick_s) * tempo / 60.0).clamp(-1.0 / TICKS_PER_BEAT, 1.0 / TICKS_PER_BEAT);
        Some(tick_beats + moved)
    }

    /// The transport for a block of `len_s` seconds that starts at `start_s` seconds:
    /// phase-locked to the ticks while the clock runs; stopped (the engine then runs on at
    /// the last tempo, or `fallback_tempo_bpm`) otherwise.
    pub fn transport(
        &mut self,
        start_s: f64,
        len_s: f64,
        fallback_tempo_bpm: f64,
    ) -> HostTransport {
        let tempo = self.tempo_bpm().unwrap_or(fallback_tempo_bpm);
        let measured = if self.running {
            self.position_at(start_s)
        } else {
            None
        };
        let Some(measured) = measured else {
            self.prev_end_beats = None;
            return HostTransport {
                playing: false,
                tempo_bpm: Some(tempo),
                pos_beats: None,
                time_sig: Some((4, 4)),
                bar_start_beats: None,
            };
        };
        let pos = match self.prev_end_beats {
            Some(predicted) if (measured - predicted).abs() <= RELOCK_BEATS => {
                predicted + (measured - predicted) * LOCK_GAIN
            }
            _ => measured,
        };
        self.prev_end_beats = Some(pos + len_s * tempo / 60.0);
        HostTransport {
            playing: true,
            tempo_bpm: Some(tempo),
            pos_beats: Some(pos),
            time_sig: Some((4, 4)),
            bar_start_beats: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seconds per tick at 120 BPM.
    const TICK_S: f64 = 0.5 / 24.0;

    fn started_at_120(ticks: usize) -> ClockFollower {
        let mut f = ClockFollower::new();
        f.receive(ClockMessage::Start, 0.0);
        for i in 0..ticks {
            f.receive(ClockMessage::Tick, i as f64 * TICK_S);
        }
        f
    }

    #[test]
    fn given_raw_bytes_when_parsed_then_clock_messages_and_song_position_come_out() {
        assert_eq!(ClockMessage::parse(&[0xF8]), Some(ClockMessage::Tick));
        assert_eq!(ClockMessage::parse(&[0xFA]), Some(ClockMessage::Start));
        assert_eq!(ClockMessage::parse(&[0xFB]), Some(ClockMessage::Continue));
        assert_eq!(ClockMessage::parse(&[0xFC]), Some(ClockMessage::Stop));
        assert_eq!(
            ClockMessage::parse(&[0xF2, 0x10, 0x01]),
            Some(ClockMessage::SongPosition(144))
        );
        assert_eq!(ClockMessage::parse(&[0x90, 60, 100]), None);
    }

    #[test]
    fn given_ticks_at_120_bpm_when_asked_then_tempo_and_position_follow_them() {
        let f = started_at_120(49);
        let tempo = f.tempo_bpm().expect("tempo after ticks");
        assert!((tempo - 120.0).abs() < 1e-9, "{tempo}");
        // Tick 48 is beat 2, at 1 s.
        let pos = f.position_at(1.0 + TICK_S / 2.0).expect("running");
        assert!((pos - (2.0 + 0.5 / 24.0)).abs() < 1e-9, "{pos}");
        // Never more than a tick past the last tick.
        let far = f.position_at(5.0).expect("running");
        assert!((far - (2.0 + 1.0 / 24.0)).abs() < 1e-9, "{far}");
    }

    #[test]
    fn given_stop_then_song_position_when_continued_then_the_next_tick_is_that_position() {
        let mut f = started_at_120(30);
        f.receive(ClockMessage::Stop, 0.7);
        assert!(!f.running());
        assert_eq!(f.position_at(0.7), None);
        f.receive(ClockMessage::SongPosition(32), 0.8);
        f.receive(ClockMessage::Continue, 0.9);
        f.receive(ClockMessage::Tick, 1.0);
        let pos = f.position_at(1.0).expect("running again");
        assert!((pos - 8.0).abs() < 1e-9, "{pos}");
    }

    #[test]
    fn given_jittery_ticks_when_blocks_follow_then_positions_are_continuous_and_locked() {
        let mut f = ClockFollower::new();
        f.receive(ClockMessage::Start, 0.0);
        let block_s = 128.0 / 48_000.0;
        let mut next_tick = 0usize;
        let mut prev_end: Option<f64> = None;
        let mut block = 0usize;
        let mut last_pos = 0.0;
        while block < 2000 {
            let start_s = block as f64 * block_s;
            let end_s = start_s + block_s;
            // Ticks arrive late by up to 5 ms (a JACK period), deterministically varied.
            while (next_tick as f64) * TICK_S <= end_s {
                let late = ((next_tick * 7919) % 53) as f64 / 53.0 * 0.005;
                f.receive(ClockMessage::Tick, next_tick as f64 * TICK_S + late);
                next_tick += 1;
            }
            let t = f.transport(start_s, block_s, 120.0);
            if let (Some(pos), Some(prev)) = (t.pos_beats, prev_end) {
                assert!(
                    (pos - prev).abs() < 1.0 / 64.0,
                    "block {block}: {pos} after {prev}"
                );
                last_pos = pos;
            }
            prev_end = t.pos_beats.map(|p| p + block_s * 2.0);
            block += 1;
        }
        // 2000 blocks of 128 samples at 120 BPM: about 10.67 beats, within a few ms of it.
        let expected = 1999.0 * block_s * 2.0;
        assert!(
            (last_pos - expected).abs() < 0.02,
            "{last_pos} vs {expected}"
        );
    }

    #[test]
    fn given_a_clock_restart_when_the_next_block_follows_then_it_jumps_at_once() {
        let mut f = started_at_120(97);
        let _ = f.transport(2.0, 0.01, 120.0);
        f.receive(ClockMessage::Start, 2.01);
        f.receive(ClockMessage::Tick, 2.02);
        f.receive(ClockMessage::Tick, 2.02 + TICK_S);
        let t = f.transport(2.02 + TICK_S, 0.01, 120.0);
        let pos = t.pos_beats.expect("playing");
        assert!((pos - 1.0 / 24.0).abs() < 1e-6, "{pos}");
    }
}
