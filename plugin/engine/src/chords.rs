//! Live chords for Improv models: which of the player's notes are chord notes, when the held
//! chord changes (decided on the audio thread without allocating), and the chord history the
//! worker turns into [`ChordChange`]s on the model grid.
//!
//! Chord notes are not part of a call: they neither start nor extend one and are not in the
//! primer. What they do is set the chord the answer is played over:
//! - the primer window gets the chords that were held over it, step by step;
//! - the answer continues over the chord held when it is generated;
//! - a change of the held chord more than [`CHORD_KEEP_BEATS`] before a pending answer starts
//!   makes that answer void (the audio thread drops it, the worker generates it again over the
//!   new chord, see [`voids_answer`]); a later change, or one while the answer plays, keeps it
//!   and the worker regenerates the rest of it from the step of the change (from its first step
//!   if it has not started), so the old notes still play if the new ones come late.
//!
//! A chord *changes* when the [`ChordSignature`] of the held keys changes: the bass pitch class
//! and the set of pitch classes, which is exactly what [`chords::recognize`] reads. Doubling a
//! chord tone in another octave is no change.

use antiphon_models::ChordChange;
use antiphon_models::encoding::chords::{self, Chord};

use crate::queues::{CaptureEvent, NoteKind, NoteRole};
use crate::tracker::NoteTracker;

/// A chord change at least this long before an answer's start voids the answer; a later one
/// keeps it until the worker's continuation replaces its notes (the usual case of a chord played
/// on, or just before, the bar line where the answer starts: the replacement may come a few
/// milliseconds late, and the old notes fill in).
pub const CHORD_KEEP_BEATS: f64 = 1.0;

/// Whether a chord change at `change_beats` voids an answer that starts at `start_beats`. The
/// audio thread and the worker decide by this one rule.
pub fn voids_answer(change_beats: f64, start_beats: f64) -> bool {
    change_beats + CHORD_KEEP_BEATS < start_beats
}

/// Where the player's chord notes come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChordInput {
    /// Notes below this MIDI key, on any channel, are chord notes; the others are melody.
    SplitKey(u8),
    /// Notes on this MIDI channel index (0..=15) are chord notes; the others are melody.
    Channel(u8),
}

impl ChordInput {
    /// Split at C3 (MIDI 48): the left hand plays the chords.
    pub const DEFAULT: Self = Self::SplitKey(48);

    /// Whether a note on `channel` (index 0..=15) with `key` is a chord note.
    pub fn is_chord_note(self, channel: u8, key: u8) -> bool {
        match self {
            Self::SplitKey(split) => key < split,
            Self::Channel(chord_channel) => channel & 0x0f == chord_channel & 0x0f,
        }
    }

    /// The lowest pitch an answer may use so that it stays out of the chord notes' range: the
    /// split key, or 0 when chords come on their own channel.
    pub fn melody_floor(self) -> u8 {
        match self {
            Self::SplitKey(split) => split.min(127),
            Self::Channel(_) => 0,
        }
    }

    /// The setting packed into a `u32` (for an atomic).
    pub fn pack(self) -> u32 {
        match self {
            Self::SplitKey(key) => u32::from(key & 0x7f),
            Self::Channel(channel) => 0x100 | u32::from(channel & 0x0f),
        }
    }

    /// The setting [`ChordInput::pack`] packed.
    pub fn unpack(packed: u32) -> Self {
        if packed & 0x100 != 0 {
            Self::Channel((packed & 0x0f) as u8)
        } else {
            Self::SplitKey((packed & 0x7f) as u8)
        }
    }
}

impl Default for ChordInput {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// What chord recognition reads from a set of held keys: the bass pitch class (of the lowest
/// key) and the set of pitch classes. Equal signatures are recognised as the same chord.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChordSignature {
    /// Pitch class of the lowest held key; `None` when nothing is held (no chord).
    pub bass: Option<u8>,
    /// Bit `pc` set: pitch class `pc` (0 = C) is held.
    pub pitch_classes: u16,
}

