"""Magenta's Polyphony RNN encoding: the BachBot-style event stream (standard library only).

Mirrors ``models/src/encoding/polyphony.rs``; both are checked against
``models/testdata/polyphony_vectors.json``.

- Events: START, END, STEP_END, NEW_NOTE(p), CONTINUED_NOTE(p), p in 0..128.
- Class index (= input one-hot index, 259 classes): 0 START, 1 END, 2 STEP_END, 3 + p
  NEW_NOTE(p), 131 + p CONTINUED_NOTE(p). Default ("no event") label: STEP_END.
- Stream: START, then for every step 0..E (E = largest end step) the notes sounding at that step
  in descending pitch order and one STEP_END, then END. A note is NEW_NOTE at its start step and
  CONTINUED_NOTE at each later step before its end. 4 steps per quarter.

Choices: only pitch, start and end count; negative starts and pitches outside 0..128 are
ignored; a note whose end does not exceed its start lasts one step; no notes -> [START, END].
A pitch is listed once per step: NEW_NOTE if any note of it starts there, else CONTINUED_NOTE.
Decoding: NEW_NOTE(p) starts a note (ending an open one of p there); CONTINUED_NOTE(p) keeps an
open note going or starts one; an event for a pitch already listed in the step is ignored; at
STEP_END open notes not listed in that step end there; START ignored; stop at the first END or
the end of the events; an unfinished last step counts as finished; open notes end at the step
count. Decoded notes: velocity DECODE_VELOCITY, sorted by start then descending pitch; indices
>= 259 are ignored. Piano-roll frames: a pitch present in consecutive frames is ONE held note
(the JSB frames cannot tell a re-strike from a hold; a re-strike inside such a run is lost).
"""

from typing import Iterable, List, Optional, Sequence, Tuple

NUM_PITCHES = 128
START = 0
END = 1
STEP_END = 2
NEW_NOTE_OFFSET = 3
CONTINUED_NOTE_OFFSET = NEW_NOTE_OFFSET + NUM_PITCHES
NUM_CLASSES = CONTINUED_NOTE_OFFSET + NUM_PITCHES
INPUT_SIZE = NUM_CLASSES
STEPS_PER_QUARTER = 4
DECODE_VELOCITY = 100

Note = Tuple[int, int, int]


def event_name(index: int) -> Optional[str]:
    """Readable name of a class index ("NEW_NOTE(60)"), or None when out of range."""
    if index == START:
        return "START"
    if index == END:
        return "END"
    if index == STEP_END:
        return "STEP_END"
    if NEW_NOTE_OFFSET <= index < CONTINUED_NOTE_OFFSET:
        return "NEW_NOTE(%d)" % (index - NEW_NOTE_OFFSET)
    if CONTINUED_NOTE_OFFSET <= index < NUM_CLASSES:
        return "CONTINUED_NOTE(%d)" % (index - CONTINUED_NOTE_OFFSET)
    return None


def notes_to_events(notes: Iterable[Sequence[int]]) -> List[int]:
    """Event stream of notes ``(pitch, start_step, end_step, ...)`` on the step grid."""
    kept = []
    for n in notes:
        pitch, start, end = int(n[0]), int(n[1]), int(n[2])
        if start < 0 or not 0 <= pitch < NUM_PITCHES:
            continue
        kept.append((pitch, start, max(end, start + 1)))
    length = max((e for _, _, e in kept), default=0)
    grid = [[0] * NUM_PITCHES for _ in range(length)]  # 0 silent, 1 continued, 2 new
    for pitch, start, end in kept:
        grid[start][pitch] = 2
        for step in range(start + 1, end):
            grid[step][pitch] = max(grid[step][pitch], 1)
    events = [START]
    for step in grid:
        for pitch in range(NUM_PITCHES - 1, -1, -1):
            if step[pitch] == 2:
                events.append(NEW_NOTE_OFFSET + pitch)
            elif step[pitch] == 1:
                events.append(CONTINUED_NOTE_OFFSET + pitch)
        events.append(STEP_END)
    events.append(END)
    return events


def _sorted(notes: List[Note]) -> List[Note]:
    return sorted(notes, key=lambda n: (n[1], -n[0]))


def events_to_notes(events: Sequence[int], start_step: int = 0) -> List[Note]:
    """Notes ``(pitch, start, end)`` of an event stream, steps counted from ``start_step``."""
    notes: List[Note] = []
    open_: dict = {}
    listed: set = set()
    step = start_step
    step_has_events = False

    def close_unlisted(keep: set, at: int) -> None:
        for pitch in sorted(open_):
            if pitch not in keep:
                notes.append((pitch, open_.pop(pitch), at))

    for index in events:
        if not 0 <= index < NUM_CLASSES or index == START:
            continue
        if index == END:
            break
        if index == STEP_END:
            close_unlisted(listed, step)
            listed = set()
            step_has_events = False
            step += 1
            continue
        new = index < CONTINUED_NOTE_OFFSET
        pitch = index - (NEW_NOTE_OFFSET if new else CONTINUED_NOTE_OFFSET)
        step_has_events = True
        if pitch in listed:
            continue
        listed.add(pitch)
        if pitch in open_:
            if new:
                notes.append((pitch, open_[pitch], step))
                open_[pitch] = step
        else:
            open_[pitch] = step
    if step_has_events:
        close_unlisted(listed, step)
        step += 1
    close_unlisted(set(), step)
    return _sorted(notes)


def frames_to_notes(frames: Iterable[Iterable[int]]) -> List[Note]:
    """Notes ``(pitch, start, end)`` of piano-roll frames (pitches sounding per step, from 0):
    a pitch present in consecutive frames is one held note; pitches outside 0..128 ignored."""
    notes: List[Note] = []
    open_: dict = {}
    step = 0
    for frame in frames:
        now = {int(p) for p in frame if 0 <= int(p) < NUM_PITCHES}
        for pitch in sorted(open_):
            if pitch not in now:
                notes.append((pitch, open_.pop(pitch), step))
        for pitch in now:
            open_.setdefault(pitch, step)
        step += 1
    for pitch in sorted(open_):
        notes.append((pitch, open_[pitch], step))
    return _sorted(notes)


def input_row(event: int) -> List[float]:
    """The 259-wide one-hot input row of a class (all zeros when out of range)."""
    row = [0.0] * INPUT_SIZE
    if 0 <= event < NUM_CLASSES:
        row[event] = 1.0
    return row
