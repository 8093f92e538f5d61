//! The musical clock: where each audio block sits on the beat timeline.
//!
//! When the host's transport plays, the block's position and tempo are the host's. When it is
//! stopped (or the host gives no position), the clock runs on its own at the host's tempo (or
//! the fallback tempo), continuing from where it was, so a musician can jam without pressing
//! play. Any discontinuity — transport start or stop, a seek, a loop wrap — is reported as a
//! jump, after which every sounding answer note ends and planning starts over.

/// What the host says about its transport for one block.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct HostTransport {
    /// Whether the transport is running.
    pub playing: bool,
    /// Tempo in quarter notes per minute, when the host gives one.
    pub tempo_bpm: Option<f64>,
    /// Position of the block's first sample in quarter notes, when the host gives one.
    pub pos_beats: Option<f64>,
    /// Time signature (numerator, denominator), when the host gives one.
    pub time_sig: Option<(u32, u32)>,
    /// Start of the bar that holds the block's first sample, in quarter notes.
    pub bar_start_beats: Option<f64>,
}

/// Where one block sits on the beat timeline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlockTime {
    /// Beat position of the block's first sample.
    pub start_beats: f64,
    /// Beat position just after the block's last sample.
    pub end_beats: f64,
    /// Tempo in quarter notes per minute.
    pub tempo_bpm: f64,
    /// Samples per quarter note at this tempo; positive.
    pub samples_per_beat: f64,
    /// Number of samples in the block.
    pub len_samples: u32,
    /// Length of a bar in quarter notes; positive.
    pub bar_len_beats: f64,
    /// A bar line: bar lines are at `bar_origin_beats + k · bar_len_beats`.
    pub bar_origin_beats: f64,
    /// Whether the host's transport is playing (false: the clock runs on its own).
    pub host_playing: bool,
    /// Whether this block does not continue the previous one (start, stop, seek, loop, reset).
    pub jumped: bool,
}

impl BlockTime {
    /// The sample offset inside this block of beat position `beats`, rounded to the nearest
    /// sample; may lie outside `0..len_samples`.
    pub fn offset_of(&self, beats: f64) -> i64 {
        ((beats - self.start_beats) * self.samples_per_beat).round() as i64
    }

    /// The beat position of sample `offset` of this block.
    pub fn beats_at(&self, offset: u32) -> f64 {
        self.start_beats + f64::from(offset) / self.samples_per_beat
    }
}

/// How far (in quarter notes) the host's position may stray from where the previous block ended
/// before it counts as a jump. Tempo ramps inside a block move positions by far less; a loop or
/// seek by far more.
const JUMP_TOLERANCE_BEATS: f64 = 1.0 / 64.0;

/// The tempo used when neither the host nor the caller gives one.
pub const DEFAULT_TEMPO_BPM: f64 = 120.0;

/// Turns host transport information into [`BlockTime`]s.
#[derive(Debug, Clone)]
pub struct MusicalClock {
    /// Where the previous block ended, if there was one since the last reset.
    prev_end_beats: Option<f64>,
    /// Whether the previous block followed the host's transport.
    prev_host_playing: bool,
    /// The last known bar length in quarter notes.
    bar_len_beats: f64,
    /// The last known bar line.
    bar_origin_beats: f64,
}

impl Default for MusicalClock {
    fn default() -> Self {
        Self::new()
    }
}

impl MusicalClock {
    /// A clock at beat 0 in 4/4 that reports a jump on its first block.
    pub fn new() -> Self {
        Self {
            prev_end_beats: None,
            prev_host_playing: false,
            bar_len_beats: 4.0,
            bar_origin_beats: 0.0,
        }
    }

    /// Forgets the previous block: the next block is a jump.
    pub fn reset(&mut self) {
        self.prev_end_beats = None;
    }

    /// Places the next block of `len_samples` samples at `sample_rate` on the timeline.
    /// `fallback_tempo_bpm` is used when the host gives no tempo.
    pub fn advance(
        &mut self,
        transport: &HostTransport,
        len_samples: u32,
        sample_rate: f64,
        fallback_tempo_bpm: f64,
    ) -> BlockTime {
        let tempo_bpm = transport
            .tempo_bpm
            .filter(|t| t.is_finite() && *t > 0.0)
            .unwrap_or(fallback_tempo_bpm)
            .clamp(1.0, 1000.0);
        let samples_per_beat = sample_rate.max(1.0) * 60.0 / tempo_bpm;
        let host_pos = transport.pos_beats.filter(|p| p.is_finite());
        let host_playing = transport.playing && host_pos.is_some();

        if let Some((num, den)) = transport.time_sig.filter(|&(n, d)| n > 0 && d > 0) {
            self.bar_len_beats = f64::from(num) * 4.0 / f64::from(den);
        }
        let (start_beats, jumped) = match (host_playing, host_pos, self.prev_end_beats) {
            (true, Some(pos), Some(prev)) => (
                pos,
                !self.prev_host_playing || (pos - prev).abs() > JUMP_TOLERANCE_BEATS,
            ),
            (true, Some(pos), None) => (pos, true),
            (_, _, Some(prev)) => (prev, self.prev_host_playing),
            (_, _, None) => (0.0, true),
        };
        if host_playing {
            let origin = transport
                .bar_start_beats
                .filter(|b| b.is_finite())
                .unwrap_or_else(|| {
                    // Derive the bar from the position, as if the signature held from beat 0.
                    (start_beats / self.bar_len_beats).floor() * self.bar_len_beats
                });
            self.bar_origin_beats = origin;
        }
        let end_beats = start_beats + f64::from(len_samples) / samples_per_beat;
        self.prev_end_beats = Some(end_beats);
        self.prev_host_playing = host_playing;
        BlockTime {
            start_beats,
            end_beats,
            tempo_bpm,
            samples_per_beat,
            len_samples,
            bar_len_beats: self.bar_len_beats,
            bar_origin_beats: self.bar_origin_beats,
            host_playing,
            jumped,
        }
    }
}

