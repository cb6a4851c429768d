"""Long test videos for the benchmarks: a few minutes of distinct espeak-ng speech, made once
with ``dubbing_pipeline.cli.sample`` and looped by ffmpeg (stream copy) to any length, cached on
disk so a rerun starts at once. Low resolution keeps an hour small (~40 MB)."""

from __future__ import annotations

import hashlib
import itertools
import os
import random
from pathlib import Path

import ffmpeg

from dubbing_pipeline.cli.sample import ENGLISH, make_sample_video
from dubbing_pipeline.infra import media

SIZE = "160x90"
BLOCK_SENTENCES = 40  # ~3 minutes of speech: distinct segments, so MT and TTS see real work
_SUBJECTS = ("The old man", "My sister", "The teacher", "A small dog", "The farmer", "The cook")
_VERBS = ("walks to", "looks at", "paints", "cleans", "likes", "visits")
_OBJECTS = ("the red house", "the market", "a green boat", "the new school", "the big garden")
_TAILS = ("every morning.", "after lunch.", "in the summer.", "with a friend.", "on Sunday.")


def sentences(count: int = BLOCK_SENTENCES) -> list[str]:
    """The sample's sentences, then simple generated ones Apertium knows every word of."""
    combos = list(itertools.product(_SUBJECTS, _VERBS, _OBJECTS, _TAILS))
    random.Random(7).shuffle(combos)
    generated = [" ".join(parts) for parts in combos]
    return [*ENGLISH, *generated][:count]


def cache_dir() -> Path:
    root = os.environ.get("DUBBING_BENCH_CACHE") or Path.home() / ".cache" / "dubbing" / "bench"
    return Path(root)


def long_video(minutes: float, cache: Path | None = None) -> Path:
    """An H.264/AAC MP4 of ``minutes`` of looped speech; made once per length and text set."""
    cache = cache or cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    texts = sentences()
    key = hashlib.sha256("\n".join([SIZE, *texts]).encode()).hexdigest()[:12]
    out = cache / f"speech-{minutes:g}min-{key}.mp4"
    if out.exists():
        return out
    block = cache / f"block-{key}.mp4"
    if not block.exists():
        staged = block.with_suffix(".partial.mp4")
        make_sample_video(staged, texts, size=SIZE)
        os.replace(staged, block)
    staged = out.with_suffix(".partial.mp4")
    looped = ffmpeg.input(str(block), stream_loop=-1)
    media.run(
        ffmpeg.output(looped, str(staged), t=f"{minutes * 60:.3f}", c="copy", movflags="+faststart")
    )
    os.replace(staged, out)
    return out
