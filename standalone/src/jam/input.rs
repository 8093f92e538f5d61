//! Incoming MIDI: midir's callback stamps each message with the jam's clock and hands the ones
//! the jam reads (notes, All Notes Off, MIDI clock) to the driver through a lock-free ring.
//!
//! The callback runs on midir's thread (JACK's process thread under JACK): it parses a few
//! bytes and pushes a `Copy` value into a ring made beforehand, so it never allocates or waits.
//! midir's own timestamp is not used: under JACK it is the time of the process cycle, the same
//! for every message of the cycle, and in another time base than the driver's `Instant`.

use std::time::Instant;

use antiphon_engine::InputEvent;
use ringbuf::traits::Producer;
use ringbuf::{HeapProd, HeapRb};

use super::follow::ClockMessage;

/// Capacity of the input ring, in messages (a few seconds of dense playing with clock).
pub const RING_CAPACITY: usize = 8192;

/// What an incoming message means to the jam.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum IncomingKind {
    /// A note or All Notes Off, for the engine (its offset is set by the driver).
    Event(InputEvent),
    /// MIDI clock, for the follower.
    Clock(ClockMessage),
}

/// One incoming message and when it arrived.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Incoming {
    /// Arrival, in seconds since the jam's origin.
    pub at_s: f64,
    /// What it is.
    pub kind: IncomingKind,
}

/// The meaning of a raw MIDI message, if the jam reads it: note on and off, All Notes Off and
/// All Sound Off (CC 123 and 120), clock, Start, Stop, Continue and Song Position Pointer.
/// Other messages (other controllers, pitch bend, SysEx, …) are not read.
pub fn parse(bytes: &[u8]) -> Option<IncomingKind> {
    if let Some(clock) = ClockMessage::parse(bytes) {
        return Some(IncomingKind::Clock(clock));
    }
    let (&status, data) = bytes.split_first()?;
    let channel = status & 0x0F;
    let event = match (status & 0xF0, data) {
        (0x90, &[key, velocity, ..]) => InputEvent::NoteOn {
            offset: 0,
            channel,
            key: key & 0x7F,
            velocity: velocity & 0x7F,
        },
        (0x80, &[key, ..]) => InputEvent::NoteOff {
            offset: 0,
            channel,
            key: key & 0x7F,
        },
        (0xB0, &[120 | 123, ..]) => InputEvent::AllNotesOff { offset: 0, channel },
        _ => return None,
    };
    Some(IncomingKind::Event(event))
}

/// The ring's two ends.
pub fn ring() -> (HeapProd<Incoming>, ringbuf::HeapCons<Incoming>) {
    ringbuf::traits::Split::split(HeapRb::<Incoming>::new(RING_CAPACITY))
}

/// midir's input callback: stamps and queues what the jam reads; a full ring drops the message.
pub fn callback(origin: Instant) -> impl FnMut(u64, &[u8], &mut HeapProd<Incoming>) + Send {
    move |_stamp_us, bytes, ring| {
        if let Some(kind) = parse(bytes) {
            let at_s = origin.elapsed().as_secs_f64();
            let _ = ring.try_push(Incoming { at_s, kind });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_raw_messages_when_parsed_then_notes_panics_and_clock_are_read_and_the_rest_not() {
        assert_eq!(
            parse(&[0x91, 60, 100]),
            Some(IncomingKind::Event(InputEvent::NoteOn {
                offset: 0,
                channel: 1,
                key: 60,
                velocity: 100
            }))
        );
        assert_eq!(
            parse(&[0x80, 60, 0]),
            Some(IncomingKind::Event(InputEvent::NoteOff {
                offset: 0,
                channel: 0,
                key: 60
            }))
        );
        assert_eq!(
            parse(&[0xB3, 123, 0]),
            Some(IncomingKind::Event(InputEvent::AllNotesOff {
                offset: 0,
                channel: 3
            }))
        );
        assert_eq!(
            parse(&[0xF8]),
            Some(IncomingKind::Clock(ClockMessage::Tick))
        );
        assert_eq!(parse(&[0xB0, 7, 100]), None);
        assert_eq!(parse(&[0xE0, 0, 64]), None);
        assert_eq!(parse(&[0x90, 60]), None);
        assert_eq!(parse(&[]), None);
    }
}
