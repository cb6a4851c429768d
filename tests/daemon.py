"""A real dagster-daemon on a temp DAGSTER_HOME, the repo's dagster.yaml and workspace.yaml, with
events on a private Redis database; and waiting helpers for tests that drive it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import redis
from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter

from dubbing_pipeline.events import EventPublisher
from dubbing_pipeline.manager import JobManager
from dubbing_pipeline.stages import Stage
from dubbing_pipeline.storage import ArtifactStore

ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = "redis://127.0.0.1:6379/15"  # a database of its own, flushed per test
DONE = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
T = TypeVar("T")


@dataclass
class Daemon:
    instance: DagsterInstance
    store: ArtifactStore
    events: EventPublisher
    manager: JobManager
    log: Path

    def stage_runs(self, project_id: str, stage: Stage) -> list[DagsterRun]:
        tags = {"dubbing/project": project_id, "dubbing/stage": stage.value}
        return self.instance.get_runs(RunsFilter(tags=tags))

    def wait_for_run(
        self, project_id: str, stage: Stage, status=DagsterRunStatus.SUCCESS, timeout: float = 240
    ) -> DagsterRun:
        def done() -> DagsterRun | None:
            runs = self.stage_runs(project_id, stage)
            if runs and runs[0].status in DONE:
                assert runs[0].status == status, f"{stage} run {runs[0].run_id}: {runs[0].status}"
                return runs[0]
            return None

        return wait_until(done, timeout, f"{stage} of {project_id} to finish")


def wait_until(probe: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"waited {timeout} s for {what}")


@contextmanager
def running_daemon(tmp_path: Path) -> Iterator[Daemon]:
    """Set DAGSTER_HOME etc. in os.environ first (the caller's monkeypatch undoes it)."""
    home = Path(os.environ["DAGSTER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    redis.Redis.from_url(REDIS_URL).flushdb()
    log_path = tmp_path / "daemon.log"
    with log_path.open("w") as log:
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
                store = ArtifactStore(base_url=os.environ["DUBBING_ARTIFACTS"])
                events = EventPublisher(redis_url=REDIS_URL)
                yield Daemon(instance, store, events, JobManager(instance, store, events), log_path)
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
