"""Segmentation, split and MIDI I/O of the training pipeline (standard library only)."""

import os
import struct
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from antiphon_train import data, encoding  # noqa: E402
from antiphon_train.midi import read_midi, write_midi  # noqa: E402


def scale_run(start, count, step=2, length=2, base=60):
    """`count` notes of `length` steps, back to back, cycling over 7 pitches."""
    pitches = [base + d for d in (0, 2, 4, 5, 7, 9, 11)]
    return [(pitches[i % 7], start + i * step, start + i * step + length) for i in range(count)]


class Segmentation(unittest.TestCase):
    def test_split_at_gaps_of_16_steps_and_move_to_zero(self):
        a = scale_run(0, 60)            # steps 0..120
        b = scale_run(120 + 16, 60)     # gap of exactly 16 -> new segment
        segs = data.segment_notes(a + b)
        self.assertEqual(len(segs), 2)
        self.assertEqual(segs[0], a)
        self.assertEqual(segs[1][0][1], 0)
        self.assertEqual(segs[1], [(p, s - 136, e - 136) for p, s, e in b])

    def test_gap_of_15_steps_does_not_split(self):
        a = scale_run(0, 60)
        b = scale_run(120 + 15, 60)
        self.assertEqual(len(data.segment_notes(a + b)), 1)

    def test_short_segments_are_dropped(self):
        self.assertEqual(data.segment_notes(scale_run(0, 55)), [])      # 110 steps
        self.assertEqual(len(data.segment_notes(scale_run(0, 56))), 1)  # 112 steps

    def test_few_distinct_pitches_are_dropped(self):
        four = [(60 + [0, 2, 4, 5][i % 4], 2 * i, 2 * i + 2) for i in range(80)]
        self.assertEqual(data.segment_notes(four), [])
        five = [(60 + [0, 2, 4, 5, 7][i % 5], 2 * i, 2 * i + 2) for i in range(80)]
        self.assertEqual(len(data.segment_notes(five)), 1)

    def test_long_segments_are_cut_at_note_boundaries(self):
        notes = scale_run(0, 700, step=3, length=3)  # 2100 steps
        segs = data.segment_notes(notes)
        self.assertGreater(len(segs), 3)
        total = 0
        for seg in segs:
            self.assertLessEqual(seg[-1][2], 512)
            self.assertEqual(seg[0][1], 0)
            total += len(seg)
        # 512 // 3 = 170 whole notes per chunk; the last chunk of 20 notes (60 steps) is dropped
        self.assertEqual([len(s) for s in segs], [170, 170, 170, 170])
        self.assertEqual(total, 680)

    def test_segments_are_monophonic(self):
        notes = scale_run(0, 60) + [(40, 2 * i, 2 * i + 2) for i in range(60)]
        (seg,) = data.segment_notes(notes)
        self.assertEqual(seg, encoding.monophonic(notes))

    def test_split_is_stable_and_about_ten_percent(self):
        self.assertEqual(data.split_of("music21:essenFolksong/lux.abc#3"),
                         data.split_of("music21:essenFolksong/lux.abc#3"))
        n = sum(data.split_of(f"tune-{i}") == "valid" for i in range(20000))
        self.assertTrue(1700 < n < 2300, n)


class Midi(unittest.TestCase):
    def test_write_then_read_gives_the_same_steps(self):
        notes = [(60, 0, 2), (60, 2, 4), (64, 4, 5), (67, 9, 13), (67, 13, 14), (72, 20, 21)]
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "x.mid")
            write_midi(path, notes)
            m = read_midi(path)
        self.assertEqual(m.ticks_per_quarter, 480)
        self.assertEqual(list(m.by_instrument), [(0, 0)])
        back = [(p, encoding.ticks_to_step(s, 480, 4), encoding.ticks_to_step(e, 480, 4))
                for p, s, e in m.by_instrument[(0, 0)]]
        self.assertEqual(back, notes)
        raw = m.by_instrument[(0, 0)]
        self.assertEqual(raw[1], (60, 240, 480))  # 120 ticks per 16th step

    def test_reader_handles_running_status_velocity_zero_and_meta(self):
        def vlq(v):
            out = [v & 0x7F]
            v >>= 7
            while v:
                out.append(0x80 | (v & 0x7F))
                v >>= 7
            return bytes(reversed(out))

        track = (vlq(0) + b"\xff\x03\x04name"            # meta: track name
                 + vlq(0) + b"\xf0\x03\x01\x02\xf7"       # sysex
                 + vlq(0) + b"\x92\x3c\x40"               # note on C4, channel 3
                 + vlq(96) + b"\x3c\x00"                  # running status, velocity 0 = off
                 + vlq(0) + b"\x3e\x50"                   # running status note on D4
                 + vlq(200) + b"\x82\x3e\x00"             # note off
                 + vlq(0) + b"\x99\x24\x64"               # drum note, never released
                 + vlq(10) + b"\xff\x2f\x00")
        blob = b"MThd" + struct.pack(">IHHH", 6, 1, 1, 96) + b"MTrk" + struct.pack(">I", len(track)) + track
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "y.mid")
            with open(path, "wb") as f:
                f.write(blob)
            m = read_midi(path)
        self.assertEqual(m.ticks_per_quarter, 96)
        self.assertEqual(m.by_instrument[(0, 2)], [(60, 0, 96), (62, 96, 296)])
        self.assertEqual(m.by_instrument[(0, 9)], [(36, 296, 306)])

    def test_user_midi_folder_is_read_recursively_without_drums(self):
        with tempfile.TemporaryDirectory() as d:
            os.makedirs(os.path.join(d, "sub"))
            write_midi(os.path.join(d, "sub", "a.MID"), scale_run(0, 60))
            write_midi(os.path.join(d, "b.mid"), scale_run(0, 60), channel=9)
            with open(os.path.join(d, "notes.txt"), "w") as f:
                f.write("not midi")
            tunes = data.load_midi_tunes(Path(d), Path(d))
        self.assertEqual([t.ident for t in tunes], ["file:sub/a.MID"])
        self.assertEqual(tunes[0].notes, scale_run(0, 60))


if __name__ == "__main__":
    unittest.main()
