//! Between nice-plug's note events and the engine's: player input in, Antiphon's notes out.

use antiphon_engine::{InputEvent, JamControl, OutKind, OutputEvent};
use nice_plug::midi::{Channel, Key, VoiceID};
use nice_plug::prelude::*;

/// MIDI CC: all sound off.
const CC_ALL_SOUND_OFF: u8 = 120;
/// MIDI CC: all notes off.
const CC_ALL_NOTES_OFF: u8 = 123;

/// The first MIDI channel mode message (CC 120..=127 are not learnable).
const CC_CHANNEL_MODE: u8 = 120;
/// A CC value at or above this is "on" for a learned control.
const CC_ON_THRESHOLD: u8 = 64;
/// A CC assignment slot that holds nothing (as [`crate::params::NO_CC`]).
const UNASSIGNED: u8 = crate::params::NO_CC;

/// What a MIDI CC does to the momentary controls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CcAction {
    /// Learning was armed: the CC is now `control`'s (the event is consumed).
    Learned {
        /// The control that learned the CC.
        control: JamControl,
        /// The CC number.
        cc: u8,
    },
    /// A learned CC rose through 64: the control acts (the event is consumed).
    Trigger(JamControl),
    /// A learned CC that did not rise through 64 (the event is consumed).
    Consumed,
    /// Not a learned CC: it is an ordinary event.
    Pass,
}

/// The audio thread's view of the learned CCs in one block: assignments and whether each
/// control's CC is currently at or above 64. Allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CcControls {
    /// CC number of each control of [`JamControl::ALL`], or [`UNASSIGNED`].
    pub assigned: [u8; 4],
    /// The control being learned, if learning is armed.
    pub learning: Option<JamControl>,
    /// Whether each control's CC was last seen at or above 64 (a control acts on the rise).
    high: [bool; 4],
}

impl Default for CcControls {
    fn default() -> Self {
        Self {
            assigned: [UNASSIGNED; 4],
            learning: None,
            high: [false; 4],
        }
    }
}

impl CcControls {
    /// What the CC `cc` at 7-bit `value` (any channel) does; updates the learned state.
    pub fn on_cc(&mut self, cc: u8, value: u8) -> CcAction {
        let on = value >= CC_ON_THRESHOLD;
        if let Some(control) = self.learning
            && cc < CC_CHANNEL_MODE
        {
            self.learning = None;
            for slot in &mut self.assigned {
                if *slot == cc {
                    *slot = UNASSIGNED;
                }
            }
            let i = control as usize;
            self.assigned[i] = cc;
            self.high[i] = on;
            return CcAction::Learned { control, cc };
        }
        let Some(i) = self.assigned.iter().position(|&slot| slot == cc) else {
            return CcAction::Pass;
        };
        let rose = on && !self.high[i];
        self.high[i] = on;
        match (rose, JamControl::from_u8(i as u8)) {
            (true, Some(control)) => CcAction::Trigger(control),
            _ => CcAction::Consumed,
        }
    }
}

/// The parts of a MIDI CC event: sample offset, CC number and 7-bit value.
pub fn control_change<S>(event: &NoteEvent<S>) -> Option<(u32, u8, u8)> {
    match *event {
        NoteEvent::MidiCC {
            timing, cc, value, ..
        } => Some((timing, cc, velocity_7bit(value))),
        _ => None,
    }
}

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
    fn given_learning_armed_when_a_cc_arrives_then_it_is_assigned_and_consumed() {
        let mut cc = CcControls {
            learning: Some(JamControl::Mutate),
            ..CcControls::default()
        };
        assert_eq!(
            cc.on_cc(20, 127),
            CcAction::Learned {
                control: JamControl::Mutate,
                cc: 20
            }
        );
        assert_eq!(cc.learning, None);
        assert_eq!(cc.assigned[JamControl::Mutate as usize], 20);
        // Still held from the learning press: no trigger until it falls and rises again.
        assert_eq!(cc.on_cc(20, 100), CcAction::Consumed);
        assert_eq!(cc.on_cc(20, 0), CcAction::Consumed);
        assert_eq!(cc.on_cc(20, 64), CcAction::Trigger(JamControl::Mutate));
        assert_eq!(cc.on_cc(21, 127), CcAction::Pass);
    }

    #[test]
    fn given_a_cc_learned_by_another_control_when_relearned_then_only_the_new_one_has_it() {
        let mut cc = CcControls::default();
        cc.assigned[JamControl::Panic as usize] = 30;
        cc.learning = Some(JamControl::EndCall);
        cc.on_cc(30, 0);
        assert_eq!(cc.assigned[JamControl::Panic as usize], UNASSIGNED);
        assert_eq!(cc.on_cc(30, 127), CcAction::Trigger(JamControl::EndCall));
    }

    #[test]
    fn given_learning_armed_when_all_notes_off_arrives_then_it_is_not_learned() {
        let mut cc = CcControls {
            learning: Some(JamControl::Panic),
            ..CcControls::default()
        };
        assert_eq!(cc.on_cc(123, 0), CcAction::Pass);
        assert_eq!(cc.learning, Some(JamControl::Panic));
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
