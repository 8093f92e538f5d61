//! The player's recent notes in beats, independent of how calls are told apart: Trade reads the
//! turn that just ended, Accompany the last bars, Continue the phrase as it stands.

use crate::phrase::{Call, CallNote, end_open_note};
use crate::queues::{CaptureEvent, NoteKind, NoteRole};

/// Most notes kept; the oldest half goes when it is full.
const NOTE_LIMIT: usize = 4096;

/// The player's melody notes of the current epoch.
#[derive(Debug, Clone, Default)]
pub struct NoteHistory {
    /// Notes by start; a note still down has no end.
    notes: Vec<CallNote>,
    /// Beat position of the last melody event (on or off).
    last_event_beats: Option<f64>,
    /// Number of notes still down (without an end).
    open_notes: usize,
}

impl NoteHistory {
    /// An empty history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets every note (a new epoch).
    pub fn clear(&mut self) {
        self.notes.clear();
        self.last_event_beats = None;
        self.open_notes = 0;
    }

    /// Follows a captured event; only melody notes count.
    pub fn apply(&mut self, event: &CaptureEvent) {
        if event.role != NoteRole::Melody {
            return;
        }
        match event.kind {
            NoteKind::On => {
                if self.notes.len() >= NOTE_LIMIT {
                    self.notes.drain(..NOTE_LIMIT / 2);
                    self.open_notes = self.notes.iter().filter(|n| n.end_beats.is_none()).count();
                }
                self.notes.push(CallNote::started_by(event));
                self.open_notes += 1;
            }
            NoteKind::Off => {
                if end_open_note(&mut self.notes, event) {
                    self.open_notes -= 1;
                }
            }
            NoteKind::Control => return,
        }
        self.last_event_beats = Some(event.beats);
    }

    /// Whether a key is down, or a key went down or up at or after `since_beats`.
    pub fn active_since(&self, since_beats: f64) -> bool {
        self.last_event_beats.is_some_and(|b| b >= since_beats) || self.open_notes > 0
    }

    /// The notes sounding in `[from_beats, to_beats)` as a call ending at `to_beats`: notes
    /// are clipped to the window (a note still down ends at `to_beats`). `None` when no note
    /// sounds there.
    pub fn window(&self, from_beats: f64, to_beats: f64) -> Option<Call> {
        let notes: Vec<CallNote> = self
            .notes
            .iter()
            .filter(|n| n.start_beats < to_beats && n.end_beats.is_none_or(|e| e > from_beats))
            .map(|n| CallNote {
                start_beats: n.start_beats.max(from_beats),
                end_beats: Some(n.end_beats.unwrap_or(to_beats).min(to_beats)),
                ..*n
            })
            .collect();
        let start_beats = notes
            .iter()
            .map(|n| n.start_beats)
            .fold(f64::INFINITY, f64::min);
        (!notes.is_empty()).then_some(Call {
            notes,
            start_beats,
            end_beats: to_beats,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: NoteKind, key: u8, beats: f64) -> CaptureEvent {
        CaptureEvent {
            kind,
            channel: 0,
            key,
            velocity: 90,
            beats,
            epoch: 0,
            seq: 0,
            role: NoteRole::Melody,
        }
    }

    #[test]
    fn given_notes_across_a_window_when_read_then_they_are_clipped_to_it() {
        let mut h = NoteHistory::new();
        h.apply(&ev(NoteKind::On, 60, 1.0));
        h.apply(&ev(NoteKind::Off, 60, 2.5));
        h.apply(&ev(NoteKind::On, 62, 3.0));
        h.apply(&ev(NoteKind::Off, 62, 3.5));
        h.apply(&ev(NoteKind::On, 64, 7.0));
        let call = h.window(2.0, 8.0).unwrap();
        let spans: Vec<(u8, f64, Option<f64>)> = call
            .notes
            .iter()
            .map(|n| (n.key, n.start_beats, n.end_beats))
            .collect();
        assert_eq!(
            spans,
            vec![
                (60, 2.0, Some(2.5)),
                (62, 3.0, Some(3.5)),
                (64, 7.0, Some(8.0))
            ]
        );
        assert_eq!((call.start_beats, call.end_beats), (2.0, 8.0));
        assert!(h.window(4.0, 7.0).is_none(), "nothing sounds in 4..7");
    }

    #[test]
    fn given_a_key_down_or_a_recent_note_when_asked_then_the_player_is_active() {
        let mut h = NoteHistory::new();
        assert!(!h.active_since(0.0));
        h.apply(&ev(NoteKind::On, 60, 1.0));
        assert!(h.active_since(100.0), "a key is down");
        h.apply(&ev(NoteKind::Off, 60, 2.0));
        assert!(h.active_since(2.0));
        assert!(!h.active_since(2.5));
        h.clear();
        assert!(h.window(0.0, 10.0).is_none());
    }
}
