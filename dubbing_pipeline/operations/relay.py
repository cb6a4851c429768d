"""The event relay: Dagster's event log is the record of every job event; the Redis Stream that
WebSocket clients read is derived from it, so a Redis outage delays events and loses none.

It follows the event log by storage id: the runs' status changes (RUN_ENQUEUED -> job_created,
RUN_SUCCESS -> job_completed and, as the stage says, stage_ready_for_review / project_completed,
RUN_FAILURE and RUN_CANCELED -> job_failed) and the ``job_events`` observations runs record
(job_started, job_progress). Each event carries ``sourceId`` (storage id and index) and reaches the
stream in the Redis transaction that moves the cursor (``EventPublisher.append``): once, in log
order, whichever relays run (the daemon's ``event_relay_sensor``, ``dubbing relay``).

Every job gets a terminal event from its run's own status: a crash retried by Dagster says so
(``status="retrying"``), a dead-lettered failure carries its class and every attempt.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    EventLogRecord,
    RunsFilter,
    RunStatusChangeRecordsFilter,
)

from dubbing_pipeline.domain.errors import JobErrorType
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.tags import Tag
from dubbing_pipeline.infra.events import (
    EVENTS_ASSET,
    EventPublisher,
    EventType,
    JobEvent,
    parse_description,
)
from dubbing_pipeline.operations import dead_letter

RUN_EVENTS: tuple[Any, ...] = (
    DagsterEventType.RUN_ENQUEUED,
    DagsterEventType.RUN_SUCCESS,
    DagsterEventType.RUN_FAILURE,
    DagsterEventType.RUN_CANCELED,
)
PAGE = 500
# A record younger than this waits for the next step: on Postgres a writer that took its storage
# id first may commit after one that took a later id, and the cursor must not pass it.
SETTLE_S = 0.5
# Dagster tags a failed run ``will_retry`` just after storing RUN_FAILURE; the relay waits this
# long for the tag before it calls the failure final.
RETRY_TAG_WAIT_S = 10.0
RETRYING = "the run's process died; Dagster's run retries start it again as a new job"


@dataclass
class Relay:
    instance: DagsterInstance
    publisher: EventPublisher
    settle_s: float = SETTLE_S
    page: int = PAGE

    def step(self, start: int | None = None) -> int:
        """Relay one page past the cursor; the number of log records it moved past (0: caught
        up, or another relay moved first). ``start``: where to begin if Redis has no cursor
        (a Redis that lost its data; None: the beginning of the log)."""
        cursor = self.publisher.relayed()
        after = cursor if cursor is not None else start
        records = self._records(after)
        runs = self._runs({r.run_id for r in records if r.event_type in RUN_EVENTS})
        events: list[JobEvent] = []
        moved, relayed, now = 0, after, time.time()
        for record in records:
            if record.timestamp > now - self.settle_s:
                break
            derived = self._derive(record, runs, now)
            if derived is None:  # not decided yet: stay here
                break
            for index, event in enumerate(derived):
                events.append(event.model_copy(update={"sourceId": f"{record.storage_id}.{index}"}))
            moved, relayed = moved + 1, record.storage_id
        if relayed is None or relayed == after:
            return 0
        return moved if self.publisher.append(events, cursor, relayed) else 0

    def catch_up(self, start: int | None = None, budget_s: float = 30.0) -> int:
        """Steps until caught up or ``budget_s`` spent; the records moved past."""
        deadline, total = time.monotonic() + budget_s, 0
        while time.monotonic() < deadline and (moved := self.step(start)):
            total += moved
        return total

    def _records(self, after: int | None) -> list[EventLogRecord]:
        """The next page of records of every kind the relay reads, in storage order, up to the
        last id every kind is complete to."""
        pages: list[list[EventLogRecord]] = [
            list(
                self.instance.fetch_run_status_changes(
                    RunStatusChangeRecordsFilter(event_type=kind, after_storage_id=after),
                    limit=self.page,
                    ascending=True,
                ).records
            )
            for kind in RUN_EVENTS
        ]
        observations = AssetRecordsFilter(asset_key=AssetKey(EVENTS_ASSET), after_storage_id=after)
        pages.append(
            list(
                self.instance.fetch_observations(
                    observations, limit=self.page, ascending=True
                ).records
            )
        )
        full = [page[-1].storage_id for page in pages if len(page) == self.page]
        horizon = min(full) if full else None
        merged = [r for page in pages for r in page if horizon is None or r.storage_id <= horizon]
        return sorted(merged, key=lambda r: r.storage_id)

    def _runs(self, run_ids: Iterable[str]) -> dict[str, DagsterRun]:
        ids = list(run_ids)
        if not ids:
            return {}
        return {run.run_id: run for run in self.instance.get_runs(RunsFilter(run_ids=ids))}

    def _derive(
        self, record: EventLogRecord, runs: dict[str, DagsterRun], now: float
    ) -> list[JobEvent] | None:
        """The job events a record stands for ([] for none), or None if not known yet."""
        entry = record.event_log_entry
        if entry.dagster_event_type == DagsterEventType.ASSET_OBSERVATION:
            observation = record.asset_observation
            recorded = parse_description(observation.description if observation else None)
            return [recorded] if recorded else []
        run = runs.get(record.run_id)
        if run is None or Tag.STAGE not in run.tags or Tag.PROJECT not in run.tags:
            return []
        at = datetime.fromtimestamp(record.timestamp, UTC)

        def event(type_: EventType, **fields: Any) -> JobEvent:
            return JobEvent.for_run(type_, run.run_id, run.tags, timestamp=at, **fields)

        kind = entry.dagster_event_type
        if kind == DagsterEventType.RUN_ENQUEUED:
            return [event("job_created", status="waiting")]
        if kind == DagsterEventType.RUN_SUCCESS:
            return completed(run, event)
        if kind == DagsterEventType.RUN_CANCELED:
            return [event("job_failed", status="canceled", message="canceled")]
        tag_due = self.instance.run_retries_enabled and Tag.WILL_RETRY not in run.tags
        if tag_due and now - record.timestamp < RETRY_TAG_WAIT_S:
            return None
        classified = dead_letter.classify_failed_run(self.instance, run)
        if classified is None:
            error = JobErrorType.TRANSIENT.value
            return [event("job_failed", status="retrying", error=error, message=RETRYING)]
        tags, _ = classified
        message = (
            f"{tags[dead_letter.ERROR_MESSAGE]} (after {tags[dead_letter.ATTEMPTS]} attempt(s))"
        )
        return [
            event(
                "job_failed", status="failed", error=tags[dead_letter.ERROR_TYPE], message=message
            )
        ]


def completed(run: DagsterRun, event: Callable[..., JobEvent]) -> list[JobEvent]:
    """A stage run's success: job_completed, then what it opens (a review, the finished
    project)."""
    stage = Stage(run.tags[Tag.STAGE])
    announce: list[tuple[EventType, str]] = [("job_completed", "completed")]
    if stage.needs_review:
        announce.append(("stage_ready_for_review", "awaiting_review"))
    premium = run.tags.get(Tag.TIER) == "premium"
    if stage is (Stage.LIP_SYNC if premium else Stage.MUXING):
        announce.append(("project_completed", "completed"))
    return [event(type_, status=status, progress=100) for type_, status in announce]
