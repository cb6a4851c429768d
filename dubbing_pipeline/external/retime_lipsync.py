"""Retime a video to its dub track: the lip-sync program used while no lip-sync model is installed.

``python -m dubbing_pipeline.external.retime_lipsync``, launched by ``PipesLipSync`` through Dagster
Pipes exactly as a Wav2Lip-class model is, so this path runs everywhere. It imports only the
standard library, ``dagster_pipes``, ``ffmpeg-python`` and dagster-free modules of ours. It does
not move lips: it stretches the video to the dub with ffmpeg (setpts), or copies the streams when
the durations already match to within a frame (our dub track is built to the source's length),
and says so in its ``note``.

The contract for every external lip-sync program (a Wav2Lip wrapper follows the same):

- **Input**, as Pipes extras: ``video`` (the muxed video) and ``audio`` (the dub's speech alone,
  what drives the lips), ``out`` (the path to write, in the container format of ``video``, with
  ``video``'s audio and subtitle tracks: the dub mix and the original), ``checkpoint`` (model
  weights, or null), ``device`` (cpu, cuda or auto) and ``options`` (the program's own
  settings; here ``video_codec``, ``preset``, ``crf``).
- **Progress**: ``report_custom_message({"progress": fraction})`` (0.0-1.0) as the work goes on;
  it reaches the stage's progress (log lines and ``job_progress`` events) while the program runs.
  Human-readable lines go through ``context.log``.
- **Success**: ``report_asset_materialization(metadata={"engine", "model", "note",
  "retime_factor", ...})``, then exit 0.
- **Failure**: ``report_custom_message({"exit_code": n, "error": reason})``, then exit ``n``.
  2: bad input (VALIDATION, never retried); 70: fails the same way every time (PERMANENT);
  75: EX_TEMPFAIL, such as a busy GPU or CUDA out of memory (RESOURCE, retried later);
  124: overran (TIMEOUT; also what the launcher's ``timeout`` returns); 126/127: cannot run
  (PERMANENT); 137 or SIGKILL: the out-of-memory killer (RESOURCE); any other non-zero exit is
  TRANSIENT and retried. The message carries the reason, and the code where a launcher hides it.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg
from dagster_pipes import PipesEnvVarParamsLoader, open_dagster_pipes

from dubbing_pipeline.domain.errors import (
    JobErrorType,
    JobProcessingError,
    classify,
    validation_error,
)
from dubbing_pipeline.external.contract import (
    ERROR,
    EXIT_BAD_INPUT,
    EXIT_CODE,
    PROGRESS,
    exit_code_of,
)
from dubbing_pipeline.infra import media

ENGINE = "ffmpeg-retime"
PROBED = 0.1  # the share of the work done once both inputs are probed


@dataclass(frozen=True)
class RetimeOptions:
    video_codec: str = "libx264"
    preset: str = "veryfast"
    crf: int = 20


def retime(
    video: Path,
    audio: Path,
    out: Path,
    options: RetimeOptions | None = None,
    progress: Callable[[float], None] = lambda _: None,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Write ``out``: the video retimed to the audio's length, with the audio as its sound track.
    Returns the materialisation metadata."""
    options = options or RetimeOptions()
    video_info = media.probe(video)
    audio_duration = media.probe(audio).duration
    if not video_info.has_video or video_info.duration <= 0:
        raise validation_error(f"{video.name}: no video stream to retime")
    # The video stream's own length: a subtitle cue past the end must not force a re-encode.
    video_seconds = _video_seconds(video_info.raw) or video_info.duration
    factor = audio_duration / video_seconds
    progress(PROBED)
    source = ffmpeg.input(str(video))
    if abs(audio_duration - video_seconds) <= _frame_seconds(video_info.raw):
        factor = 1.0
        stream = ffmpeg.output(source["v"], source["a"], source["s?"], str(out), c="copy")
        note = "no lip-sync model installed; durations already match, streams copied"
    else:
        retimed = source["v:0"].filter("setpts", f"{factor:.8f}*PTS")
        # The muxed audio tracks (the dub mix, the original) are as long as the dub: copied.
        stream = ffmpeg.output(
            retimed,
            source["a"],
            source["s?"],
            str(out),
            **{"c:v": options.video_codec, "preset": options.preset, "crf": options.crf},
            **{"c:a": "copy", "c:s": "copy"},
        )
        note = f"no lip-sync model installed; video retimed by {factor:.4f} to the dub track"
    log(
        f"{ENGINE}: video {video_seconds:.2f} s, dub {audio_duration:.2f} s, "
        f"{'copying streams' if factor == 1.0 else f'retiming by {factor:.4f}'}"
    )
    _run_ffmpeg(stream, audio_duration, lambda f: progress(PROBED + (1 - PROBED) * f))
    return {"engine": ENGINE, "model": "none", "note": note, "retime_factor": round(factor, 6)}


