//! Whole jams driven in memory: the audio side in simulated blocks, the real worker thread with
//! the shipped model and a fixed seed, ONNX Runtime from `target/onnxruntime` (`cargo xtask
//! fetch-ort`).

use std::sync::atomic::Ordering;

use antiphon_engine::{HostTransport, InputEvent, OutKind};

mod support;

use support::{BLOCK, Jam, pairs};

#[test]
fn given_a_one_bar_call_when_the_silence_passes_then_the_answer_fills_the_next_bar_on_the_16th_grid()
 {
    let mut jam = Jam::start();
    jam.call(4.0);
    jam.run_to(7.6);
    jam.wait_for_answers(1);
    jam.run_to(17.0);

    let answer = jam.answer_notes();
    let (notes, open) = pairs(&answer);
    assert!(open.is_empty(), "answer notes left sounding: {open:?}");
    assert!(!notes.is_empty(), "the model answered with silence");
    let spb = jam.samples_per_beat();
    for &(on, off, key) in &notes {
        assert!(
            on >= (12.0 * spb) as u64 && on < (16.0 * spb) as u64,
            "note {key} at {on} outside bar 12..16"
        );
        assert_eq!(on % 6000, 0, "note {key} at {on} is off the 16th grid");
        assert!(off <= (16.0 * spb) as u64);
    }
    // MIDI thru: the call came back on channel 0 at the samples it went in.
    let thru: Vec<u64> = jam
        .heard
        .iter()
        .filter(|h| h.channel == 0 && h.kind == OutKind::On)
        .map(|h| h.sample)
        .collect();
    assert_eq!(thru, vec![96_000, 120_000, 144_000, 168_000]);
    assert!(jam.shared().last_step_us.load(Ordering::Relaxed) > 0.0);
}

#[test]
fn given_the_player_goes_on_inside_the_silence_when_the_call_ends_later_then_only_the_whole_call_is_answered()
 {
    let mut jam = Jam::start();
    jam.note(60, 4.0, 4.5);
    jam.note(62, 5.0, 5.5);
    jam.run_to(5.6);
    // A speculative answer after each release; the one to the two-note call would start at 8.
    jam.wait_for_answers(2);
    jam.note(64, 6.25, 6.75); // inside the silence: the call goes on
    jam.note(67, 7.5, 9.0); // ...and crosses the bar line: the call ends at 10.0
    jam.run_to(9.1);
    jam.wait_for_answers(4);
    // Notes from 4 to 9: two bars of call, so two bars of answer from 12.
    jam.run_to(21.0);
    let answer = jam.answer_notes();
    let (notes, open) = pairs(&answer);
    assert!(open.is_empty());
    let spb = jam.samples_per_beat();
    for &(on, _, key) in &notes {
        assert!(
            on >= (12.0 * spb) as u64,
            "note {key} at {on}: the dropped answer (from beat 8) played"
        );
        assert!(
            on < (16.0 * spb) as u64 * 2,
            "note {key} at {on}: answer too long"
        );
    }
}

#[test]
fn given_an_answer_playing_when_the_transport_stops_then_every_answer_note_ends_in_the_first_stopped_block()
 {
    let mut jam = Jam::start();
    jam.settings.out_channel = 1;
    jam.note(60, 0.0, 3.9);
    jam.run_to(4.0);
    jam.wait_for_answers(1);
    // Answer: bar 8..12 (call ended at 4.9). Play into it and find a moment with a note sounding.
    let spb = jam.samples_per_beat();
    let mut stop_at = None;
    while jam.pos_beats.unwrap() < 12.0 {
        jam.block();
        let (_, open) = pairs(&jam.answer_notes());
        if !open.is_empty() {
            stop_at = Some(jam.sample);
            break;
        }
    }
    let stop_at = stop_at.expect("no answer note sounded");
    jam.pos_beats = None; // transport stops
    jam.block();
    let (_, open) = pairs(&jam.answer_notes());
    assert!(open.is_empty(), "still sounding after stop: {open:?}");
    assert!(
        jam.heard
            .iter()
            .filter(|h| h.sample >= stop_at)
            .all(|h| h.kind == OutKind::Off)
    );
    for _ in 0..200 {
        jam.block();
    }
    assert!(
        jam.heard
            .iter()
            .filter(|h| h.sample >= stop_at)
            .all(|h| h.kind == OutKind::Off),
        "a note started after the stop"
    );
    let _ = spb;
}

