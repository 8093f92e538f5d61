//! Small helpers for the binary-level tests: temporary directories, reproducible junk bytes,
//! waiting for a log file to say something, and the process's resident memory.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A directory under the system's temp dir, removed (with its content) on drop.
#[derive(Debug)]
pub struct TempDir {
    /// The directory.
    path: PathBuf,
}

impl TempDir {
    /// Creates a fresh, empty directory named after `prefix`, the process id and a counter.
    pub fn new(prefix: &str) -> std::io::Result<Self> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("{prefix}-{}-{n}", std::process::id()));
        if path.exists() {
            std::fs::remove_dir_all(&path)?;
        }
        std::fs::create_dir_all(&path)?;
        Ok(Self { path })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// `len` bytes from a xorshift64* generator seeded with `seed` (0 is replaced by a constant):
/// the same junk on every run.
pub fn pseudo_random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = if seed == 0 {
        0x9e37_79b9_7f4a_7c15
    } else {
        seed
    };
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let word = state.wrapping_mul(0x2545_f491_4f6c_dd1d);
        for byte in word.to_le_bytes() {
            if out.len() < len {
                out.push(byte);
            }
        }
    }
    out
}

/// Reads `path` (missing or unreadable counts as empty) until `found` accepts its text or
/// `timeout` passes; returns the last text read and whether it was accepted. Log writers may
/// flush from a background thread, hence the wait.
pub fn wait_for_text(
    path: &Path,
    timeout: Duration,
    found: impl Fn(&str) -> bool,
) -> (String, bool) {
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if found(&text) {
            return (text, true);
        }
        if started.elapsed() >= timeout {
            return (text, false);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The lines of `text` that contain every one of `needles`, compared case-insensitively.
pub fn lines_with_all<'a>(text: &'a str, needles: &[&str]) -> Vec<&'a str> {
    let needles: Vec<String> = needles.iter().map(|n| n.to_lowercase()).collect();
    text.lines()
        .filter(|line| {
            let lower = line.to_lowercase();
            needles.iter().all(|n| lower.contains(n.as_str()))
        })
        .collect()
}

/// The resident set size of this process in KiB (`VmRSS` of `/proc/self/status`); `None`
/// where there is no such file.
pub fn resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_rss_kib(&status)
}

/// How many file descriptors this process has open (entries of `/proc/self/fd`); `None` where
/// there is no such folder.
pub fn open_fds() -> Option<usize> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count())
}

/// The `VmRSS:` figure of a `/proc/<pid>/status` text, in KiB.
fn parse_vm_rss_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_rss_is_read_in_kib() {
        let status = "Name:\tx\nVmPeak:\t  9000 kB\nVmRSS:\t  1234 kB\nThreads:\t1\n";
        assert_eq!(parse_vm_rss_kib(status), Some(1234));
        assert_eq!(parse_vm_rss_kib("Name:\tx\n"), None);
        #[cfg(target_os = "linux")]
        assert!(resident_kib().is_some_and(|kib| kib > 0));
        #[cfg(target_os = "linux")]
        assert!(open_fds().is_some_and(|n| n >= 3));
    }

    #[test]
    fn temp_dir_is_created_and_removed() {
        let path;
        {
            let dir = TempDir::new("antiphon-util-test").unwrap();
            path = dir.path().to_path_buf();
            assert!(path.is_dir());
            std::fs::write(path.join("f"), b"x").unwrap();
        }
        assert!(!path.exists());
    }

    #[test]
    fn junk_is_reproducible_and_not_constant() {
        let a = pseudo_random_bytes(7, 1000);
        assert_eq!(a, pseudo_random_bytes(7, 1000));
        assert_ne!(a, pseudo_random_bytes(8, 1000));
        assert_eq!(a.len(), 1000);
        let distinct: std::collections::HashSet<u8> = a.iter().copied().collect();
        assert!(distinct.len() > 200, "{} distinct bytes", distinct.len());
        assert_eq!(pseudo_random_bytes(0, 3).len(), 3);
    }

    #[test]
    fn wait_for_text_sees_a_late_write() {
        let dir = TempDir::new("antiphon-util-wait").unwrap();
        let file = dir.path().join("log.txt");
        let writer_file = file.clone();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(150));
            std::fs::write(writer_file, "ERROR antiphon: ONNX Runtime not found\n").unwrap();
        });
        let (text, ok) = wait_for_text(&file, Duration::from_secs(5), |t| t.contains("ONNX"));
        writer.join().unwrap();
        assert!(ok, "{text}");
        let (_, ok) = wait_for_text(&file, Duration::from_millis(100), |t| t.contains("absent"));
        assert!(!ok);
    }

    #[test]
    fn lines_with_all_is_case_insensitive() {
        let text = "INFO loaded\nERROR Model refused: /tmp/x.onnx\nWARN model ok";
        assert_eq!(
            lines_with_all(text, &["model", "x.onnx"]),
            vec!["ERROR Model refused: /tmp/x.onnx"]
        );
    }
}
