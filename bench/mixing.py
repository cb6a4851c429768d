"""What the mix costs the MUXING stage: the same project muxed as before the mix (the dub alone, no
loudness, no original track) and on the defaults (ducked background, loudness, original track),
alternately, in this process.

``python -m bench.mixing [--minutes 10] [--repeat 3] [--json out.json]``

STT, MT and TTS run once (reviews approved as a reviewer would); then MUXING ``--repeat`` times
in each configuration. Per configuration: wall seconds of the stage, and CPU seconds (this
process plus the ffmpeg processes it ran: ``getrusage``), which a busy machine disturbs far less
than wall time. The issue's target: the mix adds at most 10 % to the stage.
"""

from __future__ import annotations

import os
import resource
import statistics
import tempfile
import time
from pathlib import Path
from unittest import mock

from bench.common import Report, arguments
from bench.media import long_video
from dubbing_pipeline.domain.stages import Stage

BEFORE = {  # what MUXING did before the mix
    "DUBBING_BACKGROUND": "none",
    "DUBBING_MIX_LOUDNESS_LUFS": "off",
    "DUBBING_MIX_ORIGINAL_TRACK": "false",
}
CONFIGURATIONS = {"before": BEFORE, "mixed": {}}


def main() -> None:
    parser = arguments(__doc__ or "")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--stt-model", default="tiny.en")
    args = parser.parse_args()
    video = long_video(args.minutes)
    with tempfile.TemporaryDirectory(prefix="bench-mixing-") as tmp:
        figures = _bench(Path(tmp), video, args)
    report = Report(f"mixing in MUXING, {args.minutes:g} min clip")
    for name, runs in figures.items():
        for key in ("wall_s", "cpu_s"):
            report.add(f"{name}.{key}", statistics.median(r[key] for r in runs))
    for key in ("wall_s", "cpu_s"):
        before = statistics.median(r[key] for r in figures["before"])
        mixed = statistics.median(r[key] for r in figures["mixed"])
        report.add(f"added_{key}", f"{100 * (mixed / before - 1):.0f} %", "<= 10 %")
    report.add("mixed.loudness_lufs", figures["mixed"][-1]["loudness_lufs"])
    report.emit(args.json)


def _bench(root: Path, video: Path, args) -> dict[str, list[dict]]:
    from dagster import DagsterInstance

    from dubbing_pipeline.cli.main import QUIET
    from dubbing_pipeline.cli.runner import materialize_stage, stage_failure
    from dubbing_pipeline.defs.resources import default_resources
    from dubbing_pipeline.domain.projects import Project
    from dubbing_pipeline.operations import approvals
    from dubbing_pipeline.operations.instance_store import InstanceRunStore
    from dubbing_pipeline.operations.projects import create_project

    (root / "home").mkdir()
    (root / "home" / "dagster.yaml").touch()
    os.environ |= {
        "DAGSTER_HOME": str(root / "home"),
        "DUBBING_ARTIFACTS": str(root / "artifacts"),
        "DUBBING_STT_MODEL": args.stt_model,
        "DUBBING_REDIS_URL": "",
    }
    figures: dict[str, list[dict]] = {name: [] for name in CONFIGURATIONS}
    with DagsterInstance.get() as instance:
        resources = default_resources()
        store = resources["store"]
        project = Project(
            video_uri=str(video), source_language="en", target_language="es", driven_by="caller"
        )
        project, _ = create_project(store, InstanceRunStore(instance), project)

        def run(stage: Stage, resources: dict) -> dict:
            result = materialize_stage(
                project, stage, instance=instance, resources=resources, run_config=QUIET
            )
            if not result.success:
                raise SystemExit(f"{stage} failed: {stage_failure(result)}")
            (event,) = result.asset_materializations_for_node(stage.asset_name)
            return {k: v.value for k, v in event.metadata.items()}

        for stage in (Stage.STT, Stage.MT, Stage.TTS):
            run(stage, resources)
            if stage.needs_review:
                runs = InstanceRunStore(instance)
                approvals.approve(store, runs, project.id, stage, reviewer="bench")
        configured = {}
        for name, env in CONFIGURATIONS.items():
            with mock.patch.dict(os.environ, env):
                configured[name] = default_resources()
        for _ in range(args.repeat):
            for name in CONFIGURATIONS:
                cpu, wall = _cpu(), time.perf_counter()
                meta = run(Stage.MUXING, configured[name])
                took = {"wall_s": time.perf_counter() - wall, "cpu_s": _cpu() - cpu}
                figures[name].append(took | {"loudness_lufs": meta.get("loudness_lufs")})
                print(name, {k: round(v, 2) for k, v in took.items()}, flush=True)
    return figures


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (the ffmpeg runs)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


if __name__ == "__main__":
    main()
