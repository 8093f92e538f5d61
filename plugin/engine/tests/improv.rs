//! Improv jams in memory: chords held below the split key are not part of the call, the answer
//! is played over them and above the split, and a chord change regenerates an answer that has
//! not started, or the rest of one that is playing. The model is a tiny contract model of the
//! `chord_melody` encoding (random weights, written by `antiphon_models::test_support`), so the notes
//! mean nothing; the tests check the flow, not the music.

use antiphon_engine::{ChordInput, ModelChoice, OutKind};
use antiphon_models::test_support::IMPROV_PITCH;

mod support;

use support::{Jam, pairs, wait_until};

/// The split key of these tests (C4): chords below, melody from here up.
const SPLIT: u8 = 60;
/// A minor (A2 C3 E3).
const A_MINOR: [u8; 3] = [45, 48, 52];
/// F major (F2 A2 C3).
const F_MAJOR: [u8; 3] = [41, 45, 48];

/// A jam with a tiny Improv model (pitch chords, melody 48..84) and the split at [`SPLIT`].
fn improv_jam() -> Jam {
    let model = IMPROV_PITCH.write(env!("CARGO_TARGET_TMPDIR"), "engine_tiny_improv_pitch");
    let jam = Jam::start_with(ModelChoice::File(model), |shared| {
        shared.settings.set_chord_input(ChordInput::SplitKey(SPLIT));
    });
    assert!(
        jam.shared()
            .model_uses_chords
            .load(std::sync::atomic::Ordering::Acquire),
        "the improv model reads chords"
    );
    jam
}

/// Holds `chord` from `on` to `off` and plays a one-bar call C5 D5 E5 F5 from beat 4.
fn chord_and_call(jam: &mut Jam, chord: [u8; 3], on: f64, off: f64) {
    for key in chord {
        jam.note(key, on, off);
    }
    for (i, key) in [72, 74, 76, 77].into_iter().enumerate() {
        jam.note(key, 4.0 + i as f64, 4.5 + i as f64);
    }
}

/// Changes the held chord from `from` to `to` at `beats`, holding `to` until `until`.
fn change_chord(jam: &mut Jam, to: [u8; 3], beats: f64, until: f64) {
    for key in to {
        jam.note(key, beats, until);
    }
}

/// Checks the answer on channel 1: balanced, inside beats 12..16, above the split, and one
/// melody (the model is monophonic: two answers at once would overlap); returns its note count.
fn check_answer(jam: &Jam) -> usize {
    let (mut notes, open) = pairs(&jam.answer_notes());
    assert!(open.is_empty(), "answer notes left sounding: {open:?}");
    notes.sort_unstable();
    for pair in notes.windows(2) {
        assert!(
            pair[1].0 >= pair[0].1,
            "answer notes overlap (two answers at once?): {pair:?}"
        );
    }
    let spb = jam.samples_per_beat();
    for &(on, off, key) in &notes {
        assert!(
            on >= (12.0 * spb) as u64 && off <= (16.0 * spb) as u64,
            "note {key} at samples {on}..{off} outside beats 12..16"
        );
        assert!(
            key >= SPLIT,
            "answer note {key} below the split key {SPLIT}"
        );
    }
    notes.len()
}

#[test]
fn given_a_chord_held_below_the_split_when_a_melody_is_played_above_it_then_the_call_is_the_melody_and_the_answer_stays_above()
 {
    let mut jam = improv_jam();
    // The chord is held from before the call until long after it: were it part of the call,
    // the call would last to its maximum length (8 bars) and nothing would answer by beat 16.
    chord_and_call(&mut jam, A_MINOR, 3.9, 24.0);
    jam.run_to(7.6);
    jam.wait_for_answers(1);
    jam.run_to(17.0);

    let notes = check_answer(&jam);
    assert!(notes > 0, "the model answered with silence");
    assert_eq!(jam.played(), 1);
    // MIDI thru passes the chord notes too.
    let thru: Vec<u8> = jam
        .on_channel(0)
        .iter()
        .filter(|h| h.kind == OutKind::On)
        .map(|h| h.key)
        .collect();
    assert_eq!(thru, vec![45, 48, 52, 72, 74, 76, 77]);
}

