//! A model far slower than the render: an offline bounce still has every answer whole, in CLAP
//! (`clap.render`) and in VST3 (`setupProcessing(kOffline)`, called once, as a DAW does), and
//! a live (real-time) activation afterwards does not wait for the model.
//!
//! The model is slowed on purpose: `ANTIPHON_FAULT=slow-notes:40` (the engine's test-only fault
//! injection, set before the plugin is loaded) makes every generated note take 40 ms more, so an
//! answer of a few notes takes longer to make than the whole render takes to run. The host
//! renders blocks back to back, with no pause between them.
//! - Offline, the plugin waits for its worker after each block, so the answers are whole; with
//!   the same seed, the CLAP and the VST3 bounce have the very same answers.
//! - In real time, the plugin never waits: the same render unpaced loses the notes the model had
//!   not made in time. That is what shows the wait is needed, and, after an offline bounce, that
//!   live playback runs in real time again (nice-plug 0.4.2 alone would keep the VST3 plugin in
//!   the offline mode of the setup before; `plugin/src/vst3_shim.rs` mends it).
//!
//! One test, so that no other test shares the process's environment.

use antiphon_tests::antiphon::{
    ANSWER_CHANNEL, AnswerWindow, BEATS_PER_BAR, CALL_CHANNEL, DEFAULT_SILENCE_BEATS, SAMPLE_RATE,
    SAMPLES_PER_BEAT, TEMPO_BPM, assert_no_stuck_notes, assert_on_the_grid, describe,
    expected_answer_window, load_for_render, one_bar_call, param, phrase_inputs,
};
use antiphon_tests::bundle::{bundle_vst3, vst3_binary};
use antiphon_tests::events::{OutEvent, OutKind};
use antiphon_tests::jam::{JamConfig, JamDriver, NoteDialect, PhraseNote, SentInput};
use antiphon_tests::vst3_host::{
    ParamPoint, Vst3Plugin, Vst3Setup, Vst3Transport, vst3_notes_in_block,
};
use vst3::Steinberg::kResultOk;

/// The engine's fault-injection variable (`antiphon_engine::worker::fault::FAULT_ENV`).
const ENV_FAULT: &str = "ANTIPHON_FAULT";
/// Every generated note takes this much longer (ms).
const SLOW_NOTES: &str = "slow-notes:40";
/// Samples per block of every render.
const RENDER_BLOCK_SAMPLES: u32 = 8_192;
/// Calls in one render.
const CALLS: usize = 3;
/// "Seed" of every render.
const SEED: u32 = 7;
/// Where the first call starts.
const FIRST_CALL_BEATS: f64 = 4.0;

/// The calls of a render and the window each answer is due in.
fn calls() -> Vec<(Vec<PhraseNote>, AnswerWindow)> {
    let mut start_beats = FIRST_CALL_BEATS;
    (0..CALLS)
        .map(|_| {
            let call = one_bar_call(start_beats);
            let window = expected_answer_window(&call, DEFAULT_SILENCE_BEATS, BEATS_PER_BAR);
            start_beats = window.end_beats + BEATS_PER_BAR;
            (call, window)
        })
        .collect()
}

/// Where every render ends: a bar after the last answer.
fn end_beats() -> f64 {
    calls().last().map_or(0.0, |(_, w)| w.end_beats) + BEATS_PER_BAR
}

/// The answer's events of a render, as (sample, on, key): what must match between renders.
fn answer_of(outputs: &[OutEvent]) -> Vec<(u64, bool, u8)> {
    outputs
        .iter()
        .filter(|e| e.channel == ANSWER_CHANNEL)
        .map(|e| (e.sample, e.kind == OutKind::On, e.key))
        .collect()
}

/// Answer note-ons of a render.
fn answer_ons(outputs: &[OutEvent]) -> usize {
    outputs
        .iter()
        .filter(|e| e.channel == ANSWER_CHANNEL && e.kind == OutKind::On)
        .count()
}

/// Asserts every note of `outputs` ended, and every answer note-on lies in a window, on the grid.
fn assert_whole_and_on_the_grid(outputs: &[OutEvent], who: &str) {
    assert_no_stuck_notes(outputs, &[CALL_CHANNEL, ANSWER_CHANNEL], who);
    let mut in_windows = 0;
    for (_, window) in calls() {
        let (start, end) = window.samples(SAMPLES_PER_BEAT);
        let inside: Vec<OutEvent> = outputs
            .iter()
            .filter(|e| {
                e.channel == ANSWER_CHANNEL
                    && e.kind == OutKind::On
                    && (start..end).contains(&e.sample)
            })
            .copied()
            .collect();
        assert_on_the_grid(&inside, window, who);
        in_windows += inside.len();
    }
    assert_eq!(
        in_windows,
        answer_ons(outputs),
        "{who}: every answer note-on is in an answer window"
    );
}

