//! The audio thread's side of answers: it receives them from the worker, keeps the ones that
//! still stand, and knows which answer note is due when. Pure bookkeeping over fixed-capacity
//! buffers; the engine turns its decisions into output events.

use crate::chords::voids_answer;
use crate::clock::BlockTime;
use crate::input_log::{InputLog, Since};
use crate::queues::{AnswerHeader, AnswerMsg, AnswerNote, NoteRole};

/// How many answers can be active at once.
pub const MAX_ANSWERS: usize = 16;
/// How many answer notes can wait to start.
pub const PENDING_CAPACITY: usize = 4096;
/// How many answer notes can sound at once.
pub const SOUNDING_CAPACITY: usize = 512;

/// An answer that was accepted and has not finished.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ActiveAnswer {
    /// Its header.
    header: AnswerHeader,
    /// Whether a note of it has started.
    started: bool,
    /// Whether new input cut it short (no continuation may bring notes back).
    interrupted: bool,
}

/// An answer note that is sounding.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SoundingNote {
    /// The answer it belongs to.
    pub answer_id: u32,
    /// The channel it was started on.
    pub channel: u8,
    /// Its key.
    pub key: u8,
    /// Where it ends, in beats.
    pub end_beats: f64,
    /// The earliest sample offset in the current block its note-off may have (one after its
    /// note-on when it started in this block, else 0).
    min_off_offset: u32,
}

/// Where the answer being received stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Receiving {
    /// No answer is being received.
    Nothing,
    /// The notes of this answer are kept.
    Accepting(u32),
    /// The notes of this answer are dropped.
    Rejecting(u32),
}

/// What the player wants to happen next inside a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// A sounding note ends.
    Off {
        /// Sample offset of its note-off.
        offset: u32,
        /// Its index among the sounding notes.
        index: usize,
    },
    /// The first waiting note starts.
    On {
        /// Sample offset of its note-on.
        offset: u32,
    },
    /// The first waiting note should have started before this block: it is skipped.
    Late,
}

/// Answers on the audio side.
#[derive(Debug)]
pub struct AnswerPlayer {
    /// Accepted answers that have not finished.
    active: Vec<ActiveAnswer>,
    /// Notes waiting to start, sorted by start.
    pending: Vec<AnswerNote>,
    /// Notes sounding.
    sounding: Vec<SoundingNote>,
    /// The answer whose notes are arriving.
    receiving: Receiving,
    /// Notes skipped because they came too late or didn't fit.
    late_notes: u64,
    /// Answers that started playing.
    answers_played: u64,
}

impl Default for AnswerPlayer {
    fn default() -> Self {
        Self::new()
    }
}

impl AnswerPlayer {
    /// An empty player; all memory is reserved here.
    pub fn new() -> Self {
        Self {
            active: Vec::with_capacity(MAX_ANSWERS),
            pending: Vec::with_capacity(PENDING_CAPACITY),
            sounding: Vec::with_capacity(SOUNDING_CAPACITY),
            receiving: Receiving::Nothing,
            late_notes: 0,
            answers_played: 0,
        }
    }

    /// Notes skipped so far.
    pub fn late_notes(&self) -> u64 {
        self.late_notes
    }

    /// Answers that started playing so far.
    pub fn answers_played(&self) -> u64 {
        self.answers_played
    }

    /// Whether notes are waiting or sounding.
    pub fn is_busy(&self) -> bool {
        !self.pending.is_empty() || !self.sounding.is_empty()
    }

