//! The two lock-free rings between the audio thread and the worker, each made as a pair by one
//! constructor: captured input (audio → worker) and answers (worker → audio).

use ringbuf::traits::{Consumer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};

/// Capacity of the capture ring, in events.
pub const CAPTURE_CAPACITY: usize = 4096;
/// Capacity of the answer ring, in messages.
pub const ANSWER_CAPACITY: usize = 4096;

/// Whether a captured event starts or ends a note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteKind {
    /// A key went down.
    On,
    /// A key went up.
    Off,
    /// A momentary control ([`crate::mode::JamControl`] as `u8` in the event's `key`).
    Control,
}

/// What a captured note is to the jam.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteRole {
    /// A note of the call (every note, unless an Improv model reads chords).
    Melody,
    /// A chord note that leaves the held chord as it was (a doubled tone, a repeated key).
    Chord,
    /// A chord note that changes the held chord (see [`crate::chords::ChordSignature`]).
    ChordChange,
    /// Not a note: a momentary control (kind [`NoteKind::Control`]).
    Control,
}

/// A note event the player played, stamped in beats.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CaptureEvent {
    /// Note on or off.
    pub kind: NoteKind,
    /// MIDI channel, 0..=15.
    pub channel: u8,
    /// MIDI key, 0..=127.
    pub key: u8,
    /// MIDI velocity, 0..=127.
    pub velocity: u8,
    /// Position on the beat timeline.
    pub beats: f64,
    /// Timeline epoch the position belongs to (see [`crate::shared::Shared::epoch`]).
    pub epoch: u32,
    /// Running number of this event among all captured events (0, 1, 2, …).
    pub seq: u64,
    /// Melody or chord note.
    pub role: NoteRole,
}

/// The start of an answer: which call it answers, and the conditions under which it stands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnswerHeader {
    /// Identifier of this answer (distinct among recent answers).
    pub answer_id: u32,
    /// Timeline epoch the answer was planned in; answers of an older epoch are dropped.
    pub epoch: u32,
    /// Number of captured events the worker had seen when it planned the answer. The answer
    /// stands only if no event numbered `input_seen` or later falls before `call_end_beats`.
    pub input_seen: u64,
    /// Where the call ends (silence elapsed or maximum length), in beats.
    pub call_end_beats: f64,
    /// Where the answer starts (a bar line at or after `call_end_beats`).
    pub start_beats: f64,
    /// Where the answer ends; every note ends by then.
    pub end_beats: f64,
    /// `Some(beats)`: this is not a new answer but the rest of answer `answer_id` from `beats`
    /// on, generated again over a new chord; its notes replace that answer's notes from there.
    pub resume_from_beats: Option<f64>,
}

/// One note of an answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnswerNote {
    /// The answer it belongs to.
    pub answer_id: u32,
    /// MIDI key.
    pub key: u8,
    /// MIDI velocity, 1..=127.
    pub velocity: u8,
    /// MIDI channel, or [`AnswerNote::OUTPUT_CHANNEL`] for the output-channel parameter.
    pub channel: u8,
    /// Start, in beats.
    pub start_beats: f64,
    /// End, in beats; after `start_beats`.
    pub end_beats: f64,
}

impl AnswerNote {
    /// Channel value meaning "the output channel setting at the time the note plays".
    pub const OUTPUT_CHANNEL: u8 = 0xff;
}

/// What the worker sends to the audio thread.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AnswerMsg {
    /// An answer begins; its notes follow, start-ordered.
    Begin(AnswerHeader),
    /// A note of the answer begun last.
    Note(AnswerNote),
}

/// The audio thread's end of the capture ring.
pub struct CaptureProducer {
    /// The ring's producer.
    inner: HeapProd<CaptureEvent>,
}

/// The worker's end of the capture ring.
pub struct CaptureConsumer {
    /// The ring's consumer.
    inner: HeapCons<CaptureEvent>,
}

/// The worker's end of the answer ring.
pub struct AnswerProducer {
    /// The ring's producer.
    inner: HeapProd<AnswerMsg>,
}

/// The audio thread's end of the answer ring.
pub struct AnswerConsumer {
    /// The ring's consumer.
    inner: HeapCons<AnswerMsg>,
}

/// Makes the capture ring: the producer for the audio thread, the consumer for the worker.
pub fn capture_queue() -> (CaptureProducer, CaptureConsumer) {
    let (p, c) = HeapRb::new(CAPTURE_CAPACITY).split();
    (CaptureProducer { inner: p }, CaptureConsumer { inner: c })
}

/// Makes the answer ring: the producer for the worker, the consumer for the audio thread.
pub fn answer_queue() -> (AnswerProducer, AnswerConsumer) {
    let (p, c) = HeapRb::new(ANSWER_CAPACITY).split();
    (AnswerProducer { inner: p }, AnswerConsumer { inner: c })
}

impl CaptureProducer {
    /// Pushes an event; returns false (and drops it) when the ring is full. Never blocks or
    /// allocates.
    pub fn push(&mut self, event: CaptureEvent) -> bool {
        self.inner.try_push(event).is_ok()
    }
}

impl CaptureConsumer {
    /// Takes the oldest event.
    pub fn pop(&mut self) -> Option<CaptureEvent> {
        self.inner.try_pop()
    }

    /// Looks at the oldest event without taking it.
    pub fn peek(&self) -> Option<&CaptureEvent> {
        self.inner.first()
    }
}

impl AnswerProducer {
    /// Pushes a message; gives it back when the ring is full.
    pub fn push(&mut self, msg: AnswerMsg) -> Result<(), AnswerMsg> {
        self.inner.try_push(msg)
    }
}

impl AnswerConsumer {
    /// Takes the oldest message. Never blocks or allocates.
    pub fn pop(&mut self) -> Option<AnswerMsg> {
        self.inner.try_pop()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_a_capture_pair_when_events_are_pushed_then_they_arrive_in_order() {
        let (mut p, mut c) = capture_queue();
        for seq in 0..3 {
            assert!(p.push(CaptureEvent {
                kind: NoteKind::On,
                channel: 0,
                key: 60,
                velocity: 100,
                beats: seq as f64,
                epoch: 0,
                seq,
                role: NoteRole::Melody,
            }));
        }
        assert!(c.peek().is_some());
        let seqs: Vec<u64> = std::iter::from_fn(|| c.pop()).map(|e| e.seq).collect();
        assert_eq!(seqs, vec![0, 1, 2]);
        assert!(c.peek().is_none());
    }

    #[test]
    fn given_a_full_answer_ring_when_pushing_then_the_message_comes_back() {
        let (mut p, _c) = answer_queue();
        let msg = AnswerMsg::Note(AnswerNote {
            answer_id: 1,
            key: 60,
            velocity: 90,
            channel: AnswerNote::OUTPUT_CHANNEL,
            start_beats: 0.0,
            end_beats: 1.0,
        });
        for _ in 0..ANSWER_CAPACITY {
            p.push(msg).unwrap();
        }
        assert_eq!(p.push(msg), Err(msg));
    }
}
