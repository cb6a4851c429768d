"""Speaker reference clips cut from the source with ffmpeg, where ``domain.voices`` chose them."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import ffmpeg

from dubbing_pipeline.domain.voices import Span, VoiceReference
from dubbing_pipeline.infra import media

EDGE_FADE_S = 0.02  # a fade at each joint, so the cuts do not click


def cut_reference(source: Path, spans: Sequence[Span], out: Path, sample_rate: int) -> None:
    """Cut the spans from ``source`` and join them into one mono 16-bit WAV at ``sample_rate``."""
    if not spans:
        raise ValueError("a reference needs at least one span")
    parts = []
    for span in spans:
        fade = min(EDGE_FADE_S, span.seconds / 4)
        audio = ffmpeg.input(str(source), ss=f"{span.start:.3f}", t=f"{span.seconds:.3f}").audio
        audio = audio.filter("afade", t="in", d=fade)
        parts.append(audio.filter("afade", t="out", st=span.seconds - fade, d=fade))
    joined = ffmpeg.concat(*parts, v=0, a=1) if len(parts) > 1 else parts[0]
    joined = joined.filter("aresample", sample_rate)
    bitexact = {"fflags": "+bitexact", "flags": "+bitexact"}  # the same cut, the same bytes
    media.run(ffmpeg.output(joined, str(out), ac=1, ar=sample_rate, acodec="pcm_s16le", **bitexact))


def load_reference(speaker: str, path: Path) -> VoiceReference:
    """Describe a cut reference; its hash names the voice in the clip cache."""
    frames, rate = media.wav_samples(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return VoiceReference(speaker=speaker, path=path, seconds=frames / rate, sha256=digest)
