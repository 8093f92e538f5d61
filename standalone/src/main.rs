//! `antiphon`: Antiphon without a DAW.
//!
//! `antiphon answer` plays a call into the jam engine — the plugin's own engine and worker, run
//! offline — and prints and saves the answer.

mod answer;
mod phrase_arg;

use std::path::PathBuf;
use std::process::ExitCode;

use antiphon_engine::ModelChoice;
use antiphon_models::midi_file::{self, FileNote};
use antiphon_models::notes::note_name;
use antiphon_models::session::ModelSource;
use antiphon_models::{BeamSettings, PitchMask, Scale, shipped};
use clap::{Parser, Subcommand};

use crate::answer::AnswerJob;
use crate::phrase_arg::{Position, parse_notes, parse_pitch};

/// Antiphon: a real-time MIDI improviser.
#[derive(Parser)]
#[command(name = "antiphon", version, about)]
struct Cli {
    /// What to do.
    #[command(subcommand)]
    command: Command,
}

/// The commands.
#[derive(Subcommand)]
enum Command {
    /// Play a call into the jam engine (offline, 48 kHz, 120 BPM by default) and show the answer.
    Answer(AnswerArgs),
}

/// Arguments of `antiphon answer`.
#[derive(clap::Args)]
struct AnswerArgs {
    /// The call: notes as PITCH@START-END[:VELOCITY], times in beats (C4@4-4.5 D4@5-5.5 …).
    #[arg(long, default_value = "C4@4-4.5 D4@5-5.5 E4@6-6.5 F4@7-7.5")]
    call: String,
    /// Host tempo in BPM.
    #[arg(long, default_value_t = 120.0)]
    tempo: f64,
    /// A `.onnx` model file, or a shipped model by name: melody_basic (the default),
    /// melody_lookback, melody_attention, drums_kit, improv_chord_pitches.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Softmax temperature.
    #[arg(long, default_value_t = 1.0)]
    temperature: f32,
    /// Answer length in bars (0: as long as the call).
    #[arg(long, default_value_t = 0)]
    bars: u32,
    /// Beats of silence that end the call.
    #[arg(long, default_value_t = 1.0)]
    silence: f32,
    /// Random seed, for a reproducible answer.
    #[arg(long)]
    seed: Option<u64>,
    /// Beam search: entries kept per iteration (1, with the next two at 1: plain sampling).
    #[arg(long, default_value_t = 1)]
    beam_size: usize,
    /// Beam search: copies of each entry per iteration.
    #[arg(long, default_value_t = 1)]
    branch_factor: usize,
    /// Beam search: steps sampled per iteration.
    #[arg(long, default_value_t = 1)]
    steps_per_iteration: usize,
    /// Keep the answer in a scale, ROOT:NAME (C:major, D:minor, A:pentatonic-minor, …).
    #[arg(long)]
    scale: Option<String>,
    /// Keep the answer's pitches in a range, LOW-HIGH (C3-C6, or MIDI numbers 48-84).
    #[arg(long)]
    range: Option<String>,
    /// Write the call (channel 1) and the answer (channel 2; drums: channel 10) to this MIDI
    /// file.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// The pitch mask of `--range` and `--scale`.
fn pitch_mask(range: Option<&str>, scale: Option<&str>) -> Result<PitchMask, String> {
    let mut mask = PitchMask::ALL;
    if let Some(range) = range {
        let bad = || format!("--range {range:?} is not LOW-HIGH, e.g. C3-C6");
        let (low, high) = range.split_once('-').ok_or_else(bad)?;
        let (low, high) = (parse_pitch(low.trim())?, parse_pitch(high.trim())?);
        if low > high {
            return Err(bad());
        }
        mask = PitchMask::range(low, high);
    }
    if let Some(scale) = scale {
        mask = mask.with_scale(Scale::parse(scale)?);
    }
    Ok(mask)
}

/// Folders searched for ONNX Runtime: beside the executable, and where `cargo xtask fetch-ort`
/// puts it (`target/onnxruntime`, next to `target/release`).
fn runtime_dirs() -> Vec<PathBuf> {
    let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(PathBuf::from))
    else {
        return Vec::new();
    };
    vec![
        exe_dir.clone(),
        exe_dir.join("../onnxruntime"),
        exe_dir.join("../../onnxruntime"),
    ]
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Answer(args) => answer(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("antiphon: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The model `--model` names: a shipped model by name (`melody_lookback`, …) unless a file of
/// that name exists, else a `.onnx` file; the built-in default when absent.
fn model_choice(arg: Option<PathBuf>) -> ModelChoice {
    let Some(path) = arg else {
        return ModelChoice::Default;
    };
    let shipped_name = path.to_str().and_then(|wanted| {
        shipped::ALL.iter().find_map(|m| match m {
            ModelSource::Embedded { name, .. } if *name == wanted => Some(*name),
            _ => None,
        })
    });
    match shipped_name {
        Some(name) if !path.exists() => ModelChoice::Shipped(name),
        _ => ModelChoice::File(path),
    }
}

/// Runs `antiphon answer`.
fn answer(args: AnswerArgs) -> Result<(), String> {
    let call = parse_notes(&args.call)?;
    if !(args.tempo > 0.0 && args.tempo <= 1000.0) {
        return Err(format!(
            "tempo {} is not between 0 and 1000 BPM",
            args.tempo
        ));
    }
    let job = AnswerJob {
        call: call.clone(),
        tempo_bpm: args.tempo,
        model: model_choice(args.model),
        seed: args.seed,
        temperature: args.temperature,
        answer_bars: args.bars,
        silence_beats: args.silence,
        beam: BeamSettings {
            beam_size: args.beam_size,
            branch_factor: args.branch_factor,
            steps_per_iteration: args.steps_per_iteration,
        },
        mask: pitch_mask(args.range.as_deref(), args.scale.as_deref())?,
        runtime_dirs: runtime_dirs(),
    };
    let result = answer::run(&job)?;
    println!("call ({} notes, {} BPM):", call.len(), args.tempo);
    for n in &call {
        println!(
            "  {:>8}  {:<4} {:.2} beats",
            Position(n.start_beats).to_string(),
            note_name(n.key),
            n.end_beats - n.start_beats
        );
    }
    println!(
        "answer by {} ({} notes):",
        result.model_name,
        result.notes.len()
    );
    for n in &result.notes {
        println!(
            "  {:>8}  {:<4} {:.2} beats  (sample {})",
            Position(n.start_beats).to_string(),
            note_name(n.key),
            n.end_beats - n.start_beats,
            n.start_sample
        );
    }
    println!(
        "worker: {:.0} µs per step, primer {:.0} µs; late notes: {}",
        result.step_us, result.primer_us, result.late_notes
    );
    if let Some(path) = args.out {
        let mut notes: Vec<FileNote> = call
            .iter()
            .map(|n| FileNote {
                pitch: n.key,
                velocity: n.velocity,
                channel: 0,
                start_quarters: n.start_beats,
                end_quarters: n.end_beats,
            })
            .collect();
        notes.extend(result.notes.iter().map(|n| FileNote {
            pitch: n.key,
            velocity: n.velocity,
            channel: n.channel,
            start_quarters: n.start_beats,
            end_quarters: n.end_beats,
        }));
        std::fs::write(&path, midi_file::write(&notes, args.tempo))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
