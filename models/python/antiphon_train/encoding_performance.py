"""Magenta's Performance RNN encoding with dynamics (standard library only).

Mirrors ``models/src/encoding/performance.rs``; both are checked against
``models/testdata/performance_vectors.json``.

- Grid: 100 steps per second; a time ``t`` (seconds) goes to step ``floor(t * 100 + 0.5)`` in
  float64 (round half up; the same expression as the Rust side, so ``1.005`` s is step 100).
- Class index (388 classes, = input one-hot index): NOTE_ON(p) -> p, NOTE_OFF(p) -> 128 + p,
  TIME_SHIFT(k), k in 1..=100 -> 255 + k, VELOCITY(b), b in 1..=32 -> 355 + b. Default event:
  TIME_SHIFT(100) = 355.
- Velocity bin = (v - 1) // 4 + 1 for v clamped to 1..127; decoded velocity = 1 + (bin - 1) * 4.

Encoding: quantise start and end; velocity clamped to 1..127; a note not ending after its start
lasts one step; a note longer than 5 s (500 steps) is cut to exactly 5 s (note-off at start +
500); negative starts and pitches above 127 are dropped. Events sorted by step; at one step the
note-offs first (ascending pitch), then the note-ons (ascending pitch, then earlier end, then
lower velocity). Gaps: TIME_SHIFT(100) x (gap // 100), then TIME_SHIFT(gap % 100) if non-zero,
from step 0. A VELOCITY event precedes a note-on whose bin differs from the last one written (the
first note-on always gets one). The stream ends at the last note-off.

Decoding: TIME_SHIFT advances the clock; VELOCITY sets the velocity of later note-ons (before
any: DEFAULT_VELOCITY); NOTE_ON opens a note; NOTE_OFF ends the earliest open note of that pitch
(ignored when none). Open notes end at the final clock. A note ending at its own start lasts one
step; a note longer than 500 steps ends at start + 500. Notes in note-on order; indices >= 388
ignored.
"""

import math
from typing import Iterable, List, Optional, Sequence, Tuple

STEPS_PER_SECOND = 100
NUM_PITCHES = 128
MAX_SHIFT_STEPS = 100
NUM_VELOCITY_BINS = 32
VELOCITY_BIN_SIZE = 4
MAX_NOTE_STEPS = 500
NOTE_ON_OFFSET = 0
NOTE_OFF_OFFSET = NUM_PITCHES
TIME_SHIFT_OFFSET = 2 * NUM_PITCHES
VELOCITY_OFFSET = TIME_SHIFT_OFFSET + MAX_SHIFT_STEPS
NUM_CLASSES = VELOCITY_OFFSET + NUM_VELOCITY_BINS
INPUT_SIZE = NUM_CLASSES
DEFAULT_EVENT = TIME_SHIFT_OFFSET + MAX_SHIFT_STEPS - 1
DEFAULT_VELOCITY = 100

StepNote = Tuple[int, int, int, int]  # (pitch, velocity, start_step, end_step)


def quantize(seconds: float) -> int:
    """Grid step of a time in seconds: floor(seconds * 100 + 0.5)."""
    return int(math.floor(float(seconds) * STEPS_PER_SECOND + 0.5))


def step_to_seconds(step: int) -> float:
    """Seconds of a grid step."""
    return step / STEPS_PER_SECOND


def velocity_to_bin(velocity: int) -> int:
    """Velocity bin 1..32 (velocity clamped to 1..127 first)."""
    return (min(max(int(velocity), 1), 127) - 1) // VELOCITY_BIN_SIZE + 1


def bin_to_velocity(b: int) -> int:
    """Decoded velocity of a bin (clamped to 1..32): 1 + (bin - 1) * 4."""
    return 1 + (min(max(int(b), 1), NUM_VELOCITY_BINS) - 1) * VELOCITY_BIN_SIZE


