"""The chord encodings, symbol parser and recognition against the shared vectors (stdlib only).

Run from the repository root:
    python3 -m unittest discover -s models/python/tests -t models/python
"""

import json
import sys
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from antiphon_train import encoding_chords as chords  # noqa: E402

VECTORS = HERE.parent.parent / "testdata" / "chord_vectors.json"


def load():
    with open(VECTORS) as f:
        return json.load(f)


def as_json(chord):
    if chord is None:
        return None
    return {
        "root": chord.root,
        "quality": chord.quality,
        "bass": chord.bass,
        "pitch_classes": list(chord.pitch_classes),
    }


class SharedVectors(unittest.TestCase):
    def check(self, chord, exp):
        self.assertEqual(as_json(chord), exp["chord"])
        self.assertEqual(chords.triad_index(chord), exp["triad_index"])
        row = chords.pitch_chord_vector(chord)
        self.assertEqual(len(row), chords.PITCH_CHORD_SIZE)
        self.assertEqual(chords.nonzero(row), exp["pitch_chord_nonzero"])
        self.assertTrue(all(v in (0.0, 1.0) for v in row))

    def test_file_is_well_formed(self):
        v = load()
        self.assertGreaterEqual(len(v["symbol_cases"]), 10)
        self.assertGreaterEqual(len(v["held_cases"]), 10)

    def test_symbols(self):
        for case in load()["symbol_cases"]:
            with self.subTest(symbol=case["symbol"]):
                self.check(chords.parse_symbol(case["symbol"]), case["expected"])

    def test_held_notes(self):
        for case in load()["held_cases"]:
            with self.subTest(held=case["held"]):
                self.check(chords.recognize(case["held"]), case["expected"])

    def test_invalid_symbols(self):
        for s in load()["invalid_symbols"]:
            with self.subTest(symbol=s):
                with self.assertRaises(ValueError):
                    chords.parse_symbol(s)


class Given_the_triad_classes(unittest.TestCase):
    def test_when_every_class_is_mapped_to_a_triad_and_back_then_it_is_the_same_class(self):
        for index in range(1, chords.NUM_TRIAD_CLASSES):
            root, quality = chords.triad_of_index(index)
            chord = chords.Chord(root, quality, root, ())
            self.assertEqual(chords.triad_index(chord), index)
        self.assertIsNone(chords.triad_of_index(0))

    def test_when_a_parsed_chord_is_played_then_recognition_finds_the_same_triad(self):
        for symbol in ["C", "Am", "G7", "Cd", "Dm7", "Ebmaj7", "F#m", "Bbm6"]:
            chord = chords.parse_symbol(symbol)
            held = [48 + chord.root] + [60 + pc for pc in chord.pitch_classes]
            got = chords.recognize(held)
            self.assertEqual((got.root, got.quality), (chord.root, chord.quality), symbol)


if __name__ == "__main__":
    unittest.main()
