//! Live end to end: the built `antiphon jam` against a JACK server with the dummy driver.
//!
//! Each test starts its own `jackd -d dummy` under a server name of its own and kills it at the
//! end. A test client (a JACK client of the `jack` crate, in this process) plays a one-bar call
//! into Antiphon's input port and records what comes out of its output port, with arrival times
//! (not midir: its JACK connections unregister their port while the client still runs, a race
//! that can end in a write through a null buffer when they are dropped); the checks
//! are about time on the musical grid and about note pairs: the answer's notes sit on the 16th
//! grid of the clock, the answer starts at or after the bar line after the call, and after
//! SIGINT every note-on has had its note-off.
//!
//! jackd missing is a failure, not a skip, unless `ANTIPHON_SKIP_JACK=1` says otherwise (the
//! same for the SoundFont of the synth test, `ANTIPHON_SOUNDFONT` or Debian's TimGM6mb).
#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ringbuf::traits::{Consumer, Producer, Split};

/// Tempo of every test, quarter notes per minute.
const TEMPO_BPM: f64 = 120.0;
/// Seconds per beat at [`TEMPO_BPM`].
const BEAT_S: f64 = 60.0 / TEMPO_BPM;
/// How far (in seconds) one note may sit from its grid point. JACK hands MIDI over once per
/// period (256 frames, 5.3 ms) on the way in and on the way out, plus the jam's 2.7 ms block:
/// 6 to 11 ms late on a quiet machine. The rest is room for a thread woken late on a busy
/// 2-core machine (a third of a 16th at 120 BPM).
const GRID_TOLERANCE_S: f64 = 0.040;
/// The answer's median distance from the grid must lie in this range (seconds): the constant
/// latency of the chain, which no spike moves.
const MEDIAN_LATENCY_S: std::ops::Range<f64> = -0.010..0.025;
/// The call: key and start beat (each half a beat long), one bar from the bar line at beat 0
/// of the call's own bar.
const CALL: [(u8, f64); 4] = [(60, 0.0), (62, 1.0), (64, 2.0), (65, 3.0)];
/// Channel index of the call (and of the thru notes).
const CALL_CHANNEL: u8 = 0;
/// Channel index of the answer (`--out-channel 2`, the default).
const ANSWER_CHANNEL: u8 = 1;
/// Channel index of the metronome (GM percussion).
const CLICK_CHANNEL: u8 = 9;

/// JACK state is per process (the server name is read from the environment): one test at a
/// time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Keeps libjack's messages (a few lines per failed connection attempt) out of the test log.
fn quiet_jack() {
    jack::set_logger(jack::LoggerType::None);
}

/// A JACK client of this process that does not start a server of its own.
fn jack_client(name: &str) -> Result<jack::Client, jack::Error> {
    jack::Client::new(name, jack::ClientOptions::NO_START_SERVER).map(|(client, _)| client)
}

/// A JACK server with the dummy driver, stopped on drop.
struct Jack {
    /// The `jackd` process.
    child: Child,
    /// Its server name.
    name: String,
}

