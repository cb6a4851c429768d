"""Peak memory per stage on a long video (issue 7): a 60 min video through all five stages of a
premium project, each stage in a process of its own as a launched run has.

``python -m bench.memory [--json out.json] [--minutes 60] [--stt-model tiny.en]``

Each stage runs as ``python -m bench.memory --stage ...``: a new process that materialises the
stage (``runner.materialize_stage``) in a temp ``DAGSTER_HOME``; reviews are approved in between
(``dubbing_pipeline.operations.approvals``), as a reviewer would. Per stage it reports:

- ``python_peak_mb``: the stage process itself, from its own ``getrusage(RUSAGE_SELF).ru_maxrss``
  (exact: the kernel's high-water mark).
- ``tools_peak_mb``: the largest single tool it ran (ffmpeg, espeak-ng, Apertium, the lip-sync
  program): each descendant's ``VmHWM`` (its own high-water mark since exec), read every 50 ms; a
  tool that lives under 50 ms can be missed. (``RUSAGE_CHILDREN`` is no use here: a forked child's
  ``ru_maxrss`` keeps the parent's RSS from before its exec.)
- ``tree_peak_mb``: the most the process and all its descendants held at once: their RSS summed,
  polled every 50 ms with psutil (shared library pages count once per process).
- ``wall_s``: the process from start to exit (imports included); ``stage_s``: the stage alone.

MB here are MiB. The target is the tree's peak at or below 1.5 GiB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

from bench.common import Report, arguments
from bench.media import long_video
from dubbing_pipeline.domain.stages import Stage

TARGET_MB = 1536
POLL_S = 0.05


@dataclass
class StagePeak:
    """One stage process's figures; the worker writes its half, the parent adds the polled half."""

    stage_s: float
    python_peak_mb: float
    tools_peak_mb: float = 0.0
    tree_peak_mb: float = 0.0
    wall_s: float = 0.0
    failure: str | None = None
    figures: dict[str, Any] | None = None


