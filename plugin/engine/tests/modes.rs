//! The jam modes, driven in memory with the shipped default model (Melody, 16th grid) and a
//! fixed seed: Trade's turns, Accompany's bars, Continue's one shot, and call and response's
//! Loop Answer, Mutate, End Call, minimum call length and answers on the beat.

use std::sync::atomic::Ordering;

use antiphon_engine::{JamControl, JamMode, ModelChoice, Shared};

mod support;

use support::{Jam, pairs};

/// Answer notes as (start, end) in beats with their key; panics on a stuck note.
fn answer_beats(jam: &Jam) -> Vec<(f64, f64, u8)> {
    let (_, open) = pairs(&jam.answer_notes());
    assert!(open.is_empty(), "answer notes left sounding: {open:?}");
    ended_notes(jam)
}

/// The answer notes that have ended, as (start, end) in beats with their key.
fn ended_notes(jam: &Jam) -> Vec<(f64, f64, u8)> {
    let (notes, _) = pairs(&jam.answer_notes());
    let spb = jam.samples_per_beat();
    notes
        .into_iter()
        .map(|(on, off, key)| (on as f64 / spb, off as f64 / spb, key))
        .collect()
}

/// Asserts every note starts on the 16th grid.
fn assert_on_16ths(notes: &[(f64, f64, u8)]) {
    for &(on, _, key) in notes {
        assert!(
            ((on * 4.0) - (on * 4.0).round()).abs() < 1e-6,
            "note {key} at beat {on} is off the 16th grid"
        );
    }
}

/// Notes starting in `[from, to)`.
fn starting_in(notes: &[(f64, f64, u8)], from: f64, to: f64) -> Vec<(f64, f64, u8)> {
    notes
        .iter()
        .copied()
        .filter(|&(on, _, _)| on >= from - 1e-9 && on < to - 1e-9)
        .collect()
}

/// A jam in `mode` after `setup`.
fn jam_in(mode: JamMode, setup: impl FnOnce(&Shared)) -> Jam {
    Jam::start_with(ModelChoice::Default, |shared| {
        shared.settings.set_mode(mode);
        setup(shared);
    })
}

#[test]
fn given_one_bar_turns_when_trading_then_each_player_turn_is_answered_in_the_next_bar_and_silence_with_silence()
 {
    let mut jam = jam_in(JamMode::Trade, |s| {
        s.settings.trade_bars.store(1, Ordering::Relaxed);
    });
    // The player's turns are bars 0, 2, 4 (beats 0..4, 8..12, 16..20); bar 4 stays silent.
    jam.call(0.0);
    for (i, key) in [67, 65, 64, 62].into_iter().enumerate() {
        jam.note(key, 8.0 + i as f64, 8.5 + i as f64);
    }
    jam.run_synced_to(25.0);

    let notes = answer_beats(&jam);
    assert_on_16ths(&notes);
    assert!(
        !starting_in(&notes, 4.0, 8.0).is_empty(),
        "no answer in bar 1"
    );
    assert!(
        !starting_in(&notes, 12.0, 16.0).is_empty(),
        "no answer in bar 3"
    );
    for (from, to) in [(0.0, 4.0), (8.0, 12.0), (16.0, 25.0)] {
        assert!(
            starting_in(&notes, from, to).is_empty(),
            "Antiphon played in {from}..{to}: {notes:?}"
        );
    }
    for &(on, off, key) in &notes {
        let turn_end = (on / 4.0).floor() * 4.0 + 4.0;
        assert!(
            off <= turn_end + 1e-6,
            "note {key} {on}..{off} outlasts its turn"
        );
    }
    assert_eq!(jam.shared().late_notes.load(Ordering::Relaxed), 0);
}

#[test]
fn given_a_player_when_accompanying_then_antiphon_plays_bar_after_bar_until_the_player_is_idle() {
    let mut jam = jam_in(JamMode::Accompany, |s| {
        // Idle after two bars without a note.
        s.settings.max_call_bars.store(2, Ordering::Relaxed);
    });
    jam.call(4.0);
    jam.run_synced_to(30.0);

    let notes = answer_beats(&jam);
    assert_on_16ths(&notes);
    assert!(
        starting_in(&notes, 0.0, 8.0).is_empty(),
        "before the first bar"
    );
    let bars_played = [8.0, 12.0, 16.0]
        .iter()
        .filter(|&&bar| !starting_in(&notes, bar, bar + 4.0).is_empty())
        .count();
    assert!(
        bars_played >= 2,
        "accompaniment in only {bars_played} of bars 8, 12, 16: {notes:?}"
    );
    // The last note ended at 7.5; at 16 it is two bars ago, so the bar from 20 is not made.
    assert!(
        starting_in(&notes, 20.0, 30.0).is_empty(),
        "Antiphon went on after the player stopped: {notes:?}"
    );
    assert_eq!(jam.shared().late_notes.load(Ordering::Relaxed), 0);
}

