"""Segmentation, chord timelines and evaluation MIDI of the training sets (stdlib only).

Run from the repository root:
    python3 -m unittest discover -s models/python/tests -t models/python
"""

import sys
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from antiphon_train import datasets  # noqa: E402
from antiphon_train import encoding_chords as chords  # noqa: E402
from antiphon_train.data import Tune  # noqa: E402


class ChordSymbols(unittest.TestCase):
    def test_given_music21_spellings_when_normalized_then_the_parser_reads_them(self):
        for raw, want in (("B-", "Bb"), ("D/f+", "D/f#"), ("E-7", "Eb7"), ("D m", "Dm"), ("Gm/b-", "Gm/bb"),
                          ("C+", "C+")):
            self.assertEqual(datasets.normalize_symbol(raw), want)
            chords.parse_symbol(want)

    def test_given_a_symbol_when_transposed_then_root_and_bass_move_and_the_suffix_stays(self):
        self.assertEqual(datasets.transpose_symbol("D/f#", 3), "F/A")
        self.assertEqual(datasets.transpose_symbol("Bb7", 2), "C7")
        self.assertEqual(datasets.transpose_symbol("Am", -2), "Gm")
        self.assertEqual(datasets.transpose_symbol("N.C.", 5), "N.C.")
        for t in range(-5, 7):
            a = chords.parse_symbol(datasets.transpose_symbol("F#m7b5/C", t))
            b = chords.parse_symbol("F#m7b5/C")
            self.assertEqual(a.root, (b.root + t) % 12)
            self.assertEqual(a.bass, (b.bass + t) % 12)
            self.assertEqual(a.quality, b.quality)

    def test_given_changes_when_windowed_then_the_chord_in_force_opens_the_window(self):
        changes = [(0, "C"), (16, "G"), (32, "Am"), (48, "F")]
        self.assertEqual(datasets.chords_in(changes, 20, 20), [(0, "G"), (12, "Am")])
        self.assertEqual(datasets.chords_in(changes, 16, 8), [(0, "G")])
        self.assertEqual(datasets.chords_in([(10, "C")], 0, 8), [])

    def test_given_changes_when_spread_per_step_then_no_chord_comes_before_the_first(self):
        per = datasets.chords_per_step([(2, "C"), (4, "N.C."), (5, "G")], 7)
        self.assertEqual([None if c is None else c.root for c in per], [None, None, 0, 0, None, 7, 7])


class Segments(unittest.TestCase):
    def test_given_a_pickup_when_bar_aligned_then_step_0_is_the_bar_line_before_the_first_note(self):
        notes = [(60, 0, 4)] + [(62 + i % 5, 4 + 4 * i, 8 + 4 * i) for i in range(40)]
        tune = Tune(ident="t", source="s", notes=notes, bar_start=4, bar_steps=16)
        (segs, origin), = datasets.melody_segments(tune, align=True)
        self.assertEqual(origin, -12)
        self.assertEqual(segs[0], (60, 12, 16))
        self.assertEqual((segs[1][1] - 16) % 16, 0, "the first full bar starts on a multiple of 16")

    def test_given_a_drum_track_with_a_long_gap_when_segmented_then_short_pieces_are_dropped(self):
        groove = [(36, s, s + 1) for s in range(0, 200, 4)]  # 50 kicks, 200 steps
        fill = [(38, s, s + 1) for s in range(400, 440, 2)]  # 40 steps after a long gap
        segs = datasets.drum_segments(groove + fill + [(999, 10, 11)])
        self.assertEqual(len(segs), 1)
        notes, origin = segs[0]
        self.assertEqual(origin, 0)
        self.assertEqual(len(notes), 50)

    def test_given_a_long_drum_track_when_segmented_then_chunks_start_on_bar_lines(self):
        notes = [(42, s, s + 1) for s in range(8, 1100, 2)]
        segs = datasets.drum_segments(notes)
        self.assertEqual([o for _, o in segs], [0, 512])  # the 3rd chunk (1024..1100) is < 112 steps
        self.assertTrue(all(o % 16 == 0 for _, o in segs))


class EvalMidi(unittest.TestCase):
    def test_given_improv_segments_when_written_then_they_read_back_with_their_chords(self):
        seg = datasets.Segment("t", [(60 + i % 7, 2 * i, 2 * i + 2) for i in range(60)], [(0, "C"), (16, "G7/B")])
        drum = datasets.Segment("d", [(36, s, s + 1) for s in range(0, 120, 4)])
        with tempfile.TemporaryDirectory() as d:
            for kind, s in (("improv", seg), ("drum_kit", drum)):
                folders = datasets.write_eval_midi(kind, {"valid": [s]}, Path(d) / kind)
                datasets.check_eval_midi(kind, {"valid": [s]}, folders)


if __name__ == "__main__":
    unittest.main()
