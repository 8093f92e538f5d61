//! The host's transport, as a test describes it (beats as `f64`), and its conversion to CLAP's
//! `clap_event_transport` with fixed-point beat and second times.
//!
//! CLAP stores positions as fixed-point numbers: [`CLAP_BEATTIME_FACTOR`] (`1 << 31`) units per
//! quarter-note beat and [`CLAP_SECTIME_FACTOR`] (`1 << 31`) units per second. The tempo is
//! constant in this host, so seconds follow from beats as `beats * 60 / tempo_bpm`.

use clap_sys::events::{
    CLAP_CORE_EVENT_SPACE_ID, CLAP_EVENT_TRANSPORT, CLAP_TRANSPORT_HAS_BEATS_TIMELINE,
    CLAP_TRANSPORT_HAS_SECONDS_TIMELINE, CLAP_TRANSPORT_HAS_TEMPO,
    CLAP_TRANSPORT_HAS_TIME_SIGNATURE, CLAP_TRANSPORT_IS_LOOP_ACTIVE, CLAP_TRANSPORT_IS_PLAYING,
    clap_event_header, clap_event_transport,
};
use clap_sys::fixedpoint::{
    CLAP_BEATTIME_FACTOR, CLAP_SECTIME_FACTOR, clap_beattime, clap_sectime,
};

/// Converts a position in quarter-note beats to CLAP's fixed-point beat time, rounded to the
/// nearest unit.
pub fn beats_to_beattime(beats: f64) -> clap_beattime {
    (beats * CLAP_BEATTIME_FACTOR as f64).round() as clap_beattime
}

/// Converts CLAP's fixed-point beat time back to quarter-note beats.
pub fn beattime_to_beats(beattime: clap_beattime) -> f64 {
    beattime as f64 / CLAP_BEATTIME_FACTOR as f64
}

/// Converts a time in seconds to CLAP's fixed-point second time, rounded to the nearest unit.
pub fn seconds_to_sectime(seconds: f64) -> clap_sectime {
    (seconds * CLAP_SECTIME_FACTOR as f64).round() as clap_sectime
}

/// Converts CLAP's fixed-point second time back to seconds.
pub fn sectime_to_seconds(sectime: clap_sectime) -> f64 {
    sectime as f64 / CLAP_SECTIME_FACTOR as f64
}

/// The transport a host reports for one process block: where the song position is at the
/// block's first sample, and what the timeline looks like.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TransportInfo {
    /// Whether the transport is playing (`CLAP_TRANSPORT_IS_PLAYING`).
    pub playing: bool,
    /// The tempo in quarter-note beats per minute.
    pub tempo_bpm: f64,
    /// The song position at the block's first sample, in quarter-note beats.
    pub position_beats: f64,
    /// The time signature's numerator (beats per bar), e.g. 4 in 4/4.
    pub time_sig_numerator: u16,
    /// The time signature's denominator (the note value of one beat), e.g. 4 in 4/4.
    pub time_sig_denominator: u16,
    /// The loop range in quarter-note beats, `Some` when the host's loop is active
    /// (`CLAP_TRANSPORT_IS_LOOP_ACTIVE`). This host only reports it; it never jumps back.
    pub loop_range_beats: Option<(f64, f64)>,
}

impl TransportInfo {
    /// A playing transport at `position_beats` with the given tempo, in 4/4, without a loop.
    pub fn playing(tempo_bpm: f64, position_beats: f64) -> Self {
        Self {
            playing: true,
            tempo_bpm,
            position_beats,
            time_sig_numerator: 4,
            time_sig_denominator: 4,
            loop_range_beats: None,
        }
    }

    /// The length of one bar in quarter-note beats (`numerator * 4 / denominator`).
    pub fn bar_length_beats(&self) -> f64 {
        f64::from(self.time_sig_numerator) * 4.0 / f64::from(self.time_sig_denominator)
    }

    /// Converts a position in quarter-note beats to seconds at this (constant) tempo.
    pub fn beats_to_seconds(&self, beats: f64) -> f64 {
        beats * 60.0 / self.tempo_bpm
    }

    /// The zero-based number of the bar that contains the song position (bar 0 starts at beat 0).
    pub fn bar_number(&self) -> i32 {
        (self.position_beats / self.bar_length_beats()).floor() as i32
    }

    /// The start of the bar that contains the song position, in quarter-note beats.
    pub fn bar_start_beats(&self) -> f64 {
        f64::from(self.bar_number()) * self.bar_length_beats()
    }

