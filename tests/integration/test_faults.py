"""The fault suite's short version (the full one is ``python -m bench.faults``): the real stack
with a Redis of its own (append-only), faults injected while projects run. Nothing lost, nothing
twice: every event Dagster recorded reaches the stream once, in order; each stage runs once."""

from __future__ import annotations

import json
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterRunStatus, RunsFilter
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.tags import Tag
from tests.support.faults import (
    Project,
    RedisServer,
    delivered,
    expected_events,
    kill_first_run_worker,
    order_problems,
    redis_server,
    runs_per_stage,
    stack_instance,
    summary,
)
from tests.support.stack import Stack, running_stack, token, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def faulty(
    tmp_path_factory: pytest.TempPathFactory, sample_video: Path
) -> Iterator[tuple[Stack, RedisServer]]:
    root = tmp_path_factory.mktemp("faults")
    with redis_server(root) as server, running_stack(root, DUBBING_REDIS_URL=server.url) as stack:
        for user in ("alice", "bob"):
            uploads = root / "artifacts" / "uploads" / user
            uploads.mkdir(parents=True)
            shutil.copy(sample_video, uploads / "sample.mp4")
        yield stack, server


class Tap:
    """A WebSocket client keeping what it is sent and how it was closed."""

    def __init__(self, stack: Stack, user: str, last_id: str | None = None) -> None:
        query = f"token={token(user)}" + (f"&lastEventId={last_id}" if last_id else "")
        self.ws = connect(f"ws://127.0.0.1:{stack.api_ports[0]}/ws?{query}")
        self.events: list[dict[str, Any]] = []
        self.closed: tuple[int, str] | None = None
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for message in self.ws:
                self.events.append(json.loads(message))
        except ConnectionClosed as exc:
            self.closed = (exc.rcvd.code, exc.rcvd.reason) if exc.rcvd else (1006, "")
            return
        self.closed = (1000, "")


def test_redis_down_during_a_project_loses_no_event_and_approving_twice_runs_once(
    faulty: tuple[Stack, RedisServer],
) -> None:
    stack, server = faulty
    alice = stack.client("alice")
    tap = Tap(stack, "alice")
    project = Project(stack, "alice", approvals=2).create()

    def stt_active() -> dict | None:
        job = alice.get(f"/api/jobs/project/{project.id}/current").json()
        return job if job["status"] in ("active", "completed") else None

    wait_until(stt_active, 120, "STT to start")
    server.stop()
    job = alice.get(f"/api/jobs/project/{project.id}/current")  # Redis down: still a 200
    assert job.status_code == 200, job.text
    assert job.json()["progress"] is None or job.json()["status"] == "completed"
    code, reason = wait_until(lambda: tap.closed, 30, "the WebSocket to close")
    assert code == 1011, reason
    project.wait_for(Stage.STT)  # the run goes on without Redis
    project.approve(Stage.STT)  # twice at once, while Redis is down
    server.start()
    resume = re.search(r"lastEventId=(\S+)", reason)
    resumed = Tap(stack, "alice", resume[1] if resume else "0")
    project.wait_for(Stage.MT)
    project.approve(Stage.MT)
    project.wait_for(Stage.MUXING)
    assert set(project.answers) == {200}, project.answers

    with stack_instance(stack) as instance:
        assert runs_per_stage(instance, project.id) == {"STT": 1, "MT": 1, "TTS": 1, "MUXING": 1}
        expected = expected_events(instance, project.id)
    wait_until(
        lambda: summary(delivered(server.url, project.id)) == expected, 60, "every event relayed"
    )
    stream = delivered(server.url, project.id)
    assert order_problems(stream) == []
    assert stream[-1].type == "project_completed"
    wait_until(lambda: any(e["id"] == stream[-1].id for e in resumed.events), 30, "the resume")
    over_ws = [e["id"] for e in tap.events + resumed.events if e["projectId"] == project.id]
    assert over_ws == [e.id for e in stream]  # once each, in order, across the outage


def test_a_killed_run_worker_ends_its_job_and_dagster_retries_it(
    faulty: tuple[Stack, RedisServer],
) -> None:
    stack, server = faulty
    project = Project(stack, "bob").create()
    with stack_instance(stack) as instance:
        runs = RunsFilter(tags={Tag.PROJECT: project.id})
        first = kill_first_run_worker(instance, project.id)
        project.wait_for(Stage.STT, timeout=300)
        retry = next(r for r in instance.get_runs(runs) if r.run_id != first.run_id)
        assert retry.tags[Tag.PARENT_RUN_ID] == first.run_id
        assert instance.get_run_by_id(first.run_id).status == DagsterRunStatus.FAILURE
        expected = expected_events(instance, project.id)
    wait_until(
        lambda: summary(delivered(server.url, project.id)) == expected, 60, "every event relayed"
    )
    stream = delivered(server.url, project.id)
    assert order_problems(stream) == []
    killed = [e for e in stream if e.jobId == first.run_id]
    assert (killed[-1].type, killed[-1].status) == ("job_failed", "retrying")
    again = [e.type for e in stream if e.jobId == retry.run_id]
    assert again[0] == "job_created" and again[-2:] == ["job_completed", "stage_ready_for_review"]
    assert stack.client("bob").get("/api/queue/dead-letter/jobs").json()["jobs"] == []
