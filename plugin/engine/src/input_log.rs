//! The audio thread's memory of when recent captured events happened and what they were, by
//! their running number, so an answer planned from an older view of the input can be checked
//! against what came since.

use crate::queues::NoteRole;

/// How many recent events are remembered.
pub const INPUT_LOG_LEN: usize = 256;

/// Beat positions and roles of the most recent captured events, indexed by running number.
#[derive(Debug, Clone)]
pub struct InputLog {
    /// `beats[seq % INPUT_LOG_LEN]` is the position of event `seq`, for the last
    /// `INPUT_LOG_LEN` events.
    beats: [f64; INPUT_LOG_LEN],
    /// `roles[seq % INPUT_LOG_LEN]` is the role of event `seq`.
    roles: [NoteRole; INPUT_LOG_LEN],
    /// Number of events recorded so far; the next event's running number.
    count: u64,
}

/// What happened after a given event number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Since {
    /// No event since.
    Nothing,
    /// The first event since happened at this beat position.
    FirstAt(f64),
    /// Too many events since to say.
    Unknown,
}

impl Default for InputLog {
    fn default() -> Self {
        Self::new()
    }
}

impl InputLog {
    /// An empty log.
    pub const fn new() -> Self {
        Self {
            beats: [0.0; INPUT_LOG_LEN],
            roles: [NoteRole::Melody; INPUT_LOG_LEN],
            count: 0,
        }
    }

    /// Records an event at `beats`; returns its running number.
    pub fn record(&mut self, beats: f64, role: NoteRole) -> u64 {
        let seq = self.count;
        let slot = (seq % INPUT_LOG_LEN as u64) as usize;
        self.beats[slot] = beats;
        self.roles[slot] = role;
        self.count += 1;
        seq
    }

    /// The number of events recorded so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// What came at or after event number `seen` (a count of events seen earlier).
    pub fn since(&self, seen: u64) -> Since {
        self.first_since(seen, |_| true)
    }

    /// The first event at or after number `seen` whose role `wanted` accepts. Looks at no more
    /// than [`INPUT_LOG_LEN`] entries.
    pub fn first_since(&self, seen: u64, wanted: impl Fn(NoteRole) -> bool) -> Since {
        if seen >= self.count {
            return Since::Nothing;
        }
        if self.count - seen > INPUT_LOG_LEN as u64 {
            return Since::Unknown;
        }
        (seen..self.count)
            .map(|seq| (seq % INPUT_LOG_LEN as u64) as usize)
            .find(|&slot| wanted(self.roles[slot]))
            .map_or(Since::Nothing, |slot| Since::FirstAt(self.beats[slot]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_events_when_asking_what_came_since_then_the_first_later_event_is_named() {
        let mut log = InputLog::new();
        assert_eq!(log.since(0), Since::Nothing);
        log.record(1.0, NoteRole::Melody);
        log.record(2.5, NoteRole::Melody);
        assert_eq!(log.since(1), Since::FirstAt(2.5));
        assert_eq!(log.since(0), Since::FirstAt(1.0));
        assert_eq!(log.since(2), Since::Nothing);
    }

    #[test]
    fn given_more_events_than_the_log_holds_when_asking_about_an_old_one_then_it_is_unknown() {
        let mut log = InputLog::new();
        for i in 0..(INPUT_LOG_LEN as u64 + 10) {
            log.record(i as f64, NoteRole::Melody);
        }
        assert_eq!(log.since(5), Since::Unknown);
        assert_eq!(log.since(20), Since::FirstAt(20.0));
    }

    #[test]
    fn given_melody_and_chord_events_when_asking_by_role_then_each_kind_is_found_on_its_own() {
        let mut log = InputLog::new();
        log.record(1.0, NoteRole::Melody);
        log.record(2.0, NoteRole::Chord);
        log.record(3.0, NoteRole::ChordChange);
        log.record(4.0, NoteRole::Melody);
        let change = |r: NoteRole| r == NoteRole::ChordChange;
        let melody = |r: NoteRole| r == NoteRole::Melody;
        assert_eq!(log.first_since(1, change), Since::FirstAt(3.0));
        assert_eq!(log.first_since(1, melody), Since::FirstAt(4.0));
        assert_eq!(log.first_since(3, change), Since::Nothing);
        assert_eq!(log.first_since(4, melody), Since::Nothing);
    }
}
