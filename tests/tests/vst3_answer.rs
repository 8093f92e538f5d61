//! The built `Antiphon.vst3` (with `assert_process_allocs`) as a VST3 host uses it, through our
//! own VST3 host (`antiphon_tests::vst3_host`): the buses and the bypass parameter a host looks
//! for, and one call of four notes answered on the grid, every note ended after the transport
//! stops.
//!
//! The jam runs in real time (`kRealtime`, each 512-sample block waits for its wall-clock time,
//! as in a live host) at 48 kHz and 120 BPM from beat 0, the transport stopping halfway through
//! the answer.

use std::time::{Duration, Instant};

use antiphon_tests::antiphon::{
    AnswerWindow, BEATS_PER_BAR, BLOCK_SAMPLES, CALL_CHANNEL, DEFAULT_SILENCE_BEATS, SAMPLE_RATE,
    SAMPLES_PER_BEAT, SIXTEENTH_SAMPLES, TEMPO_BPM, assert_no_stuck_notes, assert_on_the_grid,
    check_thru, describe, expected_answer_window, one_bar_call, param, phrase_inputs,
};
use antiphon_tests::bundle::{bundle_vst3, vst3_binary};
use antiphon_tests::events::{OutEvent, OutKind};
use antiphon_tests::jam::NoteLedger;
use antiphon_tests::vst3_host::{
    ParamPoint, Vst3Plugin, Vst3Setup, Vst3Transport, vst3_notes_in_block,
};
use vst3::Steinberg::kResultOk;

/// "Output Channel" 2: the answer's channel index.
const ANSWER_CHANNEL: u8 = 1;
/// The transport stops at this beat, halfway through the answer window (12..16).
const STOP_BEATS: f64 = 14.0;
/// How long the host goes on processing with the transport stopped.
const AFTER_STOP: Duration = Duration::from_millis(500);

/// Loads the bundled `.vst3` (building it when needed).
fn load() -> Vst3Plugin {
    let binary = vst3_binary(&bundle_vst3());
    Vst3Plugin::load(&binary).unwrap_or_else(|e| panic!("loading {}: {e}", binary.display()))
}

