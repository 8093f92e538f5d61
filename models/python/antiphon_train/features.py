"""Training codecs: one per shipped encoding, turning an event sequence into sparse input rows and
labels quickly (standard library only).

The encoders in ``encoding*.py`` are the reference (shared vectors with Rust); they build one dense
row per call and, for KeyMelody, rescan the history each time. Training needs millions of rows, so
each codec here writes the same rows incrementally and sparsely; ``tests/test_features.py`` checks
every codec against its reference encoder on the shared vectors and on random sequences.

A sequence of ``T`` events gives ``T - 1`` training rows (the inputs of positions ``0..T-2``) and
``T`` labels (``labels[t]`` is the class of the event at ``t``); the model predicts ``labels[1:]``
from the rows (CONTRACT.md, "Evaluation").

Sparse rows are three flat arrays of equal length: ``row`` (position), ``col`` (feature index) and
``val`` (feature value, -1/+1, or 1 for one-hot entries).
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from typing import List, Optional, Sequence

from . import encoding as mel
from . import encoding_chords as chords_mod
from . import encoding_drums as drums
from . import encoding_key_melody as keymel
from . import encoding_lookback as lookback
from . import encoding_performance as perf
from . import encoding_polyphony as poly


@dataclass
class Encoded:
    """One training sequence in sparse form."""

    rows: int
    row: array  # 'i'
    col: array  # 'h'
    val: array  # 'b'
    labels: array  # 'h', length rows + 1

    def dense_row(self, r: int, width: int) -> List[float]:
        """Row `r` as a dense list (tests)."""
        out = [0.0] * width
        for i in range(len(self.row)):
            if self.row[i] == r:
                out[self.col[i]] = float(self.val[i])
        return out


class _Builder:
    def __init__(self) -> None:
        self.row, self.col, self.val = array("i"), array("h"), array("b")

    def put(self, r: int, c: int, v: int) -> None:
        self.row.append(r)
        self.col.append(c)
        self.val.append(v)

    def counter(self, r: int, offset: int, bits: int, value: int) -> None:
        for b in range(bits):
            self.put(r, offset + b, 1 if (value >> b) & 1 else -1)

    def repeats(self, r: int, offset: int, events: Sequence[int], distances: Sequence[int]) -> None:
        """Flag `offset + i` when the event at `r` equals the one `distances[i]` steps earlier."""
        for i, d in enumerate(distances):
            if r >= d and events[r] == events[r - d]:
                self.put(r, offset + i, 1)

    def done(self, rows: int, labels: Sequence[int]) -> Encoded:
        return Encoded(rows, self.row, self.col, self.val, array("h", labels))


class Codec:
    """Base: name, family, sizes, the metadata object, and `encode(events, chords=None)`."""

    name = ""
    family = ""
    input_size = 0
    num_classes = 0

    def encoding_json(self) -> dict:
        raise NotImplementedError

    def encode(self, events: Sequence[int], chords: Optional[Sequence] = None) -> Encoded:
        raise NotImplementedError


class MelodyOneHotCodec(Codec):
    """``melody_onehot``: input = one-hot of the event's class; label = class."""

    family = "melody"

    def __init__(self, enc: mel.MelodyEncoding = mel.MelodyEncoding()) -> None:
        self.enc = enc
        self.input_size = self.num_classes = enc.num_classes
        self.name = "melody_onehot"

    def encoding_json(self) -> dict:
        return self.enc.to_json()

    def encode(self, events, chords=None) -> Encoded:
        b = _Builder()
        labels = [mel.event_to_class(e, self.enc) for e in events]
        for t in range(len(events) - 1):
            b.put(t, labels[t], 1)
        return b.done(len(events) - 1, labels)