#[test]
fn given_an_answer_waiting_for_its_bar_when_the_chord_changes_then_it_is_generated_again_and_played_once()
 {
    let mut jam = improv_jam();
    chord_and_call(&mut jam, A_MINOR, 3.9, 10.0);
    change_chord(&mut jam, F_MAJOR, 10.0, 24.0);
    // The call ends at 8.5; its answer is ready for beat 12.
    jam.run_to(9.0);
    jam.wait_for_answers(1);
    let before = jam.generated();
    // The chord changes at beat 10, before the answer starts.
    jam.run_to(10.2);
    wait_until("the answer over F major", || jam.generated() > before);
    jam.run_to(17.0);

    check_answer(&jam);
    assert_eq!(
        jam.played(),
        1,
        "the answer over A minor was dropped, the one over F major played"
    );
}

#[test]
fn given_an_answer_playing_when_the_chord_changes_then_its_rest_is_generated_again_without_a_stuck_note()
 {
    let mut jam = improv_jam();
    chord_and_call(&mut jam, A_MINOR, 3.9, 13.0);
    change_chord(&mut jam, F_MAJOR, 13.0, 24.0);
    jam.run_to(9.0);
    jam.wait_for_answers(1);
    jam.run_to(12.9);
    let before = jam.generated();
    // The chord changes at beat 13, a beat into the answer.
    jam.run_to(13.1);
    wait_until("the rest of the answer over F major", || {
        jam.generated() > before
    });
    jam.run_to(17.0);

    check_answer(&jam);
    assert_eq!(
        jam.played(),
        1,
        "the continuation is the same answer, not a second one"
    );
}

#[test]
fn given_a_melody_model_when_notes_are_played_below_the_split_then_they_are_the_call() {
    // The shipped melody model reads no chords: the chord settings are ignored.
    let mut jam = Jam::start_with(ModelChoice::Default, |shared| {
        shared.settings.set_chord_input(ChordInput::SplitKey(SPLIT));
    });
    for (i, key) in [48, 50, 52, 53].into_iter().enumerate() {
        jam.note(key, 4.0 + i as f64, 4.5 + i as f64);
    }
    jam.run_to(7.6);
    jam.wait_for_answers(1);
    jam.run_to(17.0);
    let (notes, open) = pairs(&jam.answer_notes());
    assert!(open.is_empty());
    assert!(
        !notes.is_empty(),
        "the low notes were a call and got an answer"
    );
}

#[test]
fn given_a_chord_change_just_before_the_answer_starts_when_it_comes_then_the_answer_is_kept_and_replaced_from_its_first_step()
 {
    let mut jam = improv_jam();
    chord_and_call(&mut jam, A_MINOR, 3.9, 11.75);
    change_chord(&mut jam, F_MAJOR, 11.75, 24.0);
    jam.run_to(9.0);
    jam.wait_for_answers(1);
    let before = jam.generated();
    // A quarter beat before the bar line: too late to drop the answer safely, so its notes are
    // replaced by the rest generated over F major, from its first step.
    jam.run_to(11.9);
    wait_until("the answer over F major", || jam.generated() > before);
    jam.run_to(17.0);

    check_answer(&jam);
    assert_eq!(jam.played(), 1, "one answer, its notes replaced");
}

#[test]
fn given_chord_changes_during_the_call_when_it_ends_then_one_answer_plays_over_the_last_chord() {
    let mut jam = improv_jam();
    // The call C5 D5 E5 F5 from beat 4 ends at 8.5 (answer at 12); the chord changes inside
    // the call (6.2, voiding the speculative answer) and inside the silence (8.0, more than a
    // beat before the answer: void again).
    chord_and_call(&mut jam, A_MINOR, 3.9, 6.2);
    change_chord(&mut jam, F_MAJOR, 6.2, 8.0);
    change_chord(&mut jam, [43, 47, 50], 8.0, 24.0);
    jam.run_to(9.0);
    jam.wait_for_answers(1);
    jam.run_to(17.0);
    check_answer(&jam);
    assert_eq!(jam.played(), 1);

    // A call that ends on a bar line: C5 at beat 20..23, silence to 24, answer at 24. A chord
    // change in the silence (23.5) is less than a beat before the answer: the speculative answer
    // is kept and replaced from its first step, not answered twice.
    let mut jam = improv_jam();
    for key in A_MINOR {
        jam.note(key, 19.9, 23.5);
    }
    change_chord(&mut jam, F_MAJOR, 23.5, 40.0);
    jam.note(72, 20.0, 23.0);
    jam.run_to(23.6);
    jam.run_to(29.0);
    let (notes, open) = pairs(&jam.answer_notes());
    assert!(open.is_empty(), "left sounding: {open:?}");
    let spb = jam.samples_per_beat();
    assert!(
        notes.iter().all(|&(on, _, _)| on >= (24.0 * spb) as u64),
        "answer before its bar line: {notes:?}"
    );
    assert!(jam.played() <= 1, "answered twice");
}
