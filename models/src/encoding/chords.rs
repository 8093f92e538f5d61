//! Chord encodings of Magenta's Improv RNN, chord-symbol parsing and live chord recognition.
//!
//! A chord is `Option<Chord>`: `None` is "no chord" (N.C.).
//!
//! - **Triad one-hot** ([`NUM_TRIAD_CLASSES`] = 49, [`triad_index`]): `0` = N.C.; `1 + root` major,
//!   `13 + root` minor, `25 + root` augmented, `37 + root` diminished (root pitch class, 0 = C).
//!   Every [`Chord`] carries the triad it reduces to, so sevenths etc. land on their triad.
//! - **Pitch chord** ([`PITCH_CHORD_SIZE`] = 37, [`write_pitch_chord`]): `[0]` no-chord flag (and
//!   nothing else set for N.C.); `[1 + root]` root one-hot; `[13 + pc]` multi-hot of every pitch
//!   class of the chord; `[25 + bass]` bass one-hot.
//!
//! **Chord symbols** ([`parse_symbol`]), as spelled in the Nottingham ABC files: a root `A`–`G`
//! with an optional `#` or `b`, a suffix, and an optional slash bass `/x` (letter in either case,
//! optional `#`/`b`). `N.C.`, `NC` and `N` are no chord. Suffixes (intervals above the root → triad):
//! `""` 0 4 7 major · `m` 0 3 7 minor · `7` 0 4 7 10 major · `maj7`/`M7` 0 4 7 11 major ·
//! `m7` 0 3 7 10 minor · `6` 0 4 7 9 major · `m6` 0 3 7 9 minor · `9` 0 2 4 7 10 major ·
//! `d`/`dim` 0 3 6 diminished · `d7`/`dim7` 0 3 6 9 diminished · `m7b5` 0 3 6 10 diminished ·
//! `a`/`aug`/`+` 0 4 8 augmented. Anything else is an error. The bass is the slash note, or the
//! root; a slash bass outside the chord is added to its pitch classes.
//!
//! **Recognition** ([`recognize`]) from held MIDI notes: no notes → N.C. Otherwise the bass is the
//! lowest note's pitch class, the pitch classes are those held, and root and quality are the triad
//! (of the 48) ranked best by, in order:
//! 1. most triad pitch classes held;
//! 2. most other held pitch classes explained as an extension above the root: intervals 2, 9, 10,
//!    11 for major and minor, 2, 9, 10 for diminished, 2, 10, 11 for augmented (so `G B D F` is
//!    G major, not B diminished, and `C E G B` is C major, not E minor);
//! 3. root held;
//! 4. major or minor before augmented or diminished (so `E C` is C major, not E augmented);
//! 5. root is the bass (so `F A C D` with F lowest is F major, with D lowest D minor);
//! 6. quality: major, minor, diminished, augmented;
//! 7. lowest root pitch class.
//!
//! The same rules live in `models/python/antiphon_train/encoding_chords.py`; both are checked
//! against `models/testdata/chord_vectors.json`.

use crate::notes::split_pitch_class;

/// Number of triad one-hot classes: N.C. plus 4 qualities × 12 roots.
pub const NUM_TRIAD_CLASSES: usize = 49;

/// Width of the pitch-chord vector.
pub const PITCH_CHORD_SIZE: usize = 37;

/// Quality of a triad, in the order of the triad one-hot encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TriadQuality {
    /// Root, major third, fifth.
    Major,
    /// Root, minor third, fifth.
    Minor,
    /// Root, major third, augmented fifth.
    Augmented,
    /// Root, minor third, diminished fifth.
    Diminished,
}

impl TriadQuality {
    /// All qualities in encoding order.
    pub const ALL: [Self; 4] = [Self::Major, Self::Minor, Self::Augmented, Self::Diminished];

    /// Intervals of the triad above its root.
    pub fn intervals(self) -> [u8; 3] {
        match self {
            Self::Major => [0, 4, 7],
            Self::Minor => [0, 3, 7],
            Self::Augmented => [0, 4, 8],
            Self::Diminished => [0, 3, 6],
        }
    }

    /// Position in the triad one-hot encoding (0 major … 3 diminished).
    pub fn index(self) -> usize {
        match self {
            Self::Major => 0,
            Self::Minor => 1,
            Self::Augmented => 2,
            Self::Diminished => 3,
        }
    }

    /// The name used in the test vectors.
    pub fn name(self) -> &'static str {
        match self {
            Self::Major => "major",
            Self::Minor => "minor",
            Self::Augmented => "augmented",
            Self::Diminished => "diminished",
        }
    }

    /// Intervals above the root that recognition accepts as extensions of this triad.
    fn extensions(self) -> &'static [u8] {
        match self {
            Self::Major | Self::Minor => &[2, 9, 10, 11],
            Self::Diminished => &[2, 9, 10],
            Self::Augmented => &[2, 10, 11],
        }
    }

    /// Preference of recognition rule 6 (lower is preferred).
    fn preference(self) -> u8 {
        match self {
            Self::Major => 0,
            Self::Minor => 1,
            Self::Diminished => 2,
            Self::Augmented => 3,
        }
    }
}

