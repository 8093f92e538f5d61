"""Magenta's Lookback melody encoding (Lookback RNN): the Python twin of
``models/src/encoding/lookback.rs``, checked against ``models/testdata/lookback_vectors.json``.

Standard library only. Events are ints as in :mod:`antiphon_train.encoding`: ``-2`` no-event,
``-1`` note-off, a pitch in ``48..83`` a note-on (the ``melody_onehot`` range 48..84).

Input row of a position ``pos`` (``INPUT_SIZE`` = 121):

* ``[0, 38)`` one-hot class of the event at ``pos``;
* ``[38, 76)`` / ``[76, 114)`` one-hot class of the event at ``pos - 16 + 1`` / ``pos - 32 + 1``
  (the event that followed the position 1 / 2 bars ago; no-event before the start);
* ``[114, 119)`` the 5 low bits of ``pos + 1``, bit ``i`` at ``114 + i``, +1.0 set / -1.0 clear;
* ``119`` / ``120`` 1.0 when the event at ``pos`` equals the event 16 / 32 steps earlier.

Labels (``NUM_CLASSES`` = 40): 0..37 the one-hot class, 38 repeat 1 bar back, 39 repeat 2 bars
back; 2-bar beats 1-bar beats literal; in the first 32 steps a no-event is labelled 39.
Decoding 38 / 39 copies the event 16 / 32 steps back, or a no-event when the history is shorter.
Choice where the reference is open: a label outside 0..39 raises ``ValueError``.
"""

from __future__ import annotations

from typing import List, Sequence

from .encoding import NO_EVENT, MelodyEncoding, class_to_event, event_to_class

ONE_HOT = MelodyEncoding(min_pitch=48, max_pitch=84, steps_per_quarter=4, transpose_to_key=0)
ONE_HOT_CLASSES = ONE_HOT.num_classes  # 38
LOOKBACK_DISTANCES = (16, 32)
COUNTER_BITS = 5
INPUT_SIZE = ONE_HOT_CLASSES * (1 + len(LOOKBACK_DISTANCES)) + COUNTER_BITS + len(LOOKBACK_DISTANCES)
NUM_CLASSES = ONE_HOT_CLASSES + len(LOOKBACK_DISTANCES)


def _repeats(events: Sequence[int], position: int, distance: int) -> bool:
    return position >= distance and events[position] == events[position - distance]


def input_row(events: Sequence[int], position: int) -> List[float]:
    """The input row (``INPUT_SIZE`` floats) of ``position``."""
    row = [0.0] * INPUT_SIZE
    row[event_to_class(events[position], ONE_HOT)] = 1.0
    offset = ONE_HOT_CLASSES
    for distance in LOOKBACK_DISTANCES:
        p = position - distance + 1
        following = events[p] if p >= 0 else NO_EVENT
        row[offset + event_to_class(following, ONE_HOT)] = 1.0
        offset += ONE_HOT_CLASSES
    n = position + 1
    for bit in range(COUNTER_BITS):
        row[offset + bit] = 1.0 if (n >> bit) & 1 else -1.0
    offset += COUNTER_BITS
    for i, distance in enumerate(LOOKBACK_DISTANCES):
        if _repeats(events, position, distance):
            row[offset + i] = 1.0
    return row


def label(events: Sequence[int], position: int) -> int:
    """The label of the event at ``position``."""
    if position < LOOKBACK_DISTANCES[-1] and events[position] == NO_EVENT:
        return NUM_CLASSES - 1
    for i in reversed(range(len(LOOKBACK_DISTANCES))):
        if _repeats(events, position, LOOKBACK_DISTANCES[i]):
            return ONE_HOT_CLASSES + i
    return event_to_class(events[position], ONE_HOT)


def label_to_event(events_so_far: Sequence[int], label_: int) -> int:
    """The event ``label_`` stands for after the events ``events_so_far``."""
    if not 0 <= label_ < NUM_CLASSES:
        raise ValueError(f"label {label_} outside 0..{NUM_CLASSES - 1}")
    if label_ >= ONE_HOT_CLASSES:
        distance = LOOKBACK_DISTANCES[label_ - ONE_HOT_CLASSES]
        if len(events_so_far) < distance:
            return NO_EVENT
        return events_so_far[len(events_so_far) - distance]
    return class_to_event(label_, ONE_HOT)
