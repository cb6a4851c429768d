"""Warm run workers (``WarmRunLauncher``, profiles/warm) keep Dagster's promises about runs:
run monitoring fails a killed worker's run and run retries retry it; GraphQL terminateRun cancels
a run and the worker serves the next; runs in flight survive a daemon restart; changed code
starts fresh workers that run it; models stay loaded between runs.

A tiny code location (one op that logs its code version and sleeps as told) keeps these fast;
the last test runs the real STT stage twice. On SQLite, and on Postgres with
DUBBING_TEST_STORAGE=postgres."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter

from dubbing_pipeline.defs.warm.launcher import WarmRunLauncher
from dubbing_pipeline.defs.warm.protocol import ServerUnavailable, call, stop_server
from dubbing_pipeline.domain.projects import Project
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.tags import Tag
from tests.support.daemon import REDIS_URL, running_daemon
from tests.support.stack import BIN, free_port, process, wait_http, wait_until
from tests.support.storage import prepare_home

pytestmark = pytest.mark.integration

TINY = """
import os, time
from pathlib import Path
from dagster import Definitions, in_process_executor, job, op

VERSION = "{version}"


@op
def work(context):
    context.log.info(f"code {{VERSION}} in pid {{os.getpid()}}")
    told = Path(__file__).with_name("sleep_s")
    end = time.time() + (float(told.read_text()) if told.exists() else 0)
    while time.time() < end:
        time.sleep(0.1)


@job(executor_def=in_process_executor)
def tiny():
    work()


defs = Definitions(jobs=[tiny])
"""
DONE = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}


@dataclass
class Tiny:
    root: Path
    home: Path
    env: dict[str, str]
    instance: DagsterInstance
    daemon: ExitStack = field(default_factory=ExitStack)
    launched: int = 0

    @property
    def workspace(self) -> Path:
        return self.root / "workspace.yaml"

    def write_code(self, version: str) -> None:
        path = self.root / "tiny.py"
        path.write_text(TINY.format(version=version))
        later = time.time() + self.launched  # a new mtime even within the same second
        os.utime(path, (later, later))

    def sleep(self, seconds: float) -> None:
        (self.root / "sleep_s").write_text(str(seconds))

    def start_daemon(self) -> None:
        args = [str(BIN / "dagster-daemon"), "run", "-w", str(self.workspace)]
        log = self.root / f"daemon-{time.monotonic_ns()}.log"
        self.daemon.enter_context(process(args, log, self.env))

    def stop_daemon(self) -> None:
        self.daemon.close()

    def launch(self) -> DagsterRun:
        """Submit a run of ``tiny`` as the CLI does (through the run queue to the daemon)."""
        self.launched += 1
        mark = {"test/launch": str(self.launched)}
        command = [str(BIN / "dagster"), "job", "launch", "-w", str(self.workspace)]
        subprocess.run(
            [*command, "-j", "tiny", "--tags", json.dumps(mark)],
            cwd=self.root,
            env=self.env,
            check=True,
            capture_output=True,
        )
        return self.instance.get_runs(RunsFilter(tags=mark))[0]

    def run(self, run_id: str) -> DagsterRun:
        run = self.instance.get_run_by_id(run_id)
        assert run is not None
        return run

    def wait(self, run_id: str, status: DagsterRunStatus, timeout: float = 300) -> DagsterRun:
        run = wait_until(
            lambda: (r := self.run(run_id)).status in DONE and r, timeout, f"run {run_id}"
        )
        assert run.status == status, (run.run_id, run.status, self.messages(run_id)[-5:])
        return run

    def messages(self, run_id: str) -> list[str]:
        return [e.message for e in self.instance.all_logs(run_id)]

    def worker_of(self, run_id: str) -> int:
        """The worker's pid, once the op has started in it."""

        def started() -> int | None:
            run = self.run(run_id)
            logged = any(m.startswith("code ") for m in self.messages(run_id))
            return (
                int(run.tags[Tag.WARM_WORKER]) if logged and Tag.WARM_WORKER in run.tags else None
            )

        return wait_until(started, 90, f"run {run_id} to start its op")

    def workers(self) -> list[dict]:
        return call(self.home, {"op": "status"})["workers"]


@pytest.fixture
def tiny(tmp_path: Path) -> Iterator[Tiny]:
    root, home = tmp_path / "code", tmp_path / "dagster_home"
    root.mkdir()
    (root / "workspace.yaml").write_text(
        "load_from:\n  - python_file:\n      relative_path: tiny.py\n      working_directory: .\n"
    )
    env = os.environ | prepare_home(home, launcher="warm") | {"DAGSTER_HOME": str(home)}
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        with DagsterInstance.get() as instance:
            setup = Tiny(root, home, env, instance)
            setup.write_code("v1")
            setup.start_daemon()
            try:
                yield setup
            finally:
                setup.stop_daemon()
                stop_server(home)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_start_workers_has_them_ready_before_the_first_run(tiny: Tiny) -> None:
    """A fresh daemon uses its launcher only with its first run; ``start_workers`` (what a
    benchmark calls before its clock) brings the server and its workers up at once."""
    with pytest.raises(ServerUnavailable):
        call(tiny.home, {"op": "status"}, timeout=2)
    launcher = tiny.instance.run_launcher
    assert isinstance(launcher, WarmRunLauncher)
    launcher.start_workers()
    workers = wait_until(
        lambda: (w := tiny.workers()) and all(x["ready"] for x in w) and w, 120, "workers"
    )
    assert len(workers) == launcher.workers
    tiny.wait(tiny.launch().run_id, DagsterRunStatus.SUCCESS)


