"""The polyphony encoder against the shared vectors, plus round-trip properties (stdlib only).

Run from the repository root:
    python3 -m unittest discover -s models/python/tests -t models/python
"""

import json
import random
import sys
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from antiphon_train import encoding_polyphony as poly  # noqa: E402

VECTORS = HERE.parent.parent / "testdata" / "polyphony_vectors.json"


def load():
    with open(VECTORS) as f:
        return json.load(f)


class SharedVectors(unittest.TestCase):
    def test_file_is_well_formed(self):
        v = load()
        self.assertGreaterEqual(len(v["cases"]), 10)
        self.assertGreaterEqual(len(v["decode_cases"]), 6)
        self.assertGreaterEqual(len(v["frame_cases"]), 4)
        for key in ("cases", "decode_cases", "frame_cases"):
            names = [c["name"] for c in v[key]]
            self.assertEqual(len(names), len(set(names)), key)

    def test_encode_and_decode(self):
        for case in load()["cases"]:
            with self.subTest(case=case["name"]):
                exp = case["expected"]
                events = poly.notes_to_events(case["notes"])
                self.assertEqual(events, exp["events"])
                got = [list(n) for n in poly.events_to_notes(events)]
                self.assertEqual(got, exp["decoded_notes"])

    def test_decode_cases(self):
        for case in load()["decode_cases"]:
            with self.subTest(case=case["name"]):
                got = poly.events_to_notes(case["events"], case["start_step"])
                self.assertEqual([list(n) for n in got], case["expected"])

    def test_frame_cases(self):
        for case in load()["frame_cases"]:
            with self.subTest(case=case["name"]):
                got = poly.frames_to_notes(case["frames"])
                self.assertEqual([list(n) for n in got], case["expected"])


class Properties(unittest.TestCase):
    def test_given_the_reference_when_sized_then_259_classes(self):
        self.assertEqual((poly.NUM_CLASSES, poly.INPUT_SIZE), (259, 259))
        self.assertEqual(poly.event_name(63), "NEW_NOTE(60)")
        self.assertEqual(poly.event_name(191), "CONTINUED_NOTE(60)")
        self.assertEqual(poly.event_name(259), None)
        row = poly.input_row(191)
        self.assertEqual((row[191], sum(row)), (1.0, 1.0))

    def test_given_random_notes_without_same_pitch_overlap_then_they_come_back(self):
        rng = random.Random(4)
        for _ in range(300):
            notes = []
            for pitch in rng.sample(range(128), rng.randrange(6)):
                t = rng.randrange(8)
                for _ in range(rng.randrange(1, 4)):
                    end = t + 1 + rng.randrange(6)
                    notes.append((pitch, t, end))
                    t = end + rng.randrange(3)
            events = poly.notes_to_events(notes)
            self.assertTrue(all(0 <= e < poly.NUM_CLASSES for e in events))
            want = sorted(notes, key=lambda n: (n[1], -n[0]))
            self.assertEqual(poly.events_to_notes(events), want, notes)

    def test_given_random_frames_then_notes_rebuild_the_frames(self):
        rng = random.Random(5)
        for _ in range(200):
            frames = [
                set(rng.sample(range(55, 62), rng.randrange(4))) for _ in range(rng.randrange(10))
            ]
            notes = poly.frames_to_notes([sorted(f) for f in frames])
            rebuilt = [set() for _ in frames]
            for p, s, e in notes:
                for t in range(s, e):
                    self.assertNotIn(p, rebuilt[t])
                    rebuilt[t].add(p)
            self.assertEqual(rebuilt, frames)
            # No two notes of a pitch touch: consecutive frames are one held note.
            ends = {(p, e) for p, _, e in notes}
            self.assertFalse(any((p, s) in ends for p, s, _ in notes))


if __name__ == "__main__":
    unittest.main()
