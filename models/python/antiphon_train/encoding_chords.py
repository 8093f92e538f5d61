"""Chord encodings of Magenta's Improv RNN, chord-symbol parsing, chord recognition.

Standard library only. Mirrors ``models/src/encoding/chords.rs`` (whose module doc is the full
specification); both are checked against ``models/testdata/chord_vectors.json``.

A chord is a ``Chord`` or ``None`` (no chord, N.C.).

- Triad one-hot (49): 0 = N.C.; ``1 + root`` major, ``13 + root`` minor, ``25 + root``
  augmented, ``37 + root`` diminished.
- Pitch chord (37): [0] no-chord flag (nothing else for N.C.); [1 + root] root one-hot;
  [13 + pc] multi-hot of all pitch classes; [25 + bass] bass one-hot.
- Symbols (Nottingham ABC spellings): root ``A``-``G`` with optional ``#``/``b``, a suffix from
  ``SUFFIXES``, optional slash bass ``/x`` (either case, optional ``#``/``b``); ``N.C.``,
  ``NC``, ``N`` = no chord. The bass is the slash note or the root; a slash bass outside the
  chord joins its pitch classes.
- Recognition from held MIDI notes: bass = lowest note's pitch class, pitch classes = those
  held, triad = best of the 48 by (1) most triad tones held, (2) most other held pitch classes
  that are extensions above the root (``EXTENSIONS``), (3) root held, (4) major/minor before
  augmented/diminished, (5) root is the bass, (6) major, minor, diminished, augmented,
  (7) lowest root.
"""

from dataclasses import dataclass
from typing import Iterable, List, Optional, Tuple

NUM_TRIAD_CLASSES = 49
PITCH_CHORD_SIZE = 37

QUALITIES = ("major", "minor", "augmented", "diminished")  # triad one-hot order
INTERVALS = {
    "major": (0, 4, 7),
    "minor": (0, 3, 7),
    "augmented": (0, 4, 8),
    "diminished": (0, 3, 6),
}
EXTENSIONS = {
    "major": (2, 9, 10, 11),
    "minor": (2, 9, 10, 11),
    "diminished": (2, 9, 10),
    "augmented": (2, 10, 11),
}
_PREFERENCE = {"major": 0, "minor": 1, "diminished": 2, "augmented": 3}

SUFFIXES = {
    "": ((0, 4, 7), "major"),
    "m": ((0, 3, 7), "minor"),
    "7": ((0, 4, 7, 10), "major"),
    "maj7": ((0, 4, 7, 11), "major"),
    "M7": ((0, 4, 7, 11), "major"),
    "m7": ((0, 3, 7, 10), "minor"),
    "6": ((0, 4, 7, 9), "major"),
    "m6": ((0, 3, 7, 9), "minor"),
    "9": ((0, 2, 4, 7, 10), "major"),
    "d": ((0, 3, 6), "diminished"),
    "dim": ((0, 3, 6), "diminished"),
    "d7": ((0, 3, 6, 9), "diminished"),
    "dim7": ((0, 3, 6, 9), "diminished"),
    "m7b5": ((0, 3, 6, 10), "diminished"),
    "a": ((0, 4, 8), "augmented"),
    "aug": ((0, 4, 8), "augmented"),
    "+": ((0, 4, 8), "augmented"),
}

NO_CHORD_SYMBOLS = ("N.C.", "NC", "N")

_NATURALS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


@dataclass(frozen=True)
class Chord:
    root: int
    quality: str
    bass: int
    pitch_classes: Tuple[int, ...]  # ascending, no repeats


def triad_index(chord: Optional[Chord]) -> int:
    if chord is None:
        return 0
    return 1 + 12 * QUALITIES.index(chord.quality) + chord.root % 12


def triad_of_index(index: int) -> Optional[Tuple[int, str]]:
    if index <= 0 or index >= NUM_TRIAD_CLASSES:
        return None
    i = index - 1
    return i % 12, QUALITIES[i // 12]


def pitch_chord_vector(chord: Optional[Chord]) -> List[float]:
    row = [0.0] * PITCH_CHORD_SIZE
    if chord is None:
        row[0] = 1.0
        return row
    row[1 + chord.root % 12] = 1.0
    for pc in chord.pitch_classes:
        row[13 + pc % 12] = 1.0
    row[25 + chord.bass % 12] = 1.0
    return row


def recognize(held: Iterable[int]) -> Optional[Chord]:
    held = list(held)
    if not held:
        return None
    bass = min(held) % 12
    pcs = {p % 12 for p in held}
    best = None
    for quality in QUALITIES:
        for root in range(12):
            tones = {(root + i) % 12 for i in INTERVALS[quality]}
            matched = len(tones & pcs)
            explained = sum(1 for pc in pcs - tones if (pc - root) % 12 in EXTENSIONS[quality])
            key = (
                matched,
                explained,
                root in pcs,
                quality in ("major", "minor"),
                root == bass,
                -_PREFERENCE[quality],
                -root,
            )
            if best is None or key > best[0]:
                best = (key, root, quality)
    _, root, quality = best
    return Chord(root, quality, bass, tuple(sorted(pcs)))


def _note_name(text: str) -> Optional[Tuple[int, str]]:
    if not text or text[0].upper() not in _NATURALS:
        return None
    pc, rest = _NATURALS[text[0].upper()], text[1:]
    if rest[:1] == "#":
        return (pc + 1) % 12, rest[1:]
    if rest[:1] == "b":
        return (pc + 11) % 12, rest[1:]
    return pc, rest


def parse_symbol(symbol: str) -> Optional[Chord]:
    """Parses a Nottingham ABC chord symbol; None is no chord; ValueError if unsupported."""
    s = symbol.strip()
    if s in NO_CHORD_SYMBOLS:
        return None
    err = ValueError(f"unsupported chord symbol {symbol!r}")
    if not s or not ("A" <= s[0] <= "Z"):
        raise err
    parsed = _note_name(s)
    if parsed is None:
        raise err
    root, rest = parsed
    suffix, bass = rest, root
    if "/" in rest:
        suffix, bass_text = rest.split("/", 1)
        b = _note_name(bass_text)
        if b is None or b[1] != "":
            raise err
        bass = b[0]
    if suffix not in SUFFIXES:
        raise err
    intervals, quality = SUFFIXES[suffix]
    pcs = {(root + i) % 12 for i in intervals} | {bass}
    return Chord(root, quality, bass, tuple(sorted(pcs)))


def nonzero(row) -> List[int]:
    return [i for i, v in enumerate(row) if v != 0.0]