/// A chord: its triad (root and quality), its bass and all its pitch classes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chord {
    /// Root pitch class, 0 = C.
    pub root: u8,
    /// Quality of the triad the chord reduces to.
    pub quality: TriadQuality,
    /// Bass pitch class.
    pub bass: u8,
    /// Every pitch class of the chord, ascending, no repeats.
    pub pitch_classes: Vec<u8>,
}

/// Triad one-hot class of a chord (`0` for no chord).
pub fn triad_index(chord: Option<&Chord>) -> usize {
    match chord {
        None => 0,
        Some(c) => 1 + 12 * c.quality.index() + usize::from(c.root % 12),
    }
}

/// Root and quality of a triad class, or `None` for class 0 (and anything out of range).
pub fn triad_of_index(index: usize) -> Option<(u8, TriadQuality)> {
    if index == 0 || index >= NUM_TRIAD_CLASSES {
        return None;
    }
    let i = index - 1;
    Some(((i % 12) as u8, TriadQuality::ALL[i / 12]))
}

/// Writes the triad one-hot row of `chord` into `row` ([`NUM_TRIAD_CLASSES`] wide).
pub fn write_triad(chord: Option<&Chord>, row: &mut [f32]) {
    row.fill(0.0);
    row[triad_index(chord)] = 1.0;
}

/// Writes the pitch-chord vector of `chord` into `row` ([`PITCH_CHORD_SIZE`] wide).
pub fn write_pitch_chord(chord: Option<&Chord>, row: &mut [f32]) {
    row.fill(0.0);
    let Some(c) = chord else {
        row[0] = 1.0;
        return;
    };
    row[1 + usize::from(c.root % 12)] = 1.0;
    for &pc in &c.pitch_classes {
        row[13 + usize::from(pc % 12)] = 1.0;
    }
    row[25 + usize::from(c.bass % 12)] = 1.0;
}

/// Recognition rank of a triad: rules 1–7 of the module doc, larger is better in every position.
type RankKey = (usize, usize, bool, bool, bool, i8, i8);

/// Recognises the chord of a set of held MIDI notes (see the module doc for the ranking).
pub fn recognize(held: &[u8]) -> Option<Chord> {
    let bass = held.iter().min()? % 12;
    let mut mask = 0u16;
    for &p in held {
        mask |= 1 << (p % 12);
    }
    let has = |pc: u8| mask & (1 << (pc % 12)) != 0;
    let mut best: Option<(RankKey, u8, TriadQuality)> = None;
    for quality in TriadQuality::ALL {
        for root in 0..12u8 {
            let tones = quality.intervals().map(|i| (root + i) % 12);
            let matched = tones.iter().filter(|&&pc| has(pc)).count();
            let explained = (0..12u8)
                .filter(|&pc| has(pc) && !tones.contains(&pc))
                .filter(|&pc| quality.extensions().contains(&((pc + 12 - root) % 12)))
                .count();
            let common = matches!(quality, TriadQuality::Major | TriadQuality::Minor);
            // Larger is better in every position.
            let key = (
                matched,
                explained,
                has(root),
                common,
                root == bass,
                -(quality.preference() as i8),
                -(root as i8),
            );
            if best.as_ref().is_none_or(|(k, _, _)| key > *k) {
                best = Some((key, root, quality));
            }
        }
    }
    let (_, root, quality) = best?;
    Some(Chord {
        root,
        quality,
        bass,
        pitch_classes: (0..12).filter(|&pc| has(pc)).collect(),
    })
}

/// Intervals and triad of a chord-symbol suffix (see the module doc).
fn suffix_intervals(suffix: &str) -> Option<(&'static [u8], TriadQuality)> {
    use TriadQuality::*;
    Some(match suffix {
        "" => (&[0, 4, 7], Major),
        "m" => (&[0, 3, 7], Minor),
        "7" => (&[0, 4, 7, 10], Major),
        "maj7" | "M7" => (&[0, 4, 7, 11], Major),
        "m7" => (&[0, 3, 7, 10], Minor),
        "6" => (&[0, 4, 7, 9], Major),
        "m6" => (&[0, 3, 7, 9], Minor),
        "9" => (&[0, 2, 4, 7, 10], Major),
        "d" | "dim" => (&[0, 3, 6], Diminished),
        "d7" | "dim7" => (&[0, 3, 6, 9], Diminished),
        "m7b5" => (&[0, 3, 6, 10], Diminished),
        "a" | "aug" | "+" => (&[0, 4, 8], Augmented),
        _ => return None,
    })
}