    /// Takes a message from the worker.
    ///
    /// A new answer is accepted if it was planned in this `epoch`, no melody event the worker
    /// had not seen fell before the call's end, and no chord change it had not seen voids it
    /// ([`voids_answer`]: it was generated over the wrong chord; the worker makes it again).
    ///
    /// A continuation (`resume_from_beats` set) is accepted while the answer it continues is
    /// still active and was not interrupted; that answer's waiting notes from `resume_from_beats`
    /// on are dropped, and the continuation's notes take their place.
    pub fn receive(&mut self, msg: AnswerMsg, epoch: u32, log: &InputLog) {
        match msg {
            AnswerMsg::Begin(header) => {
                let id = header.answer_id;
                if let Some(from_beats) = header.resume_from_beats {
                    let continues = header.epoch == epoch
                        && self
                            .active
                            .iter()
                            .any(|a| a.header.answer_id == id && !a.interrupted);
                    if continues {
                        self.pending
                            .retain(|n| n.answer_id != id || n.start_beats < from_beats);
                        self.receiving = Receiving::Accepting(id);
                    } else {
                        self.receiving = Receiving::Rejecting(id);
                    }
                    return;
                }
                // Whether the first unseen event of `role` (the earliest) voids the answer.
                let voided_by = |role: NoteRole, voids: &dyn Fn(f64) -> bool| match log
                    .first_since(header.input_seen, |r| r == role)
                {
                    Since::Nothing => false,
                    Since::FirstAt(beats) => voids(beats),
                    Since::Unknown => true,
                };
                let stands = header.epoch == epoch
                    && !voided_by(NoteRole::Melody, &|b| b < header.call_end_beats)
                    && !voided_by(NoteRole::ChordChange, &|b| {
                        voids_answer(b, header.start_beats)
                    });
                if stands && self.active.len() < MAX_ANSWERS {
                    self.active.push(ActiveAnswer {
                        header,
                        started: false,
                        interrupted: false,
                    });
                    self.receiving = Receiving::Accepting(id);
                } else {
                    self.receiving = Receiving::Rejecting(id);
                }
            }
            AnswerMsg::Note(note) => {
                if self.receiving != Receiving::Accepting(note.answer_id) {
                    return;
                }
                if self.pending.len() == PENDING_CAPACITY {
                    self.late_notes += 1;
                    return;
                }
                let at = self
                    .pending
                    .partition_point(|p| p.start_beats <= note.start_beats);
                self.pending.insert(at, note);
            }
        }
    }

    /// The held chord changed at `beats`: every answer it voids ([`voids_answer`]) was
    /// generated over the old chord and no longer stands (the worker generates it again). The
    /// others stay; the worker sends the rest of them over the new chord.
    pub fn chord_changed_at(&mut self, beats: f64) {
        while let Some(i) = self
            .active
            .iter()
            .position(|a| voids_answer(beats, a.header.start_beats) && !a.started)
        {
            let id = self.active.swap_remove(i).header.answer_id;
            self.pending.retain(|n| n.answer_id != id);
            if self.receiving == Receiving::Accepting(id) {
                self.receiving = Receiving::Rejecting(id);
            }
        }
    }

    /// A captured event at `beats` continues the call: every answer whose call would have ended
    /// after it no longer stands.
    pub fn cancel_calls_ending_after(&mut self, beats: f64) {
        while let Some(i) = self
            .active
            .iter()
            .position(|a| a.header.call_end_beats > beats)
        {
            let id = self.active.swap_remove(i).header.answer_id;
            self.pending.retain(|n| n.answer_id != id);
            if self.receiving == Receiving::Accepting(id) {
                self.receiving = Receiving::Rejecting(id);
            }
        }
    }

    /// New input at `beats` interrupts the answers whose call had ended by then: their notes
    /// from `beats` on are dropped, and `end` is called for each of their sounding notes.
    pub fn interrupt_at(&mut self, beats: f64, mut end: impl FnMut(&SoundingNote)) {
        for answer in &mut self.active {
            if answer.header.call_end_beats > beats {
                continue;
            }
            answer.interrupted = true;
            let id = answer.header.answer_id;
            self.pending
                .retain(|n| n.answer_id != id || n.start_beats < beats);
            self.sounding.retain(|s| {
                let keep = s.answer_id != id;
                if !keep {
                    end(s);
                }
                keep
            });
        }
    }

    /// Forgets everything: waiting notes, answers, and sounding notes (the caller ends those
    /// through its output first).
    pub fn clear(&mut self) {
        self.active.clear();
        self.pending.clear();
        self.sounding.clear();
        self.receiving = Receiving::Nothing;
    }