def test_runs_reuse_a_warm_worker_and_changed_code_gets_fresh_ones(tiny: Tiny) -> None:
    first = tiny.wait(tiny.launch().run_id, DagsterRunStatus.SUCCESS)
    second = tiny.wait(tiny.launch().run_id, DagsterRunStatus.SUCCESS)
    pid = int(first.tags[Tag.WARM_WORKER])
    assert int(second.tags[Tag.WARM_WORKER]) == pid  # the same warm process, its second run
    assert f"code v1 in pid {pid}" in tiny.messages(second.run_id)
    assert any("its run number 2" in m for m in tiny.messages(second.run_id))

    tiny.write_code("v2")  # what a reload under `dagster dev` picks up
    third = tiny.wait(tiny.launch().run_id, DagsterRunStatus.SUCCESS)
    fresh = int(third.tags[Tag.WARM_WORKER])
    assert fresh != pid and f"code v2 in pid {fresh}" in tiny.messages(third.run_id)
    wait_until(lambda: pid not in [w["pid"] for w in tiny.workers()], 30, "the old worker to go")


def test_a_killed_worker_fails_its_run_which_dagster_retries(tiny: Tiny) -> None:
    tiny.sleep(60)
    killed = tiny.launch()
    pid = tiny.worker_of(killed.run_id)
    tiny.sleep(0)
    os.kill(pid, signal.SIGKILL)

    failed = tiny.wait(killed.run_id, DagsterRunStatus.FAILURE, timeout=90)
    assert any("warm run worker" in m and "SIGKILL" in m for m in tiny.messages(failed.run_id))

    def retry() -> DagsterRun | None:
        runs = tiny.instance.get_runs(RunsFilter(tags={Tag.PARENT_RUN_ID: killed.run_id}))
        return runs[0] if runs else None

    retried = wait_until(retry, 90, "Dagster's retry of the failed run")
    tiny.wait(retried.run_id, DagsterRunStatus.SUCCESS)
    assert int(tiny.run(retried.run_id).tags[Tag.WARM_WORKER]) != pid
    assert pid not in [w["pid"] for w in tiny.workers()] and len(tiny.workers()) >= 2


def test_terminate_through_graphql_cancels_the_run_and_the_worker_goes_on(tiny: Tiny) -> None:
    port = free_port()
    args = [str(BIN / "dagster-webserver"), "-w", str(tiny.workspace), "-p", str(port)]
    with process(args, tiny.root / "webserver.log", tiny.env):
        wait_http(f"http://127.0.0.1:{port}/server_info")
        tiny.sleep(60)
        run = tiny.launch()
        pid = tiny.worker_of(run.run_id)
        mutation = (
            "mutation($id: String!) { terminateRun(runId: $id) { __typename "
            "... on PythonError { message } } }"
        )
        answer = httpx.post(
            f"http://127.0.0.1:{port}/graphql",
            json={"query": mutation, "variables": {"id": run.run_id}},
            timeout=60,
        ).json()
        assert answer["data"]["terminateRun"]["__typename"] == "TerminateRunSuccess", answer
        tiny.wait(run.run_id, DagsterRunStatus.CANCELED, timeout=60)

    tiny.sleep(0)
    after = tiny.wait(tiny.launch().run_id, DagsterRunStatus.SUCCESS)
    assert pid in [w["pid"] for w in tiny.workers()]  # interrupted, not killed
    assert f"code v1 in pid {int(after.tags[Tag.WARM_WORKER])}" in tiny.messages(after.run_id)


def test_a_run_in_flight_survives_a_daemon_restart(tiny: Tiny) -> None:
    tiny.sleep(12)
    run = tiny.launch()
    pid = tiny.worker_of(run.run_id)
    tiny.stop_daemon()
    time.sleep(2)
    tiny.start_daemon()
    tiny.sleep(0)
    done = tiny.wait(run.run_id, DagsterRunStatus.SUCCESS)
    assert int(done.tags[Tag.WARM_WORKER]) == pid
    assert tiny.instance.get_runs(RunsFilter(tags={Tag.PARENT_RUN_ID: run.run_id})) == []
    later = tiny.wait(tiny.launch().run_id, DagsterRunStatus.SUCCESS)  # the new daemon launches
    assert int(later.tags[Tag.WARM_WORKER]) in [w["pid"] for w in tiny.workers()]


def test_whisper_stays_loaded_between_stt_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sample_video: Path
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.setenv("DUBBING_ARTIFACTS", str(tmp_path / "artifacts"))
    monkeypatch.setenv("DUBBING_STT_MODEL", "tiny.en")
    monkeypatch.setenv("DUBBING_REDIS_URL", REDIS_URL)
    with running_daemon(tmp_path, launcher="warm") as daemon:
        start: Callable = daemon.manager.start_stt_stage
        runs = []
        for _ in range(2):
            project = start(
                Project(
                    user_id="erin",
                    video_uri=str(sample_video),
                    source_language="en",
                    target_language="es",
                )
            )
            runs.append(daemon.wait_for_run(project.id, Stage.STT))
        first, second = (daemon.instance.all_logs(r.run_id) for r in runs)
        taken = [e for e in second if e.message.startswith("Warm run worker")]
        assert taken and "whisper:" in taken[0].message, [e.message for e in second]
        meta = taken[0].dagster_event.engine_event_data.metadata  # what the UI shows
        assert meta["models_mb"].value > 0 and meta["model_budget_mb"].value == 2048
        assert runs[0].tags[Tag.WARM_WORKER] == runs[1].tags[Tag.WARM_WORKER]
        assert first  # both runs logged to the instance as any run does