/// The bar grid, for planning: bar lines at `origin_beats + k · bar_len_beats`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BarGrid {
    /// A bar line.
    pub origin_beats: f64,
    /// Length of a bar in quarter notes; positive.
    pub bar_len_beats: f64,
}

impl BarGrid {
    /// Tolerance for "on a bar line", in quarter notes (a tiny fraction of a 16th).
    const EPS: f64 = 1e-6;

    /// The first bar line at or after `beats`.
    pub fn bar_at_or_after(&self, beats: f64) -> f64 {
        let k = ((beats - self.origin_beats) / self.bar_len_beats - Self::EPS).ceil();
        self.origin_beats + k * self.bar_len_beats
    }

    /// The first beat (quarter note counted from a bar line) at or after `beats`.
    pub fn beat_at_or_after(&self, beats: f64) -> f64 {
        self.origin_beats + (beats - self.origin_beats - Self::EPS).ceil()
    }

    /// The last bar line at or before `beats`.
    pub fn bar_at_or_before(&self, beats: f64) -> f64 {
        let k = ((beats - self.origin_beats) / self.bar_len_beats + Self::EPS).floor();
        self.origin_beats + k * self.bar_len_beats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn playing_at(pos: f64) -> HostTransport {
        HostTransport {
            playing: true,
            tempo_bpm: Some(120.0),
            pos_beats: Some(pos),
            time_sig: Some((4, 4)),
            bar_start_beats: None,
        }
    }

    #[test]
    fn given_a_playing_host_when_blocks_follow_each_other_then_only_the_first_is_a_jump() {
        let mut clock = MusicalClock::new();
        let a = clock.advance(&playing_at(0.0), 512, 48_000.0, 120.0);
        assert!(a.jumped);
        assert_eq!(a.samples_per_beat, 24_000.0);
        let b = clock.advance(&playing_at(a.end_beats), 512, 48_000.0, 120.0);
        assert!(!b.jumped);
        assert_eq!(b.start_beats, 512.0 / 24_000.0);
    }

    #[test]
    fn given_a_loop_wrap_when_the_position_goes_back_then_it_is_a_jump() {
        let mut clock = MusicalClock::new();
        clock.advance(&playing_at(15.9), 512, 48_000.0, 120.0);
        let b = clock.advance(&playing_at(0.0), 512, 48_000.0, 120.0);
        assert!(b.jumped);
        assert_eq!(b.start_beats, 0.0);
    }

    #[test]
    fn given_a_stopped_host_when_blocks_come_then_the_clock_runs_on_from_where_it_was() {
        let mut clock = MusicalClock::new();
        let a = clock.advance(&playing_at(8.0), 480, 48_000.0, 120.0);
        let stopped = HostTransport {
            playing: false,
            tempo_bpm: Some(90.0),
            pos_beats: Some(0.0),
            ..Default::default()
        };
        let b = clock.advance(&stopped, 480, 48_000.0, 120.0);
        assert!(b.jumped, "stopping is a jump");
        assert_eq!(b.start_beats, a.end_beats);
        assert_eq!(b.tempo_bpm, 90.0);
        let c = clock.advance(&stopped, 480, 48_000.0, 120.0);
        assert!(!c.jumped);
        assert!((c.start_beats - (b.start_beats + 480.0 / 32_000.0)).abs() < 1e-12);
    }

    #[test]
    fn given_no_tempo_from_the_host_when_advancing_then_the_fallback_tempo_is_used() {
        let mut clock = MusicalClock::new();
        let t = clock.advance(&HostTransport::default(), 100, 44_100.0, 150.0);
        assert_eq!(t.tempo_bpm, 150.0);
        assert!(t.jumped);
    }

    #[test]
    fn given_three_four_time_when_advancing_then_bars_are_three_beats() {
        let mut clock = MusicalClock::new();
        let mut t = playing_at(7.0);
        t.time_sig = Some((3, 4));
        let b = clock.advance(&t, 512, 48_000.0, 120.0);
        assert_eq!(b.bar_len_beats, 3.0);
        assert_eq!(b.bar_origin_beats, 6.0);
    }

    #[test]
    fn given_a_grid_when_asking_for_bar_lines_then_a_position_on_a_line_is_its_own_line() {
        let grid = BarGrid {
            origin_beats: 0.0,
            bar_len_beats: 4.0,
        };
        assert_eq!(grid.bar_at_or_after(8.0), 8.0);
        assert_eq!(grid.bar_at_or_after(8.5), 12.0);
        assert_eq!(grid.bar_at_or_before(7.99), 4.0);
        assert_eq!(grid.bar_at_or_before(8.0), 8.0);
        let shifted = BarGrid {
            origin_beats: 1.0,
            bar_len_beats: 3.0,
        };
        assert_eq!(shifted.bar_at_or_after(2.0), 4.0);
        assert_eq!(shifted.bar_at_or_before(0.5), -2.0);
    }

    #[test]
    fn given_a_block_when_placing_beats_then_offsets_round_to_the_nearest_sample() {
        let mut clock = MusicalClock::new();
        let b = clock.advance(&playing_at(12.0 - 100.0 / 24_000.0), 512, 48_000.0, 120.0);
        assert_eq!(b.offset_of(12.0), 100);
        assert_eq!(b.offset_of(12.25), 6_100);
    }
}
