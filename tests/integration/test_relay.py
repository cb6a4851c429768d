"""The event relay on a real instance (in-process runs) and a real Redis: Dagster's event log
copied to the stream once, in order, whichever relays run and however often Redis goes away;
a dead letter entry's attempts counted over the run's whole lineage."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from dagster import DagsterInstance

from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.tags import Tag
from dubbing_pipeline.infra.events import EventPublisher
from dubbing_pipeline.operations import dead_letter
from dubbing_pipeline.operations.relay import Relay
from tests.support.stack import TEST_REDIS, free_port

pytestmark = pytest.mark.integration
REDIS_URL = f"{TEST_REDIS}/10"  # this module's own database


@pytest.fixture
def publisher() -> EventPublisher:
    redis.Redis.from_url(REDIS_URL).flushdb()
    return EventPublisher(redis_url=REDIS_URL)


def test_the_event_log_reaches_the_stream_once_in_order(
    instance: DagsterInstance, publisher: EventPublisher, new_project, run_stage
) -> None:
    project = new_project(user_id="alice")
    job = run_stage(project, Stage.STT).run_id
    gone = EventPublisher(redis_url=f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.5)
    with pytest.raises(redis.RedisError):  # Redis away: nothing moves, nothing is lost
        Relay(instance, gone, settle_s=0).catch_up()

    first, second = Relay(instance, publisher, settle_s=0), Relay(instance, publisher, settle_s=0)
    assert first.catch_up() > 0
    assert second.catch_up() == 0  # a second relay finds everything relayed
    events = publisher.read()
    types = [e.type for e in events]
    assert types[0] == "job_started" and types[-2:] == ["job_completed", "stage_ready_for_review"]
    progress = [e.progress for e in events if e.type == "job_progress"]
    assert progress == sorted(progress) and progress[-1] == 100
    assert {(e.jobId, e.userId, e.projectId) for e in events} == {(job, "alice", project.id)}
    sources = [tuple(map(int, (e.sourceId or "").split("."))) for e in events]
    assert sources == sorted(set(sources))  # each once, in log order

    # A relay that read before another moved the cursor adds nothing (all or nothing).
    assert not publisher.append(events[:1], expected=None, relayed=1)
    assert len(publisher.read()) == len(events)

    run_stage(project, Stage.STT)  # more happens; the relay goes on from its cursor
    assert first.catch_up() > 0
    again = publisher.read(after=events[-1].id or "0")
    assert [e.type for e in again][-2:] == ["job_completed", "stage_ready_for_review"]
    assert not {e.sourceId for e in again} & {e.sourceId for e in events}


def test_a_dead_letter_entry_counts_every_attempt_of_its_lineage(
    tmp_path: Path, instance: DagsterInstance, publisher: EventPublisher, new_project, run_stage
) -> None:
    project = new_project(video_uri=str(tmp_path / "missing.mp4"))
    first = run_stage(project, Stage.STT).run_id
    lineage = {Tag.PARENT_RUN_ID: first, Tag.ROOT_RUN_ID: first}
    second = run_stage(project, Stage.STT, tags=lineage).run_id
    classified = dead_letter.classify_failed_run(instance, instance.get_run_by_id(second))
    assert classified is not None
    tags, reported_by_stage = classified
    assert (tags[dead_letter.ATTEMPTS], tags[dead_letter.ERROR_TYPE], reported_by_stage) == (
        "2",
        "VALIDATION",
        True,
    )

    Relay(instance, publisher, settle_s=0).catch_up()
    failed = [e for e in publisher.read() if e.type == "job_failed"]
    assert [(e.jobId, e.status, e.error) for e in failed] == [
        (first, "failed", "VALIDATION"),
        (second, "failed", "VALIDATION"),
    ]
    assert failed[1].message and failed[1].message.endswith("(after 2 attempt(s))")
