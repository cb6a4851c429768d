"""Queues are stages: their stats, their jobs, pausing and resuming, and cleaning old jobs.

Pausing a queue sets its stage's concurrency pool to zero slots: its queued runs stay QUEUED
(run-granularity pools) and running ones finish. Cleaning deletes finished runs past retention,
but never one that holds a partition's latest materialisation or an open dead letter entry.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from pydantic import BaseModel

from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.tags import Tag
from dubbing_pipeline.operations.runs import (
    STATUS_GROUPS,
    JobStatus,
    Launch,
    Run,
    RunQuery,
    RunStore,
    launch_once,
)

CLEAN_JOB = "clean_runs_job"
QUEUE_STATES = ("waiting", "active", "completed", "failed", "delayed", "paused")


class QueueStats(BaseModel):
    queue: Stage
    waiting: int
    active: int
    completed: int
    failed: int
    delayed: int  # started, waiting for a retry
    paused: int  # waiting while the queue is paused
    is_paused: bool


class Retention(BaseModel):
    """How many finished jobs a queue keeps, and for how long, per outcome: the one definition
    (the daily schedule, the CLI and the API's clean all use it)."""

    completed_keep_last: int = 100
    completed_max_age_hours: float = 24
    failed_keep_last: int = 500
    failed_max_age_hours: float = 7 * 24


def stats(store: RunStore, stages: Sequence[Stage]) -> list[QueueStats]:
    """Every stage's counts, started runs (for delayed) and pool limit, in one read."""
    counted = [g for g in STATUS_GROUPS if g is not JobStatus.CANCELED]
    overview = store.overview(
        counts={
            f"{stage}:{group}": RunQuery({Tag.STAGE: stage.value}, STATUS_GROUPS[group])
            for stage in stages
            for group in counted
        },
        runs={s.value: (RunQuery({Tag.STAGE: s.value}, ["STARTED"]), 500) for s in stages},
        pools=[stage.pool for stage in stages],
    )
    result = []
    for stage in stages:
        counts = {group: overview.counts[f"{stage}:{group}"] for group in counted}
        delayed = sum(run.delayed() for run in overview.runs[stage.value])
        paused = overview.pool_limits[stage.pool] == 0
        result.append(
            QueueStats(
                queue=stage,
                waiting=counts[JobStatus.WAITING],
                active=counts[JobStatus.ACTIVE] - delayed,
                completed=counts[JobStatus.COMPLETED],
                failed=counts[JobStatus.FAILED],
                delayed=delayed,
                paused=counts[JobStatus.WAITING] if paused else 0,
                is_paused=paused,
            )
        )
    return result


def jobs(
    store: RunStore,
    *,
    stage: Stage | None = None,
    status: JobStatus | None = None,
    user_id: str | None = None,
    project_id: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> list[Run]:
    """Stage runs newest first (``cursor``: the last run id of the previous page). ``delayed``
    and ``active`` split Dagster's started runs by whether they wait for a retry."""
    tags: dict[str, str] = {}
    if stage is not None:
        tags[Tag.STAGE] = stage.value
    if user_id is not None:
        tags[Tag.USER] = user_id
    if project_id is not None:
        tags[Tag.PROJECT] = project_id
    group = JobStatus.ACTIVE if status is JobStatus.DELAYED else status
    statuses = STATUS_GROUPS[group] if group is not None else None
    runs = [r for r in store.runs(RunQuery(tags, statuses), limit, cursor) if r.is_stage_run]
    if status in (JobStatus.DELAYED, JobStatus.ACTIVE):
        runs = [r for r in runs if r.job_status is status]
    return runs


def pause(store: RunStore, stage: Stage) -> None:
    """No new job of the stage starts; running ones finish; queued ones wait."""
    store.set_pool_limit(stage.pool, 0)


def resume(store: RunStore, stage: Stage, limit: int) -> None:
    store.set_pool_limit(stage.pool, limit)


def request_clean(store: RunStore, stages: Sequence[Stage], retention: Retention) -> str:
    """Launch the clean job for ``stages``, or answer the one already waiting or running for
    them: repeated requests never pile clean runs up ahead of dubbing work. Two requests at the
    same moment count the same number of earlier cleans, so they name one run key."""
    key = f"clean:{','.join(sorted(s.value for s in stages))}"
    active = list(STATUS_GROUPS[JobStatus.WAITING] + STATUS_GROUPS[JobStatus.ACTIVE])
    overview = store.overview(
        counts={"all": RunQuery({Tag.MAINTENANCE: key})},
        runs={"pending": (RunQuery({Tag.MAINTENANCE: key}, active), 1)},
    )
    if overview.runs["pending"]:
        return overview.runs["pending"][0].run_id
    config = retention.model_dump() | {"stages": [s.value for s in stages]}
    launch = Launch(
        CLEAN_JOB,
        {Tag.MAINTENANCE: key},
        run_key=f"{key}:{overview.counts['all'] + 1}",
        run_config={"ops": {"clean_runs": {"config": config}}},
    )
    return launch_once(store, launch)


def clean(
    store: RunStore, retention: Retention, stages: Sequence[Stage], now: float | None = None
) -> list[str]:
    """Delete finished stage runs past retention; return their ids."""
    now = time.time() if now is None else now
    rules = (
        ("SUCCESS", retention.completed_keep_last, retention.completed_max_age_hours),
        ("FAILURE", retention.failed_keep_last, retention.failed_max_age_hours),
    )
    deleted: list[str] = []
    for stage in stages:
        for status, keep_last, max_age_hours in rules:
            runs = store.runs(RunQuery({Tag.STAGE: stage.value}, [status]))
            for run in runs[keep_last:]:
                if (run.ended or now) > now - max_age_hours * 3600 or _protected(store, stage, run):
                    continue
                store.delete_run(run.run_id)
                deleted.append(run.run_id)
    return deleted


def _protected(store: RunStore, stage: Stage, run: Run) -> bool:
    if run.tags.get(Tag.DEAD_LETTER) in ("open", "retry_requested"):
        return True
    partition = run.tags.get(Tag.PROJECT)
    if partition is None:
        return False
    return store.latest_materialization_run(stage.asset_name, partition) == run.run_id
