"""Job events: recorded in Dagster's event log, relayed to a Redis Stream for every API instance.

The event log is the record. A run reports what only it knows (started, progress) as an
observation of the ``job_events`` asset (``describe``), never by talking to Redis, so a slow or
absent Redis never slows an engine; the rest (created, completed, failed) is the run's own status
changes. The relay (``operations.relay``) derives the stream from both, in storage order, and moves
its cursor (``<stream>:relayed``) in the same Redis transaction as the events it adds, so each
event reaches the stream once however often the relay stops, and catches up after an outage.
A stream (not pub/sub) so a reader that was away resumes from the last id it saw. The latest
progress of each job is also kept under its own key, so anyone can read it outside the run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal, cast

import redis
from dagster import ConfigurableResource
from pydantic import BaseModel, Field

from dubbing_pipeline.domain.tags import Tag

EventType = Literal[
    "job_created",
    "job_started",
    "job_progress",
    "job_completed",
    "job_failed",
    "stage_ready_for_review",
    "project_completed",
]
STREAM = "dubbing:events"
EVENTS_ASSET = "job_events"  # the asset whose observations carry what runs report
EVENT_PREFIX = "dubbing/event "  # an observation's description: this, then the event's JSON
# What XREAD answers (with bytes responses): [(stream, [(entry id, {field: value})])].
StreamEntries = list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]]
PROGRESS_TTL_S = 7 * 24 * 3600
log = logging.getLogger(__name__)


class JobEvent(BaseModel):
    """The seed's event fields, plus the owner (for per-user delivery), an id and a time."""

    type: EventType
    projectId: str
    userId: str
    jobId: str | None = None
    stage: str | None = None
    status: str | None = None
    progress: int | None = None
    error: str | None = None
    message: str | None = None
    timestamp: datetime = Field(default_factory=lambda: datetime.now(UTC))
    id: str | None = Field(default=None, description="Stream id, set when read back.")
    sourceId: str | None = Field(
        default=None,
        description="Where in Dagster's event log it comes from (storage id, then its index "
        "there): the same event has the same sourceId however often it is relayed.",
    )

    @classmethod
    def for_run(
        cls, type_: EventType, run_id: str, tags: Mapping[str, str], **fields: Any
    ) -> JobEvent:
        """An event about a stage run, addressed from the run's tags."""
        return cls(
            type=type_,
            projectId=tags.get(Tag.PROJECT, ""),
            userId=tags.get(Tag.USER, ""),
            jobId=run_id,
            stage=tags.get(Tag.STAGE),
            **fields,
        )


def describe(event: JobEvent) -> str:
    """The description of the ``job_events`` observation that records ``event``."""
    return EVENT_PREFIX + event.model_dump_json(exclude={"id", "sourceId"})


def parse_description(description: str | None) -> JobEvent | None:
    """The event an observation records, if it records one."""
    if not description or not description.startswith(EVENT_PREFIX):
        return None
    try:
        return JobEvent.model_validate_json(description[len(EVENT_PREFIX) :])
    except ValueError:
        log.warning("unreadable job event observation: %.200s", description)
        return None


class EventPublisher(ConfigurableResource):
    """Publishes to ``stream`` at ``redis_url``; with no URL (embedded default) it only logs."""

    redis_url: str | None = None
    stream: str = STREAM
    maxlen: int = 1_000_000
    timeout_s: float = 5.0  # a reader that must answer fast (the API) sets less

    def ping(self) -> None:
        if self.redis_url:
            _client(self.redis_url, self.timeout_s).ping()

    @property
    def cursor_key(self) -> str:
        return f"{self.stream}:relayed"

    def publish(self, event: JobEvent) -> str | None:
        """Add one event straight to the stream (benchmarks, tests): not the pipeline's way,
        which records events in Dagster and lets the relay add them (``append``)."""
        if not self.redis_url:
            return None
        try:
            pipe = _client(self.redis_url, self.timeout_s).pipeline()
            self._add(pipe, event)
            return pipe.execute()[0].decode()
        except redis.RedisError as exc:
            log.warning("event %s for %s not published: %s", event.type, event.projectId, exc)
            return None

    def relayed(self) -> int | None:
        """The event log storage id up to which events are in the stream (None: none yet)."""
        if not self.redis_url:
            return None
        value = _client(self.redis_url, self.timeout_s).get(self.cursor_key)
        return int(value) if value is not None else None

    def append(self, events: list[JobEvent], expected: int | None, relayed: int) -> bool:
        """Add ``events`` and move the cursor from ``expected`` to ``relayed``, all or nothing;
        False (nothing added) if another relay moved the cursor first. Redis errors propagate:
        the relay tries again from the same place."""
        assert self.redis_url, "appending needs a Redis"
        with _client(self.redis_url, self.timeout_s).pipeline(transaction=True) as pipe:
            try:
                pipe.watch(self.cursor_key)
                current = pipe.get(self.cursor_key)
                if (int(current) if current is not None else None) != expected:
                    return False
                pipe.multi()
                for event in events:
                    self._add(pipe, event)
                pipe.set(self.cursor_key, relayed)
                pipe.execute()
            except redis.WatchError:
                return False
        return True

    def _add(self, pipe: Any, event: JobEvent) -> None:
        pipe.xadd(
            self.stream,
            {"event": event.model_dump_json(exclude={"id"})},
            maxlen=self.maxlen,
            approximate=True,
        )
        if event.type == "job_progress" and event.jobId and event.progress is not None:
            pipe.set(_progress_key(event.jobId), event.progress, ex=PROGRESS_TTL_S)

    def read(
        self, after: str = "0-0", count: int = 1000, block_ms: int | None = None
    ) -> list[JobEvent]:
        """Events after stream id ``after``, oldest first (``block_ms`` waits for new ones)."""
        if not self.redis_url:
            return []
        answer = cast(
            StreamEntries,
            _client(self.redis_url, self.timeout_s).xread(
                {self.stream: after}, count=count, block=block_ms
            ),
        )
        return [
            JobEvent.model_validate_json(fields[b"event"]).model_copy(update={"id": sid.decode()})
            for _, entries in answer
            for sid, fields in entries
        ]

    def progress(self, job_id: str) -> int | None:
        return self.progress_of([job_id])[0]

    def progress_of(self, job_ids: list[str]) -> list[int | None]:
        """The latest reported progress of each job (one round trip)."""
        if not self.redis_url or not job_ids:
            return [None] * len(job_ids)
        values = _client(self.redis_url, self.timeout_s).mget([_progress_key(j) for j in job_ids])
        return [int(v) if v is not None else None for v in values]


def _progress_key(job_id: str) -> str:
    return f"dubbing:progress:{job_id}"


@lru_cache(maxsize=8)
def _client(url: str, timeout_s: float) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
