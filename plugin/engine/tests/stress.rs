//! The audio side under random abuse, with no worker: random player input, random answers pushed
//! into the ring as a worker would, random transport (play, stop, seek, loop, tempo and
//! signature changes, block sizes 1..4096, sample rates 22.05k..192k), bypass and thru toggles,
//! listen channel and Continue key changes, momentary controls (Panic among them), resets. Invariants: events inside each block and in time order, no note-on for a sounding
//! note, no note-off for a silent one, and after a final reset nothing sounds.

use std::collections::HashSet;
use std::sync::Arc;

use antiphon_engine::queues::{AnswerHeader, AnswerMsg, AnswerNote, answer_queue, capture_queue};
use antiphon_engine::{
    AudioEngine, AudioSettings, HostTransport, InputEvent, JamControl, OutKind, Shared,
};
use antiphon_models::Rng;

/// One random case; returns the number of events checked.
fn run_case(seed: u64) -> usize {
    let mut rng = Rng::seeded(seed);
    let mut pick = |n: u64| rng.next_u64() % n;
    let shared = Arc::new(Shared::default());
    let (capture_tx, mut capture_rx) = capture_queue();
    let (mut answer_tx, answer_rx) = answer_queue();
    let mut engine = AudioEngine::new(shared.clone(), capture_tx, answer_rx);

    let sample_rates = [22_050.0, 44_100.0, 48_000.0, 96_000.0, 192_000.0];
    let mut sample_rate = sample_rates[pick(5) as usize];
    let mut tempo = 60.0 + pick(180) as f64;
    let mut pos = 0.0f64;
    let mut playing = true;
    let mut sig = (4u32, 4u32);
    let mut settings = AudioSettings::default();
    let mut sounding: HashSet<(u8, u8)> = HashSet::new();
    let mut answer_id = 1;
    let mut checked = 0;

    for _ in 0..300 {
        match pick(40) {
            0 => playing = !playing,
            1 => pos = pick(64) as f64 * 0.37,
            2 => tempo = 30.0 + pick(270) as f64,
            3 => sig = [(4, 4), (3, 4), (6, 8), (7, 8), (5, 4)][pick(5) as usize],
            4 => settings.bypassed = !settings.bypassed,
            5 => settings.midi_thru = !settings.midi_thru,
            6 => settings.interrupt = !settings.interrupt,
            7 => settings.out_channel = pick(16) as u8,
            8 => engine.release_all_next_block(),
            9 => sample_rate = sample_rates[pick(5) as usize],
            10 => settings.listen_channel = [None, Some(0), Some(1)][pick(3) as usize],
            11 => settings.continue_key = [None, Some(60), Some(57)][pick(3) as usize],
            _ => {}
        }
        // The worker's part: drain captured input and sometimes send an answer near the playhead.
        while capture_rx.pop().is_some() {}
        if pick(6) == 0 {
            let start = pos + pick(8) as f64 * 0.25;
            let header = AnswerHeader {
                answer_id,
                epoch: shared.epoch.load(std::sync::atomic::Ordering::Acquire),
                input_seen: engine.captured_events(),
                call_end_beats: start - pick(3) as f64 * 0.5,
                start_beats: start,
                end_beats: start + 4.0,
                resume_from_beats: None,
            };
            let _ = answer_tx.push(AnswerMsg::Begin(header));
            for i in 0..pick(12) {
                let s = start + i as f64 * 0.25 * (1 + pick(2)) as f64;
                let _ = answer_tx.push(AnswerMsg::Note(AnswerNote {
                    answer_id,
                    key: 50 + pick(20) as u8,
                    velocity: 1 + pick(127) as u8,
                    channel: if pick(4) == 0 {
                        pick(16) as u8
                    } else {
                        AnswerNote::OUTPUT_CHANNEL
                    },
                    start_beats: s,
                    end_beats: s + 0.01 + pick(8) as f64 * 0.25,
                }));
            }
            answer_id += 1;
        }
        let len = [1u32, 7, 64, 512, 1024, 4096][pick(6) as usize];
        let mut input = Vec::new();
        for _ in 0..pick(5) {
            let offset = pick(u64::from(len)) as u32;
            let channel = pick(3) as u8;
            let key = 55 + pick(12) as u8;
            input.push(match pick(11) {
                0 => InputEvent::AllNotesOff { offset, channel },
                10 => InputEvent::Control {
                    offset,
                    control: JamControl::ALL[pick(4) as usize],
                },
                1..=5 => InputEvent::NoteOn {
                    offset,
                    channel,
                    key,
                    velocity: pick(128) as u8,
                },
                _ => InputEvent::NoteOff {
                    offset,
                    channel,
                    key,
                },
            });
        }
        input.sort_by_key(InputEvent::offset);
        let transport = HostTransport {
            playing,
            tempo_bpm: if pick(20) == 0 { None } else { Some(tempo) },
            pos_beats: Some(pos),
            time_sig: Some(sig),
            bar_start_beats: None,
        };
        let dbg_input = input.clone();
        let out = engine.process_block(&transport, len, sample_rate, &settings, input);
        if std::env::var("STRESS_DEBUG").is_ok() {
            eprintln!(
                "block len {len} playing {playing} pos {pos:.3} bypass {} thru {} in {dbg_input:?}",
                settings.bypassed, settings.midi_thru
            );
            for e in out.events {
                eprintln!("   {e:?}");
            }
        }
        let mut last = 0;
        for e in out.events {
            assert!(
                e.offset < len,
                "seed {seed}: event at {} in a block of {len}",
                e.offset
            );
            assert!(e.offset >= last, "seed {seed}: events out of order");
            last = e.offset;
            match e.kind {
                OutKind::On => assert!(
                    sounding.insert((e.channel, e.key)),
                    "seed {seed}: note-on for a sounding note {e:?}"
                ),
                OutKind::Off => assert!(
                    sounding.remove(&(e.channel, e.key)),
                    "seed {seed}: note-off for a silent note {e:?}"
                ),
            }
            checked += 1;
        }
        if playing {
            pos += f64::from(len) / (sample_rate * 60.0 / tempo);
        }
    }
    engine.release_all_next_block();
    let out = engine.process_block(
        &HostTransport::default(),
        64,
        sample_rate,
        &settings,
        std::iter::empty(),
    );
    for e in out.events {
        assert_eq!(e.kind, OutKind::Off);
        assert!(
            sounding.remove(&(e.channel, e.key)),
            "seed {seed}: final note-off for a silent note"
        );
    }
    assert!(sounding.is_empty(), "seed {seed}: stuck notes {sounding:?}");
    assert!(!engine.any_sounding());
    checked
}

#[test]
fn given_random_hosts_players_and_answers_when_processed_then_no_note_is_stuck_or_out_of_order() {
    let cases = 2_000u64;
    let events: usize = (0..cases).map(run_case).sum();
    assert!(
        events > cases as usize * 10,
        "the cases produced too few events to mean anything: {events}"
    );
}
