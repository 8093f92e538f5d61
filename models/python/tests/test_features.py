"""The fast training codecs give exactly the rows and labels of the reference encoders (stdlib only).

Run from the repository root:
    python3 -m unittest discover -s models/python/tests -t models/python
"""

import random
import sys
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from antiphon_train import encoding as mel  # noqa: E402
from antiphon_train import encoding_chords as chords  # noqa: E402
from antiphon_train import encoding_drums as drums  # noqa: E402
from antiphon_train import encoding_key_melody as keymel  # noqa: E402
from antiphon_train import encoding_lookback as lookback  # noqa: E402
from antiphon_train import features  # noqa: E402


def random_melody(rng, length, lo=48, hi=84):
    """Events with held notes, rests, repeats of 1 and 2 bars (so the lookback features fire)."""
    events = []
    while len(events) < length:
        r = rng.random()
        if r < 0.15 and len(events) >= 16:
            events += events[-16:][: rng.randint(1, 16)]
        elif r < 0.25 and len(events) >= 32:
            events += events[-32:][: rng.randint(1, 32)]
        elif r < 0.45:
            events.append(mel.NO_EVENT)
        elif r < 0.55:
            events.append(mel.NOTE_OFF)
        else:
            events.append(rng.randrange(lo, hi))
    return events[:length]


class Codecs(unittest.TestCase):
    def check(self, codec, events, row_of, label_of, chords_=None):
        enc = codec.encode(events, chords_)
        self.assertEqual(enc.rows, len(events) - 1)
        self.assertEqual(list(enc.labels), [label_of(t) for t in range(len(events))])
        dense = [[0.0] * codec.input_size for _ in range(enc.rows)]
        for r, c, v in zip(enc.row, enc.col, enc.val):
            self.assertEqual(dense[r][c], 0.0, "an entry written twice")
            dense[r][c] = float(v)
        for t in range(enc.rows):
            self.assertEqual(dense[t], row_of(t), f"row {t}")

    def test_given_random_melodies_when_encoded_then_lookback_rows_match_the_reference(self):
        rng = random.Random(3)
        for n in (1, 2, 17, 33, 90):
            ev = random_melody(rng, n)
            self.check(features.LookbackCodec(), ev, lambda t: lookback.input_row(ev, t),
                       lambda t: lookback.label(ev, t))

    def test_given_random_melodies_when_encoded_then_key_melody_rows_match_the_reference(self):
        rng = random.Random(4)
        for n in (1, 2, 17, 40, 90):
            ev = random_melody(rng, n)
            self.check(features.KeyMelodyCodec(), ev, lambda t: keymel.input_row(ev, t),
                       lambda t: keymel.label(ev, t))

    def test_given_random_melodies_when_encoded_then_one_hot_rows_match_the_reference(self):
        rng = random.Random(5)
        codec = features.MelodyOneHotCodec()
        ev = random_melody(rng, 70)

        def row(t):
            r = [0.0] * codec.input_size
            r[mel.event_to_class(ev[t], codec.enc)] = 1.0
            return r

        self.check(codec, ev, row, lambda t: mel.event_to_class(ev[t], codec.enc))

    def test_given_random_drum_events_when_encoded_then_rows_match_the_reference(self):
        rng = random.Random(6)
        ev = [rng.randrange(512) if rng.random() < 0.6 else 0 for _ in range(80)]
        self.check(features.DrumKitCodec(), ev, lambda t: drums.input_row(ev[t], t), lambda t: ev[t])

    def test_given_chords_when_encoded_then_row_t_holds_the_chord_of_step_t_plus_1(self):
        rng = random.Random(7)
        symbols = ["C", "Am7", "G7/b", "F#d", "N.C.", "Ebaug", "Dm6"]
        for kind in ("pitch", "triad"):
            codec = features.ChordMelodyCodec(kind)
            ev = random_melody(rng, 60)
            chs = [chords.parse_symbol(symbols[t // 8 % len(symbols)]) for t in range(60)]

            def row(t):
                if kind == "pitch":
                    c = chords.pitch_chord_vector(chs[t + 1])
                else:
                    c = [0.0] * chords.NUM_TRIAD_CLASSES
                    c[chords.triad_index(chs[t + 1])] = 1.0
                m = [0.0] * 38
                m[mel.event_to_class(ev[t], codec.melody)] = 1.0
                return c + m

            self.check(codec, ev, row, lambda t: mel.event_to_class(ev[t], codec.melody), chs)
            self.assertEqual(codec.input_size, {"pitch": 75, "triad": 87}[kind])


if __name__ == "__main__":
    unittest.main()
