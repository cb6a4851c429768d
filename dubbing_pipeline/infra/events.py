"""Job events on a Redis Stream: the bus between the pipeline's processes and every API instance.

A stream (not pub/sub) so a reader that was away resumes from the last id it saw. The latest
progress of each job is also kept under its own key, so anyone can read it outside the run.
Publishing never fails a stage: the run store stays the record, events are the live view.
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


class EventPublisher(ConfigurableResource):
    """Publishes to ``stream`` at ``redis_url``; with no URL (embedded default) it only logs."""

    redis_url: str | None = None
    stream: str = STREAM
    maxlen: int = 1_000_000
    timeout_s: float = 5.0  # a reader that must answer fast (the API) sets less

    def ping(self) -> None:
        if self.redis_url:
            _client(self.redis_url, self.timeout_s).ping()

    def publish(self, event: JobEvent) -> str | None:
        if not self.redis_url:
            return None
        try:
            client = _client(self.redis_url, self.timeout_s)
            pipe = client.pipeline()
            pipe.xadd(
                self.stream,
                {"event": event.model_dump_json(exclude={"id"})},
                maxlen=self.maxlen,
                approximate=True,
            )
            if event.type == "job_progress" and event.jobId and event.progress is not None:
                pipe.set(_progress_key(event.jobId), event.progress, ex=PROGRESS_TTL_S)
            return pipe.execute()[0].decode()
        except redis.RedisError as exc:
            log.warning("event %s for %s not published: %s", event.type, event.projectId, exc)
            return None

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
