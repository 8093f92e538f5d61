"""Shared-vector checks for the melody feature encodings (Lookback, KeyMelody): one mixin,
used by each encoding's test file with its module and vectors file (standard library only)."""

import json


def nonzero(row):
    """The non-zero entries of an input row as [index, value] pairs."""
    return [[i, v] for i, v in enumerate(row) if v != 0.0]


class SharedVectorsMixin:
    """Checks an encoding module (`input_row`, `label`, `label_to_event`, `INPUT_SIZE`) against
    its vectors file. Mix into a `unittest.TestCase` and set `encoding`, `vectors`, `min_cases`."""

    encoding = None
    vectors = None
    min_cases = 8

    def load(self):
        with open(self.vectors) as f:
            return json.load(f)

    def test_file_is_well_formed(self):
        cases = self.load()["cases"]
        self.assertGreaterEqual(len(cases), self.min_cases)
        names = [c["name"] for c in cases]
        self.assertEqual(len(names), len(set(names)))
        for c in cases:
            self.assertEqual(len(c["expected"]["labels"]), len(c["events"]), c["name"])

    def test_inputs(self):
        for case in self.load()["cases"]:
            for expected in case["expected"]["inputs"]:
                with self.subTest(case=case["name"], position=expected["position"]):
                    row = self.encoding.input_row(case["events"], expected["position"])
                    self.assertEqual(len(row), self.encoding.INPUT_SIZE)
                    self.assertEqual(nonzero(row), expected["nonzero"])

    def test_labels(self):
        for case in self.load()["cases"]:
            with self.subTest(case=case["name"]):
                events = case["events"]
                got = [self.encoding.label(events, p) for p in range(len(events))]
                self.assertEqual(got, case["expected"]["labels"])

    def test_decoding_round_trip(self):
        for case in self.load()["cases"]:
            with self.subTest(case=case["name"]):
                decoded = []
                for label in case["expected"]["labels"]:
                    decoded.append(self.encoding.label_to_event(decoded, label))
                self.assertEqual(decoded, case["expected"]["decoded_events"])
                self.assertEqual(decoded, case["events"])

    def test_decode_cases(self):
        for d in self.load()["decode_cases"]:
            with self.subTest(d=d):
                self.assertEqual(self.encoding.label_to_event(d["history"], d["label"]), d["event"])
