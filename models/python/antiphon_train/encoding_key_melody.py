"""Magenta's KeyMelody melody encoding (Attention RNN): the Python twin of
``models/src/encoding/key_melody.rs``, checked against ``models/testdata/key_melody_vectors.json``.

Standard library only. Events are ints as in :mod:`antiphon_train.encoding`: ``-2`` no-event,
``-1`` note-off, a pitch in ``48..83`` a note-on.

Input row of a position ``pos`` (``INPUT_SIZE`` = 74), from the events ``0..pos``:

* ``[0, 36)`` one-hot of the sounding pitch (``pitch - 48``; the last note-on, held through
  no-events, ended by a note-off); ``36`` a note is sounding; ``37`` silence;
* ``38`` the event at ``pos`` is a note-on;
* ``39`` direction of the last pitch change between note-ons: +1.0 up, -1.0 down, 0.0 before any
  change (a repeated pitch keeps it, note-offs do not reset it);
* ``40`` / ``41`` the event at ``pos`` equals the event 16 / 32 steps earlier;
* ``[42, 49)`` the 7 low bits of ``pos + 1``, bit ``i`` at ``42 + i``, +1.0 set / -1.0 clear;
* ``49`` the next step starts a bar: ``(pos + 1) % 16 == 0``;
* ``[50, 62)`` flag ``k`` set for every major key ``k`` with the highest score, the score being
  the number of note-ons so far whose pitch class is in the scale of ``k`` (no note-ons: all set);
* ``[62, 74)`` the same over the last 3 distinct pitches played, each counted once.

Labels (``NUM_CLASSES`` = 40): 0..35 note-on ``48 + label``, 36 no-event, 37 note-off, 38 / 39
repeat 16 / 32 steps back (2-bar beats 1-bar beats literal; in the first 32 steps a no-event is
labelled 39). Decoding 38 / 39 copies the event 16 / 32 steps back, or a no-event when the
history is shorter.

Choices where the reference is open: the attack flag is set exactly when the event at ``pos`` is
a note-on (Magenta's code also leaves it set on a note-off right after a note-on); a label
outside 0..39 or a note-on outside 48..83 raises ``ValueError``.
"""

from __future__ import annotations

from typing import Iterable, List, Sequence

from .encoding import MAJOR_SCALE, NO_EVENT, NOTE_OFF

MIN_PITCH = 48
MAX_PITCH = 84
NOTE_RANGE = MAX_PITCH - MIN_PITCH  # 36
LOOKBACK_DISTANCES = (16, 32)
COUNTER_BITS = 7
STEPS_PER_BAR = 16
INPUT_SIZE = NOTE_RANGE + 2 + 1 + 1 + len(LOOKBACK_DISTANCES) + COUNTER_BITS + 1 + 12 + 12
NUM_CLASSES = NOTE_RANGE + 2 + len(LOOKBACK_DISTANCES)
NO_EVENT_LABEL = NOTE_RANGE
NOTE_OFF_LABEL = NOTE_RANGE + 1


def _pitch_index(pitch: int) -> int:
    if not MIN_PITCH <= pitch < MAX_PITCH:
        raise ValueError(f"pitch {pitch} outside [{MIN_PITCH}, {MAX_PITCH})")
    return pitch - MIN_PITCH


def _repeats(events: Sequence[int], position: int, distance: int) -> bool:
    return position >= distance and events[position] == events[position - distance]


def _key_flags(pitches: Iterable[int]) -> List[float]:
    pitches = list(pitches)
    scores = [sum(1 for p in pitches if (p - key) % 12 in MAJOR_SCALE) for key in range(12)]
    best = max(scores)
    return [1.0 if s == best else 0.0 for s in scores]


def input_row(events: Sequence[int], position: int) -> List[float]:
    """The input row (``INPUT_SIZE`` floats) of ``position``."""
    sounding = None
    direction = 0.0
    last_3: List[int] = []  # distinct pitches, most recent last
    note_ons: List[int] = []
    for e in events[: position + 1]:
        if e == NOTE_OFF:
            sounding = None
        elif e >= 0:
            _pitch_index(e)
            sounding = e
            note_ons.append(e)
            if last_3:
                if e > last_3[-1]:
                    direction = 1.0
                elif e < last_3[-1]:
                    direction = -1.0
            if e in last_3:
                last_3.remove(e)
            last_3.append(e)
            del last_3[:-3]
        elif e != NO_EVENT:
            raise ValueError(f"bad event {e}")
    row = [0.0] * INPUT_SIZE
    if sounding is not None:
        row[_pitch_index(sounding)] = 1.0
        row[NOTE_RANGE] = 1.0
    else:
        row[NOTE_RANGE + 1] = 1.0
    offset = NOTE_RANGE + 2
    if events[position] >= 0:
        row[offset] = 1.0
    row[offset + 1] = direction
    offset += 2
    for i, distance in enumerate(LOOKBACK_DISTANCES):
        if _repeats(events, position, distance):
            row[offset + i] = 1.0
    offset += len(LOOKBACK_DISTANCES)
    length = position + 1
    for bit in range(COUNTER_BITS):
        row[offset + bit] = 1.0 if (length >> bit) & 1 else -1.0
    offset += COUNTER_BITS
    if length % STEPS_PER_BAR == 0:
        row[offset] = 1.0
    offset += 1
    row[offset : offset + 12] = _key_flags(note_ons)
    offset += 12
    row[offset : offset + 12] = _key_flags(last_3)
    return row


def label(events: Sequence[int], position: int) -> int:
    """The label of the event at ``position``."""
    event = events[position]
    if position < LOOKBACK_DISTANCES[-1] and event == NO_EVENT:
        return NUM_CLASSES - 1
    for i in reversed(range(len(LOOKBACK_DISTANCES))):
        if _repeats(events, position, LOOKBACK_DISTANCES[i]):
            return NOTE_RANGE + 2 + i
    if event == NOTE_OFF:
        return NOTE_OFF_LABEL
    if event == NO_EVENT:
        return NO_EVENT_LABEL
    return _pitch_index(event)


def label_to_event(events_so_far: Sequence[int], label_: int) -> int:
    """The event ``label_`` stands for after the events ``events_so_far``."""
    if not 0 <= label_ < NUM_CLASSES:
        raise ValueError(f"label {label_} outside 0..{NUM_CLASSES - 1}")
    if label_ < NOTE_RANGE:
        return MIN_PITCH + label_
    if label_ == NO_EVENT_LABEL:
        return NO_EVENT
    if label_ == NOTE_OFF_LABEL:
        return NOTE_OFF
    distance = LOOKBACK_DISTANCES[label_ - NOTE_RANGE - 2]
    if len(events_so_far) < distance:
        return NO_EVENT
    return events_so_far[len(events_so_far) - distance]
