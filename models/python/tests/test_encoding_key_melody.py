"""The KeyMelody encoding against the shared vectors (standard library only).

Run from the repository root:
    python3 -m unittest discover -s models/python/tests -t models/python
"""

import json
import sys
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from antiphon_train import encoding_key_melody as km  # noqa: E402

VECTORS = HERE.parent.parent / "testdata" / "key_melody_vectors.json"


def load():
    with open(VECTORS) as f:
        return json.load(f)


def nonzero(row):
    return [[i, v] for i, v in enumerate(row) if v != 0.0]


class SharedVectors(unittest.TestCase):
    def test_file_is_well_formed(self):
        cases = load()["cases"]
        self.assertGreaterEqual(len(cases), 8)
        names = [c["name"] for c in cases]
        self.assertEqual(len(names), len(set(names)))
        for c in cases:
            self.assertEqual(len(c["expected"]["labels"]), len(c["events"]), c["name"])

    def test_inputs(self):
        for case in load()["cases"]:
            for expected in case["expected"]["inputs"]:
                with self.subTest(case=case["name"], position=expected["position"]):
                    row = km.input_row(case["events"], expected["position"])
                    self.assertEqual(len(row), km.INPUT_SIZE)
                    self.assertEqual(nonzero(row), expected["nonzero"])

    def test_labels(self):
        for case in load()["cases"]:
            with self.subTest(case=case["name"]):
                events = case["events"]
                got = [km.label(events, p) for p in range(len(events))]
                self.assertEqual(got, case["expected"]["labels"])

    def test_decoding_round_trip(self):
        for case in load()["cases"]:
            with self.subTest(case=case["name"]):
                decoded = []
                for label in case["expected"]["labels"]:
                    decoded.append(km.label_to_event(decoded, label))
                self.assertEqual(decoded, case["expected"]["decoded_events"])
                self.assertEqual(decoded, case["events"])

    def test_decode_cases(self):
        for d in load()["decode_cases"]:
            with self.subTest(d=d):
                self.assertEqual(km.label_to_event(d["history"], d["label"]), d["event"])


class Properties(unittest.TestCase):
    def test_given_the_reference_when_sized_then_74_inputs_and_40_labels(self):
        self.assertEqual((km.INPUT_SIZE, km.NUM_CLASSES), (74, 40))

    def test_given_a_label_out_of_range_when_decoded_then_value_error(self):
        with self.assertRaises(ValueError):
            km.label_to_event([], 40)

    def test_given_random_melodies_when_labels_decoded_in_order_then_events_come_back(self):
        import random

        rng = random.Random(7)
        for _ in range(50):
            events = [rng.choice([-2, -2, -2, -1, rng.randint(48, 83)]) for _ in range(rng.randint(1, 70))]
            decoded = []
            for p in range(len(events)):
                decoded.append(km.label_to_event(decoded, km.label(events, p)))
                row = km.input_row(events, p)
                self.assertEqual(len(row), km.INPUT_SIZE)
                self.assertEqual(row[36] + row[37], 1.0, "sounding or silent")
            self.assertEqual(decoded, events)


if __name__ == "__main__":
    unittest.main()
