"""Training sets per model kind: sources -> segments -> event sequences (+ chords) -> codec rows,
and the evaluation MIDI files the Rust side re-encodes (`cargo xtask eval`).

Sources (never copied into the repository):
- melody kinds (basic, lookback, attention): music21's folk corpora, or `--data DIR` MIDI files;
- drum_kit: the Groove MIDI Dataset (`info.csv` gives each file's split and bpm), or `--data DIR`
  MIDI files (their channel-10 notes);
- improv: the Nottingham Music Database (ABC with chord symbols) in all 12 keys, or `--data DIR`
  MIDI files whose chords are marker events (one chord symbol per marker).

A *segment* is notes `(pitch, start, end)` from step 0 plus, for improv, chord changes
`(step, symbol)`. Lookback and attention segments start on a bar line (the first bar line of the
score from its measures, or step 0 for MIDI files), because their inputs count steps within bars.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from . import data as data_mod
from . import encoding as mel
from . import encoding_chords as chords_mod
from . import encoding_drums as drums
from . import encoding_performance as perf
from . import encoding_polyphony as poly
from .data import Tune, log, split_of
from .midi import read_midi, write_midi

#: Drum segments: split at gaps of a bar, at least 7 bars, cut into chunks of at most 32 bars.
DRUM_GAP_STEPS = 16
DRUM_MIN_STEPS = 112
DRUM_MAX_STEPS = 512
#: Improv segments keep Magenta's lead-sheet limits: >= 7 bars, <= 512 steps, >= 3 pitches.
IMPROV_MIN_DISTINCT = 3
IMPROV_TRANSPOSITIONS = tuple(range(-5, 7))  # every key once

#: Polyphony: the JSB training split in 9 keys (Magenta's polyphony pipeline: -4..+4 semitones).
POLYPHONY_TRANSPOSITIONS = tuple(range(-4, 5))
#: Performance: windows of 30 s of notes (by onset), at least 8 notes, the training split also
#: stretched in time by 0.95 and 1.05 (Magenta's performance pipeline stretches by up to 5 %).
PERF_WINDOW_SECONDS = 30
PERF_MIN_NOTES = 8
PERF_STRETCHES = (0.95, 1.0, 1.05)
PERF_MIDI_STEPS_PER_QUARTER = 50

_SHARP_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


@dataclass
class Segment:
    tune: str
    #: `(pitch, start, end)` on the model's step grid; performance: `(pitch, velocity, start, end)`
    #: on its 10 ms grid.
    notes: List[Tuple[int, ...]]
    chords: List[Tuple[int, str]] = field(default_factory=list)
    transpose: int = 0

    @property
    def steps(self) -> int:
        return max((n[-1] for n in self.notes), default=0)


# --------------------------------------------------------------------------------------------
# Segmentation


def bar_aligned(segment_notes: List[Tuple[int, int, int]], origin_before: int, bar_start: int,
                bar_steps: int) -> Tuple[List[Tuple[int, int, int]], int]:
    """Shift notes (still on the tune's grid, first note at `origin_before`) so that step 0 is the
    bar line at or before the first note. Returns (notes, origin)."""
    origin = bar_start + ((origin_before - bar_start) // bar_steps) * bar_steps
    return [(p, s - origin, e - origin) for p, s, e in segment_notes], origin


def melody_segments(tune: Tune, align: bool) -> List[Tuple[List[Tuple[int, int, int]], int]]:
    """Melody segments of a tune as (notes from step 0, origin on the tune's grid)."""
    out = []
    for seg in data_mod.segment_notes_with_origin(tune.notes):
        notes, origin = seg
        if align:
            absolute = [(p, s + origin, e + origin) for p, s, e in notes]
            notes, origin = bar_aligned(absolute, origin, tune.bar_start, tune.bar_steps)
        out.append((notes, origin))
    return out


def drum_segments(notes: Sequence[Tuple[int, int, int]]) -> List[Tuple[List[Tuple[int, int, int]], int]]:
    """Drum notes -> segments: split at silent gaps of >= a bar, start on a bar line, at most
    DRUM_MAX_STEPS (cut at bar lines), at least DRUM_MIN_STEPS."""
    hits = sorted((n for n in notes if drums.drum_class_of(n[0]) is not None and n[1] >= 0),
                  key=lambda n: (n[1], n[0]))
    groups: List[List[Tuple[int, int, int]]] = []
    for n in hits:
        if groups and n[1] - groups[-1][-1][1] <= DRUM_GAP_STEPS:
            groups[-1].append(n)
        else:
            groups.append([n])
    out = []
    for g in groups:
        origin = (g[0][1] // 16) * 16
        end = g[-1][1] + 1
        for chunk_start in range(origin, end, DRUM_MAX_STEPS):
            chunk = [(p, s - chunk_start, s - chunk_start + 1) for p, s, _ in g
                     if chunk_start <= s < chunk_start + DRUM_MAX_STEPS]
            if chunk and chunk[-1][1] + 1 >= DRUM_MIN_STEPS:
                out.append((chunk, chunk_start))
    return out


def chords_in(changes: Sequence[Tuple[int, str]], origin: int, steps: int) -> List[Tuple[int, str]]:
    """Chord changes of a window [origin, origin + steps) moved to step 0; the chord in force at
    the window's start is written at step 0."""
    out: List[Tuple[int, str]] = []
    current = None
    for step, text in changes:
        if step <= origin:
            current = text
        elif step < origin + steps:
            if not out and current is not None:
                out.append((0, current))
            out.append((step - origin, text))
    if not out and current is not None:
        out.append((0, current))
    return out


def chords_per_step(changes: Sequence[Tuple[int, str]], steps: int) -> List[Optional[chords_mod.Chord]]:
    """The chord in force at each step (no chord before the first change)."""
    out: List[Optional[chords_mod.Chord]] = [None] * steps
    for i, (step, text) in enumerate(changes):
        end = changes[i + 1][0] if i + 1 < len(changes) else steps
        chord = chords_mod.parse_symbol(text)
        for t in range(max(step, 0), min(end, steps)):
            out[t] = chord
    return out


def normalize_symbol(text: str) -> str:
    """A chord symbol as music21 writes it back in ABC spelling: `-` is a flat (`B-` = Bb) and `+`
    after a slash-bass letter a sharp (`D/f+` = D/f#); spaces are dropped."""
    s = text.replace(" ", "").replace("-", "b")
    if "/" in s:
        head, bass = s.split("/", 1)
        s = head + "/" + bass.replace("+", "#")
    return s


def transpose_symbol(text: str, semitones: int) -> str:
    """A chord symbol moved by `semitones` (root and slash bass; the suffix stays)."""
    s = text.strip()
    if s in chords_mod.NO_CHORD_SYMBOLS or semitones % 12 == 0:
        return s
    name = chords_mod._note_name(s)
    if name is None:
        raise ValueError(f"unsupported chord symbol {text!r}")
    root, rest = name
    suffix, bass = rest, None
    if "/" in rest:
        suffix, bass_text = rest.split("/", 1)
        b = chords_mod._note_name(bass_text)
        if b is None or b[1]:
            raise ValueError(f"unsupported chord symbol {text!r}")
        bass = b[0]
    out = _SHARP_NAMES[(root + semitones) % 12] + suffix
    if bass is not None:
        out += "/" + _SHARP_NAMES[(bass + semitones) % 12]
    return out


# --------------------------------------------------------------------------------------------
# Sources


def groove_files(root: Path):
    """(split, identity, `info.csv` row, parsed file) of every Groove file, in `info.csv` order."""
    root = Path(root)
    with open(root / "info.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        split = {"train": "train", "validation": "valid", "test": "test"}[row["split"]]
        yield split, f"groove:{row['id']}", row, read_midi(root / row["midi_filename"])


def load_groove(root: Path) -> List[Tuple[str, str, List[Tuple[int, int, int]]]]:
    """(split, identity, drum notes on the 16th grid) of every Groove file; steps come from the
    file's ticks scaled by `info.csv`'s bpm over the file's own tempo (the same for Groove)."""
    out = []
    for split, ident, row, m in groove_files(root):
        scale = float(row["bpm"]) * m.first_tempo_us / 60e6 if m.first_tempo_us else 1.0
        notes = []
        for (_, channel), ns in m.by_instrument.items():
            for p, s, e in ns:
                notes.append((p, round(s / m.ticks_per_quarter * 4 * scale), round(e / m.ticks_per_quarter * 4 * scale)))
        out.append((split, ident, notes))
    return out


def load_midi_drums(data_dir: Path) -> List[Tuple[str, str, List[Tuple[int, int, int]]]]:
    """Channel-10 notes of the user's MIDI files (all notes of a file without any)."""
    out = []
    for rel, m in data_mod.midi_files(data_dir):
        by_ch = [(ch, ns) for (_, ch), ns in m.by_instrument.items()]
        chosen = [n for ch, ns in by_ch if ch == 9 for n in ns] or [n for _, ns in by_ch for n in ns]
        ident = f"file:{rel}"
        out.append((split_of(ident), ident, _steps(chosen, m.ticks_per_quarter)))
    return out


def load_midi_lead_sheets(data_dir: Path) -> List[Tune]:
    """The user's MIDI files as lead sheets: all non-drum notes, chords from marker events."""
    tunes = []
    for rel, m in data_mod.midi_files(data_dir):
        notes = _steps([n for (_, ch), ns in m.by_instrument.items() if ch != 9 for n in ns], m.ticks_per_quarter)
        changes = [(data_mod.ticks_to_step_fn(t, m.ticks_per_quarter), text) for t, text in m.markers]
        tunes.append(Tune(ident=f"file:{rel}", source=str(data_dir), notes=sorted(notes, key=lambda n: (n[1], n[0])),
                          chords=sorted(changes, key=lambda c: c[0])))
    return tunes


def _steps(notes, ticks_per_quarter: int) -> List[Tuple[int, int, int]]:
    return [(p, data_mod.ticks_to_step_fn(s, ticks_per_quarter), data_mod.ticks_to_step_fn(e, ticks_per_quarter))
            for p, s, e in notes]


# --------------------------------------------------------------------------------------------
# Building a training set


@dataclass
class TrainingSet:
    segments: Dict[str, List[Segment]]
    counts: Dict[str, dict]
    sources: List[str]


def _count(segments: Dict[str, List[Segment]], tunes: Dict[str, set]) -> Dict[str, dict]:
    return {name: {"tunes": len(tunes[name]), "tunes_with_segments": len({s.tune for s in segs}),
                   "segments": len(segs), "steps": sum(s.steps for s in segs)}
            for name, segs in segments.items()}


def load_jsb(path: Path) -> Dict[str, List[List[List[int]]]]:
    """The JSB chorales' piano-roll frames by split (`train`, `valid`)."""
    with open(path) as f:
        parsed = json.load(f)
    return {name: parsed[name] for name in ("train", "valid")}


def jsb_notes_by_split(path: Path) -> Dict[str, List[Tuple[str, List[Tuple[int, int, int]]]]]:
    """(identity, notes) of every chorale per split; a pitch in consecutive frames is one note."""
    return {name: [(f"jsb:{name}:{i}", poly.frames_to_notes(frames)) for i, frames in enumerate(pieces)]
            for name, pieces in load_jsb(path).items()}


def load_groove_timed(root: Path) -> List[Tuple[str, str, List[Tuple[int, int, float, float]]]]:
    """(split, identity, notes `(pitch, velocity, start_s, end_s)`) of every Groove file, times
    from the file's ticks and its first tempo."""
    return [(split, ident, timed_notes(m)) for split, ident, _, m in groove_files(root)]


def timed_notes(m) -> List[Tuple[int, int, float, float]]:
    """Every note of a parsed file as `(pitch, velocity, start_s, end_s)`, from its first tempo
    (120 QPM when it has none), by onset."""
    sec_per_tick = (m.first_tempo_us or 500_000) / 1e6 / m.ticks_per_quarter
    notes = [(p, v, s * sec_per_tick, e * sec_per_tick) for ns in m.with_velocity.values() for p, s, e, v in ns]
    return sorted(notes, key=lambda n: (n[2], n[0]))


def performance_windows(notes: Sequence[Tuple[int, int, float, float]], stretch: float = 1.0
                        ) -> List[List[Tuple[int, int, int, int]]]:
    """Timed notes -> windows of PERF_WINDOW_SECONDS (by note start, each from its first note
    at step 0), notes on the 10 ms grid `(pitch, velocity, start, end)`, times stretched by
    `stretch`; windows with fewer than PERF_MIN_NOTES notes dropped."""
    grid = [q for q in (perf.quantize_note((p, v, s * stretch, e * stretch)) for p, v, s, e in notes)
            if q is not None]
    grid.sort(key=lambda n: (n[2], n[0]))
    width = PERF_WINDOW_SECONDS * perf.STEPS_PER_SECOND
    windows: List[List[Tuple[int, int, int, int]]] = []
    i = 0
    while i < len(grid):
        origin = grid[i][2]
        j = i
        while j < len(grid) and grid[j][2] < origin + width:
            j += 1
        if j - i >= PERF_MIN_NOTES:
            windows.append([(p, v, s - origin, e - origin) for p, v, s, e in grid[i:j]])
        i = j
    return windows


def build(kind: str, data: Optional[str], cache_root: Path, groove: Path, nottingham: Path,
          jsb: Optional[Path] = None) -> TrainingSet:
    """Segments per split for a model kind (basic, lookback, attention, drum_kit, improv,
    polyphony, performance)."""
    segments: Dict[str, List[Segment]] = {"train": [], "valid": []}
    tunes_seen: Dict[str, set] = {"train": set(), "valid": set()}
    if kind == "polyphony":
        if data:
            by_split: Dict[str, list] = {"train": [], "valid": []}
            for rel, m in data_mod.midi_files(Path(data)):
                ident = f"file:{rel}"
                notes = _steps([n for (_, ch), ns in m.by_instrument.items() if ch != 9 for n in ns],
                               m.ticks_per_quarter)
                by_split[split_of(ident)].append((ident, notes))
            sources = ["user"]
        else:
            by_split = jsb_notes_by_split(jsb / "jsb-chorales-16th.train-valid.json")
            sources = ["jsb"]
        for split, pieces in by_split.items():
            for ident, notes in pieces:
                if not notes:
                    continue
                tunes_seen[split].add(ident)
                shifts = POLYPHONY_TRANSPOSITIONS if split == "train" else (0,)
                for t in shifts:
                    moved = [(p + t, s, e) for p, s, e in notes]
                    if all(0 <= p < 128 for p, _, _ in moved):
                        segments[split].append(Segment(ident, moved, transpose=t))
        return TrainingSet(segments, _count(segments, tunes_seen), sources)
    if kind == "performance":
        if data:
            files = []
            for rel, m in data_mod.midi_files(Path(data)):
                ident = f"file:{rel}"
                files.append((split_of(ident), ident, timed_notes(m)))
            sources = ["user"]
        else:
            files = load_groove_timed(groove)
            sources = ["groove"]
        for split, ident, notes in files:
            if split not in segments:
                continue
            tunes_seen[split].add(ident)
            for stretch in (PERF_STRETCHES if split == "train" else (1.0,)):
                for window in performance_windows(notes, stretch):
                    segments[split].append(Segment(ident, window, transpose=0))
        return TrainingSet(segments, _count(segments, tunes_seen), sources)
    if kind == "drum_kit":
        files = load_midi_drums(Path(data)) if data else load_groove(groove)
        for split, ident, notes in files:
            if split not in segments:
                continue
            tunes_seen[split].add(ident)
            for notes_, _ in drum_segments(notes):
                segments[split].append(Segment(ident, notes_))
        sources = ["user" if data else "groove"]
    elif kind == "improv":
        tunes = load_midi_lead_sheets(Path(data)) if data else \
            data_mod.load_nottingham_tunes(nottingham, cache_root, workers=2)
        skipped = 0
        for tune in tunes:
            if not tune.chords:
                continue
            split = split_of(tune.ident)
            tunes_seen[split].add(tune.ident)
            for notes, origin in melody_segments(tune, align=False):
                if len({p for p, _, _ in notes}) < IMPROV_MIN_DISTINCT:
                    continue
                steps = max(n[2] for n in notes)
                window = chords_in([(st, normalize_symbol(x)) for st, x in tune.chords], origin, steps)
                try:
                    for t in IMPROV_TRANSPOSITIONS:
                        ch = [(s, transpose_symbol(x, t)) for s, x in window]
                        chords_per_step(ch, 1)  # every symbol must parse
                        segments[split].append(Segment(tune.ident, [(p + t, s, e) for p, s, e in notes], ch, t))
                except ValueError as e:
                    skipped += 1
                    log(f"[data] {tune.ident}: {e}; segment skipped")
        if skipped:
            log(f"[data] {skipped} improv segments skipped for unsupported chord symbols")
        sources = ["user" if data else "nottingham"]
    else:
        tunes = data_mod.load_midi_tunes(Path(data), cache_root) if data else \
            data_mod.load_music21_tunes(cache_root, workers=2)
        align = kind in ("lookback", "attention")
        for tune in sorted(tunes, key=lambda t: t.ident):
            split = split_of(tune.ident)
            tunes_seen[split].add(tune.ident)
            for notes, _ in melody_segments(tune, align):
                segments[split].append(Segment(tune.ident, notes))
        sources = ["user" if data else "music21"]
    return TrainingSet(segments, _count(segments, tunes_seen), sources)


def events_of(kind: str, seg: Segment, enc: Optional[mel.MelodyEncoding] = None) -> List[int]:
    """The event sequence the codec of `kind` encodes (the runtime's own pipeline)."""
    if kind == "polyphony":
        return poly.notes_to_events(seg.notes)
    if kind == "performance":
        return perf.step_notes_to_events(seg.notes)
    if kind == "drum_kit":
        return drums.notes_to_events(seg.notes)
    if enc is None:
        enc = mel.MelodyEncoding(transpose_to_key=None if kind == "improv" else 0)
    return mel.encode(seg.notes, enc).events


def write_eval_midi(kind: str, segments: Dict[str, List[Segment]], work: Path) -> Dict[str, Path]:
    """`<work>/midi/{train,valid}/NNNNN.mid`, one file per segment, plus `index.json`: drums on
    channel 10, improv chords as marker events."""
    folders = {}
    for name, segs in segments.items():
        folder = work / "midi" / name
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.mid"):
            old.unlink()
        index = []
        for i, seg in enumerate(segs):
            fname = f"{i:05d}.mid"
            if kind == "performance":  # 10 ms steps: 50 a quarter at the file's 120 qpm, 20 ticks each
                write_midi(folder / fname, [(p, st, e) for p, _, st, e in seg.notes],
                           steps_per_quarter=PERF_MIDI_STEPS_PER_QUARTER, ticks_per_quarter=1000,
                           channel=9, velocities=[v for _, v, _, _ in seg.notes])
            else:
                write_midi(folder / fname, seg.notes, channel=9 if kind == "drum_kit" else 0,
                           markers=seg.chords)
            index.append({"file": fname, "tune": seg.tune, "steps": seg.steps, "notes": len(seg.notes),
                          "transpose": seg.transpose})
        with open(folder / "index.json", "w") as f:
            json.dump(index, f, indent=0)
        folders[name] = folder
    return folders


def check_eval_midi(kind: str, segments: Dict[str, List[Segment]], folders: Dict[str, Path]) -> None:
    """Read every written file back and check it gives the same events (and chords)."""
    for name, segs in segments.items():
        for i, seg in enumerate(segs):
            m = read_midi(folders[name] / f"{i:05d}.mid")
            if kind == "performance":
                sec_per_tick = m.first_tempo_us / 1e6 / m.ticks_per_quarter
                back = Segment(seg.tune, [q for q in (perf.quantize_note((p, v, s * sec_per_tick, e * sec_per_tick))
                                                      for ns in m.with_velocity.values() for p, s, e, v in ns) if q])
                if events_of(kind, back) != events_of(kind, seg):
                    raise AssertionError(f"{folders[name]}/{i:05d}.mid does not read back to its segment")
                continue
            notes = _steps([n for ns in m.by_instrument.values() for n in ns], m.ticks_per_quarter)
            back = Segment(seg.tune, notes, [(data_mod.ticks_to_step_fn(t, m.ticks_per_quarter), x) for t, x in m.markers])
            if events_of(kind, back) != events_of(kind, seg) or back.chords != seg.chords:
                raise AssertionError(f"{folders[name]}/{i:05d}.mid does not read back to its segment")
