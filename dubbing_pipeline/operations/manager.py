"""JobManager: the seed's job-queue operations, built on Dagster's run store and concurrency pools.

A job is a run; a queue is a stage. Stats are run counts by status; pausing a queue sets its
concurrency pool to zero slots (run-granularity pools keep its runs QUEUED; running ones finish);
cleaning deletes old finished runs but never one that holds a partition's latest materialisation
or an open dead letter entry. Used by tests and scripts; the API reaches the same operations
through GraphQL.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterInstance,
    DagsterRunStatus,
    RunRecord,
    RunsFilter,
)
from pydantic import BaseModel

from dubbing_pipeline.defs import handoff
from dubbing_pipeline.domain import review
from dubbing_pipeline.domain.projects import Project
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.tags import Tag
from dubbing_pipeline.infra.events import EventPublisher
from dubbing_pipeline.infra.storage import ArtifactStore
from dubbing_pipeline.operations import dead_letter, queues, reviews
from dubbing_pipeline.operations.projects import create_project

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Retention:
    """How many finished runs to keep, and for how long, per outcome."""

    completed_keep_last: int = 100
    completed_max_age_s: float = 24 * 3600
    failed_keep_last: int = 500
    failed_max_age_s: float = 7 * 24 * 3600


class Job(BaseModel):
    id: str
    project_id: str
    user_id: str
    stage: str
    status: str
    progress: int | None
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None


@dataclass
class JobManager:
    instance: DagsterInstance
    store: ArtifactStore
    events: EventPublisher = field(default_factory=EventPublisher)

    # -- starting and reviewing ---------------------------------------------------------------
    def start_stt_stage(
        self,
        project_id: str | None,
        user_id: str,
        video_url: str,
        source_language: str,
        target_language: str,
        premium: bool,
    ) -> Project:
        """Register the project partition; ``new_project_sensor`` submits its STT run."""
        spec = {"id": project_id} if project_id else {}
        project = Project(
            **spec,
            video_uri=video_url,
            source_language=source_language,
            target_language=target_language,
            premium=premium,
            user_id=user_id,
        )
        return create_project(self.instance, self.store, project)

    def approve(
        self, project_id: str, stage: Stage, reviewer: str, edits: Mapping[int, str] | None = None
    ) -> review.ReviewDecision:
        decision = reviews.approve(self.store, project_id, stage, reviewer=reviewer, edits=edits)
        try:
            handoff.after_approval(self.instance, self.store, project_id, stage, decision.id)
        except Exception:  # the approval stands: review_gate_sensor starts the stage instead
            log.exception(f"{project_id}: hand-off after {stage} failed; the sensor will start it")
        reviews.record(self.instance, decision)
        return decision

    def reject(self, project_id: str, stage: Stage, reviewer: str, reason: str) -> None:
        reviews.record(
            self.instance,
            reviews.reject(self.store, project_id, stage, reviewer=reviewer, reason=reason),
        )

    # -- jobs -----------------------------------------------------------------------------------
    def job(self, job_id: str) -> Job | None:
        records = self.instance.get_run_records(RunsFilter(run_ids=[job_id]), limit=1)
        return (
            self._job(records[0]) if records and Tag.STAGE in records[0].dagster_run.tags else None
        )

    def jobs(
        self,
        *,
        project_id: str | None = None,
        stage: Stage | None = None,
        status: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> list[Job]:
        """Newest first; ``cursor`` is the last job id of the previous page."""
        tags = {Tag.PROJECT: project_id} if project_id else {}
        tags |= {Tag.STAGE: stage.value} if stage else {}
        statuses = [DagsterRunStatus(s) for s in queues.STATUS_GROUPS[status]] if status else None
        records = self.instance.get_run_records(
            RunsFilter(tags=tags or {Tag.STAGE: [s.value for s in Stage]}, statuses=statuses),
            limit=limit,
            cursor=cursor,
        )
        return [self._job(r) for r in records]

    def progress(self, job_id: str) -> int | None:
        return self.events.progress(job_id)

    def _job(self, record: RunRecord) -> Job:
        run = record.dagster_run
        status = queues.group_of(run.status.value)
        return Job(
            id=run.run_id,
            project_id=run.tags.get(Tag.PROJECT, ""),
            user_id=run.tags.get(Tag.USER, ""),
            stage=run.tags.get(Tag.STAGE, ""),
            status=status,
            progress=100 if status == "completed" else self.progress(run.run_id),
            created_at=record.create_timestamp,
            started_at=_utc(record.start_time),
            ended_at=_utc(record.end_time),
        )

    # -- queues -------------------------------------------------------------------------------
    def queue_stats(self, stage: Stage) -> dict[str, int]:
        tags = {Tag.STAGE: stage.value}
        counts = {
            group: self.instance.get_runs_count(
                RunsFilter(tags=tags, statuses=[DagsterRunStatus(s) for s in statuses])
            )
            for group, statuses in queues.STATUS_GROUPS.items()
        }
        started = self.instance.get_runs(
            RunsFilter(tags=tags, statuses=[DagsterRunStatus.STARTED]), limit=500
        )
        return queues.queue_stats(counts, [r.tags for r in started], self.is_paused(stage))

    def pause(self, stage: Stage) -> None:
        """No new run of the stage starts; running ones finish; queued ones wait."""
        self.instance.event_log_storage.set_concurrency_slots(stage.pool, 0)

    def resume(self, stage: Stage) -> None:
        self.instance.event_log_storage.set_concurrency_slots(stage.pool, stage.pool_limit)

    def is_paused(self, stage: Stage) -> bool:
        storage = self.instance.event_log_storage
        if stage.pool not in storage.get_concurrency_keys():
            return False
        return storage.get_concurrency_info(stage.pool).slot_count == 0

    # -- clean ------------------------------------------------------------------------------
    def clean(
        self,
        retention: Retention = Retention(),
        now: float | None = None,
        stages: list[Stage] | None = None,
    ) -> list[str]:
        """Delete finished stage runs past retention; return their ids."""
        now = time.time() if now is None else now
        rules = (
            (
                DagsterRunStatus.SUCCESS,
                retention.completed_keep_last,
                retention.completed_max_age_s,
            ),
            (DagsterRunStatus.FAILURE, retention.failed_keep_last, retention.failed_max_age_s),
        )
        deleted: list[str] = []
        for stage in stages or list(Stage):
            for status, keep_last, max_age in rules:
                records = self.instance.get_run_records(
                    RunsFilter(tags={Tag.STAGE: stage.value}, statuses=[status])
                )
                for record in records[keep_last:]:
                    if (record.end_time or now) > now - max_age or self._protected(stage, record):
                        continue
                    self.instance.delete_run(record.dagster_run.run_id)
                    deleted.append(record.dagster_run.run_id)
        return deleted

    def _protected(self, stage: Stage, record: RunRecord) -> bool:
        run = record.dagster_run
        if run.tags.get(dead_letter.STATE) in ("open", "retry_requested"):
            return True
        partition = run.tags.get(Tag.PROJECT)
        latest = self.instance.fetch_materializations(
            AssetRecordsFilter(
                asset_key=AssetKey(stage.asset_name),
                asset_partitions=[partition] if partition else None,
            ),
            limit=1,
        ).records
        return bool(latest) and latest[0].run_id == run.run_id

    # -- dead letter queue ----------------------------------------------------------------------
    def dead_letter_entries(self, user_id: str | None = None) -> list[dead_letter.DeadLetterEntry]:
        return dead_letter.entries(self.instance, user_id=user_id)

    def dead_letter_stats(self, user_id: str | None = None) -> dict[str, dict[str, int]]:
        return dead_letter.stats(self.instance, user_id=user_id)

    def retry_dead_letter(self, job_id: str, user_id: str | None = None) -> None:
        dead_letter.request_retry(self.instance, job_id, user_id=user_id)


def _utc(timestamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, UTC) if timestamp else None
