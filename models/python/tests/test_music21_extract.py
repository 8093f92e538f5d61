"""ABC extraction through music21; skipped when music21 is not installed."""

import importlib.util
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

HAVE_MUSIC21 = importlib.util.find_spec("music21") is not None

ABC = """X:1
T:extraction test
M:2/4
L:1/16
K:G
G3-A B2-B2 | {c}d4 [DFA]2 "Am"c2 | e6-|e2 z4 (3cBA |]
"""


@unittest.skipUnless(HAVE_MUSIC21, "music21 is needed")
class AbcExtraction(unittest.TestCase):
    def test_ties_grace_notes_chords_and_chord_symbols(self):
        from music21 import converter

        from antiphon_train import data

        notes = data._score_notes(converter.parse(ABC, format="abc"))
        self.assertEqual(notes, [
            (67, 0, 3),    # G3: the "-" to a different pitch (A) is not a tie
            (69, 3, 4),    # A
            (71, 4, 8),    # B2-B2: a real tie, one note
            (74, 8, 12),   # {c} grace note dropped
            (69, 12, 14),  # chord [DFA] -> highest note; "Am" chord symbol dropped
            (72, 14, 16),
            (76, 16, 24),  # e6-|e2 tied over the bar line
            # z4 rest; then a triplet of 16ths, 2/3 step each: c 28..28.67, B 28.67..29.33,
            # A 29.33..30 round to (28, 29), (29, 29), (29, 30); sorted by (start, pitch).
            # (CONTRACT.md step 1 later makes B 29..30 and drops A: same start, lower pitch.)
            (72, 28, 29), (69, 29, 30), (71, 29, 29),
        ])


if __name__ == "__main__":
    unittest.main()
