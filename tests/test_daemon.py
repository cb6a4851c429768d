"""A project moves through its stages on a real dagster-daemon: sensors start STT, wait for each
review, start the next stage exactly once per approval, and chain TTS -> MUXING -> LIP_SYNC."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from dubbing_pipeline import review
from dubbing_pipeline.projects import Project, create_project
from dubbing_pipeline.stages import Stage
from dubbing_pipeline.storage import ArtifactStore

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[1]
DONE = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}


@pytest.fixture
def daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DagsterInstance]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DUBBING_ARTIFACTS", str(tmp_path / "artifacts"))
    monkeypatch.setenv("DUBBING_STT_MODEL", "tiny.en")
    log = (tmp_path / "daemon.log").open("w")
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "dagster-daemon"),
            "run",
            "-w",
            str(ROOT / "workspace.yaml"),
        ],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        with DagsterInstance.get() as instance:
            yield instance
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def _stage_runs(instance: DagsterInstance, project_id: str, stage: Stage) -> list:
    tags = {"dubbing/project": project_id, "dubbing/stage": stage.value}
    return instance.get_runs(RunsFilter(tags=tags))


def _wait_success(instance: DagsterInstance, project_id: str, stage: Stage, timeout: float = 240):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = _stage_runs(instance, project_id, stage)
        if runs and runs[0].status in DONE:
            failed = f"{stage} run {runs[0].run_id} failed"
            assert runs[0].status == DagsterRunStatus.SUCCESS, failed
            return runs[0]
        time.sleep(1)
    raise AssertionError(f"{stage} of {project_id} did not finish in {timeout} s")


def test_project_moves_through_review_gates_and_progression(
    daemon: DagsterInstance, sample_video: Path
) -> None:
    store = ArtifactStore(base_url=os.environ["DUBBING_ARTIFACTS"])
    project = create_project(
        daemon,
        store,
        Project(
            video_uri=str(sample_video),
            source_language="en",
            target_language="es",
            premium=True,
            user_id="alice",
        ),
    )
    _wait_success(daemon, project.id, Stage.STT)
    time.sleep(6)  # a few sensor ticks: nothing may start before the review
    assert _stage_runs(daemon, project.id, Stage.MT) == []

    review.record(daemon, review.approve(store, project.id, Stage.STT, reviewer="alice"))
    _wait_success(daemon, project.id, Stage.MT)
    time.sleep(6)
    assert _stage_runs(daemon, project.id, Stage.TTS) == []

    edit = "Gracias por mirar este vídeo."
    last = review.load_segments(store, project.id, Stage.MT).segments[-1].id
    review.record(
        daemon, review.approve(store, project.id, Stage.MT, reviewer="alice", edits={last: edit})
    )
    for stage in (Stage.TTS, Stage.MUXING, Stage.LIP_SYNC):
        run = _wait_success(daemon, project.id, stage)
        assert run.tags["dubbing/user"] == "alice" and run.tags["dubbing/tier"] == "premium"

    time.sleep(6)  # no duplicate launches from later ticks
    for stage in Stage:
        assert len(_stage_runs(daemon, project.id, stage)) == 1, stage
    clips = store.uri("projects", project.id, "speech", "clips")
    assert len(list(Path(clips).glob("*.wav"))) == len(
        review.approved_segments(store, project.id, Stage.MT).segments
    )
    assert edit in [s.text for s in review.approved_segments(store, project.id, Stage.MT).segments]
