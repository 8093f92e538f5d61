//! `antiphon`: Antiphon without a DAW.
//!
//! `antiphon answer` plays a call into the jam engine — the plugin's own engine and worker, run
//! offline — and prints and saves the answer. `antiphon generate` continues a primer for a
//! length in seconds (the seed workflow) and saves it as MIDI.

mod answer;
mod generate;
mod jam;
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
    /// Continue a primer offline to a length in seconds and write it as MIDI (by default the
    /// seed workflow: Magenta's primer, Polyphony RNN, 75 QPM, 180 s).
    Generate(GenerateArgs),
    /// Jam live: a MIDI keyboard in, Antiphon's answers out (ports through midir; JACK on
    /// Linux). Ctrl-C ends with every note off.
    Jam(JamArgs),
}

/// Arguments of `antiphon jam`.
#[derive(clap::Args)]
struct JamArgs {
    /// List the MIDI input and output ports and exit.
    #[arg(long)]
    list: bool,
    /// The MIDI input (a keyboard): an index or a name from --list (a unique piece of one will
    /// do). Default: a virtual port with --virtual, else the first input.
    #[arg(long = "in", value_name = "NAME|INDEX")]
    in_port: Option<String>,
    /// The MIDI output (a synth): an index or a name from --list. Default: a virtual port with
    /// --virtual, else the first output.
    #[arg(long = "out", value_name = "NAME|INDEX")]
    out_port: Option<String>,
    /// Make virtual ports (NAME-in:in, NAME-out:out under JACK) for --in/--out not given.
    #[arg(long = "virtual")]
    virtual_ports: bool,
    /// Client name of Antiphon's MIDI ports.
    #[arg(long, default_value = "antiphon")]
    name: String,
    /// A `.onnx` model file, or a shipped model by name (melody_basic, the default;
    /// melody_lookback, drums_kit, polyphony_bach, …).
    #[arg(long)]
    model: Option<PathBuf>,
    /// The jam mode: call-response, trade, accompany or continue.
    #[arg(long, default_value = "call-response")]
    mode: String,
    /// Tempo of the internal clock in BPM (with --follow-clock: until the clock ticks).
    #[arg(long, default_value_t = 120.0)]
    tempo: f64,
    /// Follow incoming MIDI clock (24 ppqn; Start, Stop, Continue, Song Position Pointer).
    #[arg(long)]
    follow_clock: bool,
    /// Lead: send MIDI clock (Start, 24 ppqn, Stop on exit) on the output.
    #[arg(long)]
    clock_out: bool,
    /// Play a metronome on channel 10 (wood blocks, GM keys 76 and 77).
    #[arg(long)]
    metronome: bool,
    /// Softmax temperature.
    #[arg(long, default_value_t = 1.0)]
    temperature: f32,
    /// Random seed, for reproducible answers.
    #[arg(long)]
    seed: Option<u64>,
    /// Answer length in bars (0: as long as the call).
    #[arg(long, default_value_t = 0)]
    bars: u32,
    /// Beats of silence that end a call.
    #[arg(long, default_value_t = 1.0)]
    silence: f32,
    /// Trade mode: bars in each turn.
    #[arg(long, default_value_t = 2)]
    trade_bars: u32,
    /// Listen only to this MIDI channel, 1..=16 (default: all).
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=16))]
    channel: Option<u8>,
    /// MIDI channel of the answer, 1..=16 (drum models answer on 10).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=16))]
    out_channel: u8,
    /// Do not pass the player's notes through to the output.
    #[arg(long)]
    no_thru: bool,
    /// Play through the built-in General MIDI synth with this SoundFont (.sf2), on JACK audio,
    /// instead of a MIDI output (Debian: timgm6mb-soundfont, fluid-soundfont-gm).
    #[arg(long, value_name = "SF2")]
    soundfont: Option<PathBuf>,
}

/// Arguments of `antiphon generate`.
#[derive(clap::Args)]
struct GenerateArgs {
    /// The primer: notes as PITCH@START-END[:VELOCITY], times in beats.
    #[arg(long, default_value = generate::SEED_PRIMER)]
    primer: String,
    /// Tempo in quarter notes per minute.
    #[arg(long, default_value_t = 75.0)]
    tempo: f64,
    /// Length of the piece, primer included, in seconds.
    #[arg(long, default_value_t = 180.0)]
    seconds: f64,
    /// A `.onnx` model file, or a shipped model by name (polyphony_bach, the default;
    /// pianoroll_nade_bach, performance_groove, melody_basic, …).
    #[arg(long, default_value = "polyphony_bach")]
    model: PathBuf,
    /// Sampling temperature.
    #[arg(long, default_value_t = 1.0)]
    temperature: f32,
    /// Random seed, for a reproducible piece.
    #[arg(long)]
    seed: Option<u64>,
    /// Polyphony: harmonise the primer (its notes as the top voice) instead of continuing it.
    #[arg(long)]
    harmonize: bool,
    /// Pianoroll: choose each key by the 0.5 threshold instead of sampling.
    #[arg(long)]
    threshold: bool,
    /// Keep the continuation in a scale, ROOT:NAME (C:major, D:minor, …).
    #[arg(long)]
    scale: Option<String>,
    /// Keep the continuation's pitches in a range, LOW-HIGH (C3-C6, or 48-84).
    #[arg(long)]
    range: Option<String>,
    /// The MIDI file to write (primer on channel 1, continuation on channel 2; drums: 10).
    #[arg(long, default_value = "generated.mid")]
    out: PathBuf,
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
    /// melody_lookback, melody_attention, drums_kit, improv_chord_pitches, polyphony_bach,
    /// pianoroll_nade_bach, performance_groove.
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
        Command::Generate(args) => generate_piece(args),
        Command::Jam(args) => jam::run_args(args),
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

/// The model source `--model` names: a shipped model unless a file of that name exists.
fn model_source(path: PathBuf) -> ModelSource {
    match path.to_str().and_then(shipped::by_name) {
        Some(source) if !path.exists() => source,
        _ => ModelSource::File(path),
    }
}

/// Runs `antiphon generate`.
fn generate_piece(args: GenerateArgs) -> Result<(), String> {
    let job = generate::GenerateJob {
        primer: parse_notes(&args.primer)?,
        tempo_qpm: args.tempo,
        seconds: args.seconds,
        model: model_source(args.model),
        temperature: args.temperature,
        seed: args.seed,
        harmonize: args.harmonize,
        threshold: args.threshold,
        mask: pitch_mask(args.range.as_deref(), args.scale.as_deref())?,
        runtime_dirs: runtime_dirs(),
    };
    let result = generate::run(&job)?;
    let seconds_per_quarter = 60.0 / args.tempo;
    let end_seconds = result
        .notes
        .iter()
        .map(|n| n.end_quarters * seconds_per_quarter)
        .fold(0.0, f64::max);
    println!(
        "{} ({}): {} notes generated in {} steps ({} per quarter at {} QPM); piece {:.1} s",
        result.model_name,
        result.family,
        result.generated_notes,
        result.steps,
        result.steps_per_quarter,
        args.tempo,
        end_seconds
    );
    println!(
        "time: model loaded in {:.0} ms, generated in {:.0} ms",
        result.load_ms, result.generate_ms
    );
    std::fs::write(&args.out, midi_file::write(&result.notes, args.tempo))
        .map_err(|e| format!("cannot write {}: {e}", args.out.display()))?;
    println!("wrote {}", args.out.display());
    Ok(())
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
        let mut notes: Vec<FileNote> = call.iter().map(|n| n.file_note(0)).collect();
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
