//! Between nice-plug's note events and the engine's: player input in, Antiphon's notes out.

use antiphon_engine::{InputEvent, OutKind, OutputEvent};
use nice_plug::midi::{Channel, Key, VoiceID};
use nice_plug::prelude::*;

/// MIDI CC: all sound off.
const CC_ALL_SOUND_OFF: u8 = 120;
/// MIDI CC: all notes off.
const CC_ALL_NOTES_OFF: u8 = 123;

/// What to do with one host event.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming<E> {
    /// A note event for the jam engine.
    Note(InputEvent),
    /// Another MIDI event, passed on unchanged when MIDI thru is on.
    Other(E),
    /// Nothing (parameter and voice bookkeeping events).
    Ignore,
}

/// A MIDI velocity 0..=127 from nice-plug's 0..1.
fn velocity_7bit(velocity: f32) -> u8 {
    (velocity.clamp(0.0, 1.0) * 127.0).round() as u8
}

/// A channel number, wildcards as channel 1.
fn channel_number(channel: Channel) -> u8 {
    channel.number().unwrap_or(0) & 0x0f
}

/// Sorts a host event.
pub fn classify<S: SysExMessage>(event: NoteEvent<S>) -> Incoming<NoteEvent<S>> {
    match event {
        NoteEvent::NoteOn {
            timing,
            channel,
            key: Key::Number(key),
            velocity,
            ..
        } => Incoming::Note(InputEvent::NoteOn {
            offset: timing,
            channel: channel_number(channel),
            key: key & 0x7f,
            velocity: velocity_7bit(velocity),
        }),
        NoteEvent::NoteOff {
            timing,
            channel,
            key: Key::Number(key),
            ..
        } => Incoming::Note(InputEvent::NoteOff {
            offset: timing,
            channel: channel_number(channel),
            key: key & 0x7f,
        }),
        NoteEvent::MidiCC {
            timing,
            channel,
            cc: CC_ALL_NOTES_OFF | CC_ALL_SOUND_OFF,
            ..
        } => Incoming::Note(InputEvent::AllNotesOff {
            offset: timing,
            channel: channel & 0x0f,
        }),
        e @ (NoteEvent::MidiCC { .. }
        | NoteEvent::MidiPitchBend { .. }
        | NoteEvent::MidiChannelPressure { .. }
        | NoteEvent::MidiProgramChange { .. }
        | NoteEvent::PolyPressure { .. }) => Incoming::Other(e),
        _ => Incoming::Ignore,
    }
}

/// The nice-plug event of an engine output event.
pub fn to_note_event<S>(event: &OutputEvent) -> NoteEvent<S> {
    let channel = Channel::Number(event.channel & 0x0f);
    let key = Key::Number(event.key & 0x7f);
    match event.kind {
        OutKind::On => NoteEvent::NoteOn {
            timing: event.offset,
            voice_id: VoiceID::Wildcard,
            channel,
            key,
            velocity: f32::from(event.velocity) / 127.0,
        },
        OutKind::Off => NoteEvent::NoteOff {
            timing: event.offset,
            voice_id: VoiceID::Wildcard,
            channel,
            key,
            velocity: 0.0,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_a_note_on_with_a_wildcard_channel_when_classified_then_it_is_channel_one() {
        let e: NoteEvent<()> = NoteEvent::NoteOn {
            timing: 7,
            voice_id: VoiceID::Wildcard,
            channel: Channel::Wildcard,
            key: Key::Number(60),
            velocity: 100.0 / 127.0,
        };
        assert_eq!(
            classify(e),
            Incoming::Note(InputEvent::NoteOn {
                offset: 7,
                channel: 0,
                key: 60,
                velocity: 100
            })
        );
    }

    #[test]
    fn given_all_notes_off_when_classified_then_it_is_a_panic_for_the_engine() {
        let e: NoteEvent<()> = NoteEvent::MidiCC {
            timing: 3,
            channel: 2,
            cc: 123,
            value: 0.0,
        };
        assert_eq!(
            classify(e),
            Incoming::Note(InputEvent::AllNotesOff {
                offset: 3,
                channel: 2
            })
        );
    }

    #[test]
    fn given_a_sustain_pedal_when_classified_then_it_passes_on() {
        let e: NoteEvent<()> = NoteEvent::MidiCC {
            timing: 0,
            channel: 0,
            cc: 64,
            value: 1.0,
        };
        assert_eq!(classify(e), Incoming::Other(e));
    }
}
