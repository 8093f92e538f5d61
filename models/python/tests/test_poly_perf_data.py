"""Training sets of Polyphony (JSB frames in 9 keys) and Performance (timed notes in 30 s
windows), and their one-hot codec (stdlib only)."""

import json
import sys
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from antiphon_train import datasets, features  # noqa: E402
from antiphon_train import encoding_performance as perf  # noqa: E402
from antiphon_train import encoding_polyphony as poly  # noqa: E402


class PolyphonySet(unittest.TestCase):
    def test_given_jsb_frames_when_built_then_train_is_in_9_keys_and_valid_as_written(self):
        frames = {"train": [[[60, 64], [60, 64], [62]]], "valid": [[[55], [57]]]}
        with tempfile.TemporaryDirectory() as d:
            (Path(d) / "jsb-chorales-16th.train-valid.json").write_text(json.dumps(frames))
            ts = datasets.build("polyphony", None, Path(d), Path(d), Path(d), jsb=Path(d))
        self.assertEqual([s.transpose for s in ts.segments["train"]], list(range(-4, 5)))
        self.assertEqual(len(ts.segments["valid"]), 1)
        # Held frames are one note; the events start with START and end with END.
        plain = [s for s in ts.segments["train"] if s.transpose == 0][0]
        self.assertEqual(sorted(plain.notes), [(60, 0, 2), (62, 2, 3), (64, 0, 2)])
        events = datasets.events_of("polyphony", plain)
        self.assertEqual((events[0], events[-1]), (poly.START, poly.END))
        self.assertEqual(events.count(poly.STEP_END), 3)

    def test_given_events_when_one_hot_encoded_then_row_t_is_event_t_and_labels_are_events(self):
        codec = features.codec_for("polyphony")
        self.assertEqual((codec.input_size, codec.num_classes), (259, 259))
        self.assertEqual(codec.encoding_json(), {"name": "polyphony", "steps_per_quarter": 4})
        enc = codec.encode([0, 70, 2, 1])
        self.assertEqual(enc.rows, 3)
        self.assertEqual(list(enc.labels), [0, 70, 2, 1])
        self.assertEqual(enc.dense_row(1, 259)[70], 1.0)
        self.assertEqual(sum(enc.dense_row(1, 259)), 1.0)


class PerformanceSet(unittest.TestCase):
    def test_given_timed_notes_when_windowed_then_each_window_starts_at_its_first_note(self):
        # 10 notes every 4 s: windows of 30 s by onset hold 8 and 2 notes; the second is dropped.
        notes = [(36, 100, 4.0 * i + 1.0, 4.0 * i + 1.1) for i in range(10)]
        windows = datasets.performance_windows(notes)
        self.assertEqual(len(windows), 1)
        self.assertEqual(windows[0][0], (36, 100, 0, 10))
        self.assertEqual(windows[0][-1][2], 2800)
        stretched = datasets.performance_windows(notes, 1.05)
        self.assertEqual(stretched[0][1][2], perf.quantize(5.0 * 1.05) - perf.quantize(1.05))

    def test_given_the_codec_when_asked_then_it_is_the_388_event_one_hot_of_drums(self):
        codec = features.codec_for("performance")
        self.assertEqual(codec.num_classes, 388)
        self.assertEqual(codec.encoding_json()["drums"], True)


if __name__ == "__main__":
    unittest.main()
