"""Measurements the speech and muxed_video checks judge: each placed clip's level and clipping in
the dub track, and the delivered file's streams. Read from the files themselves, one clip at a
time (never a whole track). The back-transcription is ``hearing.py``."""

from __future__ import annotations

import math
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dubbing_pipeline.infra import media

FULL_SCALE = 32767
CLIPPED = FULL_SCALE - 1  # a sample this loud was clipped (or limited to the very top)


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
