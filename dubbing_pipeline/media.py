"""ffmpeg/ffprobe through ffmpeg-python: probing, validating and the audio edits the dub needs.

Everything here streams through ffmpeg processes; nothing decodes a whole track into Python memory.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import ffmpeg

from dubbing_pipeline.errors import JobErrorType, JobProcessingError, validation_error

DUB_SAMPLE_RATE = 48_000


@dataclass(frozen=True)
class MediaInfo:
    duration: float
    video_codec: str | None
    width: int | None
    height: int | None
    audio_streams: int
    subtitle_streams: int
    raw: dict

    @property
    def has_video(self) -> bool:
        return self.video_codec is not None


def probe(path: Path) -> MediaInfo:
    """ffprobe a file; unreadable or empty input is a VALIDATION error, never a retry."""
    if not path.exists():
        raise validation_error(f"{path.name}: file does not exist")
    if path.stat().st_size == 0:
        raise validation_error(f"{path.name}: file is empty")
    try:
        raw = ffmpeg.probe(str(path))
    except ffmpeg.Error as exc:
        detail = exc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["unreadable"]
        raise validation_error(f"{path.name}: not a media file ({detail[0]})") from exc
    streams = raw.get("streams", [])
    video = next(
        (
            s
            for s in streams
            if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")
        ),
        None,
    )
    duration = float(raw.get("format", {}).get("duration") or 0.0)
    return MediaInfo(
        duration=duration,
        video_codec=video.get("codec_name") if video else None,
        width=video.get("width") if video else None,
        height=video.get("height") if video else None,
        audio_streams=sum(s.get("codec_type") == "audio" for s in streams),
        subtitle_streams=sum(s.get("codec_type") == "subtitle" for s in streams),
        raw=raw,
    )


def validate_source_video(path: Path) -> MediaInfo:
    """A dubbable source has a video stream, an audio track and a positive duration."""
    info = probe(path)
    if not info.has_video:
        raise validation_error(f"{path.name}: no video stream (is this a video file?)")
    if info.audio_streams == 0:
        raise validation_error(f"{path.name}: video has no audio track to transcribe")
    if info.duration <= 0:
        raise validation_error(f"{path.name}: video has no duration")
    return info


def run(stream: ffmpeg.nodes.OutputStream) -> None:
    """Run an ffmpeg graph; a failure carries ffmpeg's own last lines."""
    try:
        stream.global_args("-nostdin", "-hide_banner", "-loglevel", "error").run(
            overwrite_output=True, capture_stdout=True, capture_stderr=True
        )
    except ffmpeg.Error as exc:
        detail = exc.stderr.decode(errors="replace").strip()[-600:]
        raise JobProcessingError(f"ffmpeg failed: {detail}", JobErrorType.PERMANENT) from exc


def wav_samples(path: Path) -> tuple[int, int]:
    """(frames, sample_rate) from a WAV header."""
    with wave.open(str(path)) as w:
        return w.getnframes(), w.getframerate()


def fit_clip(clip: Path, out: Path, *, tempo: float, samples: int, fade_out: bool) -> None:
    """Speed a clip up by ``tempo`` (atempo keeps pitch), then pad or cut it to ``samples``."""
    audio = ffmpeg.input(str(clip)).audio.filter("aresample", DUB_SAMPLE_RATE)
    if tempo > 1.0 + 1e-6:
        audio = audio.filter("atempo", f"{tempo:.6f}")
    if fade_out:
        fade = min(0.05, samples / DUB_SAMPLE_RATE / 4)
        audio = audio.filter("afade", t="out", st=samples / DUB_SAMPLE_RATE - fade, d=fade)
    audio = audio.filter("apad", whole_len=samples).filter("atrim", end_sample=samples)
    run(ffmpeg.output(audio, str(out), ac=1, acodec="pcm_s16le", ar=DUB_SAMPLE_RATE))


def silence(out: Path, samples: int) -> None:
    src = ffmpeg.input(f"anullsrc=r={DUB_SAMPLE_RATE}:cl=mono", f="lavfi")
    audio = src.filter("atrim", end_sample=samples)
    run(ffmpeg.output(audio, str(out), ac=1, acodec="pcm_s16le", ar=DUB_SAMPLE_RATE))


def concat_wavs(parts: list[Path], out: Path) -> None:
    """Join WAVs of one format end to end (concat demuxer, stream copy: sample exact)."""
    listing = out.with_suffix(".txt")
    listing.write_text("".join(f"file '{p.resolve()}'\n" for p in parts))
    run(ffmpeg.output(ffmpeg.input(str(listing), f="concat", safe=0), str(out), c="copy"))
    listing.unlink()