    /// Builds the CLAP transport event (`time` 0) that describes this transport: tempo, beat and
    /// second timelines, time signature, bar start and number, and the loop range when active.
    pub fn to_clap(&self) -> clap_event_transport {
        let mut flags = CLAP_TRANSPORT_HAS_TEMPO
            | CLAP_TRANSPORT_HAS_BEATS_TIMELINE
            | CLAP_TRANSPORT_HAS_SECONDS_TIMELINE
            | CLAP_TRANSPORT_HAS_TIME_SIGNATURE;
        if self.playing {
            flags |= CLAP_TRANSPORT_IS_PLAYING;
        }
        let (loop_start_beats, loop_end_beats) = self.loop_range_beats.unwrap_or((0.0, 0.0));
        if self.loop_range_beats.is_some() {
            flags |= CLAP_TRANSPORT_IS_LOOP_ACTIVE;
        }
        clap_event_transport {
            header: clap_event_header {
                size: std::mem::size_of::<clap_event_transport>() as u32,
                time: 0,
                space_id: CLAP_CORE_EVENT_SPACE_ID,
                type_: CLAP_EVENT_TRANSPORT,
                flags: 0,
            },
            flags,
            song_pos_beats: beats_to_beattime(self.position_beats),
            song_pos_seconds: seconds_to_sectime(self.beats_to_seconds(self.position_beats)),
            tempo: self.tempo_bpm,
            tempo_inc: 0.0,
            loop_start_beats: beats_to_beattime(loop_start_beats),
            loop_end_beats: beats_to_beattime(loop_end_beats),
            loop_start_seconds: seconds_to_sectime(self.beats_to_seconds(loop_start_beats)),
            loop_end_seconds: seconds_to_sectime(self.beats_to_seconds(loop_end_beats)),
            bar_start: beats_to_beattime(self.bar_start_beats()),
            bar_number: self.bar_number(),
            tsig_num: self.time_sig_numerator,
            tsig_denom: self.time_sig_denominator,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beattime_is_two_to_the_31_per_beat() {
        assert_eq!(beats_to_beattime(1.0), 1 << 31);
        assert_eq!(beats_to_beattime(12.0), 12 << 31);
        assert_eq!(beats_to_beattime(0.25), 1 << 29);
        assert_eq!(beats_to_beattime(-1.5), -(3 << 30));
        assert_eq!(beattime_to_beats(beats_to_beattime(13.0625)), 13.0625);
    }

    #[test]
    fn sectime_round_trips() {
        assert_eq!(seconds_to_sectime(2.0), 2 << 31);
        assert!((sectime_to_seconds(seconds_to_sectime(6.4)) - 6.4).abs() < 1e-9);
    }

    #[test]
    fn transport_event_at_120_bpm_in_4_4() {
        let t = TransportInfo::playing(120.0, 13.0);
        let e = t.to_clap();
        assert_eq!(e.header.type_, CLAP_EVENT_TRANSPORT);
        assert_eq!(
            e.header.size as usize,
            std::mem::size_of::<clap_event_transport>()
        );
        assert_ne!(e.flags & CLAP_TRANSPORT_IS_PLAYING, 0);
        assert_eq!(e.flags & CLAP_TRANSPORT_IS_LOOP_ACTIVE, 0);
        assert_eq!(e.song_pos_beats, 13 << 31);
        // 13 beats at 120 BPM = 6.5 s.
        assert_eq!(e.song_pos_seconds, 13 << 30);
        assert_eq!(e.bar_number, 3);
        assert_eq!(e.bar_start, 12 << 31);
        assert_eq!((e.tsig_num, e.tsig_denom), (4, 4));
        assert_eq!(e.tempo, 120.0);
    }

    #[test]
    fn stopped_transport_and_loop_and_other_meters() {
        let t = TransportInfo {
            playing: false,
            tempo_bpm: 90.0,
            position_beats: 7.5,
            time_sig_numerator: 6,
            time_sig_denominator: 8,
            loop_range_beats: Some((3.0, 9.0)),
        };
        assert_eq!(t.bar_length_beats(), 3.0);
        let e = t.to_clap();
        assert_eq!(e.flags & CLAP_TRANSPORT_IS_PLAYING, 0);
        assert_ne!(e.flags & CLAP_TRANSPORT_IS_LOOP_ACTIVE, 0);
        assert_eq!(e.bar_number, 2);
        assert_eq!(e.bar_start, 6 << 31);
        assert_eq!(e.loop_start_beats, 3 << 31);
        assert_eq!(e.loop_end_beats, 9 << 31);
        // 9 beats at 90 BPM = 6 s.
        assert_eq!(e.loop_end_seconds, 6 << 31);
    }

    #[test]
    fn negative_positions_are_in_bar_minus_one() {
        let t = TransportInfo::playing(120.0, -1.0);
        assert_eq!(t.bar_number(), -1);
        assert_eq!(t.bar_start_beats(), -4.0);
    }
}