#[test]
fn given_the_vst3_bundle_when_a_host_loads_it_then_it_offers_a_stereo_output_note_buses_and_a_bypass()
 {
    let plugin = load();
    let audio_in = plugin.buses(false, true);
    let audio_out = plugin.buses(false, false);
    let events_in = plugin.buses(true, true);
    let events_out = plugin.buses(true, false);
    eprintln!("buses: {audio_in:?} {audio_out:?} {events_in:?} {events_out:?}");
    assert!(audio_in.is_empty(), "no audio input: {audio_in:?}");
    assert_eq!(audio_out.len(), 1, "one audio output: {audio_out:?}");
    assert_eq!(audio_out[0].channel_count, 2, "a stereo output");
    assert_eq!(events_in.len(), 1, "one event input: {events_in:?}");
    assert_eq!(events_out.len(), 1, "one event output: {events_out:?}");
    let bypass = plugin
        .bypass_param()
        .expect("a parameter flagged kIsBypass");
    assert_eq!(bypass.title, param::BYPASS);
    assert_eq!(bypass.step_count, 1, "bypass is on or off");
    for name in param::ALL {
        plugin
            .param_id(name)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    // The MIDI CC parameters that carry a host's controllers.
    plugin.midi_cc_param(15, 123).expect("MIDI Ch. 16 CC 123");
}

#[test]
fn given_a_call_of_four_notes_when_played_through_the_vst3_binary_then_the_answer_is_on_the_grid_and_every_note_ends_after_stop()
 {
    let mut plugin = load();
    let id = |name: &str| plugin.param_id(name).unwrap();
    // "Output Channel" 2 of 1..=16, "Seed" 42 of 0..=1,000,000 (normalized).
    let mut params = vec![
        ParamPoint {
            id: id(param::OUTPUT_CHANNEL),
            offset_samples: 0,
            value: 1.0 / 15.0,
        },
        ParamPoint {
            id: id(param::SEED),
            offset_samples: 0,
            value: f64::from(42.0f32 / 1_000_000.0),
        },
    ];
    plugin
        .activate(Vst3Setup {
            sample_rate_hz: SAMPLE_RATE,
            max_block_samples: BLOCK_SAMPLES,
            offline: false,
        })
        .unwrap();

    // The call, as events at absolute samples.
    let call = one_bar_call(4.0);
    let inputs = phrase_inputs(&call, SAMPLES_PER_BEAT);
    let window: AnswerWindow = expected_answer_window(&call, DEFAULT_SILENCE_BEATS, BEATS_PER_BAR);
    let stop_sample = (STOP_BEATS * SAMPLES_PER_BEAT) as u64;
    let after_stop_blocks =
        (AFTER_STOP.as_secs_f64() * SAMPLE_RATE / f64::from(BLOCK_SAMPLES)).ceil() as u64;
    let blocks = stop_sample / u64::from(BLOCK_SAMPLES) + after_stop_blocks;

    let mut outputs: Vec<OutEvent> = Vec::new();
    let mut stop_block_start = None;
    let started = Instant::now();
    for b in 0..blocks {
        let start = b * u64::from(BLOCK_SAMPLES);
        let end = start + u64::from(BLOCK_SAMPLES);
        // The transport stops at the first block that starts at or after the stop beat; its
        // position stays where it stopped.
        let playing = start < stop_sample;
        if !playing && stop_block_start.is_none() {
            stop_block_start = Some(start);
        }
        let position_samples = start.min(stop_block_start.unwrap_or(start));
        let transport = Vst3Transport::in_4_4(
            playing,
            TEMPO_BPM,
            position_samples as f64 / SAMPLES_PER_BEAT,
            position_samples as i64,
        );
        let events = vst3_notes_in_block(&inputs, start, end);
        let out = plugin
            .process(BLOCK_SAMPLES, &events, &params, &transport)
            .unwrap();
        params.clear();
        assert_eq!(out.result, kResultOk, "block {b}: process failed");
        assert_eq!(out.out_of_block_events, 0, "block {b}: events outside it");
        assert_eq!(out.output_peak, 0.0, "block {b}: the output is silent");
        let mut last = 0;
        for n in &out.notes {
            assert!(
                n.sample >= last,
                "block {b}: events out of order: {:?}",
                out.notes
            );
            last = n.sample;
        }
        outputs.extend(out.notes);
        // Real time: the next block waits for the wall-clock time this one took.
        let due = Duration::from_secs_f64(end as f64 / SAMPLE_RATE);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
    }
    plugin.deactivate().unwrap();
    eprintln!("the plugin sent:\n{}", describe(&outputs, SAMPLES_PER_BEAT));

    // The call came back on its channel at its samples.
    check_thru(&inputs, &outputs, CALL_CHANNEL).unwrap();
    // The answer: notes on its channel, in the window, on the 16th grid, all before the stop.
    let answer: Vec<OutEvent> = outputs
        .iter()
        .filter(|e| e.channel == ANSWER_CHANNEL)
        .copied()
        .collect();
    let ons: Vec<OutEvent> = answer
        .iter()
        .filter(|e| e.kind == OutKind::On)
        .copied()
        .collect();
    assert!(!ons.is_empty(), "no answer to the call");
    let stop_block_start = stop_block_start.expect("the transport stopped");
    let before_stop = AnswerWindow {
        start_beats: window.start_beats,
        end_beats: window
            .end_beats
            .min(stop_block_start as f64 / SAMPLES_PER_BEAT),
    };
    assert_on_the_grid(&ons, before_stop, "VST3 answer");
    assert!(
        ons.iter().all(|e| e.sample % SIXTEENTH_SAMPLES == 0),
        "answer note-ons off the 16th grid"
    );
    // Every note ended: each note-on has its note-off, and what sounded when the transport
    // stopped ended at the first sample of the first stopped block.
    assert_no_stuck_notes(&outputs, &[CALL_CHANNEL, ANSWER_CHANNEL], "VST3 jam");
    let ledger = NoteLedger::new(&answer);
    let sounding_at_stop: Vec<_> = ledger
        .notes
        .iter()
        .filter(|n| n.on_sample < stop_block_start && n.off_sample >= stop_block_start)
        .collect();
    for n in &sounding_at_stop {
        assert_eq!(
            n.off_sample, stop_block_start,
            "an answer note sounding at the stop ended late: {n:?}"
        );
    }
    eprintln!(
        "{} answer notes before the stop at beat {STOP_BEATS}, {} of them ended by it",
        ons.len(),
        sounding_at_stop.len()
    );
}
