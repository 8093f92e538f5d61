//! Rendering a piece to a WAV file with a General MIDI SoundFont (`rustysynth`): 44.1 kHz,
//! stereo, 16-bit PCM, channel 10 as the GM drum kit.
//!
//! The SoundFont is `--soundfont`, else `$ANTIPHON_SOUNDFONT`, else the first of Debian's GM
//! SoundFonts that is installed ([`SYSTEM_SOUNDFONTS`]).

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use antiphon_models::midi_file::FileNote;
use rustysynth::{SoundFont, Synthesizer, SynthesizerSettings};

/// Sample rate of the WAV, in hertz.
pub const SAMPLE_RATE_HZ: u32 = 44_100;
/// Channels of the WAV (stereo).
pub const CHANNELS: u16 = 2;
/// Seconds rendered after the piece's end, so the last notes ring out.
pub const TAIL_SECONDS: f64 = 2.0;
/// The environment variable naming a SoundFont.
pub const SOUNDFONT_ENV: &str = "ANTIPHON_SOUNDFONT";
/// General MIDI SoundFonts that Debian packages install (fluid-soundfont-gm,
/// the default-GM alternative, timgm6mb-soundfont), best first.
pub const SYSTEM_SOUNDFONTS: [&str; 3] = [
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
];
/// Frames rendered between two looks at the next event, at most.
const BLOCK_FRAMES: usize = 1024;

/// The SoundFont to use and where its name came from: `explicit` (`--soundfont`), else the one
/// `env_value` names (`$ANTIPHON_SOUNDFONT`), else the first of `system` that exists.
pub fn find_soundfont(
    explicit: Option<&Path>,
    env_value: Option<OsString>,
    system: &[&str],
) -> Result<(PathBuf, &'static str), String> {
    if let Some(path) = explicit {
        return Ok((path.to_path_buf(), "--soundfont"));
    }
    if let Some(value) = env_value.filter(|v| !v.is_empty()) {
        return Ok((PathBuf::from(value), "$ANTIPHON_SOUNDFONT"));
    }
    system
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .map(|p| (p, "installed"))
        .ok_or_else(|| {
            format!(
                "no SoundFont for the WAV: give --soundfont FILE.sf2 or set {SOUNDFONT_ENV} \
                 (on Debian or Ubuntu: apt install timgm6mb-soundfont)"
            )
        })
}

/// Loads a SoundFont whose name came from `origin` (for messages); a missing, unreadable or
/// malformed file is an error, never a panic.
pub fn load_soundfont(path: &Path, origin: &str) -> Result<Arc<SoundFont>, String> {
    let named = format!("{} (from {origin})", path.display());
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read SoundFont {named}: {e}"))?;
    // NOTE: a damaged file may trip an assertion or an oversized allocation inside the parser;
    // that is caught and reported like any other malformed file.
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let parsed = std::panic::catch_unwind(|| SoundFont::new(&mut &bytes[..]));
    std::panic::set_hook(previous_hook);
    match parsed {
        Ok(Ok(font)) => Ok(Arc::new(font)),
        Ok(Err(e)) => Err(format!("{named} is not a usable SoundFont: {e}")),
        Err(_) => Err(format!("{named} is not a usable SoundFont")),
    }
}

/// A note-on or note-off at a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct SynthEvent {
    /// When, in frames from the start.
    frame: u64,
    /// 0 for a note-off, 1 for a note-on: offs sort first, so a repeated key restarts.
    is_on: u8,
    /// MIDI channel index.
    channel: u8,
    /// MIDI key.
    key: u8,
    /// MIDI velocity (note-ons).
    velocity: u8,
}

/// Frames the WAV of a piece `length_seconds` long with `notes` holds: the piece (or its last
/// note, if later) and [`TAIL_SECONDS`].
pub fn total_frames(notes: &[FileNote], tempo_qpm: f64, length_seconds: f64) -> u64 {
    let seconds_per_quarter = 60.0 / tempo_qpm;
    let end_seconds = notes
        .iter()
        .map(|n| n.end_quarters * seconds_per_quarter)
        .fold(length_seconds.max(0.0), f64::max);
    ((end_seconds + TAIL_SECONDS) * f64::from(SAMPLE_RATE_HZ)).ceil() as u64
}

/// The 44-byte header of a 16-bit PCM WAV file of `frames` frames.
pub fn wav_header(frames: u64) -> Result<[u8; 44], String> {
    let block_align = u32::from(CHANNELS) * 2;
    let data_bytes = u32::try_from(frames * u64::from(block_align))
        .ok()
        .filter(|b| *b <= u32::MAX - 36)
        .ok_or("the piece is too long for a WAV file (4 GiB)")?;
    let mut header = [0u8; 44];
    let fields: [&[u8]; 13] = [
        b"RIFF",
        &(36 + data_bytes).to_le_bytes(),
        b"WAVE",
        b"fmt ",
        &16u32.to_le_bytes(),
        &1u16.to_le_bytes(),
        &CHANNELS.to_le_bytes(),
        &SAMPLE_RATE_HZ.to_le_bytes(),
        &(SAMPLE_RATE_HZ * block_align).to_le_bytes(),
        &(block_align as u16).to_le_bytes(),
        &16u16.to_le_bytes(),
        b"data",
        &data_bytes.to_le_bytes(),
    ];
    let mut at = 0;
    for field in fields {
        header[at..at + field.len()].copy_from_slice(field);
        at += field.len();
    }
    Ok(header)
}

