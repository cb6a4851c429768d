"""A real dagster-daemon on a temp DAGSTER_HOME, the repo's dagster.yaml and workspace.yaml, with
events on a private Redis database; and waiting helpers for tests that drive it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import redis
from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter

from dubbing_pipeline.cli.runner import run_store
from dubbing_pipeline.defs.warm.protocol import stop_server
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.infra.events import EventPublisher
from dubbing_pipeline.infra.storage import ArtifactStore
from dubbing_pipeline.operations.manager import JobManager
from tests.support.stack import BIN, REDIS_URL, ROOT, process, wait_until
from tests.support.storage import prepare_home

DONE = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}


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
        self, project_id: str, stage: Stage, status=DagsterRunStatus.SUCCESS, timeout: float = 600
    ) -> DagsterRun:
        def done() -> DagsterRun | None:
            runs = self.stage_runs(project_id, stage)
            if runs and runs[0].status in DONE:
                assert runs[0].status == status, f"{stage} run {runs[0].run_id}: {runs[0].status}"
                return runs[0]
            return None

        return wait_until(done, timeout, f"{stage} of {project_id} to finish")


@contextmanager
def running_daemon(
    tmp_path: Path,
    profile: str = "postgres",
    launcher: str = "configured",
    restarting: bool = False,
) -> Iterator[Daemon]:
    """Set DAGSTER_HOME etc. in os.environ first (the caller's monkeypatch undoes it).
    ``restarting``: another daemon follows on the same home, so the warm run server stays (as in
    a deployment, it outlives the daemon and the runs in flight go on); the last one stops it."""
    storage_env = prepare_home(Path(os.environ["DAGSTER_HOME"]), profile, launcher)
    with _environment(storage_env):
        yield from _daemon(tmp_path, restarting)


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def _stopping_warm_runs(home: str) -> Iterator[None]:
    """The warm run server outlives the daemon (runs in flight go on): stop it after the test."""
    try:
        yield
    finally:
        stop_server(home)


def _daemon(tmp_path: Path, restarting: bool) -> Iterator[Daemon]:
    redis.Redis.from_url(REDIS_URL).flushdb()
    args = [str(BIN / "dagster-daemon"), "run", "-w", str(ROOT / "workspace.yaml")]
    log = tmp_path / "daemon.log"
    home = os.environ["DAGSTER_HOME"]
    with (
        nullcontext() if restarting else _stopping_warm_runs(home),
        process(args, log, os.environ.copy()),
        DagsterInstance.get() as instance,
    ):
        store = ArtifactStore(base_url=os.environ["DUBBING_ARTIFACTS"])
        events = EventPublisher(redis_url=REDIS_URL)
        yield Daemon(instance, store, events, JobManager(run_store(instance), store, events), log)
