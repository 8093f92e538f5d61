//! Pitch masks: which note-ons a generation may choose, in the player's real pitches (after the
//! encoding's transposition is undone).

use crate::notes::parse_pitch_class;

/// A scale: a root pitch class and the intervals above it that belong to the scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Scale {
    /// Root pitch class, 0 = C … 11 = B.
    pub root: u8,
    /// Bit `i` set: the pitch class `root + i` (mod 12) is in the scale. Bit 0 is the root.
    pub intervals: u16,
}

/// Scale names [`Scale::parse`] knows, with their intervals above the root.
pub const SCALE_NAMES: [(&str, &[u8]); 13] = [
    ("major", &[0, 2, 4, 5, 7, 9, 11]),
    ("minor", &[0, 2, 3, 5, 7, 8, 10]),
    ("harmonic-minor", &[0, 2, 3, 5, 7, 8, 11]),
    ("melodic-minor", &[0, 2, 3, 5, 7, 9, 11]),
    ("dorian", &[0, 2, 3, 5, 7, 9, 10]),
    ("phrygian", &[0, 1, 3, 5, 7, 8, 10]),
    ("lydian", &[0, 2, 4, 6, 7, 9, 11]),
    ("mixolydian", &[0, 2, 4, 5, 7, 9, 10]),
    ("locrian", &[0, 1, 3, 5, 6, 8, 10]),
    ("pentatonic-major", &[0, 2, 4, 7, 9]),
    ("pentatonic-minor", &[0, 3, 5, 7, 10]),
    ("blues", &[0, 3, 5, 6, 7, 10]),
    ("chromatic", &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
];

impl Scale {
    /// The scale on `root` (a pitch class, taken mod 12) with these intervals above it.
    pub fn new(root: u8, intervals: &[u8]) -> Self {
        Self {
            root: root % 12,
            intervals: intervals.iter().fold(0, |acc, &i| acc | 1 << (i % 12)),
        }
    }

    /// Parses `ROOT:NAME`, e.g. `C:major`, `D:minor`, `F#:dorian`, `Bb:pentatonic-minor`; the
    /// names are those of [`SCALE_NAMES`].
    pub fn parse(text: &str) -> Result<Self, String> {
        let names: Vec<&str> = SCALE_NAMES.iter().map(|(n, _)| *n).collect();
        let usage = || {
            format!(
                "{text:?} is not a scale ROOT:NAME like C:major or A:pentatonic-minor (names: {})",
                names.join(", ")
            )
        };
        let (root_text, name) = text.split_once(':').ok_or_else(usage)?;
        let root = parse_pitch_class(root_text.trim()).ok_or_else(usage)?;
        let name = name.trim().to_ascii_lowercase();
        let (_, intervals) = SCALE_NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(usage)?;
        Ok(Self::new(root, intervals))
    }

    /// Whether the pitch class of MIDI pitch `pitch` is in the scale.
    pub fn contains(&self, pitch: u8) -> bool {
        let interval = (pitch % 12 + 12 - self.root % 12) % 12;
        self.intervals & (1 << interval) != 0
    }
}

/// Which note-ons a generation may choose: a pitch range and an optional scale, in the real
/// (output) pitches. No-events and note-offs are always allowed; drum models ignore the mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PitchMask {
    /// Lowest allowed MIDI pitch.
    pub low_pitch: u8,
    /// Highest allowed MIDI pitch (inclusive).
    pub high_pitch: u8,
    /// The scale the pitches must belong to, if any.
    pub scale: Option<Scale>,
}

impl PitchMask {
    /// Every pitch allowed.
    pub const ALL: Self = Self {
        low_pitch: 0,
        high_pitch: 127,
        scale: None,
    };

    /// Pitches `low_pitch..=high_pitch`, any pitch class.
    pub fn range(low_pitch: u8, high_pitch: u8) -> Self {
        Self {
            low_pitch,
            high_pitch,
            scale: None,
        }
    }

    /// The same mask restricted to `scale`.
    pub fn with_scale(self, scale: Scale) -> Self {
        Self {
            scale: Some(scale),
            ..self
        }
    }

    /// Whether a note-on of `pitch` may be chosen.
    pub fn allows(&self, pitch: u8) -> bool {
        (self.low_pitch..=self.high_pitch).contains(&pitch)
            && self.scale.is_none_or(|s| s.contains(pitch))
    }

    /// Whether the mask lets every pitch through (so generation can skip it).
    pub fn is_all(&self) -> bool {
        self.low_pitch == 0
            && self.high_pitch >= 127
            && self.scale.is_none_or(|s| s.intervals & 0x0fff == 0x0fff)
    }
}

impl Default for PitchMask {
    fn default() -> Self {
        Self::ALL
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_scale_names_when_parsed_then_the_pitch_classes_follow_the_root() {
        let d_minor = Scale::parse("D:minor").unwrap();
        let allowed: Vec<u8> = (60..72).filter(|&p| d_minor.contains(p)).collect();
        // D E F G A Bb C
        assert_eq!(allowed, vec![60, 62, 64, 65, 67, 69, 70]);
        let a_penta = Scale::parse("A:pentatonic-minor").unwrap();
        let allowed: Vec<u8> = (60..72).filter(|&p| a_penta.contains(p)).collect();
        // A C D E G
        assert_eq!(allowed, vec![60, 62, 64, 67, 69]);
        assert_eq!(Scale::parse("Bb:major").unwrap().root, 10);
        assert_eq!(Scale::parse("F#:major").unwrap().root, 6);
        assert!(Scale::parse("H:major").is_err());
        assert!(
            Scale::parse("C:kazoo")
                .unwrap_err()
                .contains("pentatonic-minor")
        );
        assert!(Scale::parse("Cmajor").is_err());
    }

    #[test]
    fn given_a_range_and_a_scale_when_asked_then_both_must_hold() {
        let mask = PitchMask::range(48, 72).with_scale(Scale::parse("C:major").unwrap());
        assert!(mask.allows(48) && mask.allows(72) && mask.allows(64));
        assert!(!mask.allows(47) && !mask.allows(74) && !mask.allows(61));
        assert!(PitchMask::ALL.is_all() && !mask.is_all());
        assert!((0..128).all(|p| PitchMask::ALL.allows(p)));
    }
}
