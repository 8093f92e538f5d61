"""The melody_onehot encoder against the shared vectors (standard library only).

Run from the repository root:
    python3 -m unittest discover -s models/python/tests -t models/python
"""

import json
import sys
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from antiphon_train import encoding  # noqa: E402
from antiphon_train.encoding import MelodyEncoding  # noqa: E402

VECTORS = HERE.parent.parent / "testdata" / "melody_onehot_vectors.json"


def load_cases():
    with open(VECTORS) as f:
        return json.load(f)["cases"]


class SharedVectors(unittest.TestCase):
    def test_file_is_well_formed(self):
        cases = load_cases()
        self.assertGreaterEqual(len(cases), 20)
        names = [c["name"] for c in cases]
        self.assertEqual(len(names), len(set(names)), "case names must be unique")
        for c in cases:
            exp = c["expected"]
            self.assertEqual(len(exp["events"]), len(exp["classes"]), c["name"])

    def test_encode(self):
        for case in load_cases():
            with self.subTest(case=case["name"]):
                enc = MelodyEncoding.from_json(case["encoding"])
                got = encoding.encode(case["notes"], enc)
                exp = case["expected"]
                self.assertEqual(got.key, exp["key"], "key")
                self.assertEqual(got.total_shift, exp["total_shift"], "total_shift")
                self.assertEqual(got.events, exp["events"], "events")
                self.assertEqual(got.classes, exp["classes"], "classes")

    def test_decode(self):
        for case in load_cases():
            with self.subTest(case=case["name"]):
                enc = MelodyEncoding.from_json(case["encoding"])
                exp = case["expected"]
                got = encoding.decode(exp["classes"], enc, total_shift=exp["total_shift"])
                self.assertEqual([list(n) for n in got], exp["decoded_notes"])

    def test_encoding_json_roundtrip(self):
        for case in load_cases():
            enc = MelodyEncoding.from_json(case["encoding"])
            self.assertEqual(enc.to_json(), case["encoding"])


class EncoderProperties(unittest.TestCase):
    """Rules checked on generated melodies, beyond the hand-made vectors."""

    def random_melodies(self, n=300):
        import random

        rng = random.Random(1234)
        for _ in range(n):
            notes = []
            for _ in range(rng.randint(1, 12)):
                start = rng.randint(0, 40)
                notes.append((rng.randint(20, 110), start, start + rng.randint(-1, 10)))
            yield notes

    def test_decode_inverts_encode_for_monophonic_in_range_melodies(self):
        enc = MelodyEncoding()
        for notes in self.random_melodies():
            mono = encoding.monophonic(notes)
            out = encoding.encode(notes, enc)
            back = encoding.decode(out.classes, enc, total_shift=out.total_shift)
            # Equal whenever no pitch needed an individual octave fold.
            if all(enc.min_pitch <= p + out.total_shift < enc.max_pitch for p, _, _ in mono):
                self.assertEqual(back, mono)
            self.assertEqual(len(back), len(mono))
            self.assertEqual([n[1:] for n in back], [n[1:] for n in mono])

    def test_transposed_melodies_sit_in_range_with_lowest_note_in_bottom_octave(self):
        for key in (0, 5, 11):
            enc = MelodyEncoding(transpose_to_key=key)
            for notes in self.random_melodies():
                out = encoding.encode(notes, enc)
                pitches = [e for e in out.events if e >= 0]
                self.assertTrue(all(enc.min_pitch <= p < enc.max_pitch for p in pitches))
                self.assertLess(min(pitches), enc.min_pitch + 12)
                key_shift = ((key - out.key + 6) % 12) - 6
                self.assertEqual((out.total_shift - key_shift) % 12, 0)
                self.assertEqual(out.total_shift, self.expected_shift(notes, key, enc))

    @staticmethod
    def expected_shift(notes, key, enc):
        """Step 4 written differently: try every octave from low to high."""
        mono = encoding.monophonic(notes)
        k = encoding.estimate_key([p for p, _, _ in mono])
        key_shift = ((key - k + 6) % 12) - 6
        lowest = min(p for p, _, _ in mono) + key_shift
        for o in range(-12, 13):
            if lowest + 12 * o >= enc.min_pitch:
                return key_shift + 12 * o
        raise AssertionError("no octave")

    def test_classes_are_in_range(self):
        enc = MelodyEncoding(transpose_to_key=None)
        for notes in self.random_melodies():
            out = encoding.encode(notes, enc)
            self.assertTrue(all(0 <= c < enc.num_classes for c in out.classes))
            self.assertEqual(encoding.classes_to_events(out.classes, enc), out.events)

    def test_rounding_to_steps(self):
        from fractions import Fraction

        self.assertEqual(encoding.quarters_to_step(Fraction(1, 8), 4), 1)  # 0.5 step rounds up
        self.assertEqual(encoding.quarters_to_step(Fraction(1, 3), 4), 1)  # 1.33 steps
        self.assertEqual(encoding.quarters_to_step(Fraction(5, 8), 4), 3)  # 2.5 steps round up
        self.assertEqual(encoding.quarters_to_step(0.74, 4), 3)
        self.assertEqual(encoding.ticks_to_step(60, 480, 4), 1)  # half a step
        self.assertEqual(encoding.ticks_to_step(59, 480, 4), 0)
        self.assertEqual(encoding.ticks_to_step(1440, 480, 4), 12)

    def test_bad_input_is_refused(self):
        enc = MelodyEncoding()
        with self.assertRaises(ValueError):
            encoding.encode([(60, -1, 2)], enc)
        with self.assertRaises(ValueError):
            encoding.encode([(128, 0, 2)], enc)
        with self.assertRaises(ValueError):
            encoding.class_to_event(38, enc)
        with self.assertRaises(ValueError):
            MelodyEncoding(transpose_to_key=12)


if __name__ == "__main__":
    unittest.main()
