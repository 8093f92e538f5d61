//! Calls written on the command line: `PITCH@START-END[:VELOCITY]` with times in beats and
//! pitches as MIDI numbers or names (`C4` = 60, `F#3`, `Bb5`).

use std::fmt;

use antiphon_models::midi_file::FileNote;
use antiphon_models::notes::{self, NoteNameError};

/// A note of a call, in beats.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArgNote {
    /// MIDI key.
    pub key: u8,
    /// Start, in beats.
    pub start_beats: f64,
    /// End, in beats; after the start.
    pub end_beats: f64,
    /// MIDI velocity.
    pub velocity: u8,
}

impl ArgNote {
    /// The note in a MIDI file, on channel index `channel`.
    pub fn file_note(&self, channel: u8) -> FileNote {
        FileNote {
            pitch: self.key,
            velocity: self.velocity,
            channel,
            start_quarters: self.start_beats,
            end_quarters: self.end_beats,
        }
    }
}

/// A pitch from a MIDI number or a name like `C4`, `F#3`, `Bb5` (C4 = 60, see
/// [`notes::parse_note_name`]).
pub fn parse_pitch(text: &str) -> Result<u8, String> {
    if let Ok(n) = text.parse::<u8>() {
        return if n < 128 {
            Ok(n)
        } else {
            Err(format!("pitch {n} is above 127"))
        };
    }
    if text.is_empty() {
        return Err("empty pitch".into());
    }
    notes::parse_note_name(text).map_err(|e| match e {
        NoteNameError::NotAPitch => {
            format!("{text:?} is not a pitch (a MIDI number or a name like C4, F#3, Bb5)")
        }
        NoteNameError::NoOctave => format!("{text:?} has no octave number (C4 = 60)"),
        NoteNameError::OutOfRange => format!("{text:?} is outside MIDI's range"),
    })
}

/// Parses `PITCH@START-END[:VELOCITY]` notes separated by spaces or commas.
pub fn parse_notes(text: &str) -> Result<Vec<ArgNote>, String> {
    let mut notes = Vec::new();
    for item in text.split([' ', ',']).filter(|s| !s.is_empty()) {
        let bad = || format!("{item:?} is not PITCH@START-END[:VELOCITY] (beats), e.g. C4@4-4.5");
        let (pitch, times) = item.split_once('@').ok_or_else(bad)?;
        let (times, velocity) = match times.split_once(':') {
            Some((t, v)) => (t, v.parse::<u8>().map_err(|_| bad())?),
            None => (times, 100),
        };
        let (start, end) = times.split_once('-').ok_or_else(bad)?;
        let start_beats: f64 = start.parse().map_err(|_| bad())?;
        let end_beats: f64 = end.parse().map_err(|_| bad())?;
        if !(start_beats >= 0.0 && end_beats > start_beats && (1..=127).contains(&velocity)) {
            return Err(bad());
        }
        notes.push(ArgNote {
            key: parse_pitch(pitch)?,
            start_beats,
            end_beats,
            velocity,
        });
    }
    if notes.is_empty() {
        return Err("the call has no notes".into());
    }
    notes.sort_by(|a, b| a.start_beats.total_cmp(&b.start_beats));
    Ok(notes)
}

/// A beat position as bar.beat.sixteenth (1-based), in 4/4.
pub struct Position(pub f64);

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sixteenths = (self.0 * 4.0).round() as i64;
        write!(
            f,
            "{}.{}.{}",
            sixteenths / 16 + 1,
            (sixteenths % 16) / 4 + 1,
            sixteenths % 4 + 1
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_names_and_numbers_when_parsed_then_c4_is_60() {
        assert_eq!(parse_pitch("C4"), Ok(60));
        assert_eq!(parse_pitch("F#3"), Ok(54));
        assert_eq!(parse_pitch("Bb5"), Ok(82));
        assert_eq!(parse_pitch("64"), Ok(64));
        assert!(parse_pitch("H2").is_err());
        assert_eq!(parse_pitch(""), Err("empty pitch".into()));
        assert_eq!(
            parse_pitch("C"),
            Err("\"C\" has no octave number (C4 = 60)".into())
        );
        assert_eq!(
            parse_pitch("G#9"),
            Err("\"G#9\" is outside MIDI's range".into())
        );
    }

    #[test]
    fn given_a_note_list_when_parsed_then_times_and_velocities_come_through() {
        let notes = parse_notes("C4@4-4.5 D4@5-5.5:80").unwrap();
        assert_eq!(
            notes[1],
            ArgNote {
                key: 62,
                start_beats: 5.0,
                end_beats: 5.5,
                velocity: 80
            }
        );
        assert!(parse_notes("C4@4").is_err());
        assert!(parse_notes("C4@5-4").is_err());
    }

    #[test]
    fn given_a_beat_when_shown_then_it_is_bar_beat_sixteenth() {
        assert_eq!(Position(12.0).to_string(), "4.1.1");
        assert_eq!(Position(13.75).to_string(), "4.2.4");
    }
}
