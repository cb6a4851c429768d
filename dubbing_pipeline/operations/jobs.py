"""Jobs: a job is one run of one stage for one project. Reading them, with their progress."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from pydantic import BaseModel
from redis.exceptions import RedisError

from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.tags import Tag
from dubbing_pipeline.infra.events import EventPublisher
from dubbing_pipeline.operations.runs import JobStatus, Run, RunQuery, RunStore


class Job(BaseModel):
    id: str
    project_id: str
    user_id: str
    stage: Stage
    status: JobStatus
    progress: int | None  # 0-100; None: unknown (not reported, or the event store is down)
    error_type: str | None = None
    error: str | None = None
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None

    @classmethod
    def of(cls, run: Run, progress: int | None) -> Job:
        status = run.job_status
        return cls(
            id=run.run_id,
            project_id=run.tags.get(Tag.PROJECT, ""),
            user_id=run.tags.get(Tag.USER, ""),
            stage=Stage(run.tags[Tag.STAGE]),
            status=status,
            progress=100 if status is JobStatus.COMPLETED else progress,
            error_type=run.tags.get(Tag.ERROR_TYPE),
            error=run.tags.get(Tag.ERROR_MESSAGE),
            created_at=_utc(run.created),
            started_at=_utc(run.started) if run.started else None,
            ended_at=_utc(run.ended) if run.ended else None,
        )


def with_progress(runs: Sequence[Run], events: EventPublisher) -> list[Job]:
    """Runs as jobs with their latest progress (one read for all; unknown if it fails)."""
    try:
        progress = events.progress_of([run.run_id for run in runs])
    except RedisError:  # the event store is down or slow: the jobs are still there
        progress = [None] * len(runs)
    return [Job.of(run, p) for run, p in zip(runs, progress, strict=True)]


def stage_run(store: RunStore, job_id: str, user_id: str | None = None) -> Run | None:
    """The stage run ``job_id``, if it exists and (given a user) is theirs."""
    run = store.run(job_id)
    if run is None or not run.is_stage_run:
        return None
    if user_id is not None and run.tags.get(Tag.USER) != user_id:
        return None
    return run


def project_runs(store: RunStore, project_id: str, limit: int = 200) -> list[Run]:
    """A project's stage runs, newest first."""
    return store.runs(RunQuery(tags={Tag.PROJECT: project_id}), limit=limit)


def stage_statuses(runs: Sequence[Run]) -> dict[Stage, JobStatus]:
    """Each stage's latest job status, from runs newest first."""
    latest: dict[Stage, JobStatus] = {}
    for run in runs:
        if run.is_stage_run:
            latest.setdefault(Stage(run.tags[Tag.STAGE]), run.job_status)
    return latest


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)
