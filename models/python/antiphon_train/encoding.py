"""Melody RNN one-hot encoding (`melody_onehot`), CONTRACT.md steps 1-5, and its inverse.

Pure Python (standard library only) so that the encoding tests run without installing anything.

Conventions used throughout the pipeline:

* A note is a tuple ``(pitch, start_step, end_step)`` of integers on the step grid.
* An *event* is ``NO_EVENT`` (-2), ``NOTE_OFF`` (-1) or a MIDI pitch ``0..127`` (a note-on),
  one per step.
* A *class index* is ``0`` for ``NO_EVENT``, ``1`` for ``NOTE_OFF`` and
  ``2 + (pitch - min_pitch)`` for a note-on; it is also the position of the 1 in the input one-hot.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable, List, Optional, Sequence, Tuple

NO_EVENT = -2
NOTE_OFF = -1

#: Intervals of the major scale above its tonic.
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)

Note = Tuple[int, int, int]


@dataclass(frozen=True)
class MelodyEncoding:
    """Parameters of the `melody_onehot` encoding (CONTRACT.md)."""

    min_pitch: int = 48
    max_pitch: int = 84
    steps_per_quarter: int = 4
    transpose_to_key: Optional[int] = 0

    def __post_init__(self) -> None:
        if self.max_pitch - self.min_pitch < 12:
            raise ValueError("the pitch range must span at least one octave")
        if not (0 <= self.min_pitch < self.max_pitch <= 128):
            raise ValueError("need 0 <= min_pitch < max_pitch <= 128")
        if self.steps_per_quarter < 1:
            raise ValueError("steps_per_quarter must be >= 1")
        if self.transpose_to_key is not None and not (0 <= self.transpose_to_key < 12):
            raise ValueError("transpose_to_key must be a pitch class 0..11 or None")

    @property
    def num_classes(self) -> int:
        """Number of classes, which is also the input size."""
        return self.max_pitch - self.min_pitch + 2

    def to_json(self) -> dict:
        """The `antiphon.encoding` metadata object."""
        return {
            "name": "melody_onehot",
            "min_pitch": self.min_pitch,
            "max_pitch": self.max_pitch,
            "steps_per_quarter": self.steps_per_quarter,
            "transpose_to_key": self.transpose_to_key,
        }

    @classmethod
    def from_json(cls, obj: dict) -> "MelodyEncoding":
        if obj.get("name", "melody_onehot") != "melody_onehot":
            raise ValueError(f"not a melody_onehot encoding: {obj.get('name')!r}")
        return cls(
            min_pitch=int(obj["min_pitch"]),
            max_pitch=int(obj["max_pitch"]),
            steps_per_quarter=int(obj["steps_per_quarter"]),
            transpose_to_key=None if obj["transpose_to_key"] is None else int(obj["transpose_to_key"]),
        )


@dataclass(frozen=True)
class EncodedMelody:
    """Result of :func:`encode`."""

    key: int
    """Estimated major key of the melody before transposition (0 = C)."""
    total_shift: int
    """Semitones added to every pitch by step 4 (0 without transposition)."""
    events: List[int]
    """Events after steps 4-5 (pitches inside the encoding's range)."""
    classes: List[int]
    """Class indices of `events`."""


def quarters_to_step(quarters, steps_per_quarter: int) -> int:
    """Time in quarter notes -> nearest step; halves round up (floor(x + 1/2)).

    `quarters` may be an int, a Fraction or a float; ints and Fractions are rounded exactly.
    """
    x = Fraction(quarters) * steps_per_quarter
    return int((x + Fraction(1, 2)) // 1)


def ticks_to_step(ticks: int, ticks_per_quarter: int, steps_per_quarter: int) -> int:
    """MIDI ticks -> nearest step, in exact integer arithmetic (halves round up)."""
    return (2 * ticks * steps_per_quarter + ticks_per_quarter) // (2 * ticks_per_quarter)


def normalize_notes(notes: Iterable[Sequence[int]]) -> List[Note]:
    """Input rule: a note whose end does not exceed its start lasts one step."""
    out = []
    for n in notes:
        pitch, start, end = int(n[0]), int(n[1]), int(n[2])
        if not (0 <= pitch <= 127):
            raise ValueError(f"pitch {pitch} outside 0..127")
        if start < 0:
            raise ValueError(f"negative start step {start}")
        if end <= start:
            end = start + 1
        out.append((pitch, start, end))
    return out


def monophonic(notes: Iterable[Sequence[int]]) -> List[Note]:
    """Step 1: the highest note at each start step, each cut by the next kept note's start."""
    by_start = {}
    for pitch, start, end in normalize_notes(notes):
        best = by_start.get(start)
        # Highest pitch wins; for two notes of the same pitch and start, the longer one.
        if best is None or (pitch, end) > (best[0], best[2]):
            by_start[start] = (pitch, start, end)
    starts = sorted(by_start)
    kept = []
    for i, s in enumerate(starts):
        pitch, start, end = by_start[s]
        if i + 1 < len(starts):
            end = min(end, starts[i + 1])
        kept.append((pitch, start, end))
    return kept


def notes_to_events(notes: Iterable[Sequence[int]]) -> List[int]:
    """Steps 1-2: notes -> one event per step, from step 0 to the last kept note's end.

    The last note's NOTE_OFF would fall on index `len(events)` and is therefore not included.
    """
    kept = monophonic(notes)
    if not kept:
        return []
    length = kept[-1][2]
    events = [NO_EVENT] * length
    starts = {s for _, s, _ in kept}
    for pitch, start, end in kept:
        events[start] = pitch
        if end < length and end not in starts:
            events[end] = NOTE_OFF
    return events


def estimate_key(events: Iterable[int]) -> int:
    """Step 3: the major key whose scale holds the most note-ons (lowest key on a tie)."""
    histogram = [0] * 12
    for e in events:
        if e >= 0:
            histogram[e % 12] += 1
    best_key, best_count = 0, -1
    for key in range(12):
        count = sum(histogram[(key + i) % 12] for i in MAJOR_SCALE)
        if count > best_count:
            best_key, best_count = key, count
    return best_key


def _fold_into_range(pitch: int, lo: int, hi: int) -> int:
    while pitch < lo:
        pitch += 12
    while pitch >= hi:
        pitch -= 12
    return pitch


def transposition(events: Sequence[int], key: int, enc: MelodyEncoding) -> int:
    """Step 4: the total shift (key shift + whole octaves) for a melody in `key`."""
    if enc.transpose_to_key is None:
        return 0
    key_shift = ((enc.transpose_to_key - key + 6) % 12) - 6
    pitches = [e for e in events if e >= 0]
    if not pitches:
        return key_shift
    lowest = min(pitches) + key_shift
    # Smallest o with lowest + 12*o >= min_pitch, i.e. o = ceil((min_pitch - lowest) / 12).
    octaves = -((lowest - enc.min_pitch) // 12)
    return key_shift + 12 * octaves


def encode_events(events: Sequence[int], enc: MelodyEncoding) -> EncodedMelody:
    """Steps 3-5 and the class indices, for events made by :func:`notes_to_events`."""
    key = estimate_key(events)
    shift = transposition(events, key, enc)
    out = []
    for e in events:
        if e >= 0:
            # Step 4's "move down until below max_pitch" and step 5's fold are the same
            # operation once the lowest note sits at or above min_pitch.
            e = _fold_into_range(e + shift, enc.min_pitch, enc.max_pitch)
        out.append(e)
    return EncodedMelody(key=key, total_shift=shift, events=out, classes=events_to_classes(out, enc))


def encode(notes: Iterable[Sequence[int]], enc: MelodyEncoding) -> EncodedMelody:
    """CONTRACT.md steps 1-5: notes on the step grid -> key, shift, events, class indices."""
    return encode_events(notes_to_events(notes), enc)


def event_to_class(event: int, enc: MelodyEncoding) -> int:
    if event == NO_EVENT:
        return 0
    if event == NOTE_OFF:
        return 1
    if not (enc.min_pitch <= event < enc.max_pitch):
        raise ValueError(f"pitch {event} outside [{enc.min_pitch}, {enc.max_pitch})")
    return 2 + event - enc.min_pitch


def class_to_event(index: int, enc: MelodyEncoding) -> int:
    if index == 0:
        return NO_EVENT
    if index == 1:
        return NOTE_OFF
    if not (2 <= index < enc.num_classes):
        raise ValueError(f"class {index} outside 0..{enc.num_classes - 1}")
    return enc.min_pitch + index - 2


def events_to_classes(events: Iterable[int], enc: MelodyEncoding) -> List[int]:
    return [event_to_class(e, enc) for e in events]


def classes_to_events(classes: Iterable[int], enc: MelodyEncoding) -> List[int]:
    return [class_to_event(i, enc) for i in classes]


def events_to_notes(events: Sequence[int], shift_back: int = 0, start_step: int = 0) -> List[Note]:
    """Inverse of steps 1-2: each note-on lasts until the next NOTE_OFF or note-on, or the end.

    `shift_back` is added to every pitch (pass `-total_shift` to undo step 4) and `start_step`
    to every time.
    """
    notes = []
    current = None  # (pitch, start)
    for t, e in enumerate(events):
        if e == NO_EVENT:
            continue
        if current is not None:
            notes.append((current[0] + shift_back, current[1] + start_step, t + start_step))
            current = None
        if e >= 0:
            current = (e, t)
        elif e != NOTE_OFF:
            raise ValueError(f"bad event {e}")
    if current is not None:
        notes.append((current[0] + shift_back, current[1] + start_step, len(events) + start_step))
    return notes


def decode(classes: Sequence[int], enc: MelodyEncoding, total_shift: int = 0, start_step: int = 0) -> List[Note]:
    """Class indices -> notes, shifted back by `-total_shift` (the inverse of :func:`encode`)."""
    return events_to_notes(classes_to_events(classes, enc), shift_back=-total_shift, start_step=start_step)
