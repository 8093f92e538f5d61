//! The built-in General MIDI synth: rustysynth playing the user's SoundFont on JACK audio.
//!
//! The driver hands it MIDI messages through a lock-free ring when they are due; the JACK
//! process callback applies the ones that arrived and renders the period into two audio ports
//! (`NAME-synth:left`, `NAME-synth:right`), which are connected to the first two physical
//! playback ports. The callback takes no lock and makes no allocation of its own: the ring and
//! rustysynth's voices and block buffers are made before JACK starts calling it.

use std::path::Path;
use std::sync::Arc;

use jack::{AudioOut, Client, ClientOptions, Control, Port, PortFlags, ProcessScope};
use ringbuf::traits::{Consumer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};
use rustysynth::{SoundFont, Synthesizer, SynthesizerSettings};

/// Capacity of the message ring, in messages.
const RING_CAPACITY: usize = 4096;

/// One short MIDI message for the synth.
#[derive(Debug, Clone, Copy)]
struct SynthMessage {
    /// Status byte.
    status: u8,
    /// First data byte.
    data1: u8,
    /// Second data byte.
    data2: u8,
}

/// The JACK process callback's state.
struct SynthProcess {
    /// The synth.
    synth: Synthesizer,
    /// Left output.
    left: Port<AudioOut>,
    /// Right output.
    right: Port<AudioOut>,
    /// Messages from the driver.
    messages: HeapCons<SynthMessage>,
}

impl jack::ProcessHandler for SynthProcess {
    fn process(&mut self, _: &Client, scope: &ProcessScope) -> Control {
        while let Some(m) = self.messages.try_pop() {
            self.synth.process_midi_message(
                i32::from(m.status & 0x0F),
                i32::from(m.status & 0xF0),
                i32::from(m.data1),
                i32::from(m.data2),
            );
        }
        let left = self.left.as_mut_slice(scope);
        let right = self.right.as_mut_slice(scope);
        self.synth.render(left, right);
        Control::Continue
    }
}

/// The synth, running: the driver's end of it.
pub struct SynthSink {
    /// Messages to the process callback.
    messages: HeapProd<SynthMessage>,
    /// The running JACK client (deactivated on drop).
    client: jack::AsyncClient<(), SynthProcess>,
}

impl SynthSink {
    /// Loads the SoundFont at `path` and starts the synth as JACK client `client_name`.
    pub fn start(path: &Path, client_name: &str) -> Result<Self, String> {
        let mut file = std::fs::File::open(path).map_err(|e| {
            format!(
                "no SoundFont at {} ({e}); on Debian `apt install timgm6mb-soundfont` gives \
                 /usr/share/sounds/sf2/TimGM6mb.sf2",
                path.display()
            )
        })?;
        let font = SoundFont::new(&mut file)
            .map_err(|e| format!("{} is not a SoundFont: {e:?}", path.display()))?;
        let (client, _status) = Client::new(client_name, ClientOptions::NO_START_SERVER)
            .map_err(|e| format!("no audio: cannot reach a JACK server ({e})"))?;
        let sample_rate = i32::try_from(client.sample_rate())
            .map_err(|_| String::from("no audio: JACK's sample rate is out of range"))?;
        let settings = SynthesizerSettings::new(sample_rate);
        let synth = Synthesizer::new(&Arc::new(font), &settings)
            .map_err(|e| format!("the synth cannot start: {e:?}"))?;
        let port = |name: &str| {
            client
                .register_port(name, AudioOut::default())
                .map_err(|e| format!("cannot make the synth's audio port {name}: {e}"))
        };
        let (left, right) = (port("left")?, port("right")?);
        let names = [left.name(), right.name()];
        let (messages, consumer) = HeapRb::<SynthMessage>::new(RING_CAPACITY).split();
        let process = SynthProcess {
            synth,
            left,
            right,
            messages: consumer,
        };
        let client = client
            .activate_async((), process)
            .map_err(|e| format!("cannot start the synth's audio: {e}"))?;
        let playback = client.as_client().ports(
            None,
            Some("32 bit float mono audio"),
            PortFlags::IS_INPUT | PortFlags::IS_PHYSICAL,
        );
        for (ours, theirs) in names.iter().zip(playback.iter()) {
            if let Ok(ours) = ours {
                // A failed connection leaves the port for the user to connect.
                let _ = client.as_client().connect_ports_by_name(ours, theirs);
            }
        }
        Ok(Self { messages, client })
    }

    /// Queues one message for the next audio period; `Err` when the ring is full.
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), ()> {
        let [status, rest @ ..] = bytes else {
            return Ok(());
        };
        let message = SynthMessage {
            status: *status,
            data1: rest.first().copied().unwrap_or(0),
            data2: rest.get(1).copied().unwrap_or(0),
        };
        self.messages.try_push(message).map_err(|_| ())
    }

    /// Lets the last note-offs' release ring out, then stops the audio.
    pub fn close(self) {
        std::thread::sleep(std::time::Duration::from_millis(300));
        let _ = self.client.deactivate();
    }
}
