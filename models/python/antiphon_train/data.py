"""Melody sources and segmentation: music21 ABC extraction (cached), the user's MIDI files, the split.

Sources are music21's corpus (ABC: Essen folk songs, O'Neill's 1850, Ryan's Mammoth) or a folder
of the user's own MIDI files. Every source becomes *tunes*: an identity string plus notes
`(pitch, start_step, end_step)` on a 16th-note grid. Extracted notes are cached as JSON under
`<work>/cache/` so that re-runs skip the (slow) ABC parsing. Nothing here is ever committed.

Segmentation follows Magenta's melody extraction in spirit (see the model card): the monophonic
line (CONTRACT.md step 1) is split at silent gaps of at least `GAP_STEPS`, segments longer than
`MAX_STEPS` are cut at note boundaries into chunks of at most `MAX_STEPS`, and chunks shorter than
`MIN_STEPS` or with fewer than `MIN_DISTINCT_PITCHES` distinct pitches are dropped. Each segment is
moved in time so that its first note starts at step 0; pitches stay in the original key (the
encoder transposes).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, List, Optional, Sequence, Tuple

from . import encoding
from .encoding import Note
from .midi import MidiNotes, read_midi

STEPS_PER_QUARTER = 4
GAP_STEPS = 16
MIN_STEPS = 112
MAX_STEPS = 512
MIN_DISTINCT_PITCHES = 5
VALID_PERCENT = 10
#: Bump when the extraction changes, so that old caches are not used.
EXTRACT_VERSION = 3

#: music21 corpus collections used for the melody model, and what music21 says about their license.
MUSIC21_COLLECTIONS = ("essenFolksong", "oneills1850", "ryansMammoth")


@dataclass
class Tune:
    ident: str
    source: str
    notes: List[Note]
    #: Step of the first bar line and bar length in steps (from the score's measures; MIDI: 0, 16).
    bar_start: int = 0
    bar_steps: int = 16
    #: Chord symbols `(step, text)` in time order (lead sheets only).
    chords: List[Tuple[int, str]] = field(default_factory=list)


def ticks_to_step_fn(ticks: int, ticks_per_quarter: int) -> int:
    return encoding.ticks_to_step(ticks, ticks_per_quarter, STEPS_PER_QUARTER)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Split and segmentation (pure Python)


def split_of(ident: str, valid_percent: int = VALID_PERCENT) -> str:
    """'valid' for about `valid_percent`% of tunes, by a stable hash of the tune's identity."""
    h = int.from_bytes(hashlib.sha256(ident.encode("utf-8")).digest()[:8], "big")
    return "valid" if h % 100 < valid_percent else "train"


def segment_notes(notes: Iterable[Sequence[int]], gap_steps: int = GAP_STEPS, min_steps: int = MIN_STEPS,
                  max_steps: int = MAX_STEPS, min_distinct: int = MIN_DISTINCT_PITCHES) -> List[List[Note]]:
    """Monophonic line -> training segments (each starting at step 0)."""
    return [seg for seg, _ in segment_notes_with_origin(notes, gap_steps, min_steps, max_steps, min_distinct)]


def segment_notes_with_origin(notes: Iterable[Sequence[int]], gap_steps: int = GAP_STEPS,
                              min_steps: int = MIN_STEPS, max_steps: int = MAX_STEPS,
                              min_distinct: int = MIN_DISTINCT_PITCHES) -> List[Tuple[List[Note], int]]:
    """Monophonic line -> (segment from step 0, the segment's first step on the input grid)."""
    kept = encoding.monophonic(notes)
    phrases: List[List[Note]] = []
    for n in kept:
        if phrases and n[1] - phrases[-1][-1][2] < gap_steps:
            phrases[-1].append(n)
        else:
            phrases.append([n])
    chunks: List[List[Note]] = []
    for phrase in phrases:
        chunk: List[Note] = []
        for pitch, start, end in phrase:
            end = min(end, start + max_steps)
            if chunk and end - chunk[0][1] > max_steps:
                chunks.append(chunk)
                chunk = []
            chunk.append((pitch, start, end))
        if chunk:
            chunks.append(chunk)
    out = []
    for chunk in chunks:
        origin = chunk[0][1]
        if chunk[-1][2] - origin < min_steps:
            continue
        if len({p for p, _, _ in chunk}) < min_distinct:
            continue
        out.append(([(p, s - origin, e - origin) for p, s, e in chunk], origin))
    return out


# --------------------------------------------------------------------------------------------
# music21 corpus extraction (parsed in worker processes, cached per source file)


def _music21_files() -> List[Tuple[str, str, str]]:
    """(collection, relative path, absolute path) of every ABC file used, biggest first."""
    from music21 import corpus  # noqa: WPS433 (imported lazily: slow)

    root = Path(corpus.__file__).parent
    files = []
    for coll in MUSIC21_COLLECTIONS:
        for p in sorted((root / coll).glob("*.abc")):
            # essenFolksong/test*.abc are music21's own test excerpts of the same songs.
            if coll == "essenFolksong" and p.name.startswith("test"):
                continue
            files.append((coll, p.name, str(p)))
    files.sort(key=lambda f: -os.path.getsize(f[2]))
    return files


