"""A sample video to dub: espeak-ng speech over an ffmpeg test pattern, made on demand so the
repository ships no media."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import ffmpeg

from dubbing_pipeline.engines.tts import EspeakTTS
from dubbing_pipeline.infra import media

ENGLISH = (
    "Hello and welcome to our small video about the weather.",
    "Today the sky is blue and the sun is shining.",
    "Tomorrow it will rain in the city, so take an umbrella.",
    "The children like to play in the green park.",
    "Thank you very much for watching.",
)


def make_sample_video(
    out: Path,
    sentences: Sequence[str] = ENGLISH,
    *,
    language: str = "en",
    gap_s: float = 0.9,
    size: str = "640x360",
    with_audio: bool = True,
) -> Path:
    """Write an H.264/AAC MP4 of the sentences spoken one after another with pauses between."""
    tts = EspeakTTS(words_per_minute=150)
    with tempfile.TemporaryDirectory(prefix="dub-sample-") as tmp:
        paths = [Path(tmp) / f"{i}.wav" for i in range(len(sentences))]
        for sentence, path in zip(sentences, paths, strict=True):
            tts.synthesize(sentence, language, path)
        padded = [ffmpeg.input(str(p)).audio.filter("apad", pad_dur=gap_s) for p in paths]
        speech = ffmpeg.concat(*padded, v=0, a=1).filter("aresample", 44_100)
        duration = sum(f / r + gap_s for f, r in map(media.wav_samples, paths))
        video = ffmpeg.input(f"testsrc2=size={size}:rate=25", f="lavfi", t=f"{duration:.3f}")
        streams = [video, speech] if with_audio else [video]
        options: dict[str, str | int] = {
            "c:v": "libx264",
            "preset": "veryfast",
            "pix_fmt": "yuv420p",
            "t": f"{duration:.3f}",
        }
        if with_audio:
            options |= {"c:a": "aac", "ac": 1}
        media.run(ffmpeg.output(*streams, str(out), **options))
    return out
