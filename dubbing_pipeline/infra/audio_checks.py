"""Measurements the speech and muxed_video checks judge: each placed clip's level and clipping in
the dub track, the placed clips gathered for one back-transcription pass, and the delivered
file's streams. Read from the files themselves, one clip at a time (never a whole track)."""

from __future__ import annotations

import hashlib
import math
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dubbing_pipeline.infra import media

FULL_SCALE = 32767
CLIPPED = FULL_SCALE - 1  # a sample this loud was clipped (or limited to the very top)
BACK_RATE = 16_000  # what speech recognisers take
GAP_S = 0.6  # silence between two pieces of the back-transcription input: a clear pause
TRAILING_FLOOR = 64  # samples quieter than this (-54 dBFS) at a clip's end are its padding


@dataclass(frozen=True)
class Placed:
    """Where one segment's clip sits in the dub track, in samples."""

    segment_id: int
    start: int
    samples: int


@dataclass(frozen=True)
class Level:
    segment_id: int
    rms_dbfs: float
    peak_dbfs: float
    clipped_share: float


@dataclass(frozen=True)
class Piece:
    """A placed clip inside the back-transcription input: its span there and its content's hash
    (equal sound, equal words heard: a reused clip is heard once)."""

    segment_id: int
    start_s: float
    end_s: float
    sha256: str


def _read(track: wave.Wave_read, placed: Placed, position: int) -> tuple[np.ndarray, int]:
    if placed.start > position:
        track.readframes(placed.start - position)  # skip to the clip (streamed, not kept)
        position = placed.start
    pcm = track.readframes(placed.samples)
    return np.frombuffer(pcm, dtype="<i2"), position + placed.samples


def levels(dub_track: Path, placements: Sequence[Placed]) -> list[Level]:
    """RMS and peak (dBFS) and the share of clipped samples of each placed clip."""
    out = []
    with wave.open(str(dub_track)) as track:
        position = 0
        for placed in placements:
            samples, position = _read(track, placed, position)
            x = samples.astype(np.float64)
            rms = math.sqrt(float(np.mean(np.square(x)))) if x.size else 0.0
            peak = float(np.max(np.abs(x))) if x.size else 0.0
            clipped = float(np.mean(np.abs(x) >= CLIPPED)) if x.size else 0.0
            out.append(Level(placed.segment_id, _dbfs(rms), _dbfs(peak), clipped))
    return out


def _dbfs(amplitude: float) -> float:
    return round(20 * math.log10(amplitude / FULL_SCALE), 2) if amplitude > 0 else -120.0


def gather(
    dub_track: Path, placements: Sequence[Placed], out: Path, skip: frozenset[str] = frozenset()
) -> list[Piece]:
    """Write the placed clips (trailing padding trimmed, resampled to 16 kHz) one after another
    with ``GAP_S`` of silence between them into ``out``: one recogniser pass hears them all,
    and each word heard belongs to the piece it falls in. Pieces whose hash is in ``skip`` (heard
    before) are hashed but not written: their span is empty."""
    pieces, seen = [], set(skip)
    gap = np.zeros(round(GAP_S * BACK_RATE), dtype="<i2")
    with wave.open(str(dub_track)) as track, wave.open(str(out), "wb") as written:
        rate = track.getframerate()
        written.setnchannels(1)
        written.setsampwidth(2)
        written.setframerate(BACK_RATE)
        written.writeframesraw(gap.tobytes())
        at, position = GAP_S, 0
        for placed in placements:
            samples, position = _read(track, placed, position)
            loud = np.nonzero(np.abs(samples) > TRAILING_FLOOR)[0]
            samples = samples[: loud[-1] + 1] if loud.size else samples[:0]
            digest = hashlib.sha256(samples.tobytes()).hexdigest()[:24]
            if digest in seen or not samples.size:
                pieces.append(Piece(placed.segment_id, at, at, digest))
                continue
            seen.add(digest)
            resampled = _resample(samples, rate)
            written.writeframesraw(resampled.tobytes() + gap.tobytes())
            end = at + resampled.size / BACK_RATE
            pieces.append(Piece(placed.segment_id, at, end, digest))
            at = end + GAP_S
    return pieces


def _resample(samples: np.ndarray, rate: int) -> np.ndarray:
    """To 16 kHz by averaging (48 kHz: groups of three, a box filter good enough for speech
    recognition), else by linear interpolation."""
    if rate == BACK_RATE:
        return samples
    if rate % BACK_RATE == 0:
        step = rate // BACK_RATE
        usable = samples[: samples.size // step * step].astype(np.float32)
        return usable.reshape(-1, step).mean(axis=1).astype("<i2")
    times = np.arange(0, samples.size / rate, 1 / BACK_RATE)
    return np.interp(times * rate, np.arange(samples.size), samples).astype("<i2")


@dataclass(frozen=True)
class StreamFacts:
    """What the muxed_video checks compare: per stream kind, (language, default) in order."""

    video: int
    audio: list[tuple[str | None, bool]]
    subtitles: list[tuple[str | None, bool]]
    duration: float


def stream_facts(path: Path) -> StreamFacts:
    info = media.probe(path)
    streams = info.raw.get("streams", [])

    def of(kind: str) -> list[tuple[str | None, bool]]:
        return [
            ((s.get("tags") or {}).get("language"), bool(s.get("disposition", {}).get("default")))
            for s in streams
            if s.get("codec_type") == kind
        ]

    videos = [
        s
        for s in streams
        if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")
    ]
    return StreamFacts(len(videos), of("audio"), of("subtitle"), info.duration)