def _drop_ties_between_different_pitches(score) -> None:
    """Some transcriptions (O'Neill's) write `G3-A`, a tie between different pitches; music21's
    stripTies would merge the two into one long G. Such ties are removed before stripping."""
    from music21 import harmony, note

    parts = list(score.parts) or [score]
    for part in parts:
        seq = [n for n in part.flatten().notes
               if not isinstance(n, harmony.Harmony) and not n.duration.isGrace]
        for prev, nxt in zip(seq, seq[1:]):
            same = isinstance(prev, note.Note) and isinstance(nxt, note.Note) and prev.pitch.midi == nxt.pitch.midi
            if same:
                continue
            if isinstance(prev, note.Note) and prev.tie is not None and prev.tie.type in ("start", "continue"):
                prev.tie = None if prev.tie.type == "start" else type(prev.tie)("stop")
            if isinstance(nxt, note.Note) and nxt.tie is not None and nxt.tie.type in ("stop", "continue"):
                nxt.tie = None if nxt.tie.type == "stop" else type(nxt.tie)("start")


def _score_notes(score) -> List[Note]:
    """Notes of one music21 score: ties stripped, grace notes and chord symbols dropped,
    chords reduced to their highest pitch, offsets rounded to the 16th grid."""
    from music21 import harmony

    _drop_ties_between_different_pitches(score)
    stripped = score.stripTies()
    notes = []
    for el in stripped.flatten().notes:
        if isinstance(el, harmony.Harmony) or el.duration.isGrace:
            continue
        if el.isChord:
            if not el.pitches:
                continue
            pitch = max(p.midi for p in el.pitches)
        else:
            pitch = el.pitch.midi
        if not 0 <= pitch <= 127:
            continue
        start_q = el.offset
        end_q = start_q + el.quarterLength
        notes.append((int(pitch), encoding.quarters_to_step(start_q, STEPS_PER_QUARTER),
                      encoding.quarters_to_step(end_q, STEPS_PER_QUARTER)))
    notes.sort(key=lambda n: (n[1], n[0]))
    return notes


def _bar_grid(score) -> Tuple[int, int]:
    """(step of the first full bar line, steps per bar) of a score, from its first part's measures.

    A pickup (a first measure shorter than its time signature's bar, or with left padding) puts
    the first bar line at the second measure. Without measures: (0, 16).
    """
    parts = list(score.parts) or [score]
    measures = list(parts[0].getElementsByClass("Measure"))
    if not measures:
        return 0, 16
    first = measures[0]
    try:
        bar_q = float(first.barDuration.quarterLength)
    except Exception:  # noqa: BLE001 - no time signature: 4/4
        bar_q = 4.0
    bar_steps = max(1, encoding.quarters_to_step(bar_q, STEPS_PER_QUARTER))
    pickup = (first.paddingLeft or 0) > 0 or float(first.duration.quarterLength) < bar_q - 1e-6
    start_q = measures[1].offset if pickup and len(measures) > 1 else first.offset
    return encoding.quarters_to_step(start_q, STEPS_PER_QUARTER), bar_steps


def _chord_changes(score) -> List[Tuple[int, str]]:
    """(step, chord symbol text) of every chord symbol, in time order (N.C. kept as written)."""
    from music21 import harmony

    out = []
    for el in score.flatten().getElementsByClass(harmony.Harmony):
        text = el.figure if not isinstance(el, harmony.NoChord) else "N.C."
        out.append((encoding.quarters_to_step(el.offset, STEPS_PER_QUARTER), str(text)))
    out.sort(key=lambda c: c[0])
    return out


def _parse_abc_file(job: Tuple[str, str, str, str]) -> Tuple[str, int, float, Optional[str]]:
    """Worker: parse one ABC file, write its tunes to the cache file. Returns (cache, tunes, s, error)."""
    coll, rel, path, cache_path = job
    t0 = time.time()
    try:
        from music21 import converter, stream

        parsed = converter.parse(path, forceSource=True)
        scores = list(parsed.scores) if isinstance(parsed, stream.Opus) else [parsed]
        tunes = []
        for i, score in enumerate(scores):
            md = score.metadata
            number = getattr(md, "number", None) if md is not None else None
            title = (getattr(md, "title", None) if md is not None else None) or ""
            try:
                bar_start, bar_steps = _bar_grid(score)
                chords = _chord_changes(score)
                notes = _score_notes(score)
            except Exception as e:  # a broken tune must not lose the whole file
                tunes.append({"id": f"{coll}/{rel}#{i}", "number": number, "title": title, "error": repr(e)})
                continue
            tunes.append({"id": f"{coll}/{rel}#{i}", "number": number, "title": title, "notes": notes,
                          "bar_start": bar_start, "bar_steps": bar_steps, "chords": chords})
        tmp = cache_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"source": f"music21:{coll}/{rel}", "tunes": tunes}, f)
        os.replace(tmp, cache_path)
        return cache_path, len(tunes), time.time() - t0, None
    except Exception as e:  # noqa: BLE001 - reported, the file is skipped
        return cache_path, 0, time.time() - t0, repr(e)


