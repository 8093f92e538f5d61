//! What 16 idle instances in one process cost: 16 engine instances, each with its worker thread
//! and the shipped default model loaded, no notes played. For a few seconds of wall time the
//! benchmark reads every thread's CPU time (Linux: `/proc/self/task/*/schedstat`, nanoseconds
//! on a CPU) and reports it as a share of one core, by thread name, with how often the workers
//! looked at their input (goal: < 2 % of one core in all).
//!
//! Two cases:
//! - host stopped: nothing calls `process` (a host that stops calling it, or one that is
//!   stopped and deactivated);
//! - host playing: this thread calls `process_block` on all 16 every 512 samples at 48 kHz, in
//!   real time (the main thread's own CPU is then the audio side of 16 instances).
//!
//! The idle worker looks at its input every 20 ms (`worker.rs`'s `IDLE_POLL`): 50 looks a second
//! each. Not a criterion benchmark: what it measures is CPU over wall time, not the time of an
//! operation.

mod support;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use antiphon_engine::{AudioSettings, HostTransport, Instance, ModelChoice};

use support::{BLOCK_SAMPLES, SAMPLE_RATE_HZ, TEMPO_BPM, bench_mode, start_ready, wanted};

/// Instances in the process.
const INSTANCES: usize = 16;

/// CPU time of every thread of this process, by thread id: (name, nanoseconds on a CPU).
fn thread_cpu() -> HashMap<u32, (String, u64)> {
    let mut threads = HashMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return threads;
    };
    for task in tasks.flatten() {
        let Some(tid) = task.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let path = task.path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        let schedstat = std::fs::read_to_string(path.join("schedstat")).unwrap_or_default();
        if let Some(ns) = schedstat
            .split_whitespace()
            .next()
            .and_then(|s| s.parse().ok())
        {
            threads.insert(tid, (comm.trim().to_string(), ns));
        }
    }
    threads
}

/// Total worker looks at the input so far, over all instances.
fn ticks(instances: &[Instance]) -> u64 {
    instances
        .iter()
        .map(|i| i.shared.worker_ticks.load(Ordering::Acquire))
        .sum()
}

/// Measures for `window` (calling `process_block` on every instance in real time when
/// `playing`) and prints CPU per thread name as a share of one core.
fn measure(instances: &mut [Instance], window: Duration, playing: bool) {
    let before = thread_cpu();
    let ticks_before = ticks(instances);
    let start = Instant::now();
    let mut blocks = 0u64;
    if playing {
        let block = Duration::from_secs_f64(f64::from(BLOCK_SAMPLES) / SAMPLE_RATE_HZ);
        let beats_per_block = f64::from(BLOCK_SAMPLES) * TEMPO_BPM / (60.0 * SAMPLE_RATE_HZ);
        let settings = AudioSettings::default();
        while start.elapsed() < window {
            let transport = HostTransport {
                playing: true,
                tempo_bpm: Some(TEMPO_BPM),
                pos_beats: Some(blocks as f64 * beats_per_block),
                time_sig: Some((4, 4)),
                bar_start_beats: None,
            };
            for instance in instances.iter_mut() {
                let out = instance.audio.process_block(
                    &transport,
                    BLOCK_SAMPLES,
                    SAMPLE_RATE_HZ,
                    &settings,
                    std::iter::empty(),
                );
                std::hint::black_box(out.events);
            }
            blocks += 1;
            let next = block * u32::try_from(blocks).unwrap_or(u32::MAX);
            if let Some(wait) = next.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
        }
    } else {
        std::thread::sleep(window);
    }
    let wall = start.elapsed();
    let after = thread_cpu();
    let looks = ticks(instances) - ticks_before;

    let mut by_name: HashMap<String, (usize, u64)> = HashMap::new();
    for (tid, (name, ns)) in &after {
        let used = before
            .get(tid)
            .map_or(*ns, |(_, was)| ns.saturating_sub(*was));
        let entry = by_name.entry(name.clone()).or_default();
        entry.0 += 1;
        entry.1 += used;
    }
    let share = |ns: u64| ns as f64 / wall.as_nanos() as f64 * 100.0;
    let total: u64 = by_name.values().map(|(_, ns)| ns).sum();
    let mut names: Vec<_> = by_name.into_iter().collect();
    names.sort_by_key(|n| std::cmp::Reverse(n.1.1));
    println!(
        "  host {}: {:.1} s of wall time{}",
        if playing { "playing" } else { "stopped" },
        wall.as_secs_f64(),
        if playing {
            format!(", {blocks} blocks × {INSTANCES} instances processed on the main thread")
        } else {
            String::new()
        }
    );
    for (name, (threads, ns)) in &names {
        println!(
            "    {name:<24} {threads:>3} threads  {:>8.3} % of one core",
            share(*ns)
        );
    }
    println!(
        "    {:<24} {:>11}  {:>8.3} % of one core",
        "all threads",
        "",
        share(total)
    );
    let worker_ns = names
        .iter()
        .find(|(name, _)| name == "antiphon-worker")
        .map_or(0, |(_, (_, ns))| *ns);
    if looks > 0 {
        println!(
            "    workers looked at their input {:.0} times a second in all ({:.1} each), \
             {:.1} µs of CPU per look",
            looks as f64 / wall.as_secs_f64(),
            looks as f64 / wall.as_secs_f64() / INSTANCES as f64,
            worker_ns as f64 / looks as f64 / 1000.0
        );
    }
}

/// Starts the instances and measures both cases.
fn main() {
    if !wanted("idle_instances") {
        return;
    }
    if !std::path::Path::new("/proc/self/task").exists() {
        println!("idle_instances: needs Linux's /proc/self/task; skipped");
        return;
    }
    let window = if bench_mode() {
        Duration::from_secs(5)
    } else {
        Duration::from_millis(200)
    };
    let load_start = Instant::now();
    let mut instances: Vec<Instance> = (0..INSTANCES)
        .map(|_| start_ready(ModelChoice::Default, |_| {}))
        .collect();
    println!(
        "{INSTANCES} idle instances of the default model (started and loaded in {:.2} s), CPU \
         time by thread over the window (goal: < 2 % of one core in all)",
        load_start.elapsed().as_secs_f64()
    );
    // Let the loader threads finish and be joined.
    std::thread::sleep(Duration::from_millis(300));
    measure(&mut instances, window, false);
    measure(&mut instances, window, true);
}
