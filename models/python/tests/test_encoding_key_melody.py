"""The KeyMelody encoding against the shared vectors (standard library only).

Run from the repository root:
    python3 -m unittest discover -s models/python/tests -t models/python
"""

import sys
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from antiphon_train import encoding_key_melody as km  # noqa: E402

from tests.melody_feature_vectors import SharedVectorsMixin  # noqa: E402


class SharedVectors(SharedVectorsMixin, unittest.TestCase):
    encoding = km
    vectors = HERE.parent.parent / "testdata" / "key_melody_vectors.json"
    min_cases = 10


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
