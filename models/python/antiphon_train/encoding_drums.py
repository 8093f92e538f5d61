"""Magenta's Drums RNN ``drum_kit`` encoding (standard library only).

Mirrors ``models/src/encoding/drums.rs``; both are checked against
``models/testdata/drum_vectors.json``.

- Nine drum classes (``DRUM_CLASS_NAMES``), each a list of General MIDI pitches
  (``DRUM_CLASS_PITCHES``); the first pitch of a class is emitted when decoding; any other
  pitch is ignored.
- A step's event is the set of classes struck; its index is the sum of ``2**bit`` (512 events,
  0 = silence).
- Input row (518 wide): one-hot of the event in 0..512, then 6 binary-counter bits of
  ``position + 1``: index ``512 + i`` is +1.0 if bit ``i`` is set, else -1.0.

Choices: only pitch and start step of a note count; unknown pitches and negative starts are
ignored; events run from step 0 to the last step with a known drum (inclusive), no notes -> no
events. Decoding gives one step-long note per set bit, first pitch of the class, velocity
``DECODE_VELOCITY``, in bit order within a step; the notes belong on GM channel 10
(``DRUM_CHANNEL`` = index 9). Event indices >= 512 keep only their low 9 bits.
"""

from typing import Iterable, List, Optional, Sequence, Tuple

NUM_DRUM_CLASSES = 9
NUM_EVENTS = 1 << NUM_DRUM_CLASSES
COUNTER_BITS = 6
INPUT_SIZE = NUM_EVENTS + COUNTER_BITS
DRUM_CHANNEL = 9
DECODE_VELOCITY = 100

DRUM_CLASS_NAMES = (
    "kick",
    "snare",
    "closed_hi_hat",
    "open_hi_hat",
    "low_tom",
    "mid_tom",
    "high_tom",
    "crash",
    "ride",
)

DRUM_CLASS_PITCHES = (
    (36, 35),
    (38, 27, 28, 31, 32, 33, 34, 37, 39, 40, 56, 65, 66, 75, 85),
    (42, 44, 54, 68, 69, 70, 71, 73, 78, 80, 22),
    (46, 67, 72, 74, 79, 81, 26),
    (45, 29, 41, 43, 61, 64, 84),
    (48, 47, 60, 63, 77, 86, 87),
    (50, 30, 62, 76, 83),
    (49, 52, 55, 57, 58),
    (51, 53, 59, 82),
)

_CLASS_OF_PITCH = {p: bit for bit, pitches in enumerate(DRUM_CLASS_PITCHES) for p in pitches}


def drum_class_of(pitch: int) -> Optional[int]:
    """The drum class (bit) of a MIDI pitch, or None."""
    return _CLASS_OF_PITCH.get(pitch)


def event_of_classes(classes: Iterable[int]) -> int:
    """Event index of a set of drum classes (bits); repeats count once."""
    event = 0
    for c in classes:
        if 0 <= c < NUM_DRUM_CLASSES:
            event |= 1 << c
    return event


def classes_of_event(event: int) -> List[int]:
    """The drum classes (bits) of an event index, ascending."""
    return [bit for bit in range(NUM_DRUM_CLASSES) if event & (1 << bit)]


def notes_to_events(notes: Iterable[Sequence[int]]) -> List[int]:
    """Per-step events of notes ``(pitch, start_step, end_step, ...)`` on the step grid."""
    struck = []
    for n in notes:
        pitch, start = int(n[0]), int(n[1])
        bit = drum_class_of(pitch)
        if bit is not None and start >= 0:
            struck.append((start, bit))
    length = max((s + 1 for s, _ in struck), default=0)
    events = [0] * length
    for step, bit in struck:
        events[step] |= 1 << bit
    return events


def events_to_notes(events: Sequence[int], start_step: int = 0) -> List[Tuple[int, int, int]]:
    """Notes ``(pitch, start, end)`` of per-step events (velocity ``DECODE_VELOCITY``)."""
    notes = []
    for t, event in enumerate(events):
        for bit in classes_of_event(event % NUM_EVENTS):
            s = start_step + t
            notes.append((DRUM_CLASS_PITCHES[bit][0], s, s + 1))
    return notes


def input_row(event: int, position: int) -> List[float]:
    """The 518-wide input row of ``event`` at step ``position``."""
    row = [0.0] * INPUT_SIZE
    row[event % NUM_EVENTS] = 1.0
    nxt = position + 1
    for i in range(COUNTER_BITS):
        row[NUM_EVENTS + i] = 1.0 if (nxt >> i) & 1 else -1.0
    return row


def sparse(row: Sequence[float]) -> List[List[float]]:
    """``[index, value]`` of every non-zero entry of a row, ascending index."""
    return [[i, v] for i, v in enumerate(row) if v != 0.0]
