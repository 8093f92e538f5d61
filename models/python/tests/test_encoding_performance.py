"""The performance encoder against the shared vectors, plus round-trip properties (stdlib only).

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

from antiphon_train import encoding_performance as perf  # noqa: E402

VECTORS = HERE.parent.parent / "testdata" / "performance_vectors.json"


def load():
    with open(VECTORS) as f:
        return json.load(f)


class SharedVectors(unittest.TestCase):
    def test_file_is_well_formed(self):
        v = load()
        self.assertGreaterEqual(len(v["cases"]), 12)
        self.assertGreaterEqual(len(v["decode_cases"]), 6)
        for key in ("cases", "decode_cases"):
            names = [c["name"] for c in v[key]]
            self.assertEqual(len(names), len(set(names)), key)

    def test_encode_and_decode(self):
        for case in load()["cases"]:
            with self.subTest(case=case["name"]):
                exp = case["expected"]
                quantized = [q for q in (perf.quantize_note(n) for n in case["notes"]) if q]
                self.assertEqual([list(q) for q in quantized], exp["quantized"])
                events = perf.notes_to_events(case["notes"])
                self.assertEqual(events, exp["events"])
                self.assertEqual(perf.step_notes_to_events(quantized), events)
                got = [list(n) for n in perf.events_to_notes(events)]
                self.assertEqual(got, exp["decoded_notes"])

    def test_decode_cases(self):
        for case in load()["decode_cases"]:
            with self.subTest(case=case["name"]):
                got = [list(n) for n in perf.events_to_notes(case["events"])]
                self.assertEqual(got, case["expected"])


class Properties(unittest.TestCase):
    def test_given_the_reference_when_sized_then_388_classes_and_bins_of_four(self):
        self.assertEqual((perf.NUM_CLASSES, perf.DEFAULT_EVENT), (388, 355))
        self.assertEqual(perf.event_name(355), "TIME_SHIFT(100)")
        self.assertEqual(perf.event_name(356), "VELOCITY(1)")
        self.assertEqual(perf.event_name(387), "VELOCITY(32)")
        self.assertEqual([perf.velocity_to_bin(v) for v in (0, 1, 4, 5, 127)], [1, 1, 1, 2, 32])
        self.assertEqual((perf.bin_to_velocity(1), perf.bin_to_velocity(32)), (1, 125))
        times = (0.125, 0.0625, 1.005, -0.004)
        self.assertEqual([perf.quantize(t) for t in times], [13, 6, 100, 0])

    def test_given_random_notes_when_encoded_and_decoded_then_they_come_back_on_the_grid(self):
        rng = random.Random(6)
        for _ in range(300):
            notes = []
            for pitch in rng.sample(range(128), rng.randrange(6)):
                t = rng.randrange(300)
                for _ in range(rng.randrange(1, 5)):
                    end = t + 1 + rng.randrange(600)
                    start_s = max(0.0, t / 100 + rng.randint(-3, 3) / 1000)
                    end_s = end / 100 + rng.randint(-3, 3) / 1000
                    notes.append((pitch, rng.randint(1, 127), start_s, end_s))
                    t = end + rng.randrange(300)
            want = []
            for n in notes:
                p, v, s, e = perf.quantize_note(n)
                self.assertLessEqual(abs(s / 100 - n[2]), 0.005 + 1e-9)
                self.assertLessEqual(e - s, perf.MAX_NOTE_STEPS)
                dv = perf.bin_to_velocity(perf.velocity_to_bin(v))
                self.assertTrue(0 <= v - dv < 4)
                want.append((p, dv, s, e))
            events = perf.notes_to_events(notes)
            self.assertTrue(all(0 <= x < perf.NUM_CLASSES for x in events))
            key = lambda n: (n[2], n[0], n[3], n[1])  # noqa: E731
            self.assertEqual(sorted(perf.events_to_notes(events), key=key), sorted(want, key=key))

    def test_given_any_notes_when_decoded_and_encoded_again_then_the_events_are_the_same(self):
        rng = random.Random(7)
        for _ in range(300):
            notes = []
            for _ in range(rng.randrange(8)):
                start = rng.randrange(400) / 100
                end = start + rng.randrange(700) / 100
                notes.append((60 + rng.randrange(3), rng.randrange(128), start, end))
            events = perf.notes_to_events(notes)
            self.assertEqual(perf.step_notes_to_events(perf.events_to_notes(events)), events, notes)


if __name__ == "__main__":
    unittest.main()
