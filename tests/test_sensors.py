"""Sensor and hand-off logic on a real instance, without the daemon: who gets a run, with which
key."""

from __future__ import annotations

import logging

from dagster import DagsterInstance, RunRequest, build_sensor_context

from dubbing_pipeline.defs.handoff import approval_request
from dubbing_pipeline.defs.sensors import new_project_sensor
from dubbing_pipeline.domain.projects import PARTITIONS
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.infra.storage import ArtifactStore
from dubbing_pipeline.operations import reviews
from tests.test_segments_review import make_doc, write_segments


def _tick(instance: DagsterInstance, store: ArtifactStore, cursor: str | None = None):
    context = build_sensor_context(instance=instance, cursor=cursor, resources={"store": store})
    requests = [r for r in new_project_sensor(context) if isinstance(r, RunRequest)]
    return requests, context.cursor


def test_new_projects_get_one_stt_run_and_caller_driven_ones_none(
    instance: DagsterInstance, store: ArtifactStore, new_project
) -> None:
    ours = new_project(user_id="alice")
    new_project(driven_by="caller")
    instance.add_dynamic_partitions(PARTITIONS, ["broken-manifest"])  # no manifest at all

    requests, cursor = _tick(instance, store)
    assert [(r.partition_key, r.job_name) for r in requests] == [(ours.id, "transcript_job")]
    assert requests[0].run_key == f"created:STT:{ours.id}"
    assert requests[0].tags["dubbing/user"] == "alice"
    assert requests[0].tags["dubbing/stage"] == "STT"

    later = new_project()
    requests, _ = _tick(instance, store, cursor)
    assert [r.partition_key for r in requests] == [later.id]  # nothing twice, nothing blocked


def test_only_the_current_approval_starts_the_next_stage(store: ArtifactStore, new_project) -> None:
    project = new_project()
    write_segments(store, make_doc(), Stage.STT, project.id)
    log = logging.getLogger("test")

    first = reviews.approve(store, project.id, Stage.STT, reviewer="alice")
    request = approval_request(log, store, project.id, Stage.STT, first.id)
    assert request is not None and request.job_name == Stage.MT.job_name
    assert request.run_key == f"approved-{first.id}:MT:{project.id}"  # once per approval

    reviews.reject(store, project.id, Stage.STT, reviewer="bob", reason="the names are wrong")
    assert approval_request(log, store, project.id, Stage.STT, first.id) is None
    second = reviews.approve(store, project.id, Stage.STT, reviewer="bob")
    assert approval_request(log, store, project.id, Stage.STT, first.id) is None  # superseded
    assert approval_request(log, store, project.id, Stage.STT, second.id) is not None
    assert approval_request(log, store, project.id, Stage.TTS, second.id) is None  # no gate