    /// Starts a block: notes started in an earlier block may end anywhere in this one.
    pub fn begin_block(&mut self) {
        for s in &mut self.sounding {
            s.min_off_offset = 0;
        }
    }

    /// The next thing due inside the block `time`, if anything is.
    pub fn next_due(&self, time: &BlockTime) -> Option<Due> {
        let len = i64::from(time.len_samples);
        let off = self
            .sounding
            .iter()
            .enumerate()
            .map(|(i, s)| {
                (
                    time.offset_of(s.end_beats).max(i64::from(s.min_off_offset)),
                    i,
                )
            })
            .filter(|&(o, _)| o < len)
            .min_by_key(|&(o, _)| o)
            .map(|(o, index)| Due::Off {
                offset: o.max(0) as u32,
                index,
            });
        let on = self.pending.first().and_then(|n| {
            let o = time.offset_of(n.start_beats);
            if o < 0 {
                Some(Due::Late)
            } else if o < len {
                Some(Due::On { offset: o as u32 })
            } else {
                None
            }
        });
        match (off, on) {
            (_, Some(Due::Late)) => Some(Due::Late),
            (Some(Due::Off { offset: a, index }), Some(Due::On { offset: b })) => Some(if a <= b {
                Due::Off { offset: a, index }
            } else {
                Due::On { offset: b }
            }),
            (off, on) => off.or(on),
        }
    }

    /// Skips the first waiting note (it is late).
    pub fn skip_first(&mut self) {
        if !self.pending.is_empty() {
            self.pending.remove(0);
            self.late_notes += 1;
        }
    }

    /// Takes the first waiting note to start it, if there is room for one more sounding note
    /// (otherwise it is skipped and counted late). The caller emits its note-on and then calls
    /// [`AnswerPlayer::push_sounding`].
    pub fn take_first(&mut self) -> Option<AnswerNote> {
        if self.pending.is_empty() {
            return None;
        }
        let note = self.pending.remove(0);
        if self.sounding.len() == SOUNDING_CAPACITY {
            self.late_notes += 1;
            return None;
        }
        if let Some(answer) = self
            .active
            .iter_mut()
            .find(|a| a.header.answer_id == note.answer_id)
            && !answer.started
        {
            answer.started = true;
            self.answers_played += 1;
        }
        Some(note)
    }

    /// Marks a note taken with [`AnswerPlayer::take_first`] as sounding from `offset` on
    /// `channel`.
    pub fn push_sounding(&mut self, note: &AnswerNote, channel: u8, offset: u32) {
        // PANIC-FREE: take_first checked the room.
        debug_assert!(self.sounding.len() < SOUNDING_CAPACITY);
        self.sounding.push(SoundingNote {
            answer_id: note.answer_id,
            channel,
            key: note.key,
            end_beats: note.end_beats,
            min_off_offset: offset + 1,
        });
    }

    /// Takes the sounding note at `index` (its note-off is due).
    pub fn end_sounding(&mut self, index: usize) -> SoundingNote {
        self.sounding.swap_remove(index)
    }

    /// Forgets a sounding note whose key was struck again by someone else (its note-off is no
    /// longer ours to send).
    pub fn forget_sounding(&mut self, channel: u8, key: u8) {
        self.sounding
            .retain(|s| s.channel != channel || s.key != key);
    }