class LookbackCodec(Codec):
    """``melody_lookback`` (Lookback RNN), mirrors :mod:`encoding_lookback`."""

    family = "melody"
    name = "melody_lookback"
    input_size = lookback.INPUT_SIZE
    num_classes = lookback.NUM_CLASSES

    def encoding_json(self) -> dict:
        return {**lookback.ONE_HOT.to_json(), "name": "melody_lookback"}

    def encode(self, events, chords=None) -> Encoded:
        enc, C = lookback.ONE_HOT, lookback.ONE_HOT_CLASSES
        cls = [mel.event_to_class(e, enc) for e in events]
        no_event_cls = mel.event_to_class(mel.NO_EVENT, enc)
        b = _Builder()
        dists = lookback.LOOKBACK_DISTANCES
        for t in range(len(events) - 1):
            b.put(t, cls[t], 1)
            off = C
            for d in dists:
                p = t - d + 1
                b.put(t, off + (cls[p] if p >= 0 else no_event_cls), 1)
                off += C
            b.counter(t, off, lookback.COUNTER_BITS, t + 1)
            off += lookback.COUNTER_BITS
            b.repeats(t, off, events, dists)
        labels = [lookback.label(events, t) for t in range(len(events))]
        return b.done(len(events) - 1, labels)


class KeyMelodyCodec(Codec):
    """``key_melody`` (Attention RNN), mirrors :mod:`encoding_key_melody` in one pass."""

    family = "melody"
    name = "key_melody"
    input_size = keymel.INPUT_SIZE
    num_classes = keymel.NUM_CLASSES

    def encoding_json(self) -> dict:
        return {"name": "key_melody", "min_pitch": keymel.MIN_PITCH, "max_pitch": keymel.MAX_PITCH,
                "steps_per_quarter": 4, "transpose_to_key": 0}

    def encode(self, events, chords=None) -> Encoded:
        R = keymel.NOTE_RANGE
        b = _Builder()
        sounding = None
        direction = 0
        last_3: List[int] = []
        hist = [0] * 12  # note-on pitch-class histogram
        for t in range(len(events) - 1):
            e = events[t]
            if e == mel.NOTE_OFF:
                sounding = None
            elif e >= 0:
                keymel._pitch_index(e)
                sounding = e
                hist[e % 12] += 1
                if last_3:
                    if e > last_3[-1]:
                        direction = 1
                    elif e < last_3[-1]:
                        direction = -1
                if e in last_3:
                    last_3.remove(e)
                last_3.append(e)
                del last_3[:-3]
            elif e != mel.NO_EVENT:
                raise ValueError(f"bad event {e}")
            if sounding is not None:
                b.put(t, sounding - keymel.MIN_PITCH, 1)
                b.put(t, R, 1)
            else:
                b.put(t, R + 1, 1)
            off = R + 2
            if e >= 0:
                b.put(t, off, 1)
            if direction:
                b.put(t, off + 1, direction)
            off += 2
            b.repeats(t, off, events, keymel.LOOKBACK_DISTANCES)
            off += len(keymel.LOOKBACK_DISTANCES)
            b.counter(t, off, keymel.COUNTER_BITS, t + 1)
            off += keymel.COUNTER_BITS
            if (t + 1) % keymel.STEPS_PER_BAR == 0:
                b.put(t, off, 1)
            off += 1
            for flags_off, scores in ((off, _key_scores(hist)), (off + 12, _key_scores_of(last_3))):
                best = max(scores)
                for k in range(12):
                    if scores[k] == best:
                        b.put(t, flags_off + k, 1)
        labels = [keymel.label(events, t) for t in range(len(events))]
        return b.done(len(events) - 1, labels)


def _key_scores(hist: Sequence[int]) -> List[int]:
    return [sum(hist[(k + i) % 12] for i in mel.MAJOR_SCALE) for k in range(12)]


def _key_scores_of(pitches: Sequence[int]) -> List[int]:
    hist = [0] * 12
    for p in pitches:
        hist[p % 12] += 1
    return _key_scores(hist)


