"""What the speech checks cost: the TTS stage on the turnaround bench's clip (``bench.media``: its
sentences looped to ``--minutes``), its transcript and translation laid out as the clip says them,
approved, then the ``speech`` asset materialised in process on a real instance: once to warm the
process up (not counted), then ``--repeat`` pairs, in alternating order: as deployed, and with an
STT engine that hears nothing (each run on a project of its own, so each synthesises its clips
afresh). The back-transcription runs beside the track's rendering, so its cost is what it adds to
the stage's wall time: the medians' difference, as a share of the stage (target <= 15 %). Also
printed: its seconds in the recogniser (on its own thread) and how long the stage waited for it.

STT is not run (it is not what is measured, and on a 2-core machine it is most of the bench's
time): the segments are placed where ``make_sample_video`` put the sentences.

    python -m bench.checks --minutes 10
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

from dagster import instance_for_test

from bench.common import Report, arguments
from bench.media import long_video, sentences
from dubbing_pipeline.cli.runner import materialize_stage
from dubbing_pipeline.defs.resources import default_resources
from dubbing_pipeline.domain.projects import Project
from dubbing_pipeline.domain.segments import Segment, SegmentDoc
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.engines.mt import ApertiumMT
from dubbing_pipeline.engines.stt import FasterWhisperSTT
from dubbing_pipeline.engines.tts import EspeakTTS
from dubbing_pipeline.infra import media
from dubbing_pipeline.infra.settings import PipelineSettings
from dubbing_pipeline.operations import reviews
from dubbing_pipeline.operations.instance_store import InstanceRunStore
from dubbing_pipeline.operations.projects import create_project

GAP_S = 0.9  # make_sample_video's pause after each sentence


def main() -> None:
    parser = arguments(__doc__ or "")
    parser.add_argument("--minutes", type=float, default=10.0, help="clip length (default 10)")
    parser.add_argument("--repeat", type=int, default=3, help="pairs of runs (default 3)")
    args = parser.parse_args()
    video = long_video(args.minutes)
    duration = media.probe(video).duration
    heard: list[dict[str, Any]] = []
    deaf: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-checks-") as tmp:
        run(Path(tmp) / "warm-up", video, duration, hearing=True)
        for i in range(2 * args.repeat):
            hearing = i % 4 in (0, 3)  # heard, deaf, deaf, heard, ...: neither arm always first
            figures = run(Path(tmp) / str(i), video, duration, hearing=hearing)
            (heard if hearing else deaf).append(figures)
    report = Report(f"speech checks, {args.minutes:g} min clip, espeak-ng, Whisper base")
    last = heard[-1]
    for name in (
        "segments",
        "distinct_clips",
        "back_transcribed_clips",
        "back_transcribed_audio_s",
    ):
        report.add(name, last[name])
    report.add("checks_failed", last["failed"] or "none")
    for name in ("tts_engine_s", "back_transcription_s", "back_transcription_wait_s"):
        report.add(f"{name}_median", median(f[name] for f in heard))
    with_hearing = median(f["tts_run_wall_s"] for f in heard)
    without = median(f["tts_run_wall_s"] for f in deaf)
    report.add("tts_run_wall_s_runs", " ".join(f"{f['tts_run_wall_s']:.1f}" for f in heard))
    report.add(
        "tts_run_wall_s_runs_without_hearing", " ".join(f"{f['tts_run_wall_s']:.1f}" for f in deaf)
    )
    report.add("tts_run_wall_s_median", with_hearing)
    report.add("tts_run_wall_s_median_without_hearing", without)
    report.add("back_transcription_added_wall_s", with_hearing - without)
    share = (with_hearing - without) / with_hearing
    report.add("back_transcription_share_of_tts", share, "<= 0.15")
    report.emit(args.json)


class _Deaf(FasterWhisperSTT):
    """An STT engine that knows no language: the speech checks skip the back-transcription."""

    def languages(self) -> list[str] | None:
        return []


def _timeline(duration: float, folder: Path) -> list[tuple[float, float, str]]:
    """(start, end, English text) of each sentence as the looped clip says it."""
    tts = EspeakTTS(words_per_minute=150)
    said = []
    for i, text in enumerate(sentences()):
        wav = folder / f"{i}.wav"
        tts.synthesize(text, "en", wav)
        frames, rate = media.wav_samples(wav)
        said.append((frames / rate, text))
    placed, at = [], 0.0
    while True:
        for seconds, text in said:
            if at + seconds > duration:
                return placed
            placed.append((round(at, 3), round(at + seconds, 3), text))
            at += seconds + GAP_S


def run(root: Path, video: Path, duration: float, *, hearing: bool) -> dict[str, Any]:
    root.mkdir(parents=True)
    settings = PipelineSettings(artifacts=str(root / "artifacts"), stt_model="base")
    resources = default_resources(settings)
    if not hearing:
        resources["stt"] = _Deaf(model="base")
    store = resources["store"]
    timeline = _timeline(duration, root)
    english = sorted({text for _, _, text in timeline})
    spanish = dict(
        zip(english, ApertiumMT().translate(english, "en", "es", lambda _: None), strict=True)
    )
    with instance_for_test() as instance:
        runs = InstanceRunStore(instance)
        project = Project(video_uri=str(video), source_language="en", target_language="es")
        project = create_project(store, runs, project)[0]
        segments = [
            Segment(id=i, start=start, end=end, text=text)
            for i, (start, end, text) in enumerate(timeline)
        ]
        source = SegmentDoc(language="en", duration=duration, segments=segments)
        target = source.with_texts("es", [spanish[s.text] for s in segments])
        for stage, doc in ((Stage.STT, source), (Stage.MT, target)):
            store.write_text(reviews.segments_uri(store, project.id, stage), doc.model_dump_json())
            reviews.approve(store, project.id, stage, reviewer="bench")
        started = time.perf_counter()
        result = materialize_stage(project, Stage.TTS, instance=instance, resources=resources)
        wall = time.perf_counter() - started
        assert result.success, "the speech stage failed"
        (event,) = result.asset_materializations_for_node(Stage.TTS.asset_name)
        meta = {k: v.value for k, v in event.metadata.items()}
        failed = [
            e.description or e.check_name
            for e in result.get_asset_check_evaluations()
            if not e.passed
        ]
    return {
        "segments": float(meta["segments"]),
        "distinct_clips": float(meta["clips_synthesized"]),
        "tts_run_wall_s": round(wall, 2),
        "tts_engine_s": float(meta["engine_seconds"]),
        "back_transcription_s": float(meta.get("back_transcription_seconds", 0.0)),
        "back_transcription_wait_s": float(meta.get("back_transcription_wait_s", 0.0)),
        "back_transcribed_clips": float(meta.get("back_transcribed_clips", 0)),
        "back_transcribed_audio_s": float(meta.get("back_transcribed_audio_s", 0.0)),
        "failed": "; ".join(failed),
    }


if __name__ == "__main__":
    main()