def event_name(index: int) -> Optional[str]:
    """Readable name of a class index ("TIME_SHIFT(100)"), or None when out of range."""
    if 0 <= index < NOTE_OFF_OFFSET:
        return "NOTE_ON(%d)" % index
    if index < TIME_SHIFT_OFFSET:
        return "NOTE_OFF(%d)" % (index - NOTE_OFF_OFFSET)
    if index < VELOCITY_OFFSET:
        return "TIME_SHIFT(%d)" % (index - TIME_SHIFT_OFFSET + 1)
    if index < NUM_CLASSES:
        return "VELOCITY(%d)" % (index - VELOCITY_OFFSET + 1)
    return None


def quantize_note(note: Sequence[float]) -> Optional[StepNote]:
    """``(pitch, velocity, start_s, end_s)`` on the grid, or None when dropped."""
    pitch, velocity = int(note[0]), int(note[1])
    start = quantize(note[2])
    if start < 0 or not 0 <= pitch < NUM_PITCHES:
        return None
    end = min(max(quantize(note[3]), start + 1), start + MAX_NOTE_STEPS)
    return (pitch, min(max(velocity, 1), 127), start, end)


def notes_to_events(notes: Iterable[Sequence[float]]) -> List[int]:
    """Event stream of notes ``(pitch, velocity, start_s, end_s)`` in seconds."""
    grid = [q for q in (quantize_note(n) for n in notes) if q is not None]
    return step_notes_to_events(grid)


def step_notes_to_events(notes: Iterable[Sequence[int]]) -> List[int]:
    """Event stream of notes ``(pitch, velocity, start_step, end_step)`` on the 10 ms grid."""
    marks = []
    for n in notes:
        pitch, velocity, start, end = (int(x) for x in n[:4])
        if start < 0 or not 0 <= pitch < NUM_PITCHES:
            continue
        end = min(max(end, start + 1), start + MAX_NOTE_STEPS)
        marks.append((start, 1, pitch, end, min(max(velocity, 1), 127)))
        marks.append((end, 0, pitch, 0, 0))
    marks.sort()
    events: List[int] = []
    clock = 0
    current_bin = 0
    for step, kind, pitch, _, velocity in marks:
        gap = step - clock
        while gap > 0:
            shift = min(gap, MAX_SHIFT_STEPS)
            events.append(TIME_SHIFT_OFFSET + shift - 1)
            gap -= shift
        clock = step
        if kind == 0:
            events.append(NOTE_OFF_OFFSET + pitch)
        else:
            b = velocity_to_bin(velocity)
            if b != current_bin:
                events.append(VELOCITY_OFFSET + b - 1)
                current_bin = b
            events.append(NOTE_ON_OFFSET + pitch)
    return events


def events_to_notes(events: Sequence[int]) -> List[StepNote]:
    """Notes ``(pitch, velocity, start_step, end_step)`` of an event stream, in note-on order."""
    notes: List[list] = []  # [pitch, velocity, start, end or None]
    clock = 0
    velocity = DEFAULT_VELOCITY
    for index in events:
        if not 0 <= index < NUM_CLASSES:
            continue
        if index < NOTE_OFF_OFFSET:
            notes.append([index, velocity, clock, None])
        elif index < TIME_SHIFT_OFFSET:
            pitch = index - NOTE_OFF_OFFSET
            for n in notes:
                if n[0] == pitch and n[3] is None:
                    n[3] = clock
                    break
        elif index < VELOCITY_OFFSET:
            clock += index - TIME_SHIFT_OFFSET + 1
        else:
            velocity = bin_to_velocity(index - VELOCITY_OFFSET + 1)
    out = []
    for pitch, vel, start, end in notes:
        end = clock if end is None else end
        out.append((pitch, vel, start, min(max(end, start + 1), start + MAX_NOTE_STEPS)))
    return out


def events_to_timed_notes(events: Sequence[int]) -> List[Tuple[int, int, float, float]]:
    """Notes ``(pitch, velocity, start_s, end_s)`` of an event stream (steps / 100)."""
    return [
        (p, v, step_to_seconds(s), step_to_seconds(e)) for p, v, s, e in events_to_notes(events)
    ]


def input_row(event: int) -> List[float]:
    """The 388-wide one-hot input row of a class (all zeros when out of range)."""
    row = [0.0] * INPUT_SIZE
    if 0 <= event < NUM_CLASSES:
        row[event] = 1.0
    return row
