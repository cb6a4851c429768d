"""Throughput under a queue: N projects (60 s clips, standard tier) created at once through the
API, each review approved the moment it opens (the run store is polled every 0.2 s), until every
project is muxed.

Reports the completion time; the engine-busy share of the machine (sum of engine seconds /
(wall x cores)); the CPU share of the orchestration processes (daemon, webserver, API, code
servers, warm run server: their own CPU seconds / (wall x cores)) and of the run processes
(run workers with the engines' subprocesses); and that nothing was lost or run twice.

    python -m bench.throughput                      # 20 projects: DefaultRunLauncher, then warm
    python -m bench.throughput --profile celery     # the Celery profile (Postgres, 2 workers)
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import psutil
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter

from bench.common import Report, arguments
from bench.media import long_video
from bench.stacks import bench_stack
from bench.warm import worker_memory
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.tags import Tag

POLL_S = 0.2
STAGES = [Stage.STT, Stage.MT, Stage.TTS, Stage.MUXING]
ORCHESTRATION = ("dagster-daemon", "dagster-webserver", "uvicorn", "api grpc", "warm.server")
RUNS = ("api execute_run", "warm.worker", "celery")


@dataclass
class Outcome:
    wall_s: float
    engine_s: float
    projects_done: int
    failed_runs: int
    max_runs_per_stage: int
    orchestration_cpu_s: float
    run_cpu_s: float
    memory: dict[str, float]


def main() -> None:
    parser = arguments(__doc__ or "")
    parser.add_argument("--projects", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=1.0, help="clip length (default 1)")
    parser.add_argument("--stt-model", default="base")
    parser.add_argument("--profile", choices=("embedded", "celery"), default="embedded")
    parser.add_argument("--launcher", choices=("both", "warm", "default"), default="both")
    args = parser.parse_args()

    video = long_video(args.minutes)
    launchers = ["default", "warm"] if args.launcher == "both" else [args.launcher]
    if args.profile == "celery":
        launchers = ["celery"]
    cores = os.cpu_count() or 1
    report = Report(f"throughput {args.projects} x {args.minutes:g} min, {args.profile}")
    for launcher in launchers:
        with tempfile.TemporaryDirectory(prefix="bench-throughput-") as tmp:
            out = run_queue(Path(tmp), video, args.projects, args.stt_model, args.profile, launcher)
        prefix = f"{launcher}." if len(launchers) > 1 else ""
        capacity = out.wall_s * cores
        report.add(f"{prefix}completion_s", out.wall_s)
        report.add(f"{prefix}projects_done", out.projects_done, f"== {args.projects}")
        report.add(f"{prefix}failed_runs", out.failed_runs, "== 0")
        report.add(f"{prefix}max_runs_per_project_stage", out.max_runs_per_stage, "== 1")
        report.add(f"{prefix}engine_s", out.engine_s)
        report.add(f"{prefix}engine_busy_share", out.engine_s / capacity, ">= 0.7")
        report.add(f"{prefix}orchestration_cpu_share", out.orchestration_cpu_s / capacity)
        report.add(f"{prefix}run_process_cpu_share", out.run_cpu_s / capacity)
        for name, value in out.memory.items():
            report.add(f"{prefix}{name}", value)
    report.add("cores", cores)
    report.emit(args.json)


def run_queue(
    root: Path, video: Path, count: int, stt_model: str, profile: str, launcher: str
) -> Outcome:
    uploads = root / "artifacts" / "uploads" / "alice"
    uploads.mkdir(parents=True)
    shutil.copy(video, uploads / "clip.mp4")
    with bench_stack(root, profile, launcher, DUBBING_STT_MODEL=stt_model) as (stack, instance):
        api = stack.client("alice")
        cpu_before = _cpu()
        started = time.time()
        body = {"videoUrl": "uploads/alice/clip.mp4", "sourceLanguage": "en"}
        body |= {"targetLanguage": "es", "premium": False}
        projects = []
        for _ in range(count):
            response = api.post("/api/projects", json=body)
            response.raise_for_status()
            projects.append(response.json()["project"]["id"])
        approved: set[tuple[str, Stage]] = set()
        done: set[str] = set()
        deadline = time.monotonic() + 3 * 3600
        while len(done) < count and time.monotonic() < deadline:
            for project_id in projects:
                if project_id in done:
                    continue
                succeeded = _succeeded(instance, project_id)
                for stage in (Stage.STT, Stage.MT):
                    if stage in succeeded and (project_id, stage) not in approved:
                        review = f"/api/projects/{project_id}/review/{stage.asset_name}/approve"
                        answer = api.post(review, json={"edits": {}})
                        assert answer.status_code == 200, answer.text
                        approved.add((project_id, stage))
                if Stage.MUXING in succeeded:
                    done.add(project_id)
            time.sleep(POLL_S)
        orchestration, runs = (
            after - before for after, before in zip(_cpu(), cpu_before, strict=True)
        )
        stage_runs = [r for r in instance.get_run_records(RunsFilter(tags={Tag.USER: "alice"}))]
        ended = max((r.end_time or 0) for r in stage_runs)
        memory = worker_memory(stack.env["DAGSTER_HOME"]) if launcher == "warm" else {}
        per_stage = Counter(
            (r.dagster_run.tags[Tag.PROJECT], r.dagster_run.tags[Tag.STAGE]) for r in stage_runs
        )
        return Outcome(
            wall_s=ended - started,
            engine_s=sum(_engine_seconds(instance, r.dagster_run.run_id) for r in stage_runs),
            projects_done=len(done),
            failed_runs=sum(r.dagster_run.status == DagsterRunStatus.FAILURE for r in stage_runs),
            max_runs_per_stage=max(per_stage.values()),
            orchestration_cpu_s=orchestration,
            run_cpu_s=runs,
            memory=memory,
        )


def _succeeded(instance: DagsterInstance, project_id: str) -> set[Stage]:
    records = instance.get_run_records(
        RunsFilter(tags={Tag.PROJECT: project_id}, statuses=[DagsterRunStatus.SUCCESS])
    )
    return {
        Stage(r.dagster_run.tags[Tag.STAGE]) for r in records if Tag.STAGE in r.dagster_run.tags
    }


def _engine_seconds(instance: DagsterInstance, run_id: str) -> float:
    for record in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION):
        event = record.dagster_event
        if event and event.step_materialization_data:
            metadata = event.step_materialization_data.materialization.metadata
            if "engine_seconds" in metadata:
                return float(metadata["engine_seconds"].value)  # type: ignore[arg-type]
    return 0.0


def _cpu() -> tuple[float, float]:
    """CPU seconds so far of this benchmark's descendants: (orchestration, runs). Orchestration
    counts each process's own time; runs also their waited-for children (ffmpeg, espeak), and a
    code server's children are runs (Dagster's default launcher spawns them there)."""
    orchestration = runs = 0.0
    for process in psutil.Process().children(recursive=True):
        try:
            command = " ".join(process.cmdline())
            times = process.cpu_times()
        except psutil.Error:
            continue
        own = times.user + times.system
        children = times.children_user + times.children_system
        if any(name in command for name in RUNS):
            runs += own + children
        elif any(name in command for name in ORCHESTRATION):
            orchestration += own
            if "api grpc" in command:
                runs += children
    return orchestration, runs


if __name__ == "__main__":
    main()
