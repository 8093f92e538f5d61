//! Phrase detection: when a call starts, what it holds, and when it ends — by silence (every key
//! up and no new note for `silence_beats`) or by reaching the maximum call length. Decided from
//! the captured events' own beat positions, so the answer to "did the call end?" does not depend
//! on when the worker happens to look.

use crate::queues::{CaptureEvent, NoteKind};
use crate::tracker::NoteTracker;

/// A note of a call, in beats.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CallNote {
    /// MIDI key.
    pub key: u8,
    /// MIDI velocity.
    pub velocity: u8,
    /// MIDI channel.
    pub channel: u8,
    /// Start, in beats.
    pub start_beats: f64,
    /// End, in beats; `None` while the key is down.
    pub end_beats: Option<f64>,
}

impl CallNote {
    /// The note a key-down event starts (open until its key goes up).
    pub fn started_by(event: &CaptureEvent) -> Self {
        Self {
            key: event.key,
            velocity: event.velocity,
            channel: event.channel,
            start_beats: event.beats,
            end_beats: None,
        }
    }
}

/// Ends the latest open note of `notes` on the key and channel of the key-up `event`, if any;
/// returns whether there was one.
pub fn end_open_note(notes: &mut [CallNote], event: &CaptureEvent) -> bool {
    let open = notes
        .iter_mut()
        .rev()
        .find(|n| n.key == event.key && n.channel == event.channel && n.end_beats.is_none());
    open.map(|note| note.end_beats = Some(event.beats))
        .is_some()
}

/// How a call ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CallEnd {
    /// Every key is up: the call ends when `silence_beats` pass with no new note.
    Silence {
        /// Where the silence would be complete, in beats.
        at_beats: f64,
    },
    /// Keys are down: the call ends at its maximum length.
    MaxLength {
        /// Where the maximum length is reached, in beats.
        at_beats: f64,
    },
}

impl CallEnd {
    /// Where the call ends, in beats.
    pub fn at_beats(self) -> f64 {
        match self {
            Self::Silence { at_beats } | Self::MaxLength { at_beats } => at_beats,
        }
    }
}

/// Limits on a call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CallLimits {
    /// Silence that ends a call, in beats; > 0.
    pub silence_beats: f64,
    /// Maximum call length, in beats; > 0.
    pub max_call_beats: f64,
    /// Silence does not end a call shorter than this, in beats; ≥ 0.
    pub min_call_beats: f64,
}

/// A call as it stands (or as it ended), with every note closed.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// Its notes; notes still down end at `end_beats`.
    pub notes: Vec<CallNote>,
    /// Where the first note started.
    pub start_beats: f64,
    /// Where the call ends.
    pub end_beats: f64,
}

/// Follows the player's input and tells calls apart.
#[derive(Debug, Clone, Default)]
pub struct PhraseDetector {
    /// Notes of the call in progress (empty when idle).
    notes: Vec<CallNote>,
    /// Keys down in the call in progress.
    held: NoteTracker,
    /// Where the call in progress started; `None` when idle.
    start_beats: Option<f64>,
    /// Where the last key of the call went up.
    last_off_beats: f64,
    /// Number of captured events seen (the running number of the next one).
    seen: u64,
    /// Epoch of the events being followed.
    epoch: u32,
}

impl PhraseDetector {
    /// An idle detector in `epoch`.
    pub fn new(epoch: u32) -> Self {
        Self {
            epoch,
            ..Self::default()
        }
    }

    /// Forgets the call in progress and follows `epoch` from now on. The count of seen events
    /// stays: it numbers the capture stream, which goes on across epochs.
    pub fn reset(&mut self, epoch: u32) {
        self.notes.clear();
        self.held = NoteTracker::new();
        self.start_beats = None;
        self.epoch = epoch;
    }

    /// The epoch being followed.
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// Number of captured events seen so far.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// Whether a call is in progress.
    pub fn is_active(&self) -> bool {
        self.start_beats.is_some()
    }