    /// Drops answers that are over by `beats` (nothing waiting, nothing sounding).
    pub fn retire_finished(&mut self, beats: f64) {
        let (pending, sounding) = (&self.pending, &self.sounding);
        self.active.retain(|a| {
            let id = a.header.answer_id;
            a.header.end_beats > beats
                || pending.iter().any(|n| n.answer_id == id)
                || sounding.iter().any(|s| s.answer_id == id)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(id: u32, seen: u64, call_end: f64, start: f64) -> AnswerHeader {
        AnswerHeader {
            answer_id: id,
            epoch: 1,
            input_seen: seen,
            call_end_beats: call_end,
            start_beats: start,
            end_beats: start + 4.0,
            resume_from_beats: None,
        }
    }

    fn note(id: u32, key: u8, start: f64, end: f64) -> AnswerMsg {
        AnswerMsg::Note(AnswerNote {
            answer_id: id,
            key,
            velocity: 90,
            channel: AnswerNote::OUTPUT_CHANNEL,
            start_beats: start,
            end_beats: end,
        })
    }

    fn block(start: f64) -> BlockTime {
        BlockTime {
            start_beats: start,
            end_beats: start + 512.0 / 24_000.0,
            tempo_bpm: 120.0,
            samples_per_beat: 24_000.0,
            len_samples: 512,
            bar_len_beats: 4.0,
            bar_origin_beats: 0.0,
            host_playing: true,
            jumped: false,
        }
    }

    #[test]
    fn given_an_answer_planned_before_a_later_call_note_when_received_then_it_is_rejected() {
        let mut log = InputLog::new();
        log.record(4.0, NoteRole::Melody);
        log.record(4.5, NoteRole::Melody);
        // Planned having seen both events; the call ends at 5.5.
        let mut player = AnswerPlayer::new();
        log.record(5.0, NoteRole::Melody); // the player went on before the silence was over
        player.receive(AnswerMsg::Begin(header(1, 2, 5.5, 8.0)), 1, &log);
        player.receive(note(1, 60, 8.0, 8.25), 1, &log);
        assert!(!player.is_busy());
    }

    #[test]
    fn given_an_answer_whose_next_event_came_after_the_call_ended_when_received_then_it_stands() {
        let mut log = InputLog::new();
        log.record(4.0, NoteRole::Melody);
        log.record(4.5, NoteRole::Melody);
        log.record(6.0, NoteRole::Melody); // a new call after the silence (call ended at 5.5)
        let mut player = AnswerPlayer::new();
        player.receive(AnswerMsg::Begin(header(1, 2, 5.5, 8.0)), 1, &log);
        player.receive(note(1, 60, 8.0, 8.25), 1, &log);
        assert!(player.is_busy());
    }

    #[test]
    fn given_an_answer_of_an_old_epoch_when_received_then_it_is_dropped() {
        let log = InputLog::new();
        let mut player = AnswerPlayer::new();
        player.receive(AnswerMsg::Begin(header(1, 0, 5.5, 8.0)), 2, &log);
        player.receive(note(1, 60, 8.0, 8.25), 2, &log);
        assert!(!player.is_busy());
    }

    #[test]
    fn given_a_tentative_answer_when_the_player_plays_on_before_the_silence_ends_then_it_is_cancelled()
     {
        let log = InputLog::new();
        let mut player = AnswerPlayer::new();
        player.receive(AnswerMsg::Begin(header(1, 0, 5.5, 8.0)), 1, &log);
        player.receive(note(1, 60, 8.0, 8.25), 1, &log);
        player.cancel_calls_ending_after(5.2);
        assert!(!player.is_busy());
        // Later notes of the cancelled answer are dropped too.
        player.receive(note(1, 62, 8.25, 8.5), 1, &log);
        assert!(!player.is_busy());
    }

    #[test]
    fn given_waiting_notes_when_their_block_comes_then_ons_and_offs_are_due_in_time_order() {
        let log = InputLog::new();
        let mut player = AnswerPlayer::new();
        player.receive(AnswerMsg::Begin(header(1, 0, 5.5, 8.0)), 1, &log);
        player.receive(note(1, 60, 8.0, 8.01), 1, &log);
        let t = block(8.0 - 100.0 / 24_000.0);
        player.begin_block();
        assert_eq!(player.next_due(&t), Some(Due::On { offset: 100 }));
        let n = player.take_first().unwrap();
        player.push_sounding(&n, 0, 100);
        assert_eq!(player.answers_played(), 1);
        assert_eq!(
            player.next_due(&t),
            Some(Due::Off {
                offset: 340,
                index: 0
            })
        );
        player.end_sounding(0);
        assert_eq!(player.next_due(&t), None);
    }

    #[test]
    fn given_a_note_that_should_have_started_earlier_when_its_block_comes_then_it_is_late() {
        let log = InputLog::new();
        let mut player = AnswerPlayer::new();
        player.receive(AnswerMsg::Begin(header(1, 0, 5.5, 8.0)), 1, &log);
        player.receive(note(1, 60, 8.0, 8.25), 1, &log);
        let t = block(8.1);
        assert_eq!(player.next_due(&t), Some(Due::Late));
        player.skip_first();
        assert_eq!(player.late_notes(), 1);
        assert!(!player.is_busy());
    }

    #[test]
    fn given_a_note_started_in_a_block_when_it_would_end_on_the_same_sample_then_its_off_comes_after()
     {
        let log = InputLog::new();
        let mut player = AnswerPlayer::new();
        player.receive(AnswerMsg::Begin(header(1, 0, 5.5, 8.0)), 1, &log);
        player.receive(note(1, 60, 8.0, 8.0 + 1e-9), 1, &log);
        let t = block(8.0);
        player.begin_block();
        assert_eq!(player.next_due(&t), Some(Due::On { offset: 0 }));
        let n = player.take_first().unwrap();
        player.push_sounding(&n, 0, 0);
        assert_eq!(
            player.next_due(&t),
            Some(Due::Off {
                offset: 1,
                index: 0
            })
        );
    }

    #[test]
    fn given_an_interrupt_when_the_answer_plays_then_its_sounding_and_later_notes_end() {
        let log = InputLog::new();
        let mut player = AnswerPlayer::new();
        player.receive(AnswerMsg::Begin(header(1, 0, 5.5, 8.0)), 1, &log);
        player.receive(note(1, 60, 8.0, 9.0), 1, &log);
        player.receive(note(1, 62, 9.0, 10.0), 1, &log);
        let n = player.take_first().unwrap();
        player.push_sounding(&n, 0, 0);
        let mut ended = Vec::new();
        player.interrupt_at(8.5, |s| ended.push(s.key));
        assert_eq!(ended, vec![60]);
        assert!(!player.is_busy());
    }

    fn resume(id: u32, seen: u64, from: f64) -> AnswerMsg {
        AnswerMsg::Begin(AnswerHeader {
            resume_from_beats: Some(from),
            ..header(id, seen, 5.5, 8.0)
        })
    }

    /// The keys of the waiting notes, in order.
    fn waiting(player: &AnswerPlayer) -> Vec<u8> {
        player.pending.iter().map(|n| n.key).collect()
    }

    #[test]
    fn given_a_chord_change_the_worker_had_not_seen_before_the_answer_starts_when_received_then_it_is_rejected()
     {
        // Given the worker planned having seen 2 events; the chord changed at 9.0 (event 2)
        let mut log = InputLog::new();
        log.record(4.0, NoteRole::Melody);
        log.record(4.5, NoteRole::Melody);
        log.record(9.0, NoteRole::ChordChange);
        let mut player = AnswerPlayer::new();
        // When the answer (call ends 5.5, starts 12.0) arrives
        player.receive(AnswerMsg::Begin(header(1, 2, 5.5, 12.0)), 1, &log);
        player.receive(note(1, 60, 12.0, 12.25), 1, &log);
        // Then it is dropped: it was generated over the old chord
        assert!(!player.is_busy());
        // But a chord note that changed nothing, or a change less than a beat before the start,
        // leaves it standing (a continuation will replace its notes)
        let mut log = InputLog::new();
        log.record(4.0, NoteRole::Melody);
        log.record(9.0, NoteRole::Chord);
        log.record(11.5, NoteRole::ChordChange);
        player.receive(AnswerMsg::Begin(header(2, 1, 5.5, 12.0)), 1, &log);
        player.receive(note(2, 60, 12.0, 12.25), 1, &log);
        assert!(player.is_busy());
    }

    #[test]
    fn given_a_waiting_answer_when_the_chord_changes_before_it_starts_then_it_is_cancelled_and_a_playing_one_stays()
     {
        let log = InputLog::new();
        let mut player = AnswerPlayer::new();
        // Given answer 1 playing from 8 and answer 2 waiting for 16
        player.receive(AnswerMsg::Begin(header(1, 0, 5.5, 8.0)), 1, &log);
        player.receive(note(1, 60, 8.0, 8.5), 1, &log);
        player.receive(note(1, 62, 10.0, 10.5), 1, &log);
        player.receive(AnswerMsg::Begin(header(2, 0, 13.0, 16.0)), 1, &log);
        player.receive(note(2, 64, 16.0, 16.5), 1, &log);
        let n = player.take_first().unwrap();
        player.push_sounding(&n, 0, 0);
        // When the chord changes at 15.5, less than a beat before answer 2: nothing is dropped
        player.chord_changed_at(15.5);
        assert_eq!(waiting(&player), vec![62, 64]);
        // When the chord changes at 9.0
        player.chord_changed_at(9.0);
        // Then answer 2 is gone; answer 1 keeps its sounding and waiting notes
        assert_eq!(waiting(&player), vec![62]);
        assert_eq!(player.sounding.len(), 1);
        // Late notes of the cancelled answer are dropped too.
        player.receive(note(2, 65, 16.5, 17.0), 1, &log);
        assert_eq!(waiting(&player), vec![62]);
    }

    #[test]
    fn given_a_playing_answer_when_its_continuation_arrives_then_its_notes_from_there_are_replaced()
    {
        let log = InputLog::new();
        let mut player = AnswerPlayer::new();
        player.receive(AnswerMsg::Begin(header(1, 0, 5.5, 8.0)), 1, &log);
        for (key, start) in [(60, 8.0), (62, 9.0), (64, 10.0), (65, 11.0)] {
            player.receive(note(1, key, start, start + 0.5), 1, &log);
        }
        let n = player.take_first().unwrap();
        player.push_sounding(&n, 0, 0);
        // When the rest from beat 10 comes over a new chord
        player.receive(resume(1, 0, 10.0), 1, &log);
        player.receive(note(1, 69, 10.0, 10.5), 1, &log);
        player.receive(note(1, 72, 11.5, 12.0), 1, &log);
        // Then the notes before 10 stay and the new ones replace the rest
        assert_eq!(waiting(&player), vec![62, 69, 72]);
        assert_eq!(
            player.sounding.len(),
            1,
            "the sounding note keeps its note-off"
        );
        assert_eq!(
            player.answers_played(),
            1,
            "a continuation is not a new answer"
        );
    }

    #[test]
    fn given_an_interrupted_or_finished_answer_when_a_continuation_arrives_then_it_is_dropped() {
        let log = InputLog::new();
        let mut player = AnswerPlayer::new();
        player.receive(AnswerMsg::Begin(header(1, 0, 5.5, 8.0)), 1, &log);
        player.receive(note(1, 60, 8.0, 9.0), 1, &log);
        player.receive(note(1, 62, 9.0, 10.0), 1, &log);
        player.interrupt_at(8.5, |_| {});
        player.receive(resume(1, 0, 9.5), 1, &log);
        player.receive(note(1, 64, 9.5, 10.0), 1, &log);
        assert_eq!(waiting(&player), vec![60]);
        // An answer never accepted (or retired) takes no continuation either.
        player.receive(resume(7, 0, 9.5), 1, &log);
        player.receive(note(7, 64, 9.5, 10.0), 1, &log);
        assert_eq!(waiting(&player), vec![60]);
        // Nor one from another epoch.
        player.receive(AnswerMsg::Begin(header(2, 0, 5.5, 8.0)), 1, &log);
        player.receive(resume(2, 0, 9.0), 2, &log);
        player.receive(note(2, 67, 9.0, 9.5), 2, &log);
        assert_eq!(waiting(&player), vec![60]);
    }
}