#[test]
fn given_continue_mode_when_the_player_plays_then_nothing_comes_until_the_continue_control() {
    let mut jam = jam_in(JamMode::Continue, |_| {});
    jam.call(4.0);
    jam.run_synced_to(16.0);
    assert!(
        answer_beats(&jam).is_empty(),
        "Continue mode answered a call"
    );
    jam.control(16.5, JamControl::Continue);
    jam.run_synced_to(26.0);

    let notes = answer_beats(&jam);
    assert_on_16ths(&notes);
    assert!(!notes.is_empty(), "no continuation");
    assert!(
        notes
            .iter()
            .all(|&(on, off, _)| on >= 20.0 && off <= 24.0 + 1e-6),
        "the continuation is the bar from 20 (the call was one bar): {notes:?}"
    );
}

#[test]
fn given_loop_answer_when_the_answer_ends_then_it_repeats_note_for_note_until_the_player_plays() {
    let mut jam = jam_in(JamMode::CallResponse, |s| {
        s.settings.loop_answer.store(true, Ordering::Relaxed);
    });
    jam.call(4.0);
    jam.run_synced_to(24.5);
    let notes = ended_notes(&jam);
    let first = starting_in(&notes, 12.0, 16.0);
    assert!(!first.is_empty(), "no answer");
    for repeat in [16.0, 20.0] {
        let shifted: Vec<(f64, f64, u8)> = starting_in(&notes, repeat, repeat + 4.0)
            .into_iter()
            .map(|(on, off, key)| (on - (repeat - 12.0), off - (repeat - 12.0), key))
            .collect();
        assert_eq!(shifted.len(), first.len(), "repeat at {repeat}");
        for (a, b) in first.iter().zip(&shifted) {
            assert_eq!(a.2, b.2);
            assert!((a.0 - b.0).abs() < 1e-6 && (a.1 - b.1).abs() < 1e-6);
        }
    }
    // A new call (25..25.5, ended by silence at 26.5) before the repeat from 28 starts: that
    // repeat is dropped and the new call is answered from 28 instead.
    let generated = jam.shared().answers_generated.load(Ordering::Relaxed);
    jam.note(72, 25.0, 25.5);
    jam.run_synced_to(33.0);
    let notes = ended_notes(&jam);
    assert!(jam.shared().answers_generated.load(Ordering::Relaxed) > generated);
    let in_28: Vec<(f64, f64, u8)> = starting_in(&notes, 28.0, 32.0)
        .into_iter()
        .map(|(on, off, key)| (on - 16.0, off - 16.0, key))
        .collect();
    assert_ne!(in_28, first, "the old loop went on over the new call");
    // Loop off: the repeat already sent plays out, then nothing sounds.
    jam.shared()
        .settings
        .loop_answer
        .store(false, Ordering::Relaxed);
    jam.run_synced_to(42.0);
    let notes = answer_beats(&jam);
    assert!(starting_in(&notes, 40.0, 42.0).is_empty());
}

#[test]
fn given_an_answer_when_mutate_comes_then_a_new_answer_seeded_by_it_follows_it() {
    let mut jam = jam_in(JamMode::CallResponse, |_| {});
    jam.call(4.0);
    jam.run_synced_to(13.0);
    let generated = jam.shared().answers_generated.load(Ordering::Relaxed);
    jam.control(13.0, JamControl::Mutate);
    jam.run_synced_to(21.0);
    assert!(jam.shared().answers_generated.load(Ordering::Relaxed) > generated);
    let notes = answer_beats(&jam);
    assert_on_16ths(&notes);
    assert!(!starting_in(&notes, 12.0, 16.0).is_empty(), "no answer");
    let mutation = starting_in(&notes, 16.0, 21.0);
    assert!(
        !mutation.is_empty(),
        "no mutation after the answer: {notes:?}"
    );
    assert!(mutation.iter().all(|&(_, off, _)| off <= 20.0 + 1e-6));
}

#[test]
fn given_a_held_note_when_end_call_comes_then_the_call_ends_there_and_is_answered_at_the_next_bar()
{
    let mut jam = jam_in(JamMode::CallResponse, |_| {});
    jam.note(60, 4.0, 30.0);
    jam.note(62, 4.5, 5.0);
    jam.control(6.0, JamControl::EndCall);
    jam.run_synced_to(13.0);
    let notes: Vec<_> = answer_beats(&jam);
    let answer = starting_in(&notes, 0.0, 13.0);
    assert!(!answer.is_empty(), "End Call brought no answer");
    assert!(
        answer
            .iter()
            .all(|&(on, off, _)| on >= 8.0 && off <= 12.0 + 1e-6),
        "the answer is the bar from 8: {answer:?}"
    );
    jam.run_synced_to(31.0);
}