def _run_ffmpeg(
    stream: ffmpeg.nodes.OutputStream, seconds: float, progress: Callable[[float], None]
) -> None:
    """Run ffmpeg, turning its ``-progress`` report into fractions done; a failure carries
    ffmpeg's own last lines (``media.run`` without progress does the same in the pipeline)."""
    args = stream.global_args(
        "-nostdin", "-hide_banner", "-loglevel", "error", "-nostats", "-progress", "pipe:1"
    ).compile(overwrite_output=True)
    with (
        tempfile.TemporaryFile() as errors,
        subprocess.Popen(args, stdout=subprocess.PIPE, stderr=errors, text=True) as process,
    ):
        assert process.stdout is not None
        for line in process.stdout:
            key, _, value = line.strip().partition("=")
            if key == "out_time_us" and value.isdigit() and seconds > 0:
                progress(min(1.0, int(value) / 1e6 / seconds))
        if process.wait() != 0:
            errors.seek(0)
            detail = errors.read().decode(errors="replace").strip()[-600:]
            raise JobProcessingError(f"ffmpeg failed: {detail}", JobErrorType.PERMANENT)
    progress(1.0)


def _video_seconds(raw_probe: dict) -> float:
    video = next(s for s in raw_probe["streams"] if s.get("codec_type") == "video")
    return float(video.get("duration") or 0.0)


def _frame_seconds(raw_probe: dict) -> float:
    video = next(s for s in raw_probe["streams"] if s.get("codec_type") == "video")
    num, _, den = video.get("avg_frame_rate", "25/1").partition("/")
    rate = float(num) / float(den or 1) if float(num or 0) else 25.0
    return 1.0 / rate


def main() -> int:
    """Run under Dagster Pipes: read the extras, retime, report; exit by the contract above."""
    if not PipesEnvVarParamsLoader().is_dagster_pipes_process():
        print("run by PipesLipSync through Dagster Pipes, not by hand", file=sys.stderr)
        return EXIT_BAD_INPUT
    with open_dagster_pipes() as pipes:
        started = time.perf_counter()
        try:
            extras = pipes.extras
            try:
                options = RetimeOptions(**(extras.get("options") or {}))
            except TypeError as exc:
                raise JobProcessingError(f"bad options: {exc}", JobErrorType.PERMANENT) from exc
            if extras.get("checkpoint"):
                pipes.log.warning(f"{ENGINE} uses no model: checkpoint ignored")
            out = Path(extras["out"])
            report = retime(
                Path(extras["video"]),
                Path(extras["audio"]),
                out,
                options,
                progress=lambda f: pipes.report_custom_message({PROGRESS: round(f, 4)}),
                log=pipes.log.info,
            )
        except Exception as exc:
            error = classify(exc)
            code = exit_code_of(error.error_type)
            pipes.log.error(f"{ENGINE} failed [{error.error_type}]: {error.message}")
            pipes.report_custom_message({EXIT_CODE: code, ERROR: error.message})
            return code
        pipes.log.info(
            f"{ENGINE}: wrote {out.name} ({out.stat().st_size} bytes) "
            f"in {time.perf_counter() - started:.1f} s"
        )
        pipes.report_asset_materialization(metadata=report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
