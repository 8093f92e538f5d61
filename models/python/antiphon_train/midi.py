"""A small Standard MIDI File writer and reader (standard library only).

The writer makes the evaluation files the Rust side reads (format 0, one track, channel 1,
120 qpm, 480 ticks per quarter). The reader takes users' own files for `--data DIR`: formats 0
and 1, running status, meta and sysex events; SMPTE time division is refused.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

TICKS_PER_QUARTER = 480
DEFAULT_TEMPO_US = 500_000  # 120 quarter notes per minute
DEFAULT_VELOCITY = 80


def _vlq(value: int) -> bytes:
    """MIDI variable-length quantity."""
    if value < 0:
        raise ValueError("negative delta time")
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def write_midi(path, notes: Sequence[Tuple[int, int, int]], steps_per_quarter: int = 4,
               ticks_per_quarter: int = TICKS_PER_QUARTER, channel: int = 0,
               velocity: int = DEFAULT_VELOCITY, markers: Sequence[Tuple[int, str]] = (),
               velocities: Optional[Sequence[int]] = None) -> None:
    """Write notes `(pitch, start_step, end_step)` as a format-0 file at 120 qpm, with marker
    meta events `(step, text)` (chord symbols, for lead sheets); `velocities` (one per note)
    overrides `velocity`.

    At equal times note-offs come before note-ons, so a repeated pitch that starts where the
    previous one ends reads back as two notes. `channel` is 0-based (0 = MIDI channel 1).
    """
    if ticks_per_quarter % steps_per_quarter:
        raise ValueError("ticks_per_quarter must be a multiple of steps_per_quarter")
    tps = ticks_per_quarter // steps_per_quarter
    timed = []  # (tick, order, bytes): order 0 = note-off, 1 = note-on
    for i, (pitch, start, end) in enumerate(notes):
        if end <= start:
            end = start + 1
        v = velocities[i] if velocities is not None else velocity
        timed.append((start * tps, 1, bytes([0x90 | channel, pitch, v])))
        timed.append((end * tps, 0, bytes([0x80 | channel, pitch, 0])))
    for step, text in markers:
        raw = text.encode("utf-8")
        timed.append((step * tps, -1, b"\xff\x06" + _vlq(len(raw)) + raw))
    timed.sort(key=lambda x: (x[0], x[1]))
    track = bytearray()
    track += _vlq(0) + b"\xff\x51\x03" + DEFAULT_TEMPO_US.to_bytes(3, "big")
    track += _vlq(0) + b"\xff\x58\x04\x04\x02\x18\x08"  # 4/4
    now = 0
    for tick, _, data in timed:
        track += _vlq(tick - now) + data
        now = tick
    track += _vlq(0) + b"\xff\x2f\x00"
    with open(path, "wb") as f:
        f.write(b"MThd" + struct.pack(">IHHH", 6, 0, 1, ticks_per_quarter))
        f.write(b"MTrk" + struct.pack(">I", len(track)) + bytes(track))


@dataclass
class MidiNotes:
    """Notes of one file, grouped by (track, channel); times in ticks."""

    ticks_per_quarter: int
    by_instrument: Dict[Tuple[int, int], List[Tuple[int, int, int]]] = field(default_factory=dict)
    #: Marker meta events `(tick, text)` in file order.
    markers: List[Tuple[int, str]] = field(default_factory=list)
    #: Microseconds per quarter of the first tempo event (None: the file has none).
    first_tempo_us: Optional[int] = None
    #: The same notes with their note-on velocity, `(pitch, start, end, velocity)`, same order.
    with_velocity: Dict[Tuple[int, int], List[Tuple[int, int, int, int]]] = field(default_factory=dict)


def _read_vlq(data: bytes, pos: int) -> Tuple[int, int]:
    value = 0
    for _ in range(4):
        b = data[pos]
        pos += 1
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            return value, pos
    raise ValueError("variable-length quantity longer than 4 bytes")


def read_midi(path) -> MidiNotes:
    """Read note-on/off pairs (a note-on with velocity 0 is a note-off; pairs match first in, first out).

    A file that is not MIDI, is cut short or is corrupt raises ValueError saying so (training
    reports it and skips the file)."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        return _parse_midi(data)
    except (IndexError, struct.error) as e:
        raise ValueError(f"a truncated or corrupt MIDI file ({e})") from e


def _parse_midi(data: bytes) -> MidiNotes:
    if data[:4] != b"MThd":
        raise ValueError("not a Standard MIDI File")
    hlen, fmt, ntracks, division = struct.unpack(">IHHH", data[4:14])
    if division & 0x8000:
        raise ValueError("SMPTE time division is not supported")
    if fmt not in (0, 1, 2):
        raise ValueError(f"unknown MIDI format {fmt}")
    result = MidiNotes(ticks_per_quarter=division)
    pos = 8 + hlen
    for track_index in range(ntracks):
        if pos + 8 > len(data):
            break
        chunk, length = data[pos:pos + 4], struct.unpack(">I", data[pos + 4:pos + 8])[0]
        pos += 8
        body, pos = data[pos:pos + length], pos + length
        if chunk != b"MTrk":
            continue
        _read_track(body, track_index, result)
    return result


def _read_track(body: bytes, track_index: int, result: MidiNotes) -> None:
    p = 0
    tick = 0
    status = 0
    sounding: Dict[Tuple[int, int], List[int]] = {}
    while p < len(body):
        delta, p = _read_vlq(body, p)
        tick += delta
        b = body[p]
        if b == 0xFF:  # meta: FF type length data
            meta = body[p + 1]
            length, p = _read_vlq(body, p + 2)
            payload = body[p:p + length]
            if meta == 0x06:
                result.markers.append((tick, payload.decode("utf-8", "replace")))
            elif meta == 0x51 and length == 3 and result.first_tempo_us is None:
                result.first_tempo_us = int.from_bytes(payload, "big")
            p += length
            continue
        if b in (0xF0, 0xF7):  # sysex
            length, p = _read_vlq(body, p + 1)
            p += length
            continue
        if b & 0x80:
            status = b
            p += 1
        elif not status:
            raise ValueError("running status without a status byte")
        kind, channel = status & 0xF0, status & 0x0F
        nbytes = 1 if kind in (0xC0, 0xD0) else 2
        args = body[p:p + nbytes]
        p += nbytes
        if kind == 0x90 and args[1] > 0:
            sounding.setdefault((channel, args[0]), []).append((tick, args[1]))
        elif kind == 0x80 or (kind == 0x90 and args[1] == 0):
            starts = sounding.get((channel, args[0]))
            if starts:
                start, velocity = starts.pop(0)
                result.with_velocity.setdefault((track_index, channel), []).append((args[0], start, tick, velocity))
    for (channel, pitch), starts in sounding.items():  # never released: end at the track's end
        for start, velocity in starts:
            result.with_velocity.setdefault((track_index, channel), []).append((pitch, start, tick, velocity))
    for key, notes in result.with_velocity.items():
        if key[0] != track_index:
            continue
        notes.sort(key=lambda n: (n[1], n[0], n[2], n[3]))
        result.by_instrument[key] = [(p, s, e) for p, s, e, _ in notes]
