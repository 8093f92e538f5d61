//! Fuzzes the MIDI reader `antiphon generate --primer-midi` and evaluation use
//! (`midi_file::read` reads the file and calls `midi_file::parse`): any bytes give an error or
//! notes with the properties `test_support::midi::check_notes` states; never a panic, a hang or
//! a huge allocation.

#![no_main]

use antiphon_models::midi_file;
use antiphon_models::test_support::midi::check_notes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(midi) = midi_file::parse(data)
        && let Err(why) = check_notes(&midi)
    {
        panic!("parsed into notes that break the reader's promises: {why}");
    }
});