class DrumKitCodec(Codec):
    """``drum_kit`` (Drums RNN), mirrors :mod:`encoding_drums`."""

    family = "drums"
    name = "drum_kit"
    input_size = drums.INPUT_SIZE
    num_classes = drums.NUM_EVENTS

    def encoding_json(self) -> dict:
        return {"name": "drum_kit", "steps_per_quarter": 4}

    def encode(self, events, chords=None) -> Encoded:
        b = _Builder()
        for t in range(len(events) - 1):
            b.put(t, events[t] % drums.NUM_EVENTS, 1)
            b.counter(t, drums.NUM_EVENTS, drums.COUNTER_BITS, t + 1)
        return b.done(len(events) - 1, [e % drums.NUM_EVENTS for e in events])


class ChordMelodyCodec(Codec):
    """``chord_melody`` (Improv RNN): row t = [chord at step t+1] ++ [melody one-hot of event t].

    `chords` is a chord (``encoding_chords.Chord`` or None) per step, as long as `events`.
    """

    family = "improv"

    def __init__(self, chord_kind: str = "pitch") -> None:
        if chord_kind not in ("pitch", "triad"):
            raise ValueError(f"chord encoding {chord_kind!r}")
        self.kind = chord_kind
        self.melody = mel.MelodyEncoding(transpose_to_key=None)
        self.chord_size = chords_mod.PITCH_CHORD_SIZE if chord_kind == "pitch" else chords_mod.NUM_TRIAD_CLASSES
        self.input_size = self.chord_size + self.melody.num_classes
        self.num_classes = self.melody.num_classes
        self.name = "chord_melody"

    def encoding_json(self) -> dict:
        m = self.melody.to_json()
        del m["name"]
        return {"name": "chord_melody", "chords": self.kind, "melody": m}

    def chord_cols(self, chord) -> List[int]:
        if self.kind == "triad":
            return [chords_mod.triad_index(chord)]
        return [i for i, v in enumerate(chords_mod.pitch_chord_vector(chord)) if v]

    def encode(self, events, chords=None) -> Encoded:
        if chords is None or len(chords) != len(events):
            raise ValueError("chord_melody needs one chord per step")
        b = _Builder()
        labels = [mel.event_to_class(e, self.melody) for e in events]
        cache = {}
        for t in range(len(events) - 1):
            chord = chords[t + 1]
            cols = cache.get(chord)
            if cols is None:
                cols = cache[chord] = self.chord_cols(chord)
            for c in cols:
                b.put(t, c, 1)
            b.put(t, self.chord_size + labels[t], 1)
        return b.done(len(events) - 1, labels)


class EventOneHotCodec(Codec):
    """Encodings whose input row is the one-hot of the event index and whose label is the index
    itself (``polyphony``: 259, ``performance``: 388)."""

    def __init__(self, name: str, family: str, num_classes: int, params: dict) -> None:
        self.name, self.family = name, family
        self.input_size = self.num_classes = num_classes
        self.params = params

    def encoding_json(self) -> dict:
        return {"name": self.name, **self.params}

    def encode(self, events, chords=None) -> Encoded:
        b = _Builder()
        for t in range(len(events) - 1):
            b.put(t, events[t], 1)
        return b.done(len(events) - 1, events)


def codec_for(model: str) -> Codec:
    """The codec of a model kind: basic, lookback, attention, drum_kit, improv, polyphony,
    performance."""
    if model == "polyphony":
        return EventOneHotCodec("polyphony", "polyphony", poly.NUM_CLASSES,
                                {"steps_per_quarter": poly.STEPS_PER_QUARTER})
    if model == "performance":
        return EventOneHotCodec("performance", "performance", perf.NUM_CLASSES,
                                {"steps_per_second": perf.STEPS_PER_SECOND,
                                 "velocity_bins": perf.NUM_VELOCITY_BINS,
                                 "max_note_seconds": perf.MAX_NOTE_STEPS // perf.STEPS_PER_SECOND,
                                 "drums": True})
    if model == "basic":
        return MelodyOneHotCodec()
    if model == "lookback":
        return LookbackCodec()
    if model == "attention":
        return KeyMelodyCodec()
    if model == "drum_kit":
        return DrumKitCodec()
    if model == "improv":
        return ChordMelodyCodec("pitch")
    if model == "improv_triad":
        return ChordMelodyCodec("triad")
    raise ValueError(f"unknown model kind {model!r}")