/// Renders `notes` at `tempo_qpm` with `sound_font` and writes the WAV to `out`, calling
/// `progress` with the fraction done now and then.
pub fn render_wav(
    notes: &[FileNote],
    tempo_qpm: f64,
    length_seconds: f64,
    sound_font: &Arc<SoundFont>,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(f64),
) -> Result<(), String> {
    let settings = SynthesizerSettings::new(SAMPLE_RATE_HZ as i32);
    let mut synth = Synthesizer::new(sound_font, &settings)
        .map_err(|e| format!("cannot start the synthesizer: {e}"))?;
    let frames_per_quarter = 60.0 / tempo_qpm * f64::from(SAMPLE_RATE_HZ);
    let frame_of = |quarters: f64| (quarters.max(0.0) * frames_per_quarter).round() as u64;
    let mut events: Vec<SynthEvent> = Vec::with_capacity(notes.len() * 2);
    for n in notes {
        let (channel, key) = (n.channel & 0x0f, n.pitch & 0x7f);
        let on = frame_of(n.start_quarters);
        let off = frame_of(n.end_quarters).max(on + 1);
        events.push(SynthEvent {
            frame: on,
            is_on: 1,
            channel,
            key,
            velocity: n.velocity.clamp(1, 127),
        });
        events.push(SynthEvent {
            frame: off,
            is_on: 0,
            channel,
            key,
            velocity: 0,
        });
    }
    events.sort_unstable();
    let frames = total_frames(notes, tempo_qpm, length_seconds);
    let write_error = |e: std::io::Error| format!("cannot write the WAV: {e}");
    out.write_all(&wav_header(frames)?).map_err(write_error)?;
    let (mut left, mut right) = (vec![0f32; BLOCK_FRAMES], vec![0f32; BLOCK_FRAMES]);
    let mut pcm = Vec::with_capacity(BLOCK_FRAMES * 4);
    let mut next_event = 0;
    let mut frame = 0u64;
    while frame < frames {
        while let Some(e) = events.get(next_event).filter(|e| e.frame <= frame) {
            if e.is_on == 1 {
                synth.note_on(
                    i32::from(e.channel),
                    i32::from(e.key),
                    i32::from(e.velocity),
                );
            } else {
                synth.note_off(i32::from(e.channel), i32::from(e.key));
            }
            next_event += 1;
        }
        let until = events
            .get(next_event)
            .map_or(frames, |e| e.frame.min(frames));
        let len = (until - frame).min(BLOCK_FRAMES as u64) as usize;
        synth.render(&mut left[..len], &mut right[..len]);
        pcm.clear();
        for (l, r) in left[..len].iter().zip(&right[..len]) {
            for s in [l, r] {
                let sample = (s * 32767.0).round().clamp(-32768.0, 32767.0) as i16;
                pcm.extend_from_slice(&sample.to_le_bytes());
            }
        }
        out.write_all(&pcm).map_err(write_error)?;
        frame += len as u64;
        progress(frame as f64 / frames as f64);
    }
    out.flush().map_err(write_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_a_flag_an_env_value_and_system_files_when_searched_then_the_flag_wins() {
        let found = find_soundfont(
            Some(Path::new("/a.sf2")),
            Some("/b.sf2".into()),
            &["/nonexistent/c.sf2"],
        );
        assert_eq!(found.unwrap(), (PathBuf::from("/a.sf2"), "--soundfont"));
    }

    #[test]
    fn given_only_an_env_value_when_searched_then_it_is_used() {
        let found = find_soundfont(None, Some("/b.sf2".into()), &[]);
        assert_eq!(
            found.unwrap(),
            (PathBuf::from("/b.sf2"), "$ANTIPHON_SOUNDFONT")
        );
    }

    #[test]
    fn given_nothing_installed_when_searched_then_one_line_says_how_to_get_one() {
        let error = find_soundfont(None, Some("".into()), &["/nonexistent/c.sf2"]).unwrap_err();
        assert!(
            error.contains("--soundfont") && !error.contains('\n'),
            "{error}"
        );
    }

    #[test]
    fn given_garbage_when_loaded_as_a_soundfont_then_an_error_not_a_panic() {
        let dir = std::env::temp_dir().join(format!("antiphon-sf2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("garbage.sf2");
        std::fs::write(&path, b"RIFF\x10\x00\x00\x00sfbkLIST\xff\xff\xff\x7fINFO").unwrap();
        let error = load_soundfont(&path, "--soundfont").unwrap_err();
        assert!(error.contains("not a usable SoundFont"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn given_one_second_when_the_header_is_written_then_it_describes_16_bit_stereo_44k() {
        let header = wav_header(44_100).unwrap();
        assert_eq!(&header[0..4], b"RIFF");
        assert_eq!(&header[8..16], b"WAVEfmt ");
        assert_eq!(u16::from_le_bytes([header[22], header[23]]), 2);
        assert_eq!(
            u32::from_le_bytes([header[24], header[25], header[26], header[27]]),
            44_100
        );
        assert_eq!(u16::from_le_bytes([header[34], header[35]]), 16);
        assert_eq!(
            u32::from_le_bytes([header[40], header[41], header[42], header[43]]),
            44_100 * 4
        );
    }

    #[test]
    fn given_a_note_past_the_length_when_frames_are_counted_then_the_note_and_tail_fit() {
        let note = FileNote {
            pitch: 60,
            velocity: 100,
            channel: 0,
            start_quarters: 0.0,
            end_quarters: 8.0,
        };
        // 8 quarters at 120 QPM: 4 s, longer than the 3 s asked.
        assert_eq!(total_frames(&[note], 120.0, 3.0), 6 * 44_100);
    }
}
