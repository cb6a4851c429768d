"""How high a voice is: the median fundamental frequency (F0) of voiced speech, by pYIN (librosa),
measured on the stretches of the source a speaker was chosen by (``domain.voices``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import ffmpeg
import numpy as np

from dubbing_pipeline.domain.voices import Span
from dubbing_pipeline.infra import media

RATE = 16_000
FMIN_HZ, FMAX_HZ = 60.0, 500.0  # below a bass, above a child


def median_f0(samples: np.ndarray, rate: int = RATE) -> float | None:
    """The median F0 of the voiced frames, in Hz; None without voiced speech."""
    import librosa

    if samples.size < rate // 4:
        return None
    f0, voiced, _ = librosa.pyin(
        samples.astype(np.float32),
        fmin=FMIN_HZ,
        fmax=FMAX_HZ,
        sr=rate,
        frame_length=1024,
        hop_length=320,  # 20 ms: half the default frames' cost, ample for a median
    )
    heard = f0[voiced & np.isfinite(f0)]
    return round(float(np.median(heard)), 1) if heard.size >= 10 else None


def spans_audio(source: Path, spans: Sequence[Span], rate: int = RATE) -> np.ndarray:
    """The spans of ``source``'s first audio track, joined, as float32 mono at ``rate``."""
    if not spans:
        return np.zeros(0, dtype=np.float32)
    parts = [
        ffmpeg.input(str(source), ss=f"{s.start:.3f}", t=f"{s.seconds:.3f}")["a:0"] for s in spans
    ]
    joined = ffmpeg.concat(*parts, v=0, a=1) if len(parts) > 1 else parts[0]
    graph = ffmpeg.output(joined, "pipe:", f="s16le", ac=1, ar=rate)
    pcm = b"".join(media.stream(graph))
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def file_f0(path: Path) -> float | None:
    """The median F0 of a whole file (a dubbed clip, a test's recording)."""
    return median_f0(spans_audio(path, [Span(0.0, media.probe(path).duration)]))