#[test]
fn given_a_minimum_call_length_when_the_player_pauses_then_the_answer_waits_for_it() {
    let mut jam = jam_in(JamMode::CallResponse, |s| {
        s.settings.min_call_beats.store(8.0, Ordering::Relaxed);
    });
    jam.note(60, 4.0, 4.5);
    jam.note(64, 5.0, 5.5);
    jam.run_synced_to(18.0);
    let notes = answer_beats(&jam);
    assert!(!notes.is_empty(), "no answer");
    assert!(
        notes.iter().all(|&(on, _, _)| on >= 12.0),
        "the call lasts until 12, the answer after it: {notes:?}"
    );
}

#[test]
fn given_answers_on_the_beat_when_a_call_ends_then_the_answer_starts_on_the_next_beat() {
    let mut jam = jam_in(JamMode::CallResponse, |s| {
        s.settings.answer_on_beat.store(true, Ordering::Relaxed);
    });
    jam.note(60, 4.0, 4.5);
    jam.note(64, 5.0, 5.5);
    // Silence ends the call at 6.5: the answer is the bar 7..11.
    jam.run_synced_to(12.0);
    let notes = answer_beats(&jam);
    assert_on_16ths(&notes);
    assert!(!notes.is_empty(), "no answer");
    assert!(
        notes
            .iter()
            .all(|&(on, off, _)| on >= 7.0 && off <= 11.0 + 1e-6),
        "{notes:?}"
    );
}

#[test]
fn given_a_seed_when_the_same_jam_is_played_twice_then_the_answers_are_the_same() {
    let play = || {
        let mut jam = jam_in(JamMode::CallResponse, |s| {
            s.settings.seed.store(42, Ordering::Relaxed);
            s.settings.temperature.store(1.5, Ordering::Relaxed);
        });
        jam.call(4.0);
        jam.note(67, 13.0, 13.5);
        jam.run_synced_to(20.5);
        answer_beats(&jam)
    };
    let (a, b) = (play(), play());
    assert!(!a.is_empty());
    assert_eq!(a, b);
}

#[test]
fn given_a_continue_key_when_it_is_pressed_then_it_acts_as_continue_and_does_not_sound() {
    let mut jam = jam_in(JamMode::Continue, |_| {});
    jam.settings.continue_key = Some(36);
    jam.call(4.0);
    jam.note(36, 16.5, 17.0);
    jam.run_synced_to(25.0);
    let notes = answer_beats(&jam);
    assert!(!notes.is_empty(), "the key brought no continuation");
    assert!(notes.iter().all(|&(on, _, _)| on >= 20.0), "{notes:?}");
    assert!(
        jam.on_channel(0).iter().all(|h| h.key != 36),
        "the Continue key sounded"
    );
}

#[test]
fn given_a_listen_channel_when_the_player_plays_on_another_then_it_passes_through_unanswered() {
    let mut jam = jam_in(JamMode::CallResponse, |_| {});
    jam.settings.listen_channel = Some(5);
    jam.call(4.0);
    jam.run_synced_to(17.0);
    assert!(
        answer_beats(&jam).is_empty(),
        "answered a channel not listened to"
    );
    assert_eq!(
        jam.on_channel(0).len(),
        8,
        "the call passes through, ons and offs"
    );
}

#[test]
fn given_a_key_down_when_it_becomes_the_continue_key_then_its_key_up_still_ends_it() {
    let mut jam = jam_in(JamMode::Continue, |_| {});
    jam.note(36, 4.0, 6.0);
    jam.run_synced_to(5.0);
    jam.settings.continue_key = Some(36);
    jam.run_synced_to(7.0);
    let (_, open) = pairs(&jam.on_channel(0));
    assert!(open.is_empty(), "the thru note hangs: {open:?}");
}

#[test]
fn given_a_heard_key_down_when_the_listen_channel_changes_then_its_key_up_still_ends_the_call() {
    let mut jam = jam_in(JamMode::CallResponse, |_| {});
    // The one-bar call C4 D4 E4 F4 from 4; F4 is down (7..7.5) when the channel changes.
    jam.call(4.0);
    jam.run_synced_to(7.2);
    jam.settings.listen_channel = Some(5);
    jam.run_synced_to(17.0);
    let (_, open) = pairs(&jam.on_channel(0));
    assert!(open.is_empty(), "the thru note hangs: {open:?}");
    // Heard, the key-up ends the call by silence at 8.5: the answer is the bar from 12 (unheard,
    // the call would only end at its maximum length, 8 bars on).
    let notes = answer_beats(&jam);
    assert!(
        !starting_in(&notes, 12.0, 16.0).is_empty(),
        "the key-up was not heard: the call did not end by silence ({notes:?})"
    );
}
