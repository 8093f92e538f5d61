"""Truncated and corrupt MIDI files through the training pipeline's reader: each is read or
refused with ValueError, never another exception (training reports a ValueError and skips the
file). The Rust reader has the same table in models/tests/hostile_midi.rs and a fuzz target."""

import os
import random
import struct
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from antiphon_train.midi import read_midi, write_midi  # noqa: E402

SEEDS = Path(__file__).resolve().parents[2] / "fuzz" / "seeds" / "midi_read"


class HostileMidi(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "x.mid")

    def tearDown(self):
        self.dir.cleanup()

    def read(self, data: bytes):
        """read_midi on `data`: the notes, or the ValueError's message."""
        with open(self.path, "wb") as f:
            f.write(data)
        try:
            return read_midi(self.path)
        except ValueError as e:
            self.assertTrue(str(e).strip())
            return str(e)

    def small_file(self) -> bytes:
        write_midi(self.path, [(60, 0, 4), (64, 4, 8), (67, 8, 16)], markers=[(0, "C")])
        with open(self.path, "rb") as f:
            return f.read()

    def test_every_truncation_of_a_real_file_is_read_or_refused_with_value_error(self):
        for name in sorted(os.listdir(SEEDS)) if SEEDS.is_dir() else []:
            data = (SEEDS / name).read_bytes()
            for n in range(len(data)):
                self.read(data[:n])
        data = self.small_file()
        refused = [n for n in range(len(data)) if isinstance(self.read(data[:n]), str)]
        self.assertIn(0, refused)
        self.assertIn(len(data) - 1, refused, "the end-of-track cut short")
        self.assertNotIsInstance(self.read(data), str)

    def test_seeded_bit_flips_and_junk_are_read_or_refused_with_value_error(self):
        data = self.small_file()
        rng = random.Random(5)
        for _ in range(300):
            flipped = bytearray(data)
            for _ in range(rng.randint(1, 8)):
                i = rng.randrange(len(flipped) * 8)
                flipped[i // 8] ^= 1 << (i % 8)
            self.read(bytes(flipped))
            self.read(data[:14] + bytes(rng.randrange(256) for _ in range(200)))

    def test_lying_lengths_and_timing_are_refused_or_read(self):
        header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480)
        track = b"\x00\x90\x3c\x40\x60\x80\x3c\x00\x00\xff\x2f\x00"
        self.assertIn("SMPTE", self.read(b"MThd" + struct.pack(">IHHH", 6, 0, 1, 0xE728) + track))
        self.assertIn("not a Standard MIDI File", self.read(b"RIFF....RMID"))
        self.read(header + b"MTrk" + struct.pack(">I", 0xFFFFFFFF) + track)
        self.read(header + b"MTrk" + struct.pack(">I", 3) + track)
        self.read(header + b"MTrk" + struct.pack(">I", len(track) + 5) + b"\x00\xff\x01\x8f\xff\xff\x7f" + track)
        self.assertIn("running status", self.read(header + b"MTrk" + struct.pack(">I", 4) + b"\x00\x3c\x40\x00"))


if __name__ == "__main__":
    unittest.main()