/// Parses a chord symbol as spelled in the Nottingham ABC files (see the module doc);
/// `Ok(None)` is no chord.
pub fn parse_symbol(symbol: &str) -> Result<Option<Chord>, String> {
    let s = symbol.trim();
    if matches!(s, "N.C." | "NC" | "N") {
        return Ok(None);
    }
    let err = || format!("unsupported chord symbol {symbol:?}");
    if !s.starts_with(|c: char| c.is_ascii_uppercase()) {
        return Err(err());
    }
    let (root, rest) = split_pitch_class(s).ok_or_else(err)?;
    let (suffix, bass) = match rest.split_once('/') {
        None => (rest, root),
        Some((suffix, bass_text)) => match split_pitch_class(bass_text) {
            Some((bass, "")) => (suffix, bass),
            _ => return Err(err()),
        },
    };
    let (intervals, quality) = suffix_intervals(suffix).ok_or_else(err)?;
    let mut pitch_classes: Vec<u8> = intervals.iter().map(|i| (root + i) % 12).collect();
    pitch_classes.push(bass);
    pitch_classes.sort_unstable();
    pitch_classes.dedup();
    Ok(Some(Chord {
        root,
        quality,
        bass,
        pitch_classes,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recognized(held: &[u8]) -> (u8, TriadQuality, u8) {
        let c = recognize(held).expect("a chord");
        (c.root, c.quality, c.bass)
    }

    #[test]
    fn given_every_triad_class_when_mapped_to_a_triad_and_back_then_it_is_the_same_class() {
        for index in 1..NUM_TRIAD_CLASSES {
            let (root, quality) = triad_of_index(index).unwrap();
            let chord = Chord {
                root,
                quality,
                bass: root,
                pitch_classes: vec![],
            };
            assert_eq!(triad_index(Some(&chord)), index);
        }
        assert_eq!(triad_of_index(0), None);
        assert_eq!(triad_index(None), 0);
    }

    #[test]
    fn given_nottingham_symbols_when_parsed_then_root_quality_and_bass_follow_the_spelling() {
        // Given "Cd" (dim), "Ca" (aug), "C/e" (slash bass), "Am", "G7", "Bbm"
        let triad = |s: &str| triad_index(parse_symbol(s).unwrap().as_ref());
        // Then each lands on its triad class
        assert_eq!(triad("Cd"), 37);
        assert_eq!(triad("Ca"), 25);
        assert_eq!(triad("C/e"), 1);
        assert_eq!(triad("Am"), 13 + 9);
        assert_eq!(triad("G7"), 1 + 7);
        assert_eq!(triad("Bbm"), 13 + 10);
        assert_eq!(triad("N.C."), 0);
        assert_eq!(parse_symbol("C/e").unwrap().unwrap().bass, 4);
        assert_eq!(
            parse_symbol("G7").unwrap().unwrap().pitch_classes,
            vec![2, 5, 7, 11]
        );
        assert!(parse_symbol("Csus4").is_err());
        assert!(parse_symbol("c").is_err());
        assert!(parse_symbol("C/x").is_err());
    }

    #[test]
    fn given_a_slash_chord_when_written_as_pitch_chord_then_root_tones_and_bass_are_set() {
        // Given D/f# (D major, F# in the bass)
        let chord = parse_symbol("D/f#").unwrap();
        let mut row = vec![0.0; PITCH_CHORD_SIZE];
        // When written
        write_pitch_chord(chord.as_ref(), &mut row);
        // Then root D, tones D F# A, bass F#
        let set: Vec<usize> = (0..PITCH_CHORD_SIZE).filter(|&i| row[i] == 1.0).collect();
        assert_eq!(set, vec![1 + 2, 13 + 2, 13 + 6, 13 + 9, 25 + 6]);
        write_pitch_chord(None, &mut row);
        assert_eq!(row.iter().sum::<f32>(), 1.0);
        assert_eq!(row[0], 1.0);
    }

    #[test]
    fn given_held_notes_when_recognized_then_the_best_matching_triad_wins() {
        use TriadQuality::*;
        assert_eq!(recognized(&[60, 64, 67]), (0, Major, 0));
        // G7 in any inversion stays G major
        assert_eq!(recognized(&[59, 62, 65, 67]), (7, Major, 11));
        // C E G B is C major seventh, not E minor
        assert_eq!(recognized(&[48, 64, 67, 71]), (0, Major, 0));
        // A C E G: A lowest gives A minor (seventh), C lowest C major (sixth)
        assert_eq!(recognized(&[57, 60, 64, 67]), (9, Minor, 9));
        assert_eq!(recognized(&[48, 57, 64, 67]), (0, Major, 0));
        // A minor sixth (E up to C) is C major, not E augmented
        assert_eq!(recognized(&[64, 72]), (0, Major, 4));
        // F6 versus Dm7: the bass decides
        assert_eq!(recognized(&[53, 57, 60, 62]), (5, Major, 5));
        assert_eq!(recognized(&[50, 53, 57, 60]), (2, Minor, 2));
        // Diminished seventh: the bass decides
        assert_eq!(recognized(&[63, 66, 69, 72]), (3, Diminished, 3));
        assert_eq!(recognize(&[]), None);
    }
}
