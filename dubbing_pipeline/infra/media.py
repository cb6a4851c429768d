"""ffmpeg/ffprobe through ffmpeg-python: probing, validating and the audio edits the dub needs.

Everything here streams through ffmpeg processes; nothing decodes a whole track into Python memory:
an hour of audio is 115 MB of 16 kHz samples, and what models build from it is many times more.
"""

from __future__ import annotations

import subprocess
import tempfile
import wave
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import ffmpeg
import numpy as np

from dubbing_pipeline.domain.errors import JobErrorType, JobProcessingError, validation_error
from dubbing_pipeline.domain.timing import DUB_SAMPLE_RATE

CHUNK_BYTES = 1 << 16  # what a stream hands over at a time
QUIET_HOP_S = 0.1  # the loudness resolution at which speech windows are cut
_QUIET_ARGS = ("-nostdin", "-hide_banner", "-loglevel", "error")


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
        # ffprobe names the file by its full path: keep the host's folders out of the message
        reason = detail[0].replace(str(path), path.name)
        raise validation_error(f"{path.name}: not a media file ({reason})") from exc
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


def audio_stream(path: Path, stream: str = "a:0") -> dict:
    """ffprobe's description of an audio stream (``a:N``) of a file; {} when it has none."""
    audio = [s for s in probe(path).raw.get("streams", []) if s.get("codec_type") == "audio"]
    index = int(stream.rsplit(":", 1)[-1]) if stream[-1].isdigit() else 0
    return audio[index] if index < len(audio) else {}


def validate_source_video(path: Path) -> MediaInfo:
    """A dubbable source has a video stream, an audio track and a positive duration."""
    info = probe(path)
    if not info.has_video:
        raise validation_error(f"{path.name}: no video stream (is this a video file?)")
    if info.audio_streams == 0:
        raise validation_error(f"{path.name}: video has no audio track to transcribe")
    if info.duration <= 0:
        raise validation_error(f"{path.name}: video has no duration")
    video_s, audio_s = _stream_seconds(info, "video"), _stream_seconds(info, "audio")
    if video_s is not None and audio_s is not None and video_s < audio_s - STREAM_SLACK_S:
        raise validation_error(
            f"{path.name}: the video stream ({video_s:.1f} s) is shorter than its audio "
            f"({audio_s:.1f} s): the picture would end under the dub"
        )
    for kind in ("v", "a"):
        if not _decodes_near(path, kind, max(0.0, info.duration - 1.0)):
            raise validation_error(
                f"{path.name}: cannot decode its {'video' if kind == 'v' else 'audio'} near the "
                f"end ({info.duration:.1f} s): the file is cut short or damaged (an upload that "
                "did not finish?)"
            )
    return info


STREAM_SLACK_S = 1.0  # containers round stream ends; a real mismatch is seconds


def _stream_seconds(info: MediaInfo, kind: str) -> float | None:
    durations = [
        float(s["duration"])
        for s in info.raw.get("streams", [])
        if s.get("codec_type") == kind and s.get("duration")
    ]
    return max(durations) if durations else None


def _decodes_near(path: Path, kind: str, seconds: float) -> bool:
    """Whether a frame of the first ``kind`` stream (v or a) decodes from ``seconds`` on: a file
    truncated after its header (a half-finished faststart upload) still declares its full
    duration, but has nothing there."""
    answer = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-read_intervals",
            f"{seconds:.3f}%+#1",
            "-select_streams",
            f"{kind}:0",
            "-show_entries",
            "frame=pts_time",
            "-of",
            "csv=p=0",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return bool(answer.stdout.strip())


def run(stream: ffmpeg.nodes.OutputStream) -> None:
    """Run an ffmpeg graph; a failure carries ffmpeg's own last lines."""
    try:
        stream.global_args(*_QUIET_ARGS).run(
            overwrite_output=True, capture_stdout=True, capture_stderr=True
        )
    except ffmpeg.Error as exc:
        raise _failure(exc.stderr) from exc


def run_logged(graph: ffmpeg.nodes.OutputStream) -> str:
    """Run an ffmpeg graph whose analysis filters (silencedetect, ebur128) report in the log, and
    return that log (their lines and ffmpeg's stream summary: a few kB, however long the input)."""
    try:
        _, log = graph.global_args("-nostdin", "-hide_banner", "-nostats", "-loglevel", "info").run(
            overwrite_output=True, capture_stdout=True, capture_stderr=True
        )
    except ffmpeg.Error as exc:
        raise _failure(exc.stderr) from exc
    return log.decode(errors="replace")


def decoded_seconds(path: Path, stream: str = "a:0") -> float:
    """Decode a stream to the end and return how long it really is. Any decoding error (a
    corrupt or truncated file) is a VALIDATION error quoting ffmpeg."""
    graph = ffmpeg.input(str(path))[stream].output("-", f="null")
    args = graph.global_args(*_QUIET_ARGS, "-xerror", "-nostats", "-progress", "pipe:1")
    try:
        out, errors = args.run(capture_stdout=True, capture_stderr=True)
    except ffmpeg.Error as exc:
        out, errors = b"", exc.stderr or b"ffmpeg failed"
    if errors.strip():
        detail = errors.decode(errors="replace").strip().splitlines()[-1]
        detail = detail.replace(f"{path}: ", "").replace(str(path), path.name)
        raise validation_error(f"{path.name}: corrupt audio ({detail})")
    times = [line.split("=", 1)[1] for line in out.decode().splitlines() if "out_time_us=" in line]
    return int(times[-1]) / 1e6 if times and times[-1].strip().isdigit() else 0.0