impl ChordSignature {
    /// The signature of the keys set in `keys` (bit `key` set while `key` is held).
    pub fn of_keys(keys: u128) -> Self {
        if keys == 0 {
            return Self::default();
        }
        let mut pitch_classes = 0u16;
        let mut rest = keys;
        while rest != 0 {
            let key = rest.trailing_zeros();
            rest &= rest - 1;
            pitch_classes |= 1 << (key % 12);
        }
        Self {
            bass: Some((keys.trailing_zeros() % 12) as u8),
            pitch_classes,
        }
    }
}

/// The chord keys the player holds, and whether a key changes the chord. Fixed size, never
/// allocates: the audio thread keeps one, the worker another, fed the same events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChordKeys {
    /// Held chord keys by channel.
    held: NoteTracker,
    /// The signature of `held`.
    signature: ChordSignature,
}

impl ChordKeys {
    /// Nothing held.
    pub const fn new() -> Self {
        Self {
            held: NoteTracker::new(),
            signature: ChordSignature {
                bass: None,
                pitch_classes: 0,
            },
        }
    }

    /// A chord key goes down; returns whether the chord changed.
    pub fn press(&mut self, channel: u8, key: u8) -> bool {
        self.held.note_on(channel, key);
        self.update()
    }

    /// A key goes up: `None` if it is not a held chord key, else whether the chord changed.
    pub fn release(&mut self, channel: u8, key: u8) -> Option<bool> {
        self.held.note_off(channel, key).then(|| self.update())
    }

    /// Whether `key` on `channel` is a held chord key.
    pub fn is_held(&self, channel: u8, key: u8) -> bool {
        self.held.is_on(channel, key)
    }

    /// Forgets every key.
    pub fn clear(&mut self) {
        *self = Self::new();
    }

    /// The signature of the held keys.
    pub fn signature(&self) -> ChordSignature {
        self.signature
    }

    /// The held keys, lowest first, each once (whatever its channels).
    pub fn pitches(&self) -> Vec<u8> {
        let mut keys = self.held.keys();
        let mut pitches = Vec::new();
        while keys != 0 {
            pitches.push(keys.trailing_zeros() as u8);
            keys &= keys - 1;
        }
        pitches
    }

    /// Recomputes the signature; returns whether it changed.
    fn update(&mut self) -> bool {
        let signature = ChordSignature::of_keys(self.held.keys());
        let changed = signature != self.signature;
        self.signature = signature;
        changed
    }
}

/// Most chord changes the worker remembers.
pub const HISTORY_LIMIT: usize = 512;

/// The worker's view of the player's chords: the keys held now and when the chord changed, so
/// a primer window gets the chords that were held over it.
#[derive(Debug, Clone, Default)]
pub struct ChordTimeline {
    /// Held chord keys.
    keys: ChordKeys,
    /// `(beats, chord)` at each change, in time order; before the first, no chord.
    history: Vec<(f64, Option<Chord>)>,
}

impl ChordTimeline {
    /// No chord held, no history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Follows a captured chord note (events of other roles are ignored). A
    /// [`NoteRole::ChordChange`] records the chord recognised from the keys then held.
    pub fn apply(&mut self, event: &CaptureEvent) {
        match (event.role, event.kind) {
            (NoteRole::Chord | NoteRole::ChordChange, NoteKind::On) => {
                self.keys.press(event.channel, event.key);
            }
            (NoteRole::Chord | NoteRole::ChordChange, NoteKind::Off) => {
                self.keys.release(event.channel, event.key);
            }
            _ => return,
        }
        if event.role == NoteRole::ChordChange {
            if self.history.len() >= HISTORY_LIMIT {
                self.history.drain(..HISTORY_LIMIT / 2);
            }
            self.history
                .push((event.beats, chords::recognize(&self.keys.pitches())));
        }
    }

    /// Forgets keys and history (a new timeline epoch: positions don't compare any more, and
    /// the audio thread forgot the held keys too).
    pub fn reset(&mut self) {
        self.keys.clear();
        self.history.clear();
    }

