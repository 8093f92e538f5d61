//! Switching models while a jam goes on: the player's pick (as the plugin's Model parameter
//! publishes it) loads the model on the worker; an answer that is playing goes on to its end and
//! every note gets its note-off; a refused pick stops the answers (MIDI thru goes on) with the
//! reason in the status text; a drum model answers on channel 10.

use antiphon_engine::{ModelChoice, ModelPick, OutKind, WorkerStatus};
use antiphon_models::test_support::DRUM_KIT;

mod support;

use support::{Jam, pairs, wait_until};

/// The drum channel index (MIDI channel 10).
const DRUM_CHANNEL: u8 = 9;
/// The answer channel index of [`Jam`] (MIDI channel 2).
const ANSWER_CHANNEL: u8 = 1;

/// Asserts that nothing sounds on `channel` and every note-off had its note-on.
fn assert_balanced(jam: &Jam, channel: u8) {
    let (_, open) = pairs(&jam.on_channel(channel));
    assert!(open.is_empty(), "channel {channel}: left sounding {open:?}");
}

/// Note-ons on `channel` at or after `beats`.
fn ons_from(jam: &Jam, channel: u8, beats: f64) -> usize {
    let from = (beats * jam.samples_per_beat()) as u64;
    jam.on_channel(channel)
        .iter()
        .filter(|h| h.kind == OutKind::On && h.sample >= from)
        .count()
}

#[test]
fn given_an_answer_playing_when_the_model_is_switched_then_it_plays_to_its_end_and_the_next_call_gets_the_new_model()
 {
    let mut jam = Jam::start_with(ModelChoice::Default, |shared| {
        shared.settings.set_model_pick(ModelPick::Melody);
    });
    // Call 1 (beats 4..7.5) is answered in bar 12..16 by melody_basic.
    jam.call(4.0);
    jam.run_to(7.6);
    jam.wait_for_answers(1);
    assert!(
        jam.run_until_sounding(ANSWER_CHANNEL, 16.0),
        "no answer note sounded"
    );

    // While a note of it sounds, the player picks Custom File with no file: refused.
    jam.shared().settings.set_model_pick(ModelPick::CustomFile);
    jam.wait_for_status(WorkerStatus::ModelRefused);
    let text = jam.shared().status_text();
    assert!(
        text.error.contains("no model file"),
        "the status text says why: {text:?}"
    );
    jam.run_to(17.0);
    assert_balanced(&jam, ANSWER_CHANNEL);

    // No model: call 2 (beats 20..23.5) comes back through MIDI thru, with no answer in 28..32.
    jam.call(20.0);
    jam.run_to(33.0);
    assert_eq!(
        ons_from(&jam, ANSWER_CHANNEL, 24.0),
        0,
        "answered without a model"
    );
    assert_eq!(ons_from(&jam, 0, 20.0), 4, "MIDI thru goes on");

    // The project's own file, a tiny drum-kit model: loaded for Custom File.
    let drums = DRUM_KIT.write(env!("CARGO_TARGET_TMPDIR"), "engine_tiny_drum_kit");
    jam.instance.worker.set_custom_file(Some(drums));
    jam.wait_for_status(WorkerStatus::Ready);
    assert_eq!(
        jam.shared().status_text().model_name,
        "engine_tiny_drum_kit"
    );

    // Call 3 (beats 36..39.5) is answered on the drum channel in 44..48; while a drum note
    // sounds, the player goes back to Melody (the project file goes too).
    let before = jam.generated();
    jam.call(36.0);
    jam.run_to(39.6);
    wait_until("a drum answer", || jam.generated() > before);
    assert!(
        jam.run_until_sounding(DRUM_CHANNEL, 48.0),
        "no drum note sounded"
    );
    jam.instance.worker.set_custom_file(None);
    jam.shared().settings.set_model_pick(ModelPick::Melody);
    jam.wait_for_status(WorkerStatus::Ready);
    wait_until("melody_basic", || {
        jam.shared().status_text().model_name != "engine_tiny_drum_kit"
    });
    jam.run_to(49.0);
    assert_balanced(&jam, DRUM_CHANNEL);
    assert!(ons_from(&jam, DRUM_CHANNEL, 44.0) > 0);
    assert_eq!(
        ons_from(&jam, ANSWER_CHANNEL, 44.0),
        0,
        "the drum answer is on channel 10 only"
    );

    // Call 4 (beats 52..55.5) is answered by melody_basic again, on the output channel.
    let before = jam.generated();
    jam.call(52.0);
    jam.run_to(55.6);
    wait_until("a melody answer", || jam.generated() > before);
    jam.run_to(65.0);
    assert!(ons_from(&jam, ANSWER_CHANNEL, 60.0) > 0, "melody answered");
    assert_eq!(ons_from(&jam, DRUM_CHANNEL, 49.0), 0);
    assert_balanced(&jam, ANSWER_CHANNEL);
    assert_balanced(&jam, DRUM_CHANNEL);
}

#[test]
fn given_a_model_playing_when_another_is_picked_then_it_loads_beside_it_and_takes_over_at_the_bar_line()
 {
    let mut jam = Jam::start_with(ModelChoice::Default, |shared| {
        shared.settings.set_model_pick(ModelPick::Melody);
    });
    jam.run_to(1.0);
    assert_eq!(jam.shared().status_text().model_name, "melody_basic");
    // The player picks Drums a beat into bar 0; the model loads while no block is processed
    // (less than the time to the bar line at 120 BPM: 1.5 s).
    jam.shared().settings.set_model_pick(ModelPick::Drums);
    std::thread::sleep(std::time::Duration::from_millis(700));
    assert_eq!(
        jam.shared().status_text().model_name,
        "melody_basic",
        "the new model took over before the bar line"
    );
    assert_eq!(jam.shared().status(), WorkerStatus::Ready);
    jam.run_to(3.9);
    jam.sync();
    assert_eq!(jam.shared().status_text().model_name, "melody_basic");
    jam.run_to(4.1);
    wait_until("the drum model takes over at the bar line", || {
        jam.shared().status_text().model_name == "drums_kit"
    });
}
