//! The output side of one block: every note the plugin emits goes through here, so each
//! note-on is tracked until its note-off, a key that is struck again is first released, and the
//! block's events leave in time order.

use crate::tracker::NoteTracker;

/// Capacity of one block's output, in events; more are dropped (note-offs are never dropped).
pub const OUTPUT_CAPACITY: usize = 2048;

/// Whether an output event starts or ends a note.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum OutKind {
    /// Note off.
    Off,
    /// Note on.
    On,
}

/// A note event for the host, at a sample offset inside the current block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputEvent {
    /// Sample offset inside the block.
    pub offset: u32,
    /// On or off.
    pub kind: OutKind,
    /// MIDI channel, 0..=15.
    pub channel: u8,
    /// MIDI key, 0..=127.
    pub key: u8,
    /// MIDI velocity, 0..=127 (0 for note-offs).
    pub velocity: u8,
    /// Order of emission, to keep equal-time events stable.
    seq: u32,
}

/// Who started a sounding note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The player's note passed through.
    Thru,
    /// A note of an answer.
    Answer,
}

/// Tracks every sounding output note and collects a block's events.
#[derive(Debug)]
pub struct Output {
    /// Notes started by MIDI thru.
    thru: NoteTracker,
    /// Notes started by answers.
    answer: NoteTracker,
    /// This block's events; capacity fixed at construction.
    events: Vec<OutputEvent>,
    /// Next emission number.
    seq: u32,
}

impl Default for Output {
    fn default() -> Self {
        Self::new()
    }
}

impl Output {
    /// An empty output with room for [`OUTPUT_CAPACITY`] events per block.
    pub fn new() -> Self {
        Self {
            thru: NoteTracker::new(),
            answer: NoteTracker::new(),
            events: Vec::with_capacity(OUTPUT_CAPACITY),
            seq: 0,
        }
    }

    /// Starts a new block.
    pub fn begin_block(&mut self) {
        self.events.clear();
        self.seq = 0;
    }

    /// The block's events in time order; events at the same sample keep the order in which
    /// they happened (a key released and struck again at one sample stays off-then-on, a key
    /// struck and then silenced by a panic stays on-then-off).
    pub fn finish_block(&mut self) -> &[OutputEvent] {
        // sort_unstable never allocates; `seq` makes it stable. Events are emitted almost in
        // order already.
        self.events.sort_unstable_by_key(|e| (e.offset, e.seq));
        &self.events
    }

    /// Whether a note of `owner` sounds.
    pub fn is_on(&self, owner: Owner, channel: u8, key: u8) -> bool {
        self.tracker(owner).is_on(channel, key)
    }

    /// Whether any note sounds.
    pub fn any_sounding(&self) -> bool {
        !self.thru.is_empty() || !self.answer.is_empty()
    }

    /// Starts a note. A note already sounding on that key (of either owner) is ended first at
    /// the same sample; returns the owner whose note was cut, if any.
    pub fn note_on(
        &mut self,
        offset: u32,
        owner: Owner,
        channel: u8,
        key: u8,
        velocity: u8,
    ) -> Option<Owner> {
        let cut = if self.thru.note_off(channel, key) {
            Some(Owner::Thru)
        } else if self.answer.note_off(channel, key) {
            Some(Owner::Answer)
        } else {
            None
        };
        if cut.is_some() {
            self.push(offset, OutKind::Off, channel, key, 0);
        }
        if self.events.len() < OUTPUT_CAPACITY {
            self.tracker_mut(owner).note_on(channel, key);
            self.push(offset, OutKind::On, channel, key, velocity.clamp(1, 127));
        }
        cut
    }

    /// Ends a note of `owner`; does nothing if that owner has no such note sounding.
    pub fn note_off(&mut self, offset: u32, owner: Owner, channel: u8, key: u8) -> bool {
        let was_on = self.tracker_mut(owner).note_off(channel, key);
        if was_on {
            self.push(offset, OutKind::Off, channel, key, 0);
        }
        was_on
    }

    /// Ends every sounding note of `owner` at `offset`.
    pub fn release(&mut self, offset: u32, owner: Owner) {
        let mut tracker = std::mem::take(self.tracker_mut(owner));
        tracker.release_all(|channel, key| self.push(offset, OutKind::Off, channel, key, 0));
        *self.tracker_mut(owner) = tracker;
    }

    /// Ends every sounding note of `owner` on `channel` at `offset`.
    pub fn release_channel(&mut self, offset: u32, owner: Owner, channel: u8) {
        for key in 0..128u8 {
            if self.tracker(owner).is_on(channel, key) {
                self.note_off(offset, owner, channel, key);
            }
        }
    }

