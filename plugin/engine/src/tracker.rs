//! Which notes are sounding, per channel and key: a 128-bit set per MIDI channel.

/// The set of sounding notes. Fixed size, never allocates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoteTracker {
    /// Bit `key` of `on[channel]` is set while that note sounds.
    on: [u128; 16],
}

impl NoteTracker {
    /// An empty tracker.
    pub const fn new() -> Self {
        Self { on: [0; 16] }
    }

    /// Marks a note as sounding; returns whether it already was.
    pub fn note_on(&mut self, channel: u8, key: u8) -> bool {
        let (ch, bit) = Self::slot(channel, key);
        let was = self.on[ch] & bit != 0;
        self.on[ch] |= bit;
        was
    }

    /// Marks a note as ended; returns whether it was sounding.
    pub fn note_off(&mut self, channel: u8, key: u8) -> bool {
        let (ch, bit) = Self::slot(channel, key);
        let was = self.on[ch] & bit != 0;
        self.on[ch] &= !bit;
        was
    }

    /// Whether a note is sounding.
    pub fn is_on(&self, channel: u8, key: u8) -> bool {
        let (ch, bit) = Self::slot(channel, key);
        self.on[ch] & bit != 0
    }

    /// Number of sounding notes.
    pub fn len(&self) -> usize {
        self.on.iter().map(|c| c.count_ones() as usize).sum()
    }

    /// Whether nothing sounds.
    pub fn is_empty(&self) -> bool {
        self.on.iter().all(|&c| c == 0)
    }

    /// Every sounding key, whatever its channel: bit `key` is set while that key sounds on any
    /// channel.
    pub fn keys(&self) -> u128 {
        self.on.iter().fold(0, |acc, &c| acc | c)
    }

    /// Ends every sounding note, calling `off(channel, key)` for each, lowest channel and key
    /// first.
    pub fn release_all(&mut self, mut off: impl FnMut(u8, u8)) {
        for (ch, bits) in self.on.iter_mut().enumerate() {
            while *bits != 0 {
                let key = bits.trailing_zeros();
                *bits &= !(1u128 << key);
                off(ch as u8, key as u8);
            }
        }
    }

    /// The index and bit of a note; channels and keys out of range wrap into it.
    fn slot(channel: u8, key: u8) -> (usize, u128) {
        (usize::from(channel & 0x0f), 1u128 << (key & 0x7f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_notes_on_when_released_then_each_comes_back_once_and_the_set_is_empty() {
        let mut t = NoteTracker::new();
        assert!(!t.note_on(0, 60));
        assert!(t.note_on(0, 60));
        t.note_on(9, 36);
        t.note_on(15, 127);
        assert_eq!(t.len(), 3);
        let mut released = Vec::new();
        t.release_all(|c, k| released.push((c, k)));
        assert_eq!(released, vec![(0, 60), (9, 36), (15, 127)]);
        assert!(t.is_empty());
    }

    #[test]
    fn given_a_note_off_for_a_silent_note_when_tracked_then_it_reports_it_was_not_on() {
        let mut t = NoteTracker::new();
        assert!(!t.note_off(3, 64));
        t.note_on(3, 64);
        assert!(t.note_off(3, 64));
        assert!(!t.is_on(3, 64));
    }

    #[test]
    fn given_the_same_key_on_two_channels_when_asking_for_keys_then_it_is_one_bit() {
        let mut t = NoteTracker::new();
        t.note_on(0, 57);
        t.note_on(5, 57);
        t.note_on(5, 60);
        assert_eq!(t.keys(), (1u128 << 57) | (1u128 << 60));
    }
}