#[test]
fn given_an_answer_playing_when_the_host_loops_back_then_its_notes_end_at_the_jump() {
    let mut jam = Jam::start();
    jam.note(60, 0.0, 3.9);
    jam.run_to(4.0);
    jam.wait_for_answers(1);
    let mut jumped_at = None;
    while jam.pos_beats.unwrap() < 12.0 {
        jam.block();
        if !pairs(&jam.answer_notes()).1.is_empty() {
            jumped_at = Some(jam.sample);
            break;
        }
    }
    let jumped_at = jumped_at.expect("no answer note sounded");
    jam.pos_beats = Some(0.0); // loop back to the start
    jam.block();
    assert!(
        pairs(&jam.answer_notes()).1.is_empty(),
        "notes still sounding after the loop jump"
    );
    jam.run_to(13.0);
    assert!(
        jam.answer_notes()
            .iter()
            .filter(|h| h.sample >= jumped_at)
            .all(|h| h.kind == OutKind::Off),
        "the old answer went on after the jump"
    );
}

#[test]
fn given_a_tempo_change_inside_the_answer_when_it_plays_then_notes_stay_on_the_beat_grid() {
    let mut jam = Jam::start();
    jam.note(60, 0.0, 3.9);
    jam.run_to(4.0);
    jam.wait_for_answers(1);
    jam.run_to(8.0);
    // From beat 8 the tempo is 90 BPM: 32,000 samples per beat, a 16th is 8,000 samples.
    let switch_sample = jam.sample;
    let switch_beats = jam.pos_beats.unwrap();
    jam.tempo_bpm = 90.0;
    jam.run_to(13.0);
    for h in jam
        .answer_notes()
        .iter()
        .filter(|h| h.kind == OutKind::On && h.sample >= switch_sample)
    {
        let beats = switch_beats + (h.sample - switch_sample) as f64 / 32_000.0;
        let sixteenths = beats * 4.0;
        assert!(
            (sixteenths - sixteenths.round()).abs() < 1e-3,
            "note at beat {beats} is off the grid"
        );
    }
    assert!(pairs(&jam.answer_notes()).1.is_empty());
}

#[test]
fn given_a_stopped_transport_when_the_player_plays_then_the_own_clock_answers_on_its_bar_lines() {
    let mut jam = Jam::start();
    jam.pos_beats = None;
    // Own clock at 120 BPM from beat 0: play by sample position.
    let spb = jam.samples_per_beat();
    let mut events: Vec<(u64, InputEvent)> = Vec::new();
    for (i, key) in [67u8, 65, 64, 62].into_iter().enumerate() {
        let on = ((i as f64) * spb) as u64;
        let off = ((i as f64 + 0.5) * spb) as u64;
        events.push((
            on,
            InputEvent::NoteOn {
                offset: 0,
                channel: 0,
                key,
                velocity: 90,
            },
        ));
        events.push((
            off,
            InputEvent::NoteOff {
                offset: 0,
                channel: 0,
                key,
            },
        ));
    }
    let transport = HostTransport {
        playing: false,
        tempo_bpm: Some(120.0),
        ..Default::default()
    };
    while jam.sample < (13.0 * spb) as u64 {
        let block_end = jam.sample + u64::from(BLOCK);
        let input: Vec<InputEvent> = events
            .iter()
            .filter(|(s, _)| *s >= jam.sample && *s < block_end)
            .map(|&(s, e)| e.with_offset((s - jam.sample) as u32))
            .collect();
        jam.process(&transport, input);
    }
    let (notes, open) = pairs(&jam.answer_notes());
    assert!(open.is_empty());
    assert!(!notes.is_empty(), "no answer without the transport");
    for (on, _, _) in notes {
        // The call ends at 4.5 beats; the answer starts at the bar line at beat 8 of the own clock.
        assert!(
            on >= (8.0 * spb) as u64,
            "answer note at {on} before the bar line"
        );
        assert_eq!(on % 6000, 0);
    }
}