    /// Where the call in progress ends if nothing more comes.
    pub fn projected_end(&self, limits: &CallLimits) -> Option<CallEnd> {
        let start = self.start_beats?;
        let max_end = start + limits.max_call_beats;
        Some(if self.held.is_empty() {
            let silence_end =
                (self.last_off_beats + limits.silence_beats).max(start + limits.min_call_beats);
            if silence_end <= max_end {
                CallEnd::Silence {
                    at_beats: silence_end,
                }
            } else {
                CallEnd::MaxLength { at_beats: max_end }
            }
        } else {
            CallEnd::MaxLength { at_beats: max_end }
        })
    }

    /// The call in progress as if it ended at `end_beats` (notes still down end there).
    pub fn snapshot(&self, end_beats: f64) -> Option<Call> {
        let start = self.start_beats?;
        Some(Call {
            notes: self
                .notes
                .iter()
                .map(|n| CallNote {
                    end_beats: Some(n.end_beats.unwrap_or(end_beats).min(end_beats)),
                    ..*n
                })
                .collect(),
            start_beats: start,
            end_beats,
        })
    }

    /// Counts a captured event that is not part of any call (a chord note) as seen.
    pub fn mark_seen(&mut self, seq: u64) {
        self.seen = self.seen.max(seq + 1);
    }

    /// Follows one event. If the event shows that the call in progress had already ended
    /// before it, that finished call is returned (and the event may start the next one).
    pub fn feed(&mut self, event: &CaptureEvent, limits: &CallLimits) -> Option<Call> {
        self.seen = self.seen.max(event.seq + 1);
        let mut finished = None;
        if let Some(end) = self.projected_end(limits)
            && event.beats >= end.at_beats()
        {
            finished = self.snapshot(end.at_beats());
            self.reset(self.epoch);
        }
        match event.kind {
            NoteKind::On => {
                if self.start_beats.is_none() {
                    self.start_beats = Some(event.beats);
                }
                self.held.note_on(event.channel, event.key);
                self.notes.push(CallNote::started_by(event));
            }
            NoteKind::Off => {
                if self.held.note_off(event.channel, event.key) {
                    end_open_note(&mut self.notes, event);
                    self.last_off_beats = event.beats;
                }
            }
            NoteKind::Control => {}
        }
        finished
    }