    /// The tracker of an owner.
    fn tracker(&self, owner: Owner) -> &NoteTracker {
        match owner {
            Owner::Thru => &self.thru,
            Owner::Answer => &self.answer,
        }
    }

    /// The tracker of an owner, mutably.
    fn tracker_mut(&mut self, owner: Owner) -> &mut NoteTracker {
        match owner {
            Owner::Thru => &mut self.thru,
            Owner::Answer => &mut self.answer,
        }
    }

    /// Appends an event. Note-offs always go in: when the buffer is full, the last note-on is
    /// dropped to make room (and its note is no longer tracked), so no note can get stuck.
    fn push(&mut self, offset: u32, kind: OutKind, channel: u8, key: u8, velocity: u8) {
        if self.events.len() == OUTPUT_CAPACITY {
            if kind == OutKind::On {
                return;
            }
            if let Some(pos) = self.events.iter().rposition(|e| e.kind == OutKind::On) {
                let dropped = self.events.remove(pos);
                self.thru.note_off(dropped.channel, dropped.key);
                self.answer.note_off(dropped.channel, dropped.key);
            } else {
                return;
            }
        }
        self.events.push(OutputEvent {
            offset,
            kind,
            channel,
            key,
            velocity,
            seq: self.seq,
        });
        self.seq += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_a_key_struck_twice_when_emitted_then_it_is_released_before_the_second_strike() {
        let mut out = Output::new();
        out.begin_block();
        out.note_on(10, Owner::Thru, 0, 60, 100);
        let cut = out.note_on(20, Owner::Answer, 0, 60, 90);
        assert_eq!(cut, Some(Owner::Thru));
        // The player's later key-up finds no thru note and emits nothing.
        assert!(!out.note_off(30, Owner::Thru, 0, 60));
        let kinds: Vec<(u32, OutKind)> = out
            .finish_block()
            .iter()
            .map(|e| (e.offset, e.kind))
            .collect();
        assert_eq!(
            kinds,
            vec![(10, OutKind::On), (20, OutKind::Off), (20, OutKind::On)]
        );
    }

    #[test]
    fn given_events_out_of_order_when_the_block_finishes_then_each_sample_keeps_emission_order() {
        let mut out = Output::new();
        out.begin_block();
        out.note_on(50, Owner::Answer, 1, 62, 90);
        out.note_on(5, Owner::Answer, 1, 64, 90);
        out.note_off(50, Owner::Answer, 1, 64);
        out.note_on(50, Owner::Thru, 0, 60, 90);
        out.release(50, Owner::Thru);
        let events: Vec<(u32, OutKind, u8)> = out
            .finish_block()
            .iter()
            .map(|e| (e.offset, e.kind, e.key))
            .collect();
        assert_eq!(
            events,
            vec![
                (5, OutKind::On, 64),
                (50, OutKind::On, 62),
                (50, OutKind::Off, 64),
                (50, OutKind::On, 60),
                (50, OutKind::Off, 60),
            ]
        );
    }

    #[test]
    fn given_sounding_notes_when_released_then_each_gets_its_off_and_nothing_sounds() {
        let mut out = Output::new();
        out.begin_block();
        out.note_on(0, Owner::Answer, 0, 60, 90);
        out.note_on(0, Owner::Thru, 2, 61, 90);
        out.release(7, Owner::Answer);
        assert!(!out.is_on(Owner::Answer, 0, 60));
        assert!(out.is_on(Owner::Thru, 2, 61));
        out.release(8, Owner::Thru);
        assert!(!out.any_sounding());
        assert_eq!(out.finish_block().len(), 4);
    }

    #[test]
    fn given_a_full_block_when_a_note_off_comes_then_a_note_on_makes_room() {
        let mut out = Output::new();
        out.begin_block();
        for i in 0..OUTPUT_CAPACITY {
            out.note_on(
                i as u32,
                Owner::Answer,
                (i / 128) as u8,
                (i % 128) as u8,
                90,
            );
        }
        // The buffer is full: a note-off of the first note must still get in.
        assert!(out.note_off(5000, Owner::Answer, 0, 0));
        let events = out.finish_block();
        assert_eq!(events.len(), OUTPUT_CAPACITY);
        assert!(
            events
                .iter()
                .any(|e| e.kind == OutKind::Off && e.key == 0 && e.channel == 0)
        );
    }
}
