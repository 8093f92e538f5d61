//! The jam modes and the momentary controls a player triggers (from a parameter, a learned MIDI
//! CC, a key or the editor).

/// How Antiphon plays along.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum JamMode {
    /// Call and response: a call ends by silence, by its maximum length or by the End Call
    /// control, and is answered from the next bar line (or beat).
    #[default]
    CallResponse = 0,
    /// Fixed turns of `trade_bars` bars on the bar grid: the player's turn, then Antiphon's.
    Trade = 1,
    /// Antiphon plays continuously, bar after bar, re-seeded by what the player plays.
    Accompany = 2,
    /// Nothing until the Continue control: then one continuation of the last phrase.
    Continue = 3,
}

impl JamMode {
    /// Every mode, by its value.
    pub const ALL: [Self; 4] = [
        Self::CallResponse,
        Self::Trade,
        Self::Accompany,
        Self::Continue,
    ];

    /// The mode stored as `value` (unknown values are call and response).
    pub fn from_u8(value: u8) -> Self {
        Self::ALL
            .get(usize::from(value))
            .copied()
            .unwrap_or_default()
    }

    /// The mode's name, for people.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CallResponse => "call and response",
            Self::Trade => "trade",
            Self::Accompany => "accompany",
            Self::Continue => "continue",
        }
    }
}

/// A momentary control: it acts once, where it happens in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum JamControl {
    /// Ends the call in progress now (call and response).
    EndCall = 0,
    /// Answers again, seeded by the last answer instead of the call.
    Mutate = 1,
    /// One continuation of the last phrase (any mode; the trigger of Continue mode).
    Continue = 2,
    /// Ends every note Antiphon and the player's thru have sounding, and forgets the jam.
    Panic = 3,
}

impl JamControl {
    /// Every control, by its value.
    pub const ALL: [Self; 4] = [Self::EndCall, Self::Mutate, Self::Continue, Self::Panic];

    /// The control stored as `value`, if it is one.
    pub fn from_u8(value: u8) -> Option<Self> {
        Self::ALL.get(usize::from(value)).copied()
    }

    /// The control's name, for people.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EndCall => "End Call",
            Self::Mutate => "Mutate",
            Self::Continue => "Continue",
            Self::Panic => "Panic",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_each_mode_and_control_when_stored_as_a_byte_then_it_reads_back() {
        for mode in JamMode::ALL {
            assert_eq!(JamMode::from_u8(mode as u8), mode);
        }
        assert_eq!(JamMode::from_u8(200), JamMode::CallResponse);
        for control in JamControl::ALL {
            assert_eq!(JamControl::from_u8(control as u8), Some(control));
        }
        assert_eq!(JamControl::from_u8(200), None);
    }
}