    /// Closes the call in progress if `playhead_beats` has passed its end; returns it.
    pub fn poll(&mut self, playhead_beats: f64, limits: &CallLimits) -> Option<Call> {
        let end = self.projected_end(limits)?;
        if playhead_beats < end.at_beats() {
            return None;
        }
        let call = self.snapshot(end.at_beats());
        self.reset(self.epoch);
        call
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: CallLimits = CallLimits {
        silence_beats: 1.0,
        max_call_beats: 32.0,
        min_call_beats: 0.0,
    };

    fn ev(seq: u64, kind: NoteKind, key: u8, beats: f64) -> CaptureEvent {
        CaptureEvent {
            kind,
            channel: 0,
            key,
            velocity: 100,
            beats,
            epoch: 0,
            seq,
            role: crate::queues::NoteRole::Melody,
        }
    }

    fn play(d: &mut PhraseDetector, notes: &[(u8, f64, f64)], first_seq: u64) -> Vec<Call> {
        let mut events = Vec::new();
        for &(key, on, off) in notes {
            events.push((on, NoteKind::On, key));
            events.push((off, NoteKind::Off, key));
        }
        events.sort_by(|a, b| a.0.total_cmp(&b.0));
        events
            .iter()
            .enumerate()
            .filter_map(|(i, &(beats, kind, key))| {
                d.feed(&ev(first_seq + i as u64, kind, key, beats), &LIMITS)
            })
            .collect()
    }

    #[test]
    fn given_a_phrase_when_every_key_is_up_then_the_call_would_end_one_silence_later() {
        let mut d = PhraseDetector::new(0);
        assert!(play(&mut d, &[(60, 4.0, 4.5), (62, 5.0, 5.5), (64, 6.0, 7.5)], 0).is_empty());
        assert_eq!(
            d.projected_end(&LIMITS),
            Some(CallEnd::Silence { at_beats: 8.5 })
        );
        assert_eq!(d.seen(), 6);
        assert_eq!(d.poll(8.4, &LIMITS), None);
        let call = d.poll(8.5, &LIMITS).unwrap();
        assert_eq!(call.start_beats, 4.0);
        assert_eq!(call.end_beats, 8.5);
        assert_eq!(call.notes.len(), 3);
        assert!(!d.is_active());
    }

    #[test]
    fn given_a_key_down_when_projecting_then_only_the_maximum_length_can_end_the_call() {
        let mut d = PhraseDetector::new(0);
        d.feed(&ev(0, NoteKind::On, 60, 1.0), &LIMITS);
        assert_eq!(
            d.projected_end(&LIMITS),
            Some(CallEnd::MaxLength { at_beats: 33.0 })
        );
        let call = d.poll(33.0, &LIMITS).unwrap();
        assert_eq!(
            call.notes[0].end_beats,
            Some(33.0),
            "a held note ends with the call"
        );
    }

    #[test]
    fn given_a_new_note_after_the_silence_when_fed_then_the_old_call_comes_back_finished() {
        let mut d = PhraseDetector::new(0);
        let calls = play(&mut d, &[(60, 0.0, 0.5), (67, 3.0, 3.5)], 0);
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].end_beats, 1.5);
        assert_eq!(calls[0].notes.len(), 1);
        assert!(d.is_active(), "the late note starts the next call");
        assert_eq!(d.snapshot(10.0).unwrap().start_beats, 3.0);
    }

    #[test]
    fn given_a_note_inside_the_silence_when_fed_then_the_call_goes_on() {
        let mut d = PhraseDetector::new(0);
        let calls = play(&mut d, &[(60, 0.0, 0.5), (62, 1.4, 2.0)], 0);
        assert!(calls.is_empty());
        assert_eq!(
            d.projected_end(&LIMITS),
            Some(CallEnd::Silence { at_beats: 3.0 })
        );
    }

    #[test]
    fn given_a_minimum_call_length_when_the_player_pauses_early_then_the_call_goes_on_to_it() {
        let limits = CallLimits {
            min_call_beats: 8.0,
            ..LIMITS
        };
        let mut d = PhraseDetector::new(0);
        d.feed(&ev(0, NoteKind::On, 60, 4.0), &limits);
        d.feed(&ev(1, NoteKind::Off, 60, 4.5), &limits);
        assert_eq!(
            d.projected_end(&limits),
            Some(CallEnd::Silence { at_beats: 12.0 })
        );
        assert!(d.feed(&ev(2, NoteKind::On, 62, 9.0), &limits).is_none());
        d.feed(&ev(3, NoteKind::Off, 62, 11.5), &limits);
        assert_eq!(
            d.projected_end(&limits),
            Some(CallEnd::Silence { at_beats: 12.5 }),
            "past the minimum, the silence rules"
        );
    }

    #[test]
    fn given_a_stray_note_off_when_fed_then_it_changes_nothing() {
        let mut d = PhraseDetector::new(0);
        d.feed(&ev(0, NoteKind::Off, 60, 0.0), &LIMITS);
        assert!(!d.is_active());
        assert_eq!(d.seen(), 1);
    }

    #[test]
    fn given_a_reset_when_following_a_new_epoch_then_the_call_is_gone_but_the_count_stays() {
        let mut d = PhraseDetector::new(0);
        d.feed(&ev(0, NoteKind::On, 60, 0.0), &LIMITS);
        d.reset(1);
        assert!(!d.is_active());
        assert_eq!((d.epoch(), d.seen()), (1, 1));
    }
}