def main(argv: list[str] | None = None) -> int:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="length of the test video")
    parser.add_argument("--stt-model", default="tiny.en", help="DUBBING_STT_MODEL for the bench")
    parser.add_argument("--keep", type=Path, help="keep instance and artifacts in this folder")
    parser.add_argument(
        "--stages", default="", help="comma-separated stages to run (default: all), e.g. STT"
    )
    parser.add_argument("--stage", help=argparse.SUPPRESS)  # worker mode: one stage, then exit
    parser.add_argument("--project", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.stage:
        return _worker(Stage.parse(args.stage), args.project, args.result)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        return _bench(args, args.keep)
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        return _bench(args, Path(tmp))


def _bench(args: argparse.Namespace, root: Path) -> int:
    """Make (or reuse) the video, then run and measure each stage in turn."""
    from dagster import DagsterInstance

    from dubbing_pipeline.domain.projects import Project
    from dubbing_pipeline.infra import media
    from dubbing_pipeline.infra.storage import ArtifactStore
    from dubbing_pipeline.operations import approvals
    from dubbing_pipeline.operations.instance_store import InstanceRunStore
    from dubbing_pipeline.operations.projects import create_project

    started = time.perf_counter()
    video = long_video(args.minutes)
    made_s = time.perf_counter() - started
    (root / "home").mkdir(exist_ok=True)
    (root / "home" / "dagster.yaml").touch()  # the default instance: SQLite in that folder
    os.environ |= {
        "DAGSTER_HOME": str(root / "home"),
        "DUBBING_ARTIFACTS": str(root / "artifacts"),
        "DUBBING_STT_MODEL": args.stt_model,
        "DUBBING_REDIS_URL": "",
    }
    report = Report("memory")
    report.add("video", f"{video.name} ({video.stat().st_size / 2**20:.0f} MB)")
    report.add("video_minutes", round(media.probe(video).duration / 60, 2))
    report.add("video_ready_s", made_s)
    report.add("stt_model", args.stt_model)
    failed = False
    with DagsterInstance.get() as instance:
        store = ArtifactStore(base_url=os.environ["DUBBING_ARTIFACTS"])
        project, _ = create_project(
            store,
            InstanceRunStore(instance),
            Project(
                video_uri=str(video),
                source_language="en",
                target_language="es",
                premium=True,
                driven_by="caller",
            ),
        )
        wanted = [Stage.parse(s) for s in args.stages.split(",") if s.strip()] or list(Stage)
        for stage in (s for s in Stage if s in wanted):
            peak = _measure(stage, project.id, root)
            _print_stage(stage, peak)
            name = stage.value.lower()
            for key in ("python_peak_mb", "tools_peak_mb", "tree_peak_mb", "wall_s", "stage_s"):
                target = f"<= {TARGET_MB}" if key == "tree_peak_mb" else None
                report.add(f"{name}_{key}", round(getattr(peak, key), 1), target)
            for key, value in (peak.figures or {}).items():
                report.add(f"{name}_{key}", value)
            if peak.failure:
                report.add(f"{name}_failure", peak.failure)
                failed = True
                break
            if stage.needs_review:
                approvals.approve(
                    store, InstanceRunStore(instance), project.id, stage, reviewer="bench"
                )
    report.emit(args.json)
    return 1 if failed else 0


def _measure(stage: Stage, project_id: str, root: Path) -> StagePeak:
    """Run one stage process and poll its process tree's RSS until it exits."""
    result = root / f"{stage.value}.json"
    command = [sys.executable, "-m", "bench.memory", "--stage", stage.value]
    command += ["--project", project_id, "--result", str(result)]
    tree_peak = tool_peak = 0
    started = time.perf_counter()
    with (root / f"{stage.value}.log").open("w") as log:
        process = psutil.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        while process.poll() is None:
            tree, tool = _tree_rss(process)
            tree_peak, tool_peak = max(tree_peak, tree), max(tool_peak, tool)
            time.sleep(POLL_S)
    wall_s = time.perf_counter() - started
    if not result.exists():
        tail = (root / f"{stage.value}.log").read_text()[-2000:]
        return StagePeak(0.0, 0.0, wall_s=wall_s, failure=f"exit {process.returncode}: {tail}")
    peak = StagePeak(**json.loads(result.read_text()))
    peak.tools_peak_mb = tool_peak / 2**20
    peak.tree_peak_mb = max(tree_peak / 2**20, peak.python_peak_mb)
    peak.wall_s = wall_s
    return peak


def _tree_rss(process: psutil.Process) -> tuple[int, int]:
    """(summed RSS of a process and its descendants, the largest descendant's own high-water
    mark) in bytes; processes that exit while being read count as zero."""
    total = tool_peak = 0
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.Error:
        return 0, 0
    for member in members:
        try:
            total += member.memory_info().rss
            # A child caught between fork and exec still shows its parent's memory: skip it.
            if member is not process and member.cmdline() != process.cmdline():
                tool_peak = max(tool_peak, _high_water(member.pid))
        except (psutil.Error, OSError):
            pass
    return total, tool_peak


def _high_water(pid: int) -> int:
    """``VmHWM`` of /proc/PID/status in bytes: the process's peak RSS since its exec."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _worker(stage: Stage, project_id: str, result: Path) -> int:
    """One stage, the way a launched run does it: a fresh process, engines loaded in it."""
    from dagster import DagsterInstance

    from dubbing_pipeline.cli.main import QUIET
    from dubbing_pipeline.cli.runner import materialize_stage, stage_failure
    from dubbing_pipeline.defs.resources import default_resources
    from dubbing_pipeline.operations.projects import load_project

    resources = default_resources()
    project = load_project(resources["store"], project_id)
    with DagsterInstance.get() as instance:
        started = time.perf_counter()
        outcome = materialize_stage(
            project, stage, instance=instance, resources=resources, run_config=QUIET
        )
        stage_s = time.perf_counter() - started
    failure = stage_failure(outcome)
    events = outcome.asset_materializations_for_node(stage.asset_name)
    meta = {k: v.value for k, v in events[0].metadata.items()} if events else {}
    wanted = (
        "segments",
        "engine_seconds",
        "clips_synthesized",
        "duration_s",
        "stt_model",
        "speakers",
        "diarization_seconds",
    )
    peak = StagePeak(
        stage_s=stage_s,
        python_peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # KiB
        failure=f"{failure[0]}: {failure[1]}" if failure else None,
        figures={k: meta[k] for k in wanted if k in meta},
    )
    result.write_text(json.dumps(asdict(peak)))
    return 0


def _print_stage(stage: Stage, peak: StagePeak) -> None:
    print(
        f"{stage.value:>8}: tree peak {peak.tree_peak_mb:7.1f} MB (python "
        f"{peak.python_peak_mb:7.1f}, largest tool {peak.tools_peak_mb:6.1f}), "
        f"wall {peak.wall_s:7.1f} s (stage {peak.stage_s:7.1f} s)"
        + (f"  FAILED {peak.failure}" if peak.failure else ""),
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