def load_music21_tunes(cache_root: Path, workers: int = 2) -> List[Tune]:
    """The melody corpora of music21 (MUSIC21_COLLECTIONS)."""
    return load_abc_tunes(_music21_files(), cache_root / f"music21-v{EXTRACT_VERSION}", workers)


def load_nottingham_tunes(data_dir: Path, cache_root: Path, workers: int = 2) -> List[Tune]:
    """The Nottingham Music Database's cleaned ABC files (melodies with chord symbols)."""
    folder = Path(data_dir)
    if (folder / "ABC_cleaned").is_dir():
        folder = folder / "ABC_cleaned"
    files = [("nottingham", p.name, str(p)) for p in sorted(folder.glob("*.abc"))]
    if not files:
        raise SystemExit(f"no .abc files in {folder}")
    files.sort(key=lambda f: -os.path.getsize(f[2]))
    return load_abc_tunes(files, cache_root / f"nottingham-v{EXTRACT_VERSION}", workers)


def load_abc_tunes(files: List[Tuple[str, str, str]], cache_dir: Path, workers: int = 2) -> List[Tune]:
    """Parse ABC files `(collection, name, path)` with music21 (cached per file in `cache_dir`)."""
    jobs = []
    for coll, rel, path in files:
        (cache_dir / coll).mkdir(parents=True, exist_ok=True)
        cache = str(cache_dir / coll / (rel + ".json"))
        if not os.path.exists(cache):
            jobs.append((coll, rel, path, cache))
    if jobs:
        log(f"[data] parsing {len(jobs)} of {len(files)} ABC files with music21 in {workers} processes "
            f"(cached in {cache_dir})")
        t0 = time.time()
        done_bytes, total_bytes = 0, sum(os.path.getsize(j[2]) for j in jobs)
        sizes = {j[3]: os.path.getsize(j[2]) for j in jobs}
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(workers) as pool:
            for i, (cache, n, secs, err) in enumerate(pool.imap_unordered(_parse_abc_file, jobs), 1):
                done_bytes += sizes[cache]
                elapsed = time.time() - t0
                eta = elapsed * (total_bytes - done_bytes) / max(done_bytes, 1)
                status = f"ERROR {err}" if err else f"{n} tunes in {secs:.1f}s"
                log(f"[data] {i}/{len(jobs)} {Path(cache).name[:-5]}: {status}; "
                    f"{100 * done_bytes / total_bytes:.0f}% done, ETA {eta:.0f}s")
    tunes = []
    errors = 0
    for coll, rel, _ in sorted(files):
        cache = cache_dir / coll / (rel + ".json")
        if not cache.exists():
            errors += 1
            continue
        with open(cache) as f:
            obj = json.load(f)
        for t in obj["tunes"]:
            if "notes" not in t:
                errors += 1
                continue
            tunes.append(Tune(ident=f"{'music21:' if coll != 'nottingham' else 'nottingham:'}{t['id']}",
                              source=coll, notes=[tuple(n) for n in t["notes"]],
                              bar_start=int(t.get("bar_start", 0)), bar_steps=int(t.get("bar_steps", 16)),
                              chords=[(int(a), str(b)) for a, b in t.get("chords", [])]))
    if errors:
        log(f"[data] {errors} files/tunes could not be parsed and were skipped")
    return tunes


# --------------------------------------------------------------------------------------------
# The user's own MIDI files


def midi_files(data_dir: Path) -> Iterator[Tuple[str, "MidiNotes"]]:
    """(path relative to `data_dir`, notes) of every readable .mid/.midi file under `data_dir`,
    recursively, in path order; unreadable files are reported and skipped. Exits when none is
    readable."""
    data_dir = Path(data_dir)
    files = sorted(p for p in data_dir.rglob("*") if p.is_file() and p.suffix.lower() in (".mid", ".midi"))
    read = skipped = 0
    for path in files:
        rel = path.relative_to(data_dir).as_posix()
        try:
            m = read_midi(path)
        except Exception as e:  # noqa: BLE001 - reported, the file is skipped
            log(f"[data] skipping {rel}: {e}")
            skipped += 1
            continue
        read += 1
        yield rel, m
    log(f"[data] {read} MIDI files read, {skipped} skipped")
    if not read:
        raise SystemExit(f"no readable .mid/.midi files under {data_dir}")


def load_midi_tunes(data_dir: Path, work: Optional[Path] = None) -> List[Tune]:
    """Every .mid/.midi file under `data_dir` (recursively); one tune per non-drum instrument of a
    file (each instrument is segmented on its own; all go to the file's split)."""
    tunes = []
    for rel, m in midi_files(data_dir):
        for (track, channel), notes in sorted(m.by_instrument.items()):
            if channel == 9:  # General MIDI drums
                continue
            steps = [(p, ticks_to_step_fn(s, m.ticks_per_quarter), ticks_to_step_fn(e, m.ticks_per_quarter))
                     for p, s, e in notes]
            tunes.append(Tune(ident=f"file:{rel}", source=str(data_dir), notes=steps))
    return tunes
