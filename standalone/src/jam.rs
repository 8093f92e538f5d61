//! `antiphon jam`: the jam engine live, between MIDI ports (a keyboard in, a synth out).
//!
//! The same engine and worker as the plugin: [`driver`] plays the audio callback's part with a
//! block clock, [`input`] queues midir's incoming messages for it, [`follow`] turns an incoming
//! MIDI clock into the transport, and [`ports`] finds the ports. The main thread only waits for
//! Ctrl-C and keeps a status line.

pub mod driver;
pub mod follow;
pub mod input;
pub mod ports;
#[cfg(target_os = "linux")]
pub mod synth;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use antiphon_engine::{AudioSettings, JamMode, ModelChoice, Shared, WorkerConfig, WorkerStatus};
use midir::{MidiInputConnection, MidiOutputConnection};

use self::driver::Sink;
use ringbuf::HeapProd;

use self::driver::{Driver, DriverConfig, DriverStatus};
use self::input::Incoming;

/// Nominal sample rate of the block clock (no audio flows: it sets the timing resolution).
const SAMPLE_RATE: f64 = 48_000.0;
/// Samples per block: 2.7 ms at 48 kHz, the jam's input-to-output latency.
const BLOCK_SAMPLES: u32 = 128;
/// Longest wait for the model to load.
const LOAD_LIMIT: Duration = Duration::from_secs(120);

/// Everything `antiphon jam` was asked for.
#[derive(Debug, Clone)]
pub struct JamJob {
    /// Input port (index or name); `None`: a virtual port with `virtual_ports`, else the first.
    pub in_port: Option<String>,
    /// Output port (index or name); `None`: a virtual port with `virtual_ports`, else the first.
    pub out_port: Option<String>,
    /// Make virtual ports for the sides not named.
    pub virtual_ports: bool,
    /// Client name prefix of our MIDI ports (`NAME-in:in`, `NAME-out:out` under JACK).
    pub client_name: String,
    /// The model.
    pub model: ModelChoice,
    /// Folders searched for ONNX Runtime.
    pub runtime_dirs: Vec<PathBuf>,
    /// The jam mode.
    pub mode: JamMode,
    /// Internal tempo, quarter notes per minute (also the tempo before a followed clock ticks).
    pub tempo_bpm: f64,
    /// Follow incoming MIDI clock.
    pub follow_clock: bool,
    /// Send MIDI clock.
    pub clock_out: bool,
    /// Play a metronome on channel 10.
    pub metronome: bool,
    /// Softmax temperature.
    pub temperature: f32,
    /// Random seed (`None`: fresh each run).
    pub seed: Option<u64>,
    /// Answer length in bars (0: as long as the call).
    pub answer_bars: u32,
    /// Beats of silence that end a call.
    pub silence_beats: f32,
    /// Trade: bars per turn.
    pub trade_bars: u32,
    /// Channel the jam listens to (0..=15); `None`: all.
    pub listen_channel: Option<u8>,
    /// Channel of the answer (0..=15).
    pub out_channel: u8,
    /// Pass the player's notes through to the output.
    pub thru: bool,
    /// Play through the built-in synth with this SoundFont instead of a MIDI output.
    pub soundfont: Option<PathBuf>,
}

