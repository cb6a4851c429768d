"""Lip-sync through Dagster Pipes: the premium stage runs the external program in its own process;
its progress and metadata reach the event log, and its failures the right error class."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from dagster import AssetKey, AssetMaterialization, DagsterEventType, DagsterInstance

from dubbing_pipeline.cli.runner import stage_failure
from dubbing_pipeline.domain.artifacts import DUB_TRACK
from dubbing_pipeline.domain.projects import Project
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.engines.lipsync import PipesLipSync
from dubbing_pipeline.infra import media
from dubbing_pipeline.infra.storage import ArtifactStore
from tests.support.helpers import metadata

pytestmark = pytest.mark.integration


def ready_for_lipsync(
    instance: DagsterInstance, store: ArtifactStore, project: Project, video: Path, dub_s: float
) -> None:
    """What LIP_SYNC reads, made directly: muxed_video's materialisation (its video_uri) and a
    silent dub track of ``dub_s`` seconds."""
    dub = store.artifact_uri(project.id, Stage.TTS, DUB_TRACK)
    with store.writing(dub) as path:
        media.silence(path, round(dub_s * media.DUB_SAMPLE_RATE))
    instance.report_runless_asset_event(
        AssetMaterialization(
            Stage.MUXING.asset_name, partition=project.id, metadata={"video_uri": str(video)}
        )
    )


def test_premium_lipsync_runs_the_external_program_through_pipes(
    instance: DagsterInstance, store: ArtifactStore, new_project, run_stage, sample_video: Path
) -> None:
    project = new_project(premium=True)
    duration = media.probe(sample_video).duration
    ready_for_lipsync(instance, store, project, sample_video, duration + 2.0)

    result = run_stage(project, Stage.LIP_SYNC)
    assert result.success, stage_failure(result)

    figures = metadata(result, Stage.LIP_SYNC)  # reported by the external program
    assert figures["engine"] == "ffmpeg-retime" and figures["model"] == "none"
    assert figures["retime_factor"] == pytest.approx((duration + 2.0) / duration, abs=1e-3)
    assert "video retimed by" in figures["note"] and figures["launcher"] == "subprocess"
    assert figures["attempt"] == 1 and figures["engine_seconds"] > 0  # and ours beside them
    assert media.probe(Path(figures["video_uri"])).duration == pytest.approx(duration + 2, abs=0.1)

    logs = [entry.user_message for entry in instance.all_logs(result.run_id)]
    opened = logs.index("[pipes] external process successfully opened dagster pipes.")
    started = next(i for i, m in enumerate(logs) if m.startswith("ffmpeg-retime: video"))
    finished = next(i for i, m in enumerate(logs) if m.startswith("ffmpeg-retime: wrote"))
    progress = [i for i, m in enumerate(logs) if m.startswith("LIP_SYNC progress")]
    # Progress came from the program's messages while it ran (10 % once it had probed its
    # inputs, 100 % when ffmpeg reported the end), not after it exited.
    assert logs[progress[0]] == "LIP_SYNC progress 10%"
    assert opened < progress[0] < started < finished
    assert any(opened < i < finished and logs[i] == "LIP_SYNC progress 100%" for i in progress)


def test_the_runner_needs_nothing_of_dagster_but_dagster_pipes() -> None:
    """It must run in a lean environment of its own, beside a model's conflicting dependencies."""
    check = "import sys, dubbing_pipeline.external.retime_lipsync; print(sorted(sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, check=True
    ).stdout
    assert "'dagster_pipes'" in loaded and "'ffmpeg'" in loaded
    assert "'dagster'" not in loaded and "'pydantic'" not in loaded


PIPES_FAILURE = """
    import sys
    from dagster_pipes import open_dagster_pipes
    with open_dagster_pipes() as pipes:
        pipes.report_custom_message({"progress": 0.3})
        pipes.report_custom_message({"exit_code": CODE, "error": "REASON"})
    sys.exit(CODE)
"""


def pipes_failure(code: int, reason: str) -> list[str]:
    """A program that speaks Pipes, reports why it fails, and exits ``code``."""
    source = textwrap.dedent(PIPES_FAILURE).replace("CODE", str(code)).replace("REASON", reason)
    return [sys.executable, "-c", source]


DEAF_TO_TERM = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"


def bare_exit(code: int) -> list[str]:
    """A program that says nothing over Pipes and only exits ``code`` (a plain model wrapper)."""
    return [sys.executable, "-c", f"import sys; sys.exit({code})"]


@pytest.mark.parametrize(
    ("program", "error_type", "needle"),
    [
        ({"command": pipes_failure(2, "no face in the first frame")}, "VALIDATION", "no face"),
        ({"command": pipes_failure(75, "CUDA out of memory")}, "RESOURCE", "out of memory"),
        ({"command": bare_exit(75)}, "RESOURCE", "exited 75"),
        ({"command": bare_exit(1)}, "TRANSIENT", "exited 1"),
        ({"command": bare_exit(70)}, "PERMANENT", "exited 70"),
        (
            {"command": [sys.executable, "-c", "import time; time.sleep(30)"], "timeout_s": 1},
            "TIMEOUT",
            "overran its 1 s limit",
        ),
        (
            {"command": [sys.executable, "-c", DEAF_TO_TERM], "timeout_s": 1, "kill_grace_s": 2},
            "TIMEOUT",  # `timeout` KILLs it 2 s later: 137, yet not the OOM killer's 137
            "overran its 1 s limit",
        ),
        ({"command": bare_exit(137)}, "RESOURCE", "exited 137"),  # killed early: memory
        ({"command": ["/nonexistent/wav2lip"]}, "PERMANENT", "exited 127"),
        ({}, "VALIDATION", "not a media file"),  # the shipped runner, given a broken video
    ],
    ids=[
        "reported-2",
        "reported-75",
        "exit-75",
        "exit-1",
        "exit-70",
        "timeout",
        "timeout-killed",
        "killed",
        "missing",
        "bad",
    ],
)
def test_a_failing_external_program_maps_to_its_error_class(
    program: dict[str, Any],
    error_type: str,
    needle: str,
    instance: DagsterInstance,
    store: ArtifactStore,
    resources: dict[str, Any],
    new_project,
    run_stage,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DUBBING_RETRY_LIP_SYNC_ATTEMPTS", "2")
    monkeypatch.setenv("DUBBING_RETRY_LIP_SYNC_DELAY_S", "0.05")
    broken = tmp_path / "muxed.mp4"
    broken.write_text("this is not a video\n" * 50)
    project = new_project(premium=True)
    ready_for_lipsync(instance, store, project, broken, 5.0)
    resources["lipsync"] = PipesLipSync(**program)

    result = run_stage(project, Stage.LIP_SYNC)

    assert stage_failure(result)[0] == error_type, stage_failure(result)
    assert needle in stage_failure(result)[1]
    retried = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY]
    assert len(retried) == (error_type in ("RESOURCE", "TRANSIENT", "TIMEOUT"))
    assert project.id not in instance.get_materialized_partitions(
        AssetKey(Stage.LIP_SYNC.asset_name)
    )
