"""Sensors that move a project along: new project -> STT; approval -> next stage; automatic
TTS -> MUXING -> LIP_SYNC; failures -> dead letter queue; dead letter retries. (Job events are
the relay's: ``defs.relay``.) Each request has a
run key (``operations.progression``), so a stage starts exactly once per cause, whoever asks."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterRunStatus,
    DefaultSensorStatus,
    EventLogRecord,
    RunFailureSensorContext,
    RunRequest,
    RunsFilter,
    RunStatusSensorContext,
    SensorDefinition,
    SensorEvaluationContext,
    run_failure_sensor,
    run_status_sensor,
    sensor,
)

if TYPE_CHECKING:  # what define_asset_job returns (not exported by dagster)
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )

from dubbing_pipeline.defs.handoff import successor_cause
from dubbing_pipeline.domain import review
from dubbing_pipeline.domain.projects import PARTITIONS
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.tags import JOB_TAGS, Tag
from dubbing_pipeline.infra.storage import ArtifactStore
from dubbing_pipeline.operations import dead_letter
from dubbing_pipeline.operations.progression import (
    AFTER_REVIEW,
    AFTER_SUCCESS,
    approval_launch,
    next_launch,
)
from dubbing_pipeline.operations.projects import CREATED, load_project
from dubbing_pipeline.operations.runs import Launch

TICK_S = 2
CREATOR_GRACE_S = 30  # a creator that launches STT itself (the API) does so within this
PAGE = 200
RUNNING = DefaultSensorStatus.RUNNING


def request_of(launch: Launch) -> RunRequest:
    return RunRequest(
        run_key=launch.run_key,
        job_name=launch.job_name,
        partition_key=launch.partition,
        tags=dict(launch.tags),
    )


def new_project_sensor(context: SensorEvaluationContext, store: ArtifactStore) -> Iterator:
    """Every project partition, once added (by the API, ingestion or a notebook), gets its STT.
    A project whose creator launched STT itself is left to it for ``CREATOR_GRACE_S``: past
    that, the same run key starts STT only if the creator's launch was lost. The cursor is the
    last partition handed on, so it stays small however many projects there are."""
    cursor = context.cursor or None
    while True:
        page = context.instance.get_paginated_dynamic_partitions(
            PARTITIONS, limit=PAGE, ascending=True, cursor=cursor
        )
        for done, project_id in enumerate(page.results):
            if _in_creator_grace(store, project_id):  # stop here; resume here on a later tick
                if done:
                    cursor = context.instance.get_paginated_dynamic_partitions(
                        PARTITIONS, limit=done, ascending=True, cursor=cursor
                    ).cursor
                context.update_cursor(cursor)
                return
            if launch := next_launch(store, project_id, Stage.STT, CREATED, context.log):
                yield request_of(launch)
        cursor = page.cursor
        if not page.has_more:
            break
    context.update_cursor(cursor)


def _in_creator_grace(store: ArtifactStore, project_id: str) -> bool:
    try:
        project = load_project(store, project_id)
    except Exception:
        return False  # next_launch logs what is wrong with it
    age = time.time() - project.created_at.timestamp()
    return project.stt_launched_by == "creator" and age < CREATOR_GRACE_S


def review_gate_sensor(context: SensorEvaluationContext, store: ArtifactStore) -> Iterator:
    """An approval observation on transcript/translation launches the next stage, once."""
    cursor = json.loads(context.cursor or "{}")
    for stage, record, description in _new_observations(context, cursor, list(AFTER_REVIEW)):
        parsed = review.parse_description(description)
        if parsed is None or parsed[0] != "approved":
            continue
        project_id = record.partition_key or ""
        if launch := approval_launch(store, project_id, stage, parsed[1], context.log):
            yield request_of(launch)  # skipped by Dagster if the approval started it already
    context.update_cursor(json.dumps(cursor))


def _new_observations(
    context: SensorEvaluationContext, cursor: dict[str, int], stages: list[Stage]
) -> Iterator[tuple[Stage, EventLogRecord, str | None]]:
    """Observations of the stages' assets after the cursor (advanced as they are read), with
    their descriptions (where reviews and retry requests are recorded)."""
    for stage in stages:
        records = context.instance.fetch_observations(
            AssetRecordsFilter(
                asset_key=AssetKey(stage.asset_name), after_storage_id=cursor.get(stage.asset_name)
            ),
            limit=200,
            ascending=True,
        ).records
        for record in records:
            cursor[stage.asset_name] = record.storage_id
            if (observation := record.asset_observation) is not None:
                yield stage, record, observation.description


def stage_success_sensor(
    context: RunStatusSensorContext, store: ArtifactStore
) -> RunRequest | None:
    """A stage run succeeded: start TTS -> MUXING -> LIP_SYNC (premium) if its hook did not.
    (Its events, job_completed and what follows, are the relay's: ``operations.relay``.)

    Returns None unless a run must still be requested: a run status sensor moves on to the next
    run in the same tick only when its function returns nothing (otherwise one run per tick)."""
    run = context.dagster_run
    if Tag.STAGE not in run.tags or Tag.PROJECT not in run.tags:
        return None
    stage, project_id = Stage(run.tags[Tag.STAGE]), run.tags[Tag.PROJECT]
    if stage not in AFTER_SUCCESS:
        return None
    cause = successor_cause(run.run_id)
    launch = next_launch(store, project_id, AFTER_SUCCESS[stage], cause, context.log)
    started = RunsFilter(tags={Tag.RUN_KEY: launch.run_key or ""}) if launch else None
    if launch is None or context.instance.get_run_ids(started, limit=1):
        return None  # the run's hand_off hook started it already (the usual case)
    return request_of(launch)


def dead_letter_sensor(context: RunFailureSensorContext) -> None:
    """A stage run that failed for good becomes an open dead letter entry (run tags); its
    job_failed event is the relay's, from the run's failure."""
    run = context.dagster_run
    if Tag.STAGE not in run.tags or dead_letter.STATE in run.tags:
        return
    classified = dead_letter.classify_failed_run(context.instance, run)
    if classified is None:
        context.log.info(f"run {run.run_id} crashed and will be retried by run retries")
        return
    context.instance.add_run_tags(run.run_id, classified[0])


def dead_letter_retry_sensor(context: SensorEvaluationContext) -> Iterator:
    """Launch the stage again for each retry request of an entry, once (run_key per entry)."""
    cursor = json.loads(context.cursor or "{}")
    for _, _, description in _new_observations(context, cursor, list(Stage)):
        job_id = dead_letter.parse_retry(description)
        run = context.instance.get_run_by_id(job_id) if job_id else None
        if run is None or run.tags.get(dead_letter.STATE) not in ("open", "retry_requested"):
            continue
        run_key = f"dlq-retry:{run.run_id}"
        lineage = {Tag.PARENT_RUN_ID: run.run_id, Tag.ROOT_RUN_ID: run.root_run_id}
        yield RunRequest(
            run_key=run_key,
            job_name=Stage(run.tags[Tag.STAGE]).job_name,
            partition_key=run.tags[Tag.PROJECT],
            tags={k: v for k, v in run.tags.items() if k in JOB_TAGS}
            | {k: v or run.run_id for k, v in lineage.items()},
        )
        context.instance.add_run_tags(
            run.run_id, {dead_letter.STATE: "retried", dead_letter.RETRIED_AS: run_key}
        )
    context.update_cursor(json.dumps(cursor))


def stage_sensors(jobs: Mapping[Stage, UnresolvedAssetJobDefinition]) -> list[SensorDefinition]:
    """The sensors, each targeting the stage jobs it may start."""
    tick, on = TICK_S, RUNNING
    return [
        sensor(jobs=[jobs[Stage.STT]], minimum_interval_seconds=tick, default_status=on)(
            new_project_sensor
        ),
        sensor(
            jobs=[jobs[Stage.MT], jobs[Stage.TTS]], minimum_interval_seconds=tick, default_status=on
        )(review_gate_sensor),
        run_status_sensor(
            run_status=DagsterRunStatus.SUCCESS,
            request_jobs=[jobs[Stage.MUXING], jobs[Stage.LIP_SYNC]],
            minimum_interval_seconds=tick,
            default_status=on,
        )(stage_success_sensor),
        run_failure_sensor(minimum_interval_seconds=tick, default_status=on)(dead_letter_sensor),
        sensor(jobs=list(jobs.values()), minimum_interval_seconds=tick, default_status=on)(
            dead_letter_retry_sensor
        ),
    ]