    /// The chord held now.
    pub fn current(&self) -> Option<Chord> {
        self.history.last().and_then(|(_, chord)| chord.clone())
    }

    /// The chord held at `beats` (the latest change at or before it).
    pub fn at(&self, beats: f64) -> Option<Chord> {
        let n = self.history.partition_point(|(b, _)| *b <= beats);
        n.checked_sub(1).and_then(|i| self.history[i].1.clone())
    }

    /// Appends to `out` the chords held over `steps` steps of `step_beats` from `start_beats`,
    /// as changes numbered from `first_step`: the chord held at the window's start, then every
    /// change inside the window at its nearest step.
    pub fn window(
        &self,
        start_beats: f64,
        step_beats: f64,
        steps: usize,
        first_step: i64,
        out: &mut Vec<ChordChange>,
    ) {
        if steps == 0 || step_beats <= 0.0 {
            return;
        }
        out.push(ChordChange {
            start_step: first_step,
            chord: self.at(start_beats),
        });
        let end_beats = start_beats + steps as f64 * step_beats;
        let last_step = first_step + steps as i64 - 1;
        for (beats, chord) in &self.history {
            if *beats > start_beats && *beats < end_beats {
                let step = first_step + ((beats - start_beats) / step_beats).round() as i64;
                out.push(ChordChange {
                    start_step: step.clamp(first_step, last_step),
                    chord: chord.clone(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use antiphon_models::encoding::chords::{TriadQuality, triad_index};
    use antiphon_models::generate::codec::ChordTrack;

    fn chord_event(seq: u64, kind: NoteKind, key: u8, beats: f64, role: NoteRole) -> CaptureEvent {
        CaptureEvent {
            kind,
            channel: 0,
            key,
            velocity: 80,
            beats,
            epoch: 0,
            seq,
            role,
        }
    }

    /// Plays keys down at `beats` through a `ChordKeys` as the audio thread does and into the
    /// timeline with the role it would give.
    fn press_all(keys: &mut ChordKeys, t: &mut ChordTimeline, pitches: &[u8], beats: f64) {
        for &p in pitches {
            let role = if keys.press(0, p) {
                NoteRole::ChordChange
            } else {
                NoteRole::Chord
            };
            t.apply(&chord_event(0, NoteKind::On, p, beats, role));
        }
    }

    fn release_all(keys: &mut ChordKeys, t: &mut ChordTimeline, pitches: &[u8], beats: f64) {
        for &p in pitches {
            let role = match keys.release(0, p) {
                Some(true) => NoteRole::ChordChange,
                _ => NoteRole::Chord,
            };
            t.apply(&chord_event(0, NoteKind::Off, p, beats, role));
        }
    }

    #[test]
    fn given_a_split_key_when_classifying_then_only_notes_below_it_are_chord_notes() {
        let input = ChordInput::SplitKey(48);
        assert!(input.is_chord_note(0, 47));
        assert!(!input.is_chord_note(0, 48));
        assert!(input.is_chord_note(9, 33), "any channel");
        assert_eq!(input.melody_floor(), 48);
        let input = ChordInput::Channel(1);
        assert!(input.is_chord_note(1, 90));
        assert!(!input.is_chord_note(0, 30));
        assert_eq!(input.melody_floor(), 0);
    }

    #[test]
    fn given_chord_inputs_when_packed_then_they_unpack_the_same() {
        for input in [
            ChordInput::SplitKey(0),
            ChordInput::SplitKey(48),
            ChordInput::SplitKey(127),
            ChordInput::Channel(0),
            ChordInput::Channel(15),
        ] {
            assert_eq!(ChordInput::unpack(input.pack()), input);
        }
    }

    #[test]
    fn given_a_held_triad_when_a_tone_is_doubled_an_octave_up_then_the_chord_does_not_change() {
        let mut keys = ChordKeys::new();
        assert!(keys.press(0, 45)); // A2
        assert!(keys.press(0, 48)); // C3
        assert!(keys.press(0, 52)); // E3
        // Doubling A an octave up: same bass, same pitch classes.
        assert!(!keys.press(0, 57));
        assert_eq!(keys.release(0, 57), Some(false));
        // Releasing the bass A2 makes C the bass: a change (C E A is an inversion).
        assert_eq!(keys.release(0, 45), Some(true));
        assert_eq!(keys.release(0, 60), None, "not a chord key");
        assert_eq!(keys.pitches(), vec![48, 52]);
    }

    #[test]
    fn given_the_same_key_on_two_channels_when_one_is_released_then_the_chord_stays() {
        let mut keys = ChordKeys::new();
        keys.press(0, 45);
        keys.press(1, 45);
        assert_eq!(keys.release(1, 45), Some(false));
        assert_eq!(keys.signature().bass, Some(9));
    }

    #[test]
    fn given_chords_held_over_a_primer_when_windowed_then_each_lands_on_its_nearest_step() {
        // Given A minor from beat 3.9 (just before the bar line at 4), F major from beat 6.02
        let mut keys = ChordKeys::new();
        let mut t = ChordTimeline::new();
        press_all(&mut keys, &mut t, &[45, 48, 52], 3.9);
        release_all(&mut keys, &mut t, &[45, 48, 52], 6.0);
        press_all(&mut keys, &mut t, &[41, 45, 48], 6.02);
        // When the bar 4..8 is windowed at 4 steps per beat, then the answer's chord follows
        let mut changes = Vec::new();
        t.window(4.0, 0.25, 16, 0, &mut changes);
        changes.push(ChordChange {
            start_step: 16,
            chord: t.current(),
        });
        let track = ChordTrack::new(&changes);
        let a_minor = 13 + 9;
        let f_major = 1 + 5;
        assert_eq!(triad_index(track.at(0)), a_minor);
        assert_eq!(triad_index(track.at(7)), a_minor);
        // The release at 6.0 (no chord) and F at 6.02 both round to step 8; F wins.
        assert_eq!(triad_index(track.at(8)), f_major);
        assert_eq!(triad_index(track.at(16)), f_major);
        assert_eq!(
            triad_index(track.at(40)),
            f_major,
            "the answer goes on over F"
        );
        let f = t.current().unwrap();
        assert_eq!((f.root, f.quality), (5, TriadQuality::Major));
    }

    #[test]
    fn given_no_chord_ever_when_windowed_then_the_window_starts_without_a_chord() {
        let t = ChordTimeline::new();
        let mut changes = Vec::new();
        t.window(0.0, 0.25, 16, 0, &mut changes);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].chord, None);
        assert_eq!(t.current(), None);
    }

    #[test]
    fn given_a_window_numbered_from_a_later_step_when_changes_fall_in_it_then_steps_are_offset() {
        let mut keys = ChordKeys::new();
        let mut t = ChordTimeline::new();
        press_all(&mut keys, &mut t, &[48, 52, 55], 0.0);
        release_all(&mut keys, &mut t, &[48, 52, 55], 13.0);
        press_all(&mut keys, &mut t, &[43, 47, 50], 13.0);
        let mut changes = Vec::new();
        // The answer's first 8 steps (beats 12..14) after a 16-step primer.
        t.window(12.0, 0.25, 8, 16, &mut changes);
        assert_eq!(changes[0].start_step, 16);
        assert_eq!(triad_index(changes[0].chord.as_ref()), 1, "C major at 12");
        let last = changes.last().unwrap();
        assert_eq!(last.start_step, 20);
        assert_eq!(triad_index(last.chord.as_ref()), 1 + 7, "G major from 13");
    }

    #[test]
    fn given_a_reset_when_a_new_epoch_starts_then_keys_and_history_are_gone() {
        let mut keys = ChordKeys::new();
        let mut t = ChordTimeline::new();
        press_all(&mut keys, &mut t, &[45, 48, 52], 1.0);
        t.reset();
        assert_eq!(t.current(), None);
        assert_eq!(t.at(2.0), None);
    }
}