def stream(graph: ffmpeg.nodes.OutputStream, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Run an ffmpeg graph that writes to ``pipe:`` and yield its output as it comes, so the
    caller holds one chunk, never the whole output. A failure is raised as ``run`` raises it."""
    args = graph.global_args(*_QUIET_ARGS).compile(overwrite_output=True)
    with (
        tempfile.TemporaryFile() as errors,  # a file, not a pipe: ffmpeg never blocks on it
        subprocess.Popen(args, stdout=subprocess.PIPE, stderr=errors) as process,
    ):
        assert process.stdout is not None
        while chunk := process.stdout.read(chunk_bytes):
            yield chunk
        if process.wait() != 0:
            errors.seek(0)
            raise _failure(errors.read())


@contextmanager
def feeding(graph: ffmpeg.nodes.OutputStream) -> Iterator[Callable[[bytes], None]]:
    """Run an ffmpeg graph that reads ``pipe:`` and hand the caller a function that writes to it,
    so output made in Python (a model's, a chunk at a time) is encoded as it comes."""
    args = graph.global_args(*_QUIET_ARGS).compile(overwrite_output=True)
    with (
        tempfile.TemporaryFile() as errors,
        subprocess.Popen(args, stdin=subprocess.PIPE, stderr=errors) as process,
    ):
        assert process.stdin is not None
        stdin = process.stdin

        def write(chunk: bytes) -> None:
            stdin.write(chunk)

        try:
            yield write
        finally:
            process.stdin.close()
            code = process.wait()
        if code != 0:
            errors.seek(0)
            raise _failure(errors.read())


def _failure(stderr: bytes | None) -> JobProcessingError:
    detail = (stderr or b"").decode(errors="replace").strip()[-600:]
    return JobProcessingError(f"ffmpeg failed: {detail}", JobErrorType.PERMANENT)


def wav_samples(path: Path) -> tuple[int, int]:
    """(frames, sample_rate) from a WAV header."""
    with wave.open(str(path)) as w:
        return w.getnframes(), w.getframerate()


def fitted_pcm(
    clip: Path, *, tempo: float, samples: int, fade_out: bool, rate: int = DUB_SAMPLE_RATE
) -> Iterator[bytes]:
    """A clip sped up by ``tempo`` (atempo keeps pitch), padded or cut to ``samples``, as 16-bit
    mono PCM at ``rate`` straight from ffmpeg, for the caller to append to a track as it comes."""
    audio = ffmpeg.input(str(clip)).audio.filter("aresample", rate)
    if tempo > 1.0 + 1e-6:
        audio = audio.filter("atempo", f"{tempo:.6f}")
    if fade_out:
        fade = min(0.05, samples / rate / 4)
        audio = audio.filter("afade", t="out", st=samples / rate - fade, d=fade)
    audio = audio.filter("apad", whole_len=samples).filter("atrim", end_sample=samples)
    yield from stream(ffmpeg.output(audio, "pipe:", f="s16le", ac=1, acodec="pcm_s16le", ar=rate))


def silence(out: Path, samples: int) -> None:
    src = ffmpeg.input(f"anullsrc=r={DUB_SAMPLE_RATE}:cl=mono", f="lavfi")
    audio = src.filter("atrim", end_sample=samples)
    run(ffmpeg.output(audio, str(out), ac=1, acodec="pcm_s16le", ar=DUB_SAMPLE_RATE))


def speech_windows(
    path: Path, *, rate: int, window_s: float, search_s: float = 20.0
) -> Generator[tuple[int, np.ndarray], None, None]:
    """A file's first audio track as float32 mono at ``rate`` (s16 / 32768, as faster-whisper's
    own decoder gives it), in windows of at most ``window_s`` seconds, each cut at the quietest
    100 ms of its last ``search_s`` so no word is split; with each window's first sample's offset.
    Only one window is ever in memory, however long the file."""
    window = round(window_s * rate) * 2  # bytes of s16 samples
    search = round(search_s * rate)
    graph = ffmpeg.output(ffmpeg.input(str(path))["a:0"], "pipe:", f="s16le", ac=1, ar=rate)
    pending, offset = bytearray(), 0
    for chunk in stream(graph):
        pending += chunk
        while len(pending) >= window:
            samples = _floats(pending[:window])
            cut = _quietest_cut(samples, search, max(1, round(QUIET_HOP_S * rate)))
            yield offset, samples[:cut]
            offset += cut
            del pending[: cut * 2]
    if len(pending) >= 2:
        yield offset, _floats(pending[: len(pending) // 2 * 2])


def _floats(pcm: bytes | bytearray) -> np.ndarray:
    return np.frombuffer(bytes(pcm), dtype="<i2").astype(np.float32) / 32768.0


def _quietest_cut(samples: np.ndarray, search: int, hop: int) -> int:
    """Where to end a window: the middle of its quietest hop within its last ``search`` samples."""
    tail = samples[max(0, samples.size - search) :]
    frames = tail.size // hop
    if frames < 2:
        return samples.size
    energy = np.square(tail[: frames * hop].reshape(frames, hop)).mean(axis=1)
    return samples.size - tail.size + int(np.argmin(energy)) * hop + hop // 2