/// Renders the calls through the `.clap`, blocks back to back, offline (`clap.render`) or in
/// real time; returns what the plugin sent.
fn clap_render(offline: bool) -> Vec<OutEvent> {
    let seed = SEED.to_string();
    let mut plugin = load_for_render(&[(param::SEED, &seed)], offline, RENDER_BLOCK_SAMPLES);
    let config = JamConfig::unpaced(SAMPLE_RATE, RENDER_BLOCK_SAMPLES, TEMPO_BPM);
    let mut jam = JamDriver::new(&mut plugin, config).unwrap();
    jam.play_from(0.0);
    for (call, _) in calls() {
        jam.schedule_phrase(&call, NoteDialect::Clap).unwrap();
    }
    jam.run_until_beats(end_beats()).unwrap();
    jam.outputs().to_vec()
}

/// The calls as a host's inputs at session samples.
fn vst3_inputs() -> Vec<SentInput> {
    let notes: Vec<PhraseNote> = calls().into_iter().flat_map(|(call, _)| call).collect();
    phrase_inputs(&notes, SAMPLES_PER_BEAT)
}

/// Activates `plugin` (one `setupProcessing`, offline or real time), renders the calls with
/// blocks back to back from beat 0, deactivates; returns what the plugin sent.
fn vst3_render(plugin: &mut Vst3Plugin, offline: bool) -> Vec<OutEvent> {
    let id = |name: &str| plugin.param_id(name).unwrap();
    // "Output Channel" 2 of 1..=16, "Seed" of 0..=1,000,000 (normalized).
    let mut params = vec![
        ParamPoint {
            id: id(param::OUTPUT_CHANNEL),
            offset_samples: 0,
            value: 1.0 / 15.0,
        },
        ParamPoint {
            id: id(param::SEED),
            offset_samples: 0,
            value: f64::from(SEED as f32 / 1_000_000.0),
        },
    ];
    plugin
        .activate(Vst3Setup {
            sample_rate_hz: SAMPLE_RATE,
            max_block_samples: RENDER_BLOCK_SAMPLES,
            offline,
        })
        .unwrap();
    let inputs = vst3_inputs();
    let end_sample = (end_beats() * SAMPLES_PER_BEAT) as u64;
    let mut outputs = Vec::new();
    let mut start = 0u64;
    while start < end_sample {
        let end = start + u64::from(RENDER_BLOCK_SAMPLES);
        let transport = Vst3Transport::in_4_4(
            true,
            TEMPO_BPM,
            start as f64 / SAMPLES_PER_BEAT,
            start as i64,
        );
        let events = vst3_notes_in_block(&inputs, start, end);
        let out = plugin
            .process(RENDER_BLOCK_SAMPLES, &events, &params, &transport)
            .unwrap();
        params.clear();
        assert_eq!(out.result, kResultOk, "process failed at sample {start}");
        assert_eq!(out.out_of_block_events, 0, "events outside the block");
        outputs.extend(out.notes);
        start = end;
    }
    plugin.deactivate().unwrap();
    outputs
}

#[test]
fn given_a_model_slower_than_the_render_when_a_clap_or_vst3_host_bounces_then_every_answer_is_whole_and_live_playback_after_it_does_not_wait()
 {
    // SAFETY: set before any plugin is loaded, while this process's only test is the only
    // thread that reads the environment.
    unsafe { std::env::set_var(ENV_FAULT, SLOW_NOTES) };

    // CLAP: offline, then the same render in real time.
    let clap_offline = clap_render(true);
    eprintln!(
        "CLAP offline render:\n{}",
        describe(&clap_offline, SAMPLES_PER_BEAT)
    );
    assert_whole_and_on_the_grid(&clap_offline, "CLAP offline");
    let clap_live = clap_render(false);
    assert_whole_and_on_the_grid(&clap_live, "CLAP real time");

    // VST3: one instance, offline (as a bounce), then real time again (as live playback).
    let binary = vst3_binary(&bundle_vst3());
    let mut plugin =
        Vst3Plugin::load(&binary).unwrap_or_else(|e| panic!("loading {}: {e}", binary.display()));
    let vst3_offline = vst3_render(&mut plugin, true);
    assert_whole_and_on_the_grid(&vst3_offline, "VST3 offline");
    let vst3_live = vst3_render(&mut plugin, false);
    assert_whole_and_on_the_grid(&vst3_live, "VST3 real time");

    let counts = [&clap_offline, &clap_live, &vst3_offline, &vst3_live].map(|o| answer_ons(o));
    eprintln!(
        "answer note-ons: CLAP offline {}, CLAP real time {}, VST3 offline {}, VST3 real time \
         {} (each answer window {:?})",
        counts[0],
        counts[1],
        counts[2],
        counts[3],
        calls().iter().map(|(_, w)| *w).collect::<Vec<_>>()
    );
    assert!(counts[0] > 0, "the CLAP bounce has answers");
    assert_eq!(
        answer_of(&vst3_offline),
        answer_of(&clap_offline),
        "with the same seed, the VST3 bounce has the same answers as the CLAP bounce:\nVST3:\n{}",
        describe(&vst3_offline, SAMPLES_PER_BEAT)
    );
    assert!(
        counts[1] < counts[0],
        "CLAP in real time does not wait for the slow model, so it loses notes the bounce has \
         ({} of {})",
        counts[1],
        counts[0]
    );
    assert!(
        counts[3] < counts[2],
        "VST3 in real time after the bounce does not wait for the slow model ({} of {})",
        counts[3],
        counts[2]
    );
}
