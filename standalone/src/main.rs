//! `antiphon`: Antiphon without a DAW.
//!
//! `antiphon answer` plays a call into the jam engine — the plugin's own engine and worker, run
//! offline — and prints and saves the answer. `antiphon generate` continues a primer for a
//! length in seconds or bars (the seed workflow) and saves it as MIDI, as a piano-roll PNG and,
//! with a General MIDI SoundFont, as a WAV.

mod answer;
mod generate;
mod jam;
mod phrase_arg;
mod piano_roll;
mod progress;
mod render;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use antiphon_engine::ModelChoice;
use antiphon_models::midi_file::{self, FileNote};
use antiphon_models::notes::note_name;
use antiphon_models::session::ModelSource;
use antiphon_models::{BeamSettings, PitchMask, Scale, shipped};
use clap::{Parser, Subcommand};

use crate::answer::AnswerJob;
use crate::phrase_arg::{Position, parse_notes, parse_pitch};
use crate::progress::ProgressBar;

/// `println!` that never panics: when stdout is closed (`antiphon … | head`), the rest of the
/// report is dropped and the command still finishes its work and exits normally.
macro_rules! outln {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

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
    /// Continue a primer offline and write it as MIDI, a piano-roll PNG and (with --wav) a WAV
    /// (by default the seed workflow: Magenta's primer, Polyphony RNN, 75 QPM, 180 s).
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
    /// The MIDI file to write (primer on channel 1, continuation on channel 2; drums: 10); the
    /// piano roll goes beside it as STEM.png, the audio (with --wav) as STEM.wav. Alone, this
    /// runs the seed example.
    #[arg(value_name = "OUT.mid", conflicts_with = "out")]
    output: Option<PathBuf>,
    /// The MIDI file to write (the same as the positional OUT.mid).
    #[arg(long, value_name = "OUT.mid")]
    out: Option<PathBuf>,
    /// The primer: notes as PITCH@START-END[:VELOCITY], times in beats.
    #[arg(long, default_value = generate::SEED_PRIMER, conflicts_with = "primer_midi")]
    primer: String,
    /// The primer from a MIDI file (every note of every track; its tempo unless --tempo).
    #[arg(long, value_name = "FILE.mid")]
    primer_midi: Option<PathBuf>,
    /// Tempo in quarter notes per minute (default 75, or the primer file's tempo).
    #[arg(long)]
    tempo: Option<f64>,
    /// Length of the piece, primer included, in seconds.
    #[arg(long, default_value_t = 180.0, conflicts_with = "bars")]
    seconds: f64,
    /// Length of the piece, primer included, in 4/4 bars (instead of --seconds).
    #[arg(long)]
    bars: Option<u32>,
    /// A `.onnx` model file, or a shipped model by name (polyphony_bach, the default;
    /// pianoroll_nade_bach, performance_groove, melody_basic, …).
    #[arg(long, default_value = "polyphony_bach")]
    model: PathBuf,
    /// Sampling temperature.
    #[arg(long, default_value_t = 1.0)]
    temperature: f32,
    /// Beam search (Melody, Drums and Improv models; the others sample one sequence).
    #[command(flatten)]
    beam: BeamArgs,
    /// Density: nats added to the log-odds of every note start (positive: more notes).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    density: f32,
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
    /// Also render STEM.wav (44.1 kHz stereo) with a General MIDI SoundFont: --soundfont, else
    /// $ANTIPHON_SOUNDFONT, else Debian's FluidR3_GM.sf2 or TimGM6mb.sf2.
    #[arg(long)]
    wav: bool,
    /// The SoundFont (.sf2) for the WAV; implies --wav.
    #[arg(long, value_name = "FILE.sf2")]
    soundfont: Option<PathBuf>,
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
    /// Beam search.
    #[command(flatten)]
    beam: BeamArgs,
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

/// The beam-search options of `answer` and `generate`.
#[derive(clap::Args)]
struct BeamArgs {
    /// Beam search: entries kept per iteration (1, with the next two at 1: plain sampling).
    #[arg(long, default_value_t = 1)]
    beam_size: usize,
    /// Beam search: copies of each entry per iteration.
    #[arg(long, default_value_t = 1)]
    branch_factor: usize,
    /// Beam search: steps sampled per iteration.
    #[arg(long, default_value_t = 1)]
    steps_per_iteration: usize,
}

impl BeamArgs {
    /// The beam-search settings.
    fn settings(&self) -> BeamSettings {
        BeamSettings {
            beam_size: self.beam_size,
            branch_factor: self.branch_factor,
            steps_per_iteration: self.steps_per_iteration,
        }
    }
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
            let _ = writeln!(std::io::stderr().lock(), "antiphon: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The names of the shipped models, comma-separated.
fn shipped_names() -> String {
    shipped::ALL
        .iter()
        .filter_map(|m| match m {
            ModelSource::Embedded { name, .. } => Some(*name),
            ModelSource::File(_) => None,
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The error for a `--model` that is neither a file nor a shipped model.
fn unknown_model(path: &Path) -> String {
    format!(
        "unknown model {:?}: no such file, and not a shipped model ({})",
        path.display().to_string(),
        shipped_names()
    )
}

/// The model `--model` names: a shipped model by name (`melody_lookback`, …) unless a file of
/// that name exists, else a `.onnx` file; the built-in default when absent.
fn model_choice(arg: Option<PathBuf>) -> Result<ModelChoice, String> {
    let Some(path) = arg else {
        return Ok(ModelChoice::Default);
    };
    let shipped_name = path.to_str().and_then(|wanted| {
        shipped::ALL.iter().find_map(|m| match m {
            ModelSource::Embedded { name, .. } if *name == wanted => Some(*name),
            _ => None,
        })
    });
    match shipped_name {
        _ if path.exists() => Ok(ModelChoice::File(path)),
        Some(name) => Ok(ModelChoice::Shipped(name)),
        None => Err(unknown_model(&path)),
    }
}

/// The model source `--model` names: a shipped model unless a file of that name exists.
fn model_source(path: PathBuf) -> Result<ModelSource, String> {
    match path.to_str().and_then(shipped::by_name) {
        _ if path.exists() => Ok(ModelSource::File(path)),
        Some(source) => Ok(source),
        None => Err(unknown_model(&path)),
    }
}

/// Runs `antiphon generate`.
fn generate_piece(args: GenerateArgs) -> Result<(), String> {
    let started = std::time::Instant::now();
    let midi_path = args
        .output
        .or(args.out)
        .unwrap_or_else(|| PathBuf::from("generated.mid"));
    let extension = midi_path.extension().and_then(|e| e.to_str());
    if matches!(extension, Some("png" | "wav")) {
        return Err(format!(
            "{} names the MIDI file (.mid); the PNG and the WAV are written beside it",
            midi_path.display()
        ));
    }
    let (mut primer, file_tempo_qpm) = match &args.primer_midi {
        Some(path) => {
            let (notes, tempo) = generate::primer_from_midi(path)?;
            (notes, Some(tempo))
        }
        None => (parse_notes(&args.primer)?, None),
    };
    if let Some(cut) = generate::trim_primer(&mut primer) {
        let _ = writeln!(
            std::io::stderr().lock(),
            "antiphon: note: the primer is {} bars long; its last {} bars (from bar {}) are the \
             primer, {} notes that ended before them are left out",
            cut.total_bars,
            generate::MAX_PRIMER_BARS,
            cut.first_bar,
            cut.dropped_notes
        );
    }
    let tempo_qpm = args.tempo.or(file_tempo_qpm).unwrap_or(75.0);
    if !(tempo_qpm > 0.0 && tempo_qpm <= 1000.0) {
        return Err(match (args.tempo, &args.primer_midi) {
            (None, Some(path)) => format!(
                "{} sets the tempo to {tempo_qpm} QPM, not between 0 and 1000 QPM (give one \
                 with --tempo)",
                path.display()
            ),
            _ => format!("tempo {tempo_qpm} is not between 0 and 1000 QPM"),
        });
    }
    let seconds = match args.bars {
        Some(0) => return Err("--bars must be at least 1".into()),
        Some(bars) => f64::from(bars) * piano_roll::QUARTERS_PER_BAR * 60.0 / tempo_qpm,
        None => args.seconds,
    };
    let model = model_source(args.model)?;
    // The SoundFont is loaded first: a missing one fails before minutes of generation.
    let sound_font = if args.wav || args.soundfont.is_some() {
        let (path, origin) = render::find_soundfont(
            args.soundfont.as_deref(),
            std::env::var_os(render::SOUNDFONT_ENV),
            &render::SYSTEM_SOUNDFONTS,
        )?;
        let font = render::load_soundfont(&path, origin)?;
        Some((font, path))
    } else {
        None
    };
    let job = generate::GenerateJob {
        primer,
        tempo_qpm,
        seconds,
        model,
        temperature: args.temperature,
        seed: args.seed,
        harmonize: args.harmonize,
        threshold: args.threshold,
        mask: pitch_mask(args.range.as_deref(), args.scale.as_deref())?,
        beam: args.beam.settings(),
        density_nats: args.density,
        runtime_dirs: runtime_dirs(),
    };
    let mut bar = ProgressBar::new("generating");
    let result = generate::run(&job, &mut |p| {
        bar.update(p.fraction, &format!("{} notes", p.notes));
    })?;
    bar.finish();
    if result.beam_ignored {
        let _ = writeln!(
            std::io::stderr().lock(),
            "antiphon: note: {} ({}) samples one sequence; the beam options were ignored",
            result.model_name,
            result.family
        );
    }
    let quarters_per_second = tempo_qpm / 60.0;
    let end_seconds = result
        .notes
        .iter()
        .map(|n| n.end_quarters / quarters_per_second)
        .fold(0.0, f64::max);
    outln!(
        "{} ({}): {} notes generated in {} steps ({} per quarter at {} QPM); piece {:.1} s",
        result.model_name,
        result.family,
        result.generated_notes,
        result.steps,
        result.steps_per_quarter,
        tempo_qpm,
        end_seconds
    );
    std::fs::write(&midi_path, midi_file::write(&result.notes, tempo_qpm))
        .map_err(|e| format!("cannot write {}: {e}", midi_path.display()))?;
    outln!("wrote {}", midi_path.display());

    let length_quarters = seconds * quarters_per_second;
    let (primer_notes, continuation) = result.notes.split_at(result.primer_notes);
    let (layout, png) = piano_roll::draw_png(primer_notes, continuation, length_quarters)?;
    let png_path = midi_path.with_extension("png");
    std::fs::write(&png_path, png)
        .map_err(|e| format!("cannot write {}: {e}", png_path.display()))?;
    outln!(
        "wrote {} ({}×{} px: {} bars, {}–{}; primer orange, continuation blue)",
        png_path.display(),
        layout.width_px,
        layout.height_px,
        layout.bars,
        note_name(layout.low_pitch),
        note_name(layout.high_pitch)
    );

    let mut render_ms = None;
    if let Some((font, font_path)) = sound_font {
        let rendering = std::time::Instant::now();
        let wav_path = midi_path.with_extension("wav");
        let file = std::fs::File::create(&wav_path)
            .map_err(|e| format!("cannot write {}: {e}", wav_path.display()))?;
        let mut writer = std::io::BufWriter::new(file);
        let mut bar = ProgressBar::new("rendering");
        render::render_wav(
            &result.notes,
            tempo_qpm,
            seconds,
            &font,
            &mut writer,
            &mut |fraction| bar.update(fraction, ""),
        )
        .map_err(|e| format!("{}: {e}", wav_path.display()))?;
        bar.finish();
        render_ms = Some(rendering.elapsed().as_secs_f64() * 1000.0);
        outln!(
            "wrote {} (44.1 kHz stereo, SoundFont {})",
            wav_path.display(),
            font_path.display()
        );
    }
    outln!(
        "time: model loaded in {:.0} ms, generated in {:.0} ms{}; {:.1} s in all",
        result.load_ms,
        result.generate_ms,
        render_ms.map_or(String::new(), |ms| format!(", rendered in {ms:.0} ms")),
        started.elapsed().as_secs_f64()
    );
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
        model: model_choice(args.model)?,
        seed: args.seed,
        temperature: args.temperature,
        answer_bars: args.bars,
        silence_beats: args.silence,
        beam: args.beam.settings(),
        mask: pitch_mask(args.range.as_deref(), args.scale.as_deref())?,
        runtime_dirs: runtime_dirs(),
    };
    let result = answer::run(&job)?;
    outln!("call ({} notes, {} BPM):", call.len(), args.tempo);
    for n in &call {
        outln!(
            "  {:>8}  {:<4} {:.2} beats",
            Position(n.start_beats).to_string(),
            note_name(n.key),
            n.end_beats - n.start_beats
        );
    }
    outln!(
        "answer by {} ({} notes):",
        result.model_name,
        result.notes.len()
    );
    for n in &result.notes {
        outln!(
            "  {:>8}  {:<4} {:.2} beats  (sample {})",
            Position(n.start_beats).to_string(),
            note_name(n.key),
            n.end_beats - n.start_beats,
            n.start_sample
        );
    }
    outln!(
        "worker: {:.0} µs per step, primer {:.0} µs; late notes: {}",
        result.step_us,
        result.primer_us,
        result.late_notes
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
        outln!("wrote {}", path.display());
    }
    Ok(())
}
