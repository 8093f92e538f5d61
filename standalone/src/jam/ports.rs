//! MIDI ports through midir: listing them, and choosing one by index or by name.
//!
//! On Linux midir is built with its JACK backend (these machines have no ALSA sequencer), so
//! the ports are JACK MIDI ports and a JACK server must run; elsewhere they are the platform's
//! (CoreMIDI, WinMM). Virtual ports exist on JACK, ALSA and CoreMIDI, not on Windows.

use midir::{MidiInput, MidiOutput};

/// Name of the MIDI system midir talks to here, for messages.
#[cfg(all(target_os = "linux", not(target_os = "android")))]
pub const BACKEND: &str = "JACK";
/// Name of the MIDI system midir talks to here, for messages.
#[cfg(not(all(target_os = "linux", not(target_os = "android"))))]
pub const BACKEND: &str = "the platform MIDI system";

/// Keeps libjack's own messages (several lines for a missing server) off the terminal: the jam
/// says what went wrong in one line of its own.
#[cfg(all(target_os = "linux", not(target_os = "android")))]
pub fn quiet_backend() {
    /// Drops one libjack message.
    unsafe extern "C" fn drop_message(_message: *const std::ffi::c_char) {}
    // SAFETY: both setters only store the function pointer; `drop_message` never reads its
    // argument and lives for the whole program.
    unsafe {
        jack_sys::jack_set_error_function(Some(drop_message));
        jack_sys::jack_set_info_function(Some(drop_message));
    }
}

/// Nothing to quiet on this platform.
#[cfg(not(all(target_os = "linux", not(target_os = "android"))))]
pub fn quiet_backend() {}

/// Opens midir's input side as client `client`, with nothing filtered (clock included).
pub fn midi_input(client: &str) -> Result<MidiInput, String> {
    let mut input = MidiInput::new(client).map_err(|e| no_midi_system(&e.to_string()))?;
    input.ignore(midir::Ignore::None);
    Ok(input)
}

/// Opens midir's output side as client `client`.
pub fn midi_output(client: &str) -> Result<MidiOutput, String> {
    MidiOutput::new(client).map_err(|e| no_midi_system(&e.to_string()))
}

/// The one-line message when midir cannot reach the MIDI system.
fn no_midi_system(detail: &str) -> String {
    if BACKEND == "JACK" {
        format!(
            "no MIDI system: cannot reach a JACK server ({detail}); start one, e.g. `jackd -d dummy`"
        )
    } else {
        format!("no MIDI system: {detail}")
    }
}

/// The names of the ports a midir side offers, in its order.
pub fn port_names<T: midir::MidiIO>(io: &T) -> Vec<String> {
    io.ports()
        .iter()
        .map(|p| io.port_name(p).unwrap_or_else(|_| String::from("?")))
        .collect()
}

/// Which port `wanted` names among `names`: an index, an exact name, or else a piece of one
/// name (case-insensitive). `what` is "input" or "output", for the message.
pub fn pick_port(names: &[String], wanted: &str, what: &str) -> Result<usize, String> {
    if names.is_empty() {
        return Err(format!(
            "no MIDI {what} port at all on {BACKEND} (connect a device, or use --virtual)"
        ));
    }
    if let Ok(index) = wanted.trim().parse::<usize>() {
        return if index < names.len() {
            Ok(index)
        } else {
            Err(format!(
                "no MIDI {what} port {index}: there are {} (antiphon jam --list shows them)",
                names.len()
            ))
        };
    }
    if let Some(i) = names.iter().position(|n| n == wanted) {
        return Ok(i);
    }
    let lower = wanted.to_lowercase();
    let matches: Vec<usize> = (0..names.len())
        .filter(|&i| names[i].to_lowercase().contains(&lower))
        .collect();
    match matches.as_slice() {
        [one] => Ok(*one),
        [] => Err(format!(
            "no MIDI {what} port named {wanted:?} (antiphon jam --list shows them)"
        )),
        many => Err(format!(
            "{} MIDI {what} ports match {wanted:?}: {}; name one exactly or by index",
            many.len(),
            many.iter()
                .map(|&i| names[i].as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Prints every input and output port with its index.
pub fn list(client: &str) -> Result<(), String> {
    let inputs = port_names(&midi_input(client)?);
    let outputs = port_names(&midi_output(client)?);
    println!("MIDI inputs ({BACKEND}):");
    if inputs.is_empty() {
        println!("  (none)");
    }
    for (i, name) in inputs.iter().enumerate() {
        println!("  {i}: {name}");
    }
    println!("MIDI outputs ({BACKEND}):");
    if outputs.is_empty() {
        println!("  (none)");
    }
    for (i, name) in outputs.iter().enumerate() {
        println!("  {i}: {name}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        ["system:midi_capture_1", "keys:out", "Keystation 49:port"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn given_ports_when_picked_by_index_exact_name_or_piece_then_the_right_one_comes() {
        assert_eq!(pick_port(&names(), "1", "input"), Ok(1));
        assert_eq!(pick_port(&names(), "keys:out", "input"), Ok(1));
        assert_eq!(pick_port(&names(), "station", "input"), Ok(2));
    }

    #[test]
    fn given_ports_when_the_name_is_wrong_or_ambiguous_then_a_one_line_error() {
        let missing = pick_port(&names(), "nope", "input").unwrap_err();
        assert!(missing.contains("no MIDI input port named"), "{missing}");
        let many = pick_port(&names(), "key", "output").unwrap_err();
        assert!(many.starts_with("2 MIDI output ports match"), "{many}");
        let index = pick_port(&names(), "7", "input").unwrap_err();
        assert!(index.contains("there are 3"), "{index}");
        let none = pick_port(&[], "x", "output").unwrap_err();
        assert!(none.contains("no MIDI output port at all"), "{none}");
        assert!(
            [missing, many, index, none]
                .iter()
                .all(|m| !m.contains('\n'))
        );
    }
}