impl Jack {
    /// Starts `jackd -d dummy` under a name of its own and points this process's JACK clients
    /// at it; `None` only when jackd is missing and `ANTIPHON_SKIP_JACK=1`.
    fn start(tag: &str, _guard: &MutexGuard<'_, ()>) -> Option<Self> {
        let name = format!("antiphon-test-{}-{tag}", std::process::id());
        let child = Command::new("jackd")
            .args([
                "-n",
                &name,
                "--no-realtime",
                "-d",
                "dummy",
                "-r",
                "48000",
                "-p",
                "256",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(e) if std::env::var("ANTIPHON_SKIP_JACK").as_deref() == Ok("1") => {
                eprintln!("skipped: jackd cannot start ({e}) and ANTIPHON_SKIP_JACK=1");
                return None;
            }
            Err(e) => panic!(
                "jackd cannot start ({e}): install jackd2 (or set ANTIPHON_SKIP_JACK=1 to skip)"
            ),
        };
        // SAFETY: the SERIAL guard is held, so no other test thread is inside libjack (the
        // only reader of this variable besides std's own locked accessors).
        unsafe { std::env::set_var("JACK_DEFAULT_SERVER", &name) };
        quiet_jack();
        let mut jack = Self { child, name };
        let deadline = Instant::now() + Duration::from_secs(30);
        while jack_client("antiphon-test-probe").is_err() {
            if let Ok(Some(exit)) = jack.child.try_wait() {
                panic!("jackd ended at once ({exit}); is a stale server registered?");
            }
            assert!(Instant::now() < deadline, "jackd did not come up in 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(jack)
    }
}

impl Drop for Jack {
    /// Stops jackd with SIGTERM, so it leaves JACK's server registry (a killed server stays
    /// registered, and JACK refuses new servers past a handful), then kills it if it hangs.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One MIDI message the test client received, and when.
#[derive(Debug, Clone)]
struct Received {
    /// Arrival.
    at: Instant,
    /// The bytes.
    bytes: Vec<u8>,
}

/// Most bytes of one message the test client sends.
const MESSAGE_BYTES: usize = 3;

/// One message on its way out: its length and bytes.
type Outgoing = (usize, [u8; MESSAGE_BYTES]);

/// The test client `jamtest`: its port `call` plays into Antiphon, its port `answer` records
/// what Antiphon sends. Dropping it deactivates the client before its ports go.
struct Client {
    /// Where the call (and the clock) go: read by the process callback at the next period.
    out: Arc<Mutex<ringbuf::HeapProd<Outgoing>>>,
    /// Everything received, in order.
    received: Arc<Mutex<Vec<Received>>>,
    /// The running client; its process callback owns both ports.
    active: jack::AsyncClient<(), jack::contrib::ClosureProcessHandler<(), ProcessFn>>,
}

/// The test client's process callback.
type ProcessFn = Box<dyn FnMut(&jack::Client, &jack::ProcessScope) -> jack::Control + Send>;

impl Client {
    /// Makes `jamtest:call` and `jamtest:answer`.
    fn new() -> Self {
        let client = jack_client("jamtest").expect("test client");
        let mut call = client
            .register_port("call", jack::MidiOut::default())
            .expect("call port");
        let answer = client
            .register_port("answer", jack::MidiIn::default())
            .expect("answer port");
        let (out, mut pending) = ringbuf::HeapRb::<Outgoing>::new(4096).split();
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = received.clone();
        let process: ProcessFn = Box::new(move |_, scope| {
            let mut writer = call.writer(scope);
            while let Some((len, bytes)) = pending.try_pop() {
                writer
                    .write(&jack::RawMidi {
                        time: 0,
                        bytes: &bytes[..len],
                    })
                    .expect("room in the call port's buffer");
            }
            let at = Instant::now();
            let mut sink = sink.lock().unwrap();
            for event in answer.iter(scope) {
                sink.push(Received {
                    at,
                    bytes: event.bytes.to_vec(),
                });
            }
            jack::Control::Continue
        });
        let active = client
            .activate_async((), jack::contrib::ClosureProcessHandler::new(process))
            .expect("test client runs");
        Self {
            out: Arc::new(Mutex::new(out)),
            received,
            active,
        }
    }

    /// Sends one message now (at the next period).
    fn send(&self, bytes: &[u8]) {
        send_on(&self.out, bytes);
    }

    /// A copy of what arrived so far.
    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

/// Queues one message of at most [`MESSAGE_BYTES`] bytes for the test client's `call` port.
fn send_on(out: &Mutex<ringbuf::HeapProd<Outgoing>>, bytes: &[u8]) {
    let mut message = [0u8; MESSAGE_BYTES];
    message[..bytes.len()].copy_from_slice(bytes);
    out.lock()
        .unwrap()
        .try_push((bytes.len(), message))
        .expect("room in the test client's queue");
}

/// The jam under test, with its stderr read line by line.
struct Jam {
    /// The `antiphon jam` process.
    child: Child,
    /// Its stderr lines.
    lines: mpsc::Receiver<String>,
}

impl Jam {
    /// Starts `antiphon jam ARGS` on `jack` and waits until it plays (the model loaded).
    fn start(jack: &Jack, args: &[&str]) -> Self {
        Self::start_with_env(jack, args, &[])
    }

    /// [`Jam::start`] with these environment variables set for the jam.
    fn start_with_env(jack: &Jack, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_antiphon"))
            .arg("jam")
            .args(args)
            .envs(env.iter().copied())
            .env("JACK_DEFAULT_SERVER", &jack.name)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("antiphon runs");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let jam = Self { child, lines };
        // Skip what libjack may print of its own; an error of ours ends the test.
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = jam
                .lines
                .recv_timeout(left)
                .expect("antiphon jam starts within 120 s");
            assert!(
                !line.starts_with("antiphon: "),
                "antiphon jam failed: {line}"
            );
            if line.contains("Ctrl-C ends") {
                return jam;
            }
        }
    }

    /// Waits up to `timeout` for a stderr line that `wanted` accepts, and returns it.
    fn wait_for_line(&self, wanted: impl Fn(&str) -> bool, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if wanted(&line) => return line,
                Ok(_) => {}
                Err(e) => panic!("no such line from antiphon jam within {timeout:?}: {e}"),
            }
        }
    }

    /// Sends SIGINT (what Ctrl-C sends) and waits for a clean exit; returns the last line.
    fn interrupt(mut self) -> String {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        let exit = loop {
            if let Some(exit) = self.child.try_wait().expect("wait") {
                break exit;
            }
            assert!(Instant::now() < deadline, "antiphon did not end on SIGINT");
            std::thread::sleep(Duration::from_millis(20));
        };
        let lines: Vec<String> = self.lines.try_iter().collect();
        assert!(exit.success(), "exit {exit:?}: {lines:?}");
        lines.last().cloned().unwrap_or_default()
    }
}

impl Drop for Jam {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A note heard from Antiphon, in beats of the reference clock.
#[derive(Debug, Clone, Copy)]
struct Heard {
    /// MIDI channel index.
    channel: u8,
    /// Key.
    key: u8,
    /// Note-on, in beats.
    on_beats: f64,
    /// Note-off, in beats (`None`: never ended).
    off_beats: Option<f64>,
}

/// Pairs note-ons with note-offs; `t0` is beat 0.
fn notes(received: &[Received], t0: Instant) -> Vec<Heard> {
    let beats = |at: Instant| {
        if at >= t0 {
            (at - t0).as_secs_f64() / BEAT_S
        } else {
            -(t0 - at).as_secs_f64() / BEAT_S
        }
    };
    let mut heard: Vec<Heard> = Vec::new();
    for r in received {
        let (status, channel) = (r.bytes[0] & 0xF0, r.bytes[0] & 0x0F);
        let key = r.bytes.get(1).copied().unwrap_or(0);
        let on = status == 0x90 && r.bytes.get(2).copied().unwrap_or(0) > 0;
        let off = status == 0x80 || (status == 0x90 && !on);
        if on {
            assert!(
                !heard
                    .iter()
                    .any(|h| h.channel == channel && h.key == key && h.off_beats.is_none()),
                "key {key} on channel {channel} struck twice without a note-off"
            );
            heard.push(Heard {
                channel,
                key,
                on_beats: beats(r.at),
                off_beats: None,
            });
        } else if off {
            let open = heard
                .iter_mut()
                .find(|h| h.channel == channel && h.key == key && h.off_beats.is_none())
                .unwrap_or_else(|| panic!("note-off without note-on: {:?}", r.bytes));
            open.off_beats = Some(beats(r.at));
        }
    }
    heard
}

/// Sends one call note at a time: sleeps until `t0 + beats`.
fn sleep_until(t0: Instant, beats: f64) {
    let at = t0 + Duration::from_secs_f64(beats.max(0.0) * BEAT_S);
    let now = Instant::now();
    if at > now {
        std::thread::sleep(at - now);
    }
}

/// Plays the call from `bar_beats` on, relative to beat 0 at `t0`.
fn play_call(client: &Client, t0: Instant, bar_beats: f64) {
    for (key, start) in CALL {
        sleep_until(t0, bar_beats + start);
        client.send(&[0x90 | CALL_CHANNEL, key, 100]);
        sleep_until(t0, bar_beats + start + 0.5);
        client.send(&[0x80 | CALL_CHANNEL, key, 0]);
    }
}

/// Checks the heard notes: the thru of the call on time, the answer on the 16th grid from the
/// bar line after the call on, and every note ended. Returns the answer's notes.
fn check_jam(heard: &[Heard], call_bar_beats: f64) -> Vec<Heard> {
    for h in heard {
        assert!(h.off_beats.is_some(), "stuck note: {h:?} in {heard:#?}");
    }
    let thru: Vec<&Heard> = heard.iter().filter(|h| h.channel == CALL_CHANNEL).collect();
    for (key, start) in CALL {
        let note = thru
            .iter()
            .find(|h| h.key == key)
            .unwrap_or_else(|| panic!("call note {key} not passed through: {heard:#?}"));
        let late_s = (note.on_beats - (call_bar_beats + start)) * BEAT_S;
        assert!(
            late_s.abs() < GRID_TOLERANCE_S,
            "thru of {key} {:.1} ms from its time",
            late_s * 1000.0
        );
    }
    let answer: Vec<Heard> = heard
        .iter()
        .copied()
        .filter(|h| h.channel == ANSWER_CHANNEL)
        .collect();
    assert!(!answer.is_empty(), "no answer: {heard:#?}");
    let mut offsets_s: Vec<f64> = answer
        .iter()
        .map(|h| (h.on_beats - (h.on_beats * 4.0).round() / 4.0) * BEAT_S)
        .collect();
    let offsets_ms: Vec<f64> = offsets_s.iter().map(|s| (s * 1e4).round() / 10.0).collect();
    eprintln!("answer notes from the 16th grid, ms: {offsets_ms:?}");
    offsets_s.sort_by(f64::total_cmp);
    let median_s = offsets_s[offsets_s.len() / 2];
    assert!(
        MEDIAN_LATENCY_S.contains(&median_s),
        "the answer sits {:.1} ms from the grid (median)",
        median_s * 1e3
    );
    // The call ends at its last note-off plus one beat of silence; the answer waits for the
    // bar line after that.
    let call_end = call_bar_beats + 3.5 + 1.0;
    let answer_bar = (call_end / 4.0).ceil() * 4.0;
    for h in &answer {
        let grid = (h.on_beats * 4.0).round() / 4.0;
        let off_grid_s = (h.on_beats - grid) * BEAT_S;
        assert!(
            off_grid_s.abs() < GRID_TOLERANCE_S,
            "answer note {} at beat {:.3}: {:.1} ms off the 16th grid",
            h.key,
            h.on_beats,
            off_grid_s * 1000.0
        );
        assert!(
            h.on_beats > answer_bar - GRID_TOLERANCE_S / BEAT_S,
            "answer note {} at beat {:.3}, before the bar line {answer_bar}",
            h.key,
            h.on_beats
        );
    }
    answer
}

/// Sends MIDI clock: a tick every 1/24 beat from `t0` (tick 0) until `stop`, and each message
/// of `script` just before the tick it names; then Stop. The ticks run on through a Stop, as a
/// hardware clock's do.
fn clock_thread(
    client: &Client,
    script: Vec<(u32, Vec<u8>)>,
    stop: Arc<AtomicBool>,
) -> (Instant, std::thread::JoinHandle<()>) {
    let out = client.out.clone();
    let t0 = Instant::now() + Duration::from_millis(200);
    let handle = std::thread::spawn(move || {
        let tick_s = BEAT_S / 24.0;
        let mut tick = 0u32;
        while !stop.load(Ordering::Acquire) {
            let at = t0 + Duration::from_secs_f64(f64::from(tick) * tick_s);
            let now = Instant::now();
            if at > now {
                std::thread::sleep(at - now);
            }
            for (_, message) in script.iter().filter(|(t, _)| *t == tick) {
                send_on(&out, message);
            }
            send_on(&out, &[0xF8]);
            tick += 1;
        }
        send_on(&out, &[0xFC]);
    });
    (t0, handle)
}

/// Arguments of a jam that follows the test's clock (at a tempo of its own far from the
/// clock's, so only following puts the answer on the grid).
const FOLLOW_ARGS: [&str; 11] = [
    "--in",
    "jamtest:call",
    "--out",
    "jamtest:answer",
    "--name",
    "jamfollow",
    "--follow-clock",
    "--tempo",
    "97",
    "--seed",
    "7",
];

#[test]
fn jam_follows_midi_clock_answers_on_the_grid_and_ends_every_note_on_sigint() {
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(jack) = Jack::start("follow", &guard) else {
        return;
    };
    let client = Client::new();
    let jam = Jam::start(&jack, &FOLLOW_ARGS);
    let stop = Arc::new(AtomicBool::new(false));
    let (t0, clock) = clock_thread(&client, vec![(0, vec![0xFA])], stop.clone());
    // The call in bar 2 (beats 4..8): its answer from the bar line at beat 12.
    play_call(&client, t0, 4.0);
    sleep_until(t0, 20.0);
    // A key held down at the end: its thru note must be ended by the exit.
    client.send(&[0x90 | CALL_CHANNEL, 67, 90]);
    sleep_until(t0, 20.5);
    let last = jam.interrupt();
    assert!(last.contains("every note off"), "{last}");
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::Release);
    clock.join().unwrap();
    let heard = notes(&client.received(), t0);
    let held = heard
        .iter()
        .find(|h| h.key == 67 && h.channel == CALL_CHANNEL)
        .expect("held key passed through");
    assert!(
        held.off_beats.is_some(),
        "the held key's note was not ended"
    );
    let answer = check_jam(&heard, 4.0);
    eprintln!(
        "answer on the followed clock: {:?}",
        answer
            .iter()
            .map(|h| (h.key, h.on_beats))
            .collect::<Vec<_>>()
    );
}

#[test]
fn jam_follows_stop_song_position_and_continue() {
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(jack) = Jack::start("transport", &guard) else {
        return;
    };
    let client = Client::new();
    let jam = Jam::start(&jack, &FOLLOW_ARGS);
    let stop = Arc::new(AtomicBool::new(false));
    // Start; Stop after one bar; Song Position Pointer to beat 1 (4 sixteenths); Continue at
    // tick 144 (6 beats after the first tick). From then on the song position is 5 beats
    // behind the ticks: position p falls at tick-clock beat p + 5.
    let script = vec![
        (0, vec![0xFA]),
        (96, vec![0xFC]),
        (120, vec![0xF2, 4, 0]),
        (144, vec![0xFB]),
    ];
    let (t0, clock) = clock_thread(&client, script, stop.clone());
    let song_t0 = t0 + Duration::from_secs_f64(5.0 * BEAT_S);
    // The call in the song's bar 2 (positions 4..8): its answer from position 12. Had the jam
    // missed the song position (or the Continue), its bar lines would fall 3 (or 1) beats
    // earlier and the answer with them.
    play_call(&client, song_t0, 4.0);
    sleep_until(song_t0, 16.0);
    let last = jam.interrupt();
    assert!(last.contains("every note off"), "{last}");
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::Release);
    clock.join().unwrap();
    let heard = notes(&client.received(), song_t0);
    let answer = check_jam(&heard, 4.0);
    // The seeded answer starts a 16th after its bar line.
    assert!(
        answer[0].on_beats < 12.0 + 1.0,
        "first answer note at {:.3}, a beat or more after the bar line 12",
        answer[0].on_beats
    );
    eprintln!(
        "answer after Stop, Song Position and Continue: {:?}",
        answer
            .iter()
            .map(|h| (h.key, h.on_beats))
            .collect::<Vec<_>>()
    );
}

#[test]
fn jam_on_its_own_clock_leads_midi_clock_and_sigint_mid_answer_ends_every_note() {
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(jack) = Jack::start("lead", &guard) else {
        return;
    };
    let client = Client::new();
    let jam = Jam::start(
        &jack,
        &[
            "--in",
            "jamtest:call",
            "--out",
            "jamtest:answer",
            "--name",
            "jamlead",
            "--tempo",
            "120",
            "--clock-out",
            "--metronome",
            "--seed",
            "7",
        ],
    );
    // Learn Antiphon's beat 0 from its clock: a least-squares fit of the ticks' arrival times
    // against tick numbers at the known tempo (tick 0 is the first after Start).
    std::thread::sleep(Duration::from_millis(1500));
    let clock_t0 = |received: &[Received]| -> Instant {
        let start = received
            .iter()
            .position(|r| r.bytes == [0xFA])
            .expect("MIDI clock Start from --clock-out");
        let ticks: Vec<Instant> = received[start..]
            .iter()
            .filter(|r| r.bytes == [0xF8])
            .map(|r| r.at)
            .collect();
        assert!(ticks.len() > 48, "too few ticks: {}", ticks.len());
        let first = ticks[0];
        let tick_s = BEAT_S / 24.0;
        let mean_s = ticks
            .iter()
            .enumerate()
            .map(|(n, at)| (*at - first).as_secs_f64() - n as f64 * tick_s)
            .sum::<f64>()
            / ticks.len() as f64;
        first + Duration::from_secs_f64(mean_s.max(0.0))
    };
    let t0 = clock_t0(&client.received());
    // The call from the bar line after next, on Antiphon's grid.
    let now_beats = t0.elapsed().as_secs_f64() / BEAT_S;
    let call_bar = ((now_beats / 4.0).floor() + 2.0) * 4.0;
    play_call(&client, t0, call_bar);
    // Wait for the first answer note, then stop in the middle of the answer.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !client.received().iter().any(|r| r.bytes[0] == 0x91) {
        assert!(Instant::now() < deadline, "no answer within 20 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(300));
    let last = jam.interrupt();
    assert!(last.contains("every note off"), "{last}");
    std::thread::sleep(Duration::from_millis(100));
    let received = client.received();
    assert_eq!(
        received.last().map(|r| r.bytes.clone()),
        Some(vec![0xFC]),
        "MIDI clock Stop is the last message"
    );
    let t0 = clock_t0(&received);
    let heard = notes(&received, t0);
    let answer = check_jam(&heard, call_bar);
    // The metronome: a click on every beat, the high one on bar lines.
    let clicks: Vec<&Heard> = heard
        .iter()
        .filter(|h| h.channel == CLICK_CHANNEL)
        .collect();
    assert!(clicks.len() >= 8, "too few clicks: {}", clicks.len());
    for pair in clicks.windows(2) {
        let gap = pair[1].on_beats - pair[0].on_beats;
        assert!(
            (gap - 1.0).abs() * BEAT_S < GRID_TOLERANCE_S,
            "clicks {gap} beats apart"
        );
    }
    for click in &clicks {
        let beat = click.on_beats.round();
        assert!(
            (click.on_beats - beat).abs() * BEAT_S < GRID_TOLERANCE_S,
            "{click:?}"
        );
        let bar_line = beat.rem_euclid(4.0) == 0.0;
        assert_eq!(click.key, if bar_line { 76 } else { 77 }, "{click:?}");
    }
    eprintln!(
        "answer on Antiphon's clock: {:?}",
        answer
            .iter()
            .map(|h| (h.key, h.on_beats))
            .collect::<Vec<_>>()
    );
}

#[test]
fn jam_says_a_model_failure_on_a_line_of_its_own_plays_on_and_answers_the_next_call() {
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(jack) = Jack::start("fault", &guard) else {
        return;
    };
    let client = Client::new();
    // The engine's test-only fault injection: the worker panics in the first answer it makes.
    let jam = Jam::start_with_env(
        &jack,
        &[
            "--in",
            "jamtest:call",
            "--out",
            "jamtest:answer",
            "--name",
            "jamfault",
            "--tempo",
            "120",
            "--seed",
            "7",
        ],
        &[("ANTIPHON_FAULT", "panic-in-answer:1")],
    );
    let t0 = Instant::now();
    play_call(&client, t0, 0.5);
    let line = jam.wait_for_line(|l| l.contains("(failure 1;"), Duration::from_secs(20));
    assert!(
        line.starts_with("antiphon jam: the worker panicked: injected fault")
            && line.contains("MIDI thru goes on"),
        "{line}"
    );
    // The restarted worker answers the next call.
    let before = client.received().len();
    play_call(&client, Instant::now(), 0.5);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !client.received()[before..]
        .iter()
        .any(|r| r.bytes[0] == 0x90 | ANSWER_CHANNEL && r.bytes[2] > 0)
    {
        assert!(
            Instant::now() < deadline,
            "no answer to the call after the failure within 20 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let last = jam.interrupt();
    assert!(
        last.contains("every note off") && last.contains("1 model failures"),
        "{last}"
    );
    std::thread::sleep(Duration::from_millis(100));
    let heard = notes(&client.received(), t0);
    for h in &heard {
        assert!(h.off_beats.is_some(), "stuck note: {h:?} in {heard:#?}");
    }
    eprintln!("{line}\n{last}");
}

#[test]
fn jam_errors_are_one_line_and_a_nonzero_exit() {
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let run = |server: &str, args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_antiphon"))
            .arg("jam")
            .args(args)
            .env("JACK_DEFAULT_SERVER", server)
            .output()
            .expect("antiphon runs");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!out.status.success(), "{args:?} succeeded");
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        stderr
    };
    let no_server = run("antiphon-test-no-such-server", &["--list"]);
    assert!(no_server.contains("no MIDI system"), "{no_server}");
    let Some(jack) = Jack::start("errors", &guard) else {
        return;
    };
    let no_device = run(&jack.name, &[]);
    assert!(
        no_device.contains("no MIDI input port at all"),
        "{no_device}"
    );
    let _client = Client::new();
    let no_port = run(&jack.name, &["--in", "nope"]);
    assert!(no_port.contains("no MIDI input port named"), "{no_port}");
    let no_model = run(&jack.name, &["--virtual", "--model", "no_such_model"]);
    assert!(no_model.contains("unknown model"), "{no_model}");
    let bad_mode = run(&jack.name, &["--virtual", "--mode", "solo"]);
    assert!(bad_mode.contains("unknown mode"), "{bad_mode}");
    let no_font = run(
        &jack.name,
        &["--virtual", "--soundfont", "/no/such/font.sf2"],
    );
    assert!(no_font.contains("no SoundFont at"), "{no_font}");
}

#[test]
fn jam_plays_through_the_built_in_synth_on_jack_audio() {
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let soundfont = std::env::var("ANTIPHON_SOUNDFONT")
        .unwrap_or_else(|_| String::from("/usr/share/sounds/sf2/TimGM6mb.sf2"));
    if !std::path::Path::new(&soundfont).exists() {
        if std::env::var("ANTIPHON_SKIP_JACK").as_deref() == Ok("1") {
            eprintln!("skipped: no SoundFont at {soundfont} and ANTIPHON_SKIP_JACK=1");
            return;
        }
        panic!("no SoundFont at {soundfont}: install timgm6mb-soundfont or set ANTIPHON_SOUNDFONT");
    }
    let Some(jack) = Jack::start("synth", &guard) else {
        return;
    };
    // An ear: a JACK client that keeps the peak level of what reaches its input.
    let peak_bits = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let (ear, _) = jack::Client::new("jamtest-ear", jack::ClientOptions::NO_START_SERVER)
        .expect("test audio client");
    let ear_in = ear
        .register_port("in", jack::AudioIn::default())
        .expect("audio port");
    let peak = peak_bits.clone();
    let ear = ear
        .activate_async(
            (),
            jack::contrib::ClosureProcessHandler::new(move |_, scope| {
                let level = ear_in
                    .as_slice(scope)
                    .iter()
                    .fold(0.0f32, |m, x| m.max(x.abs()));
                // Bits of non-negative floats order like the floats.
                peak.fetch_max(level.to_bits(), Ordering::Relaxed);
                jack::Control::Continue
            }),
        )
        .expect("test audio client runs");
    let jam = Jam::start(
        &jack,
        &["--virtual", "--name", "jamsynth", "--soundfont", &soundfont],
    );
    ear.as_client()
        .connect_ports_by_name("jamsynth-synth:left", "jamtest-ear:in")
        .expect("connect the synth to the ear");
    let keys = Client::new();
    keys.active
        .as_client()
        .connect_ports_by_name("jamtest:call", "jamsynth-in:in")
        .expect("connect to antiphon's virtual input");
    let level = |wait_ms: u64| {
        peak_bits.store(0, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(wait_ms));
        f32::from_bits(peak_bits.load(Ordering::Relaxed))
    };
    let quiet = level(300);
    assert!(
        quiet < 1e-4,
        "the synth sounds before any note: peak {quiet}"
    );
    keys.send(&[0x90, 60, 110]);
    let loud = level(300);
    assert!(
        loud > 0.01,
        "a held key is not heard through the synth: peak {loud}"
    );
    let last = jam.interrupt();
    assert!(last.contains("every note off"), "{last}");
    eprintln!("synth peak: {quiet} before the note, {loud} while it sounds");
    drop(keys);
    let _ = ear.deactivate();
}
