"""The drum_kit encoder against the shared vectors (standard library only).

Run from the repository root:
    python3 -m unittest discover -s models/python/tests -t models/python
"""

import json
import sys
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from antiphon_train import encoding_drums as drums  # noqa: E402

VECTORS = HERE.parent.parent / "testdata" / "drum_vectors.json"


def load_cases():
    with open(VECTORS) as f:
        return json.load(f)["cases"]


class SharedVectors(unittest.TestCase):
    def test_file_is_well_formed(self):
        cases = load_cases()
        self.assertGreaterEqual(len(cases), 10)
        names = [c["name"] for c in cases]
        self.assertEqual(len(names), len(set(names)))
        for c in cases:
            exp = c["expected"]
            self.assertEqual(len(exp["events"]), len(exp["input_rows"]), c["name"])

    def test_encode(self):
        for case in load_cases():
            with self.subTest(case=case["name"]):
                self.assertEqual(drums.notes_to_events(case["notes"]), case["expected"]["events"])

    def test_input_rows(self):
        for case in load_cases():
            with self.subTest(case=case["name"]):
                exp = case["expected"]
                got = [drums.sparse(drums.input_row(e, i)) for i, e in enumerate(exp["events"])]
                self.assertEqual(got, exp["input_rows"])

    def test_decode(self):
        for case in load_cases():
            with self.subTest(case=case["name"]):
                exp = case["expected"]
                got = [list(n) for n in drums.events_to_notes(exp["events"])]
                self.assertEqual(got, exp["decoded_notes"])


class Given_the_class_table(unittest.TestCase):
    def test_when_every_pitch_is_looked_up_then_it_belongs_to_exactly_one_class(self):
        seen = [p for pitches in drums.DRUM_CLASS_PITCHES for p in pitches]
        self.assertEqual(len(seen), len(set(seen)))
        self.assertEqual(len(seen), 63)
        for bit, pitches in enumerate(drums.DRUM_CLASS_PITCHES):
            for p in pitches:
                self.assertEqual(drums.drum_class_of(p), bit)
        self.assertIsNone(drums.drum_class_of(21))

    def test_when_every_event_is_split_and_joined_then_it_is_the_same_event(self):
        for e in range(drums.NUM_EVENTS):
            self.assertEqual(drums.event_of_classes(drums.classes_of_event(e)), e)

    def test_when_decoded_and_encoded_again_then_the_events_come_back(self):
        events = [0, 511, 3, 0, 256, 17]
        notes = drums.events_to_notes(events)
        self.assertEqual(drums.notes_to_events(notes), events)
        self.assertEqual(drums.INPUT_SIZE, 518)


if __name__ == "__main__":
    unittest.main()
