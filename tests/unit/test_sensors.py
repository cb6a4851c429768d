"""Sensor and progression logic on a real instance, without the daemon: who gets a run, with
which key, and what the sensors remember."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dagster import DagsterInstance, RunRequest, build_sensor_context

from dubbing_pipeline.defs.sensors import CREATOR_GRACE_S, new_project_sensor
from dubbing_pipeline.domain.projects import PARTITIONS
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.tags import Tag
from dubbing_pipeline.infra.storage import ArtifactStore
from dubbing_pipeline.operations import reviews
from dubbing_pipeline.operations.progression import approval_launch
from tests.unit.test_segments_review import make_doc, write_segments


def _tick(instance: DagsterInstance, store: ArtifactStore, cursor: str | None = None):
    context = build_sensor_context(instance=instance, cursor=cursor)
    requests = [r for r in new_project_sensor(context, store) if isinstance(r, RunRequest)]
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
    assert requests[0].tags[Tag.USER] == "alice"
    assert requests[0].tags[Tag.STAGE] == "STT"

    later = new_project()
    requests, _ = _tick(instance, store, cursor)
    assert [r.partition_key for r in requests] == [later.id]  # nothing twice, nothing blocked


def test_the_sensor_is_the_safety_net_of_a_creator_that_launched_stt(
    instance: DagsterInstance, store: ArtifactStore, new_project
) -> None:
    """A project the API created and launched STT for is left alone for a grace period; past it,
    the same run key starts STT (Dagster skips it if the API's launch went through)."""
    lost = new_project(
        stt_launched_by="creator",
        created_at=datetime.now(UTC) - timedelta(seconds=CREATOR_GRACE_S + 5),
    )
    fresh = new_project(stt_launched_by="creator")
    requests, cursor = _tick(instance, store)
    assert [(r.partition_key, r.run_key) for r in requests] == [(lost.id, f"created:STT:{lost.id}")]
    requests, _ = _tick(instance, store, cursor)
    assert requests == []  # the fresh one is still in its grace period, and not skipped:
    manifest = store.uri("projects", fresh.id, "project.json")
    old = fresh.model_copy(update={"created_at": datetime.now(UTC) - timedelta(hours=1)})
    store.write_text(manifest, old.model_dump_json())
    requests, _ = _tick(instance, store, cursor)
    assert [r.partition_key for r in requests] == [fresh.id]


def test_the_cursor_stays_small_however_many_projects(
    instance: DagsterInstance, store: ArtifactStore
) -> None:
    instance.add_dynamic_partitions(PARTITIONS, [f"p-{i:04d}" for i in range(450)])
    _, cursor = _tick(instance, store)
    assert cursor is not None and len(cursor) < 100  # was every id ever seen: ~7 kB here
    requests, again = _tick(instance, store, cursor)
    assert requests == [] and len(again or "") < 100


def test_only_the_current_approval_starts_the_next_stage(store: ArtifactStore, new_project) -> None:
    project = new_project()
    write_segments(store, make_doc(), Stage.STT, project.id)

    first = reviews.approve(store, project.id, Stage.STT, reviewer="alice")
    launch = approval_launch(store, project.id, Stage.STT, first.id)
    assert launch is not None and launch.job_name == Stage.MT.job_name
    assert launch.run_key == f"approved-{first.id}:MT:{project.id}"  # once per approval
    assert launch.tags[Tag.SENSOR_NAME] == "review_gate_sensor"

    again = reviews.approve(store, project.id, Stage.STT, reviewer="bob")
    assert again.id == first.id  # the same content approved twice: one decision, one run key
    reviews.reject(store, project.id, Stage.STT, reviewer="bob", reason="the names are wrong")
    assert approval_launch(store, project.id, Stage.STT, first.id) is None
    second = reviews.approve(store, project.id, Stage.STT, reviewer="bob")
    assert second.id != first.id
    assert approval_launch(store, project.id, Stage.STT, first.id) is None  # superseded
    assert approval_launch(store, project.id, Stage.STT, second.id) is not None
    assert approval_launch(store, project.id, Stage.TTS, second.id) is None  # no gate
