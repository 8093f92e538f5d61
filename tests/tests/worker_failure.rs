//! The built plugin's worker panics in its first answer (`ANTIPHON_FAULT=panic-in-answer:1`,
//! the engine's test-only fault injection, set before the plugin is loaded): the host goes on
//! processing, nothing is left sounding, MIDI thru is exact, the failure is logged, and the
//! restarted worker answers the next call on the grid.
//!
//! `ANTIPHON_FAULT` and `NICE_LOG` are set before the plugin is loaded; this file holds one test
//! so that no other test shares the process.

use antiphon_tests::antiphon::{
    ANSWER_CHANNEL, BEATS_PER_BAR, BLOCK_SAMPLES, CALL_CHANNEL, DEFAULT_SILENCE_BEATS, LOG_TIMEOUT,
    SAMPLE_RATE, SAMPLES_PER_BEAT, assert_balanced, assert_clean_blocks, assert_on_the_grid,
    check_thru, describe, expected_answer_window, load_with_channel_2_thru, log_into, one_bar_call,
    ons_from, start_jam, wait_for_log,
};
use antiphon_tests::jam::NoteDialect;
use antiphon_tests::util::TempDir;

/// The engine's fault-injection variable (`antiphon_engine::worker::fault::FAULT_ENV`).
const ENV_FAULT: &str = "ANTIPHON_FAULT";

#[test]
fn given_a_worker_that_panics_in_its_first_answer_when_jamming_then_nothing_sticks_thru_goes_on_and_the_next_call_is_answered()
 {
    let dir = TempDir::new("antiphon-worker-failure").unwrap();
    // SAFETY: set before the plugin is loaded, while this process's only test is the only
    // thread that reads the environment.
    unsafe { std::env::set_var(ENV_FAULT, "panic-in-answer:1") };
    let nice_log = log_into(&dir);
    let mut plugin = load_with_channel_2_thru();
    plugin.activate(SAMPLE_RATE, 1, BLOCK_SAMPLES).unwrap();
    plugin.start_processing().unwrap();

    let mut jam = start_jam(&mut plugin).unwrap();
    // The worker answers the first call as soon as its first key is up: that answer panics
    // after its first note went to the audio thread.
    jam.schedule_phrase(&one_bar_call(4.0), NoteDialect::Clap)
        .unwrap();
    // By the next call the restarted worker has its model again.
    let next = one_bar_call(20.0);
    jam.schedule_phrase(&next, NoteDialect::Clap).unwrap();
    let window = expected_answer_window(&next, DEFAULT_SILENCE_BEATS, BEATS_PER_BAR);
    jam.run_until_beats(window.end_beats + BEATS_PER_BAR)
        .unwrap();
    eprintln!(
        "the plugin sent:\n{}",
        describe(jam.outputs(), SAMPLES_PER_BEAT)
    );

    assert_clean_blocks(&jam.stats());
    check_thru(jam.sent(), jam.outputs(), CALL_CHANNEL).unwrap();
    assert_balanced(
        &jam,
        &[CALL_CHANNEL, ANSWER_CHANNEL],
        "after a worker panic",
    );
    let (from_sample, _) = window.samples(SAMPLES_PER_BEAT);
    let answer = ons_from(jam.outputs(), ANSWER_CHANNEL, from_sample);
    assert!(
        !answer.is_empty(),
        "the restarted worker did not answer the next call"
    );
    assert_on_the_grid(&answer, window, "the restarted worker");
    drop(jam);

    let (log, found) = wait_for_log(&nice_log, &plugin, LOG_TIMEOUT, |text| {
        text.lines().any(|line| {
            line.contains("the worker panicked")
                && line.contains("injected fault")
                && line.contains("failure 1")
        })
    });
    assert!(found, "no log line reports the worker's panic:\n{log}");
    plugin.stop_processing().unwrap();
    plugin.deactivate().unwrap();
}
