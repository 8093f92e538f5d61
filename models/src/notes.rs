//! Notes on the model grid, and note names (C4 = 60).

use std::fmt;

/// A note placed on a model's step grid (16th notes for the metric families).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepNote {
    /// MIDI key number, 0..=127.
    pub pitch: u8,
    /// MIDI velocity, 1..=127.
    pub velocity: u8,
    /// Step at which the note starts.
    pub start_step: i64,
    /// Step at which the note ends; always greater than `start_step`.
    pub end_step: i64,
}

impl StepNote {
    /// A note from `start_step` to `end_step`; a note that would not end after its start lasts
    /// one step.
    pub fn new(pitch: u8, velocity: u8, start_step: i64, end_step: i64) -> Self {
        Self {
            pitch,
            velocity,
            start_step,
            end_step: end_step.max(start_step + 1),
        }
    }
}

/// Puts a time given in quarter notes on a grid of `steps_per_quarter` steps per quarter note,
/// rounding to the nearest step (halves round away from zero).
pub fn quarters_to_step(quarters: f64, steps_per_quarter: u32) -> i64 {
    (quarters * f64::from(steps_per_quarter)).round() as i64
}

/// Names of the pitch classes, C = 0 … B = 11, with sharps.
pub const PITCH_CLASS_NAMES: [&str; 12] = [
    "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B",
];

/// The name of MIDI key `key` with sharps, C4 = 60 (C-1 = 0, G9 = 127).
pub fn note_name(key: u8) -> String {
    format!(
        "{}{}",
        PITCH_CLASS_NAMES[usize::from(key % 12)],
        i32::from(key / 12) - 1
    )
}

/// A pitch spelled at the front of `text`: a letter `A`–`G` (either case) and an optional `#` or
/// `b`. Returns its semitones above the letter C of its octave (−1 for `Cb` … 12 for `B#`) and
/// the rest of the text.
fn split_spelling(text: &str) -> Option<(i32, &str)> {
    let mut chars = text.chars();
    let natural = match chars.next()?.to_ascii_uppercase() {
        'C' => 0,
        'D' => 2,
        'E' => 4,
        'F' => 5,
        'G' => 7,
        'A' => 9,
        'B' => 11,
        _ => return None,
    };
    let rest = chars.as_str();
    Some(match rest.chars().next() {
        Some('#') => (natural + 1, &rest[1..]),
        Some('b') => (natural - 1, &rest[1..]),
        _ => (natural, rest),
    })
}

/// The pitch class (0 = C … 11 = B) of a pitch name at the front of `text` — a letter `A`–`G`
/// (either case) and an optional `#` or `b` — and the rest of the text (`"F#m7"` → 6, `"m7"`).
pub fn split_pitch_class(text: &str) -> Option<(u8, &str)> {
    let (semitones, rest) = split_spelling(text)?;
    Some((semitones.rem_euclid(12) as u8, rest))
}

/// The pitch class (0 = C … 11 = B) of a pitch name and nothing else: `C`, `F#`, `Bb`, `a`.
pub fn parse_pitch_class(text: &str) -> Option<u8> {
    match split_pitch_class(text)? {
        (pitch_class, "") => Some(pitch_class),
        _ => None,
    }
}

/// Why a text is not a note name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteNameError {
    /// It does not start with a pitch name (`A`–`G` and an optional `#` or `b`).
    NotAPitch,
    /// No octave number follows the pitch name.
    NoOctave,
    /// The note lies outside MIDI keys 0..=127.
    OutOfRange,
}

impl fmt::Display for NoteNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotAPitch => "not a note name (like C4, F#3, Bb5)",
            Self::NoOctave => "no octave number (C4 = 60)",
            Self::OutOfRange => "outside MIDI's range (C-1..G9)",
        })
    }
}

/// The MIDI key of a note name: a pitch name (either case, optional `#` or `b`) and an octave
/// number, C4 = 60: `C4`, `F#3`, `bb2`, `C-1`, `G9`; white space around the text and between the
/// two parts is ignored. The accidental counts across the octave line: `B#3` = `C4`,
/// `Cb4` = `B3`.
pub fn parse_note_name(text: &str) -> Result<u8, NoteNameError> {
    let (semitones, rest) = split_spelling(text.trim()).ok_or(NoteNameError::NotAPitch)?;
    let octave: i32 = rest.trim().parse().map_err(|_| NoteNameError::NoOctave)?;
    u8::try_from((octave + 1) * 12 + semitones)
        .ok()
        .filter(|key| *key <= 127)
        .ok_or(NoteNameError::OutOfRange)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_every_key_when_named_and_parsed_back_then_it_is_the_same_key() {
        assert_eq!(note_name(60), "C4");
        assert_eq!(note_name(0), "C-1");
        assert_eq!(note_name(127), "G9");
        assert_eq!(note_name(61), "C#4");
        for key in 0..=127 {
            assert_eq!(parse_note_name(&note_name(key)), Ok(key));
        }
    }

    #[test]
    fn given_note_names_when_parsed_then_c4_is_60_and_accidentals_cross_the_octave_line() {
        assert_eq!(parse_note_name("F#3"), Ok(54));
        assert_eq!(parse_note_name("Bb5"), Ok(82));
        assert_eq!(parse_note_name(" a3 "), Ok(57));
        assert_eq!(parse_note_name("C 4"), Ok(60));
        assert_eq!(parse_note_name("Bb-1"), Ok(10));
        assert_eq!(parse_note_name("B#3"), Ok(60));
        assert_eq!(parse_note_name("Cb4"), Ok(59));
        assert_eq!(parse_note_name("H3"), Err(NoteNameError::NotAPitch));
        assert_eq!(parse_note_name(""), Err(NoteNameError::NotAPitch));
        assert_eq!(parse_note_name("C"), Err(NoteNameError::NoOctave));
        assert_eq!(parse_note_name("G#9"), Err(NoteNameError::OutOfRange));
        assert_eq!(parse_note_name("Cb-1"), Err(NoteNameError::OutOfRange));
    }

    #[test]
    fn given_pitch_names_when_split_then_the_pitch_class_wraps_and_the_rest_follows() {
        assert_eq!(split_pitch_class("F#m7"), Some((6, "m7")));
        assert_eq!(split_pitch_class("Bbm"), Some((10, "m")));
        assert_eq!(split_pitch_class("e"), Some((4, "")));
        assert_eq!(split_pitch_class("B#"), Some((0, "")));
        assert_eq!(split_pitch_class("Cb"), Some((11, "")));
        assert_eq!(split_pitch_class("N.C."), None);
        assert_eq!(parse_pitch_class("Bb"), Some(10));
        assert_eq!(parse_pitch_class("C##"), None);
        assert_eq!(parse_pitch_class("C4"), None);
    }
}