/// Runs the jam until Ctrl-C; every sounding note ends before it returns.
pub fn run(job: &JamJob) -> Result<(), String> {
    if job.follow_clock && job.clock_out {
        return Err(String::from(
            "--follow-clock and --clock-out exclude each other: follow a clock or lead one",
        ));
    }
    if !(job.tempo_bpm >= 20.0 && job.tempo_bpm <= 400.0) {
        return Err(format!(
            "tempo {} is not between 20 and 400 BPM",
            job.tempo_bpm
        ));
    }
    if job.soundfont.is_some() && (job.out_port.is_some() || job.clock_out) {
        return Err(String::from(
            "--soundfont plays through the built-in synth: leave out --out and --clock-out",
        ));
    }
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || stop.store(true, Ordering::Release))
            .map_err(|e| format!("cannot catch Ctrl-C: {e}"))?;
    }

    // Ports first: a wrong name fails before the model loads.
    let origin = Instant::now();
    let (ring_in, ring_out) = input::ring();
    let (in_conn, in_name) = open_input(job, origin, ring_in)?;
    let (sink, out_name) = match &job.soundfont {
        Some(path) => open_synth(path, &job.client_name)?,
        None => {
            let (conn, name) = open_output(job)?;
            (Sink::Midi(conn), name)
        }
    };

    let shared = Arc::new(Shared::default());
    let s = &shared.settings;
    s.temperature.store(job.temperature, Ordering::Relaxed);
    s.answer_bars.store(job.answer_bars, Ordering::Relaxed);
    s.silence_beats.store(job.silence_beats, Ordering::Relaxed);
    s.trade_bars.store(job.trade_bars.max(1), Ordering::Relaxed);
    s.seed.store(job.seed.unwrap_or(0), Ordering::Relaxed);
    s.set_mode(job.mode);
    let config = WorkerConfig {
        model: job.model.clone(),
        custom_file: None,
        runtime_dirs: job.runtime_dirs.clone(),
        seed: job.seed,
    };
    let instance = antiphon_engine::start(shared.clone(), config)
        .map_err(|e| format!("cannot start the worker: {e}"))?;
    let deadline = Instant::now() + LOAD_LIMIT;
    while shared.status() == WorkerStatus::Loading && Instant::now() < deadline {
        if stop.load(Ordering::Acquire) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    match shared.status() {
        WorkerStatus::Ready => {}
        WorkerStatus::Loading => return Err(String::from("the model did not load in 120 s")),
        other => {
            let error = shared.status_text().error;
            return Err(if error.is_empty() {
                other.as_str().to_string()
            } else {
                error.lines().next().unwrap_or_default().to_string()
            });
        }
    }
    let model_name = shared.status_text().model_name;
    eprintln!(
        "antiphon jam: {model_name}, {} mode; in {in_name}, out {out_name}; {}; Ctrl-C ends",
        job.mode.as_str(),
        if job.follow_clock {
            format!(
                "following MIDI clock ({} BPM until it ticks)",
                job.tempo_bpm
            )
        } else {
            format!("{} BPM", job.tempo_bpm)
        }
    );

    let settings = AudioSettings {
        midi_thru: job.thru,
        out_channel: job.out_channel,
        fallback_tempo_bpm: job.tempo_bpm,
        listen_channel: job.listen_channel,
        ..AudioSettings::default()
    };
    let driver_config = DriverConfig {
        block_samples: BLOCK_SAMPLES,
        sample_rate: SAMPLE_RATE,
        follow_clock: job.follow_clock,
        clock_out: job.clock_out,
        metronome: job.metronome,
    };
    let status = Arc::new(DriverStatus::default());
    let antiphon_engine::Instance { audio, worker, .. } = instance;
    let driver = Driver::new(
        audio,
        ring_out,
        sink,
        settings,
        driver_config,
        stop.clone(),
        status.clone(),
        origin,
    );
    let thread = std::thread::Builder::new()
        .name(String::from("antiphon-jam"))
        .spawn(move || driver.run())
        .map_err(|e| format!("cannot start the MIDI thread: {e}"))?;

    let show_status = std::io::stderr().is_terminal();
    let mut failures_told = 0;
    while !stop.load(Ordering::Acquire) && !thread.is_finished() {
        failures_told = report_worker_failures(&shared, failures_told, show_status);
        if show_status {
            print_status(job, &model_name, &shared, &status);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::Release);
    let sink = thread
        .join()
        .map_err(|_| String::from("the MIDI thread failed"))?;
    sink.close();
    in_conn.close();
    drop(worker);
    if show_status {
        eprintln!();
    }
    let overruns = status.overruns.load(Ordering::Relaxed);
    let send_errors = status.send_errors.load(Ordering::Relaxed);
    eprintln!(
        "antiphon jam: stopped, every note off ({} answers played, {} late notes, {overruns} \
         overruns, {send_errors} send errors, {} model failures)",
        shared.answers_played.load(Ordering::Relaxed),
        shared.late_notes.load(Ordering::Relaxed),
        shared.worker_failures.load(Ordering::Relaxed),
    );
    Ok(())
}

/// Says on stderr, on a line of its own, the latest worker failure (a panic, or a model run
/// that failed) once its text is written, when more than `told` have happened; returns how many
/// have been said now. The jam goes on: the supervisor ended the answer's notes, thru continues,
/// and the worker restarts with the same model.
fn report_worker_failures(shared: &Shared, told: u64, on_status_line: bool) -> u64 {
    let failures = shared.worker_failures.load(Ordering::Acquire);
    if failures <= told {
        return told;
    }
    // The count is raised before the text is written: wait for the text of this failure.
    let failure = shared.status_text().failure;
    if !failure.contains(&format!("(failure {failures};")) {
        return told;
    }
    let clear = if on_status_line { "\r\x1b[K" } else { "" };
    eprintln!("{clear}antiphon jam: {failure}; the answer's notes were ended, MIDI thru goes on");
    failures
}

/// Rewrites the terminal status line: mode, model, listening or answering, tempo.
fn print_status(job: &JamJob, model: &str, shared: &Shared, status: &DriverStatus) {
    let state = if status.answering.load(Ordering::Relaxed) {
        "answering"
    } else {
        "listening"
    };
    let clock = if !job.follow_clock {
        "internal"
    } else if status.following.load(Ordering::Relaxed) {
        "MIDI clock"
    } else {
        "MIDI clock stopped"
    };
    let mut err = std::io::stderr().lock();
    let _ = write!(
        err,
        "\r\x1b[Kmode: {} | model: {model} | {state} | {:.1} BPM ({clock}) | late notes: {}{}",
        shared.settings.mode().as_str(),
        status.tempo_bpm.load(Ordering::Relaxed),
        shared.late_notes.load(Ordering::Relaxed),
        match shared.worker_failures.load(Ordering::Relaxed) {
            0 => String::new(),
            n => format!(" | model failures: {n}"),
        },
    );
    let _ = err.flush();
}

/// Opens the input side: the named port, a virtual port, or the first port.
fn open_input(
    job: &JamJob,
    origin: Instant,
    ring: HeapProd<Incoming>,
) -> Result<(MidiInputConnection<HeapProd<Incoming>>, String), String> {
    let client = format!("{}-in", job.client_name);
    let midi_in = ports::midi_input(&client)?;
    let callback = input::callback(origin);
    if job.in_port.is_none() && job.virtual_ports {
        return open_virtual_input(midi_in, &client, callback, ring);
    }
    let names = ports::port_names(&midi_in);
    let index = ports::pick_port(&names, job.in_port.as_deref().unwrap_or("0"), "input")?;
    let port = midi_in.ports()[index].clone();
    let conn = midi_in
        .connect(&port, "in", callback, ring)
        .map_err(|e| format!("cannot open MIDI input {}: {e}", names[index]))?;
    Ok((conn, names[index].clone()))
}

/// Starts the built-in synth with the SoundFont at `path`, on JACK audio.
#[cfg(target_os = "linux")]
fn open_synth(path: &std::path::Path, client_name: &str) -> Result<(Sink, String), String> {
    let client = format!("{client_name}-synth");
    let synth = synth::SynthSink::start(path, &client)?;
    Ok((
        Sink::Synth(synth),
        format!("the built-in synth ({client}:left/right)"),
    ))
}

/// The built-in synth needs JACK, which this build does not use.
#[cfg(not(target_os = "linux"))]
fn open_synth(_path: &std::path::Path, _client_name: &str) -> Result<(Sink, String), String> {
    Err(String::from(
        "the built-in synth runs on JACK (Linux) only here: send to a synth with --out",
    ))
}

/// Opens the output side: the named port, a virtual port, or the first port.
fn open_output(job: &JamJob) -> Result<(MidiOutputConnection, String), String> {
    let client = format!("{}-out", job.client_name);
    let midi_out = ports::midi_output(&client)?;
    if job.out_port.is_none() && job.virtual_ports {
        return open_virtual_output(midi_out, &client);
    }
    let names = ports::port_names(&midi_out);
    let index = ports::pick_port(&names, job.out_port.as_deref().unwrap_or("0"), "output")?;
    let port = midi_out.ports()[index].clone();
    let conn = midi_out
        .connect(&port, "out")
        .map_err(|e| format!("cannot open MIDI output {}: {e}", names[index]))?;
    Ok((conn, names[index].clone()))
}

/// A virtual input port named `in` on client `client`.
#[cfg(unix)]
fn open_virtual_input(
    midi_in: midir::MidiInput,
    client: &str,
    callback: impl FnMut(u64, &[u8], &mut HeapProd<Incoming>) + Send + 'static,
    ring: HeapProd<Incoming>,
) -> Result<(MidiInputConnection<HeapProd<Incoming>>, String), String> {
    use midir::os::unix::VirtualInput;
    let conn = midi_in
        .create_virtual("in", callback, ring)
        .map_err(|e| format!("cannot make a virtual MIDI input: {e}"))?;
    Ok((conn, format!("virtual {client}:in")))
}

/// Virtual ports do not exist on this platform.
#[cfg(not(unix))]
fn open_virtual_input(
    _midi_in: midir::MidiInput,
    _client: &str,
    _callback: impl FnMut(u64, &[u8], &mut HeapProd<Incoming>) + Send + 'static,
    _ring: HeapProd<Incoming>,
) -> Result<(MidiInputConnection<HeapProd<Incoming>>, String), String> {
    Err(String::from(
        "virtual MIDI ports do not exist on this platform: name a port with --in",
    ))
}

/// A virtual output port named `out` on client `client`.
#[cfg(unix)]
fn open_virtual_output(
    midi_out: midir::MidiOutput,
    client: &str,
) -> Result<(MidiOutputConnection, String), String> {
    use midir::os::unix::VirtualOutput;
    let conn = midi_out
        .create_virtual("out")
        .map_err(|e| format!("cannot make a virtual MIDI output: {e}"))?;
    Ok((conn, format!("virtual {client}:out")))
}

/// Virtual ports do not exist on this platform.
#[cfg(not(unix))]
fn open_virtual_output(
    _midi_out: midir::MidiOutput,
    _client: &str,
) -> Result<(MidiOutputConnection, String), String> {
    Err(String::from(
        "virtual MIDI ports do not exist on this platform: name a port with --out",
    ))
}

/// Runs `antiphon jam` from its command line.
pub fn run_args(args: crate::JamArgs) -> Result<(), String> {
    ports::quiet_backend();
    if args.list {
        return ports::list(&format!("{}-list", args.name));
    }
    let model = crate::model_choice(args.model)?;
    let job = JamJob {
        in_port: args.in_port,
        out_port: args.out_port,
        virtual_ports: args.virtual_ports,
        client_name: args.name,
        model,
        runtime_dirs: crate::runtime_dirs(),
        mode: parse_mode(&args.mode)?,
        tempo_bpm: args.tempo,
        follow_clock: args.follow_clock,
        clock_out: args.clock_out,
        metronome: args.metronome,
        temperature: args.temperature,
        seed: args.seed,
        answer_bars: args.bars,
        silence_beats: args.silence,
        trade_bars: args.trade_bars,
        listen_channel: args.channel.map(|c| c - 1),
        out_channel: args.out_channel - 1,
        thru: !args.no_thru,
        soundfont: args.soundfont,
    };
    run(&job)
}

/// The mode `--mode` names.
fn parse_mode(name: &str) -> Result<JamMode, String> {
    match name.to_lowercase().replace(['_', ' '], "-").as_str() {
        "call-response" | "call-and-response" | "call" => Ok(JamMode::CallResponse),
        "trade" => Ok(JamMode::Trade),
        "accompany" => Ok(JamMode::Accompany),
        "continue" => Ok(JamMode::Continue),
        _ => Err(format!(
            "unknown mode {name:?}: call-response, trade, accompany or continue"
        )),
    }
}
