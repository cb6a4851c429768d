"""Measurements the speech and muxed_video checks judge: each placed clip's level and clipping, on
the samples the renderer wrote into the dub track (so the track is not read again), and the
delivered file's streams. The back-transcription is ``hearing.py``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dubbing_pipeline.infra import media

FULL_SCALE = 32767
CLIPPED = FULL_SCALE - 1  # a sample this loud was clipped (or limited to the very top)


@dataclass(frozen=True)
class Level:
    segment_id: int
    rms_dbfs: float
    peak_dbfs: float
    clipped_share: float


def level(segment_id: int, pcm: bytes) -> Level:
    """RMS and peak (dBFS) and the share of clipped samples of one placed clip (16-bit mono)."""
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    rms = math.sqrt(float(np.mean(np.square(x)))) if x.size else 0.0
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    clipped = float(np.mean(np.abs(x) >= CLIPPED)) if x.size else 0.0
    return Level(segment_id, _dbfs(rms), _dbfs(peak), clipped)


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
