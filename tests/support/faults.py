"""What the fault suite (tests/integration/test_faults.py, bench/faults.py) shares: a Redis server
of its own with append-only persistence (stopped, paused, restarted on its data), projects driven
through the HTTP API as a product would, and the check that the events Dagster recorded reached
the stream once each, in order."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis
from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    RunsFilter,
)

from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.tags import Tag
from dubbing_pipeline.infra.events import EVENTS_ASSET, STREAM, JobEvent, parse_description
from tests.support.stack import Stack, free_port, wait_until

REVIEWS = {Stage.STT: "transcript", Stage.MT: "translation"}
TERMINAL = {"job_completed", "job_failed"}


class RedisServer:
    """redis-server on a port of its own, every write in its append-only file, so a stop and a
    start (or a pause) is the outage a deployment would see, data kept."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "redis"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.child: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--dir", str(self.dir), "--appendonly", "yes", "--appendfsync", "always"]
        args += ["--save", ""]
        log = (self.dir / "redis.log").open("a")
        self.child = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        wait_until(self._answers, 30, "redis-server to answer")

    def _answers(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.url, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        """SIGTERM: Redis flushes its append-only file and exits."""
        if self.child is not None:
            self.child.send_signal(signal.SIGTERM)
            self.child.wait(timeout=30)
            self.child = None

    def pause(self) -> None:
        assert self.child is not None
        os.kill(self.child.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.child is not None
        os.kill(self.child.pid, signal.SIGCONT)


@contextmanager
def redis_server(root: Path) -> Iterator[RedisServer]:
    server = RedisServer(root)
    server.start()
    try:
        yield server
    finally:
        if server.child is not None:
            server.resume()
            server.stop()


@contextmanager
def stack_instance(stack: Stack) -> Iterator[DagsterInstance]:
    """The stack's Dagster instance, opened here (the tests look at what Dagster recorded)."""
    names = ["DAGSTER_HOME", *(k for k in stack.env if k.startswith("DAGSTER_PG_"))]
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update({name: stack.env[name] for name in names})
    try:
        with DagsterInstance.get() as instance:
            yield instance
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def post(
    client: httpx.Client,
    path: str,
    body: dict | None = None,
    key: str | None = None,
    retry_for: float = 0.0,
) -> httpx.Response:
    """POST, retried with the same Idempotency-Key on 503 or a timeout for ``retry_for`` s."""
    headers = {"Idempotency-Key": key or uuid.uuid4().hex}
    deadline = time.monotonic() + retry_for
    while True:
        try:
            answer = client.post(path, json=body, headers=headers)
            if answer.status_code != 503 or time.monotonic() > deadline:
                return answer
        except httpx.TimeoutException:
            if time.monotonic() > deadline:
                raise
        time.sleep(1)


@dataclass
class Project:
    """One project driven through the API: created, each review approved once it is ready."""

    stack: Stack
    user: str
    id: str = ""
    approvals: int = 1  # the same approval sent this many times at once
    retry_for: float = 0.0  # how long a 503 or a timed out approval is retried (same key)
    answers: list[int] = field(default_factory=list)

    def create(self) -> Project:
        body = {
            "videoUrl": f"uploads/{self.user}/sample.mp4",
            "sourceLanguage": "en",
            "targetLanguage": "es",
        }
        answer = post(self.stack.client(self.user), "/api/projects", body, retry_for=60)
        assert answer.status_code == 201, answer.text
        self.id = answer.json()["project"]["id"]
        return self

    def stages(self) -> dict[str, str]:
        try:
            answer = self.stack.client(self.user).get(f"/api/projects/{self.id}")
        except httpx.TransportError:
            return {}
        return answer.json().get("stages", {}) if answer.status_code == 200 else {}

    def wait_for(self, stage: Stage, timeout: float = 300) -> None:
        wait_until(lambda: self.stages().get(stage.value) == "completed", timeout, f"{stage}")

    def approve(self, stage: Stage) -> None:
        path = f"/api/projects/{self.id}/review/{REVIEWS[stage]}/approve"
        client = self.stack.client(self.user)

        def send() -> None:  # each click its own request: a double click, not a retry
            answer = post(client, path, {"edits": {}}, retry_for=self.retry_for)
            self.answers.append(answer.status_code)

        clicks = [threading.Thread(target=send) for _ in range(self.approvals)]
        for click in clicks:
            click.start()
        for click in clicks:
            click.join()

    def run_through(self, timeout: float = 300) -> None:
        for stage in REVIEWS:
            self.wait_for(stage, timeout)
            self.approve(stage)
        self.wait_for(Stage.MUXING, timeout)


def kill_first_run_worker(instance: DagsterInstance, project_id: str) -> DagsterRun:
    """SIGKILL the process of the project's first run once it reports its pid; that run."""
    runs = RunsFilter(tags={Tag.PROJECT: project_id})
    first = wait_until(lambda: instance.get_runs(runs), 120, "the STT run")[0]

    def worker_pid() -> int | None:
        for record in instance.all_logs(first.run_id):
            if record.dagster_event and record.dagster_event.pid:
                return record.dagster_event.pid
        return None

    os.kill(wait_until(worker_pid, 120, "the run worker"), signal.SIGKILL)
    return first


def runs_per_stage(instance: DagsterInstance, project_id: str) -> Counter[str]:
    """Stage runs of a project that were not crashes Dagster retried (a retry is the same job
    once more, not a duplicate)."""
    runs = instance.get_runs(RunsFilter(tags={Tag.PROJECT: project_id}))
    return Counter(r.tags[Tag.STAGE] for r in runs if r.tags.get(Tag.WILL_RETRY) != "true")


def expected_events(instance: DagsterInstance, project_id: str) -> Counter[str]:
    """The events Dagster recorded for a project, counted by type, straight from its event log:
    the runs' job_events observations and each run's status changes."""
    counts: Counter[str] = Counter()
    records = instance.fetch_observations(
        AssetRecordsFilter(asset_key=AssetKey(EVENTS_ASSET), asset_partitions=[project_id]),
        limit=10_000,
    ).records
    for record in records:
        event = parse_description(
            record.asset_observation.description if record.asset_observation else None
        )
        if event is not None:
            counts[event.type] += 1
    for run in instance.get_runs(RunsFilter(tags={Tag.PROJECT: project_id})):
        stage = Stage(run.tags[Tag.STAGE])
        kinds = {r.dagster_event_type for r in instance.all_logs(run.run_id) if r.is_dagster_event}
        counts["job_created"] += DagsterEventType.RUN_ENQUEUED in kinds
        if DagsterEventType.RUN_SUCCESS in kinds:
            counts["job_completed"] += 1
            counts["stage_ready_for_review"] += stage.needs_review
            counts["project_completed"] += stage is Stage.MUXING
        counts["job_failed"] += bool(
            {DagsterEventType.RUN_FAILURE, DagsterEventType.RUN_CANCELED} & kinds
        )
    return counts


def delivered(redis_url: str, project_id: str) -> list[JobEvent]:
    """The project's events in the stream, in stream order."""
    client = redis.Redis.from_url(redis_url)
    return [
        JobEvent.model_validate_json(fields[b"event"]).model_copy(update={"id": sid.decode()})
        for sid, fields in client.xrange(STREAM)
        if JobEvent.model_validate_json(fields[b"event"]).projectId == project_id
    ]


def order_problems(events: list[JobEvent]) -> list[str]:
    """What is out of order or twice in a project's stream: sourceIds must rise; each job is
    created, started, progresses upwards, then ends once (its review/completion after that)."""
    problems: list[str] = []
    sources = [tuple(int(x) for x in (e.sourceId or "0.0").split(".")) for e in events]
    if len(set(sources)) != len(sources):
        problems.append("a sourceId delivered twice")
    if sources != sorted(sources):
        problems.append("sourceIds out of order")
    by_job: dict[str, list[JobEvent]] = {}
    for event in events:
        by_job.setdefault(event.jobId or "", []).append(event)
    for job, seen in by_job.items():
        types = [e.type for e in seen]
        if types[:1] != ["job_created"] or types.count("job_created") != 1:
            problems.append(f"{job}: does not start with one job_created: {types[:3]}")
        ends = [i for i, t in enumerate(types) if t in TERMINAL]
        if len(ends) != 1:
            problems.append(f"{job}: {len(ends)} terminal events")
            continue
        if any(t in ("job_started", "job_progress") for t in types[ends[0] :]):
            problems.append(f"{job}: work reported after its terminal event")
        progress: list[int] = []
        for event in seen:  # upwards within each attempt (an in-run retry starts again)
            if event.type == "job_started":
                progress = []
            elif event.type == "job_progress" and event.progress is not None:
                if progress and event.progress < progress[-1]:
                    problems.append(f"{job}: progress goes backwards")
                progress.append(event.progress)
    return problems


def summary(events: list[JobEvent]) -> Counter[str]:
    return Counter(e.type for e in events)
