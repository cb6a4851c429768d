"""Turnaround of one project through the API, the real daemon and launched runs on the embedded
default (SQLite, local artifacts, offline engines), each review approved the moment its gate
opens (the script polls the run store every 50 ms).

Per stage: engine seconds (inside the engine calls), run wall seconds, queue wait (created ->
dequeued), launch (dequeued -> run process started), start -> first engine call, and transition
latency (the previous run's success, or the approval, -> this stage's first engine call). Then
total wall, real-time factor and orchestration overhead = total wall / sum of engine seconds.

    python -m bench.turnaround --minutes 1 --premium   # the 60 s clip, default then warm
    python -m bench.turnaround --minutes 10            # the 10 min clip

By default the same clip goes through twice, one run after the other on the same machine: with
Dagster's DefaultRunLauncher (a fresh process per run), then with the warm run workers (the
embedded default); ``--launcher`` picks one.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    RunRecord,
    RunsFilter,
)

from bench.common import Report, arguments
from bench.media import long_video
from bench.stacks import bench_stack
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.tags import Tag
from dubbing_pipeline.infra import media
from dubbing_pipeline.operations import checks

POLL_S = 0.05
DEQUEUED = {DagsterEventType.RUN_STARTING}  # the run queue handed it to the launcher


@dataclass
class StageFigures:
    stage: Stage
    engine_s: float
    run_wall_s: float
    queue_wait_s: float  # created -> dequeued by the run queue
    launch_s: float  # dequeued -> the run process started (spawn, imports, code load)
    start_to_engine_s: float  # run started -> first engine call
    transition_s: float
    diarization_s: float | None = None  # STT: who speaks when, inside engine_s
    speakers: int | None = None
    back_transcription_s: float | None = None  # TTS: the speech checks' STT pass, on its thread
    back_transcription_wait_s: float | None = None  # TTS: the stage's wait for it, in engine_s
    back_transcribed_audio_s: float | None = None


def main() -> None:
    parser = arguments(__doc__ or "")
    parser.add_argument("--minutes", type=float, default=1.0, help="clip length (default 1)")
    parser.add_argument("--stt-model", default="base", help="base (default) or tiny.en")
    parser.add_argument("--premium", action="store_true", help="include LIP_SYNC")
    parser.add_argument(
        "--profile",
        choices=("embedded", "celery"),
        default="embedded",
        help="embedded: SQLite (default); celery: Postgres, runs on Celery workers",
    )
    parser.add_argument(
        "--launcher",
        choices=("both", "warm", "default"),
        default="both",
        help="embedded: warm run workers, Dagster's DefaultRunLauncher (a process per run), or "
        "both one after the other on the same clip (default; figures prefixed, ratios last)",
    )
    args = parser.parse_args()

    video = long_video(args.minutes)
    duration = media.probe(video).duration
    launchers = ["default", "warm"] if args.launcher == "both" else [args.launcher]
    if args.profile == "celery":
        launchers = ["celery"]
    report = Report(f"turnaround {args.minutes:g} min clip, STT {args.stt_model}, {args.profile}")
    overheads: dict[str, float] = {}
    for launcher in launchers:
        with tempfile.TemporaryDirectory(prefix="bench-turnaround-") as tmp:
            figures, wall = run_project(
                Path(tmp), video, args.stt_model, args.premium, args.profile, launcher
            )
        prefix = f"{launcher}." if len(launchers) > 1 else ""
        overheads[launcher] = _report(report, prefix, figures, wall, duration, args.minutes)
    if len(launchers) > 1:
        report.add("overhead_ratio_warm_to_default", overheads["warm"] / overheads["default"])
    report.emit(args.json)


def _report(
    report: Report,
    prefix: str,
    figures: list[StageFigures],
    wall: float,
    duration: float,
    minutes: float,
) -> float:
    for f in figures:
        name = f"{prefix}{f.stage.value}"
        report.add(f"{name}.engine_s", f.engine_s)
        report.add(f"{name}.run_wall_s", f.run_wall_s)
        report.add(f"{name}.queue_wait_s", f.queue_wait_s)
        report.add(f"{name}.launch_s", f.launch_s)
        report.add(f"{name}.start_to_engine_s", f.start_to_engine_s)
        report.add(f"{name}.transition_s", f.transition_s)
        if f.diarization_s is not None:
            report.add(f"{name}.diarization_s", f.diarization_s)
            report.add(f"{name}.speakers", f.speakers)
            report.add(f"{name}.diarization_rtf", f.diarization_s / duration, "<= 0.1")
        if f.back_transcription_s is not None:  # the speech checks (docs/checks.md)
            report.add(f"{name}.back_transcription_s", f.back_transcription_s)
            report.add(f"{name}.back_transcription_wait_s", f.back_transcription_wait_s)
            report.add(f"{name}.back_transcribed_audio_s", f.back_transcribed_audio_s)
            share = (f.back_transcription_wait_s or 0.0) / f.run_wall_s
            report.add(f"{name}.back_transcription_wait_share_of_run", share, "<= 0.15")
    engine = sum(f.engine_s for f in figures)
    automatic = [f.transition_s for f in figures if f.stage in (Stage.MUXING, Stage.LIP_SYNC)]
    approved = [f.transition_s for f in figures if f.stage in (Stage.MT, Stage.TTS)]
    overhead_target = "<= 1.25" if minutes <= 1 else "<= 1.05"
    report.add(f"{prefix}media_s", duration)
    report.add(f"{prefix}total_wall_s", wall)
    report.add(f"{prefix}engine_s", engine)
    report.add(f"{prefix}real_time_factor", wall / duration)
    report.add(f"{prefix}orchestration_overhead", wall / engine, overhead_target)
    report.add(f"{prefix}transition_after_success_p50_s", statistics.median(automatic), "<= 0.5")
    report.add(f"{prefix}transition_after_approval_p50_s", statistics.median(approved), "<= 1.0")
    for part in ("queue_wait_s", "launch_s", "start_to_engine_s"):
        report.add(f"{prefix}sum.{part}", sum(getattr(f, part) for f in figures))
    return wall / engine


def run_project(
    root: Path, video: Path, stt_model: str, premium: bool, profile: str, launcher: str = "warm"
) -> tuple[list[StageFigures], float]:
    """Create the project and approve its reviews through the API, as users do; read the
    figures from the run store."""
    incoming = root / "artifacts" / "uploads" / "alice"
    incoming.mkdir(parents=True)
    shutil.copy(video, incoming / "clip.mp4")
    with bench_stack(root, profile, launcher, DUBBING_STT_MODEL=stt_model) as (stack, instance):
        api = stack.client("alice")
        started = time.time()
        body = {"videoUrl": "uploads/alice/clip.mp4", "sourceLanguage": "en"}
        body |= {"targetLanguage": "es", "premium": premium}
        response = api.post("/api/projects", json=body)
        response.raise_for_status()
        project_id = response.json()["project"]["id"]
        stages = [s for s in Stage if premium or s is not Stage.LIP_SYNC]
        causes: dict[Stage, float] = {Stage.STT: started}
        records: dict[Stage, RunRecord] = {}
        for stage, after in zip(stages, [*stages[1:], None], strict=True):
            records[stage] = _wait_for_success(instance, project_id, stage)
            if after is None:
                break
            # The bench approves reviews, not holds: a project its checks held ends the bench.
            run_id = records[stage].dagster_run.run_id
            if not stage.needs_review and (held := checks.held_back(instance, run_id)):
                raise SystemExit(f"held for review after {stage}: {held}")
            if stage.needs_review:
                causes[after] = time.time()
                review = f"/api/projects/{project_id}/review/{stage.asset_name}/approve"
                approved = api.post(review, json={"edits": {}})
                assert approved.status_code == 200, approved.text
            else:
                causes[after] = records[stage].end_time or time.time()
        wall = (records[stages[-1]].end_time or time.time()) - started
        return [_figures(instance, s, records[s], causes[s]) for s in stages], wall


def _wait_for_success(instance: DagsterInstance, project_id: str, stage: Stage) -> RunRecord:
    tags = {Tag.PROJECT: project_id, Tag.STAGE: stage.value}
    deadline = time.monotonic() + 3600
    while time.monotonic() < deadline:
        records = instance.get_run_records(RunsFilter(tags=tags), limit=1)
        if records and records[0].dagster_run.status == DagsterRunStatus.SUCCESS:
            return records[0]
        if records and records[0].dagster_run.status == DagsterRunStatus.FAILURE:
            run_id = records[0].dagster_run.run_id
            said = [e.message for e in instance.all_logs(run_id) if e.message][-4:]
            raise SystemExit(f"{stage} failed: run {run_id}: {said}")
        time.sleep(POLL_S)
    raise SystemExit(f"{stage} did not finish within an hour")


def _figures(instance: DagsterInstance, stage: Stage, record: RunRecord, cause: float):
    event = instance.get_latest_materialization_event(AssetKey(stage.asset_name))
    metadata = event.asset_materialization.metadata if event and event.asset_materialization else {}
    engine_s = float(metadata["engine_seconds"].value) if "engine_seconds" in metadata else 0.0
    engine_at = metadata.get("engine_started_at")
    begun = float(engine_at.value) if engine_at else (record.start_time or cause)
    created = record.create_timestamp.timestamp()
    started = record.start_time or created
    dequeued = next(
        (e.timestamp for e in instance.all_logs(record.dagster_run.run_id, of_type=DEQUEUED)),
        started,
    )
    return StageFigures(
        stage=stage,
        engine_s=engine_s,
        run_wall_s=(record.end_time or 0) - started,
        queue_wait_s=dequeued - created,
        launch_s=started - dequeued,
        start_to_engine_s=begun - started,
        transition_s=begun - cause,
        diarization_s=_figure(metadata, "diarization_seconds"),
        speakers=_figure(metadata, "speakers"),
        back_transcription_s=_figure(metadata, "back_transcription_seconds"),
        back_transcription_wait_s=_figure(metadata, "back_transcription_wait_s"),
        back_transcribed_audio_s=_figure(metadata, "back_transcribed_audio_s"),
    )


def _figure(metadata: dict, key: str):
    return metadata[key].value if key in metadata else None


if __name__ == "__main__":
    main()
