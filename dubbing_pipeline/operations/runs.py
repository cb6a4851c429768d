"""The run store: what the operations need from Dagster, and nothing more.

A job is a Dagster run; a queue is a stage. Every queue, job, review and dead letter operation is
written once against ``RunStore``, which has two adapters: ``InstanceRunStore`` (the Dagster
instance: the CLI, notebooks, sensors, maintenance, tests) and ``GraphQLRunStore`` (the webserver's
GraphQL API: the HTTP service, which never opens the instance itself).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from dubbing_pipeline.domain.tags import Tag


class JobStatus(StrEnum):
    """The queue states a job is in, as the seed named them."""

    WAITING = "waiting"
    ACTIVE = "active"
    DELAYED = "delayed"  # started, its step waiting for a retry
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"


STATUS_GROUPS: dict[JobStatus, tuple[str, ...]] = {
    JobStatus.WAITING: ("QUEUED", "NOT_STARTED"),
    JobStatus.ACTIVE: ("STARTING", "STARTED"),
    JobStatus.COMPLETED: ("SUCCESS",),
    JobStatus.FAILED: ("FAILURE",),
    JobStatus.CANCELED: ("CANCELING", "CANCELED"),
}
"""Dagster run statuses by queue state (delayed runs are STARTED: see ``Run.status_group``)."""


@dataclass(frozen=True)
class Run:
    """A run as both adapters report it."""

    run_id: str
    status: str  # Dagster's DagsterRunStatus value
    tags: Mapping[str, str]
    created: float
    started: float | None = None
    ended: float | None = None

    def delayed(self, now: float | None = None) -> bool:
        return float(self.tags.get(Tag.RETRY_AT, 0)) > (time.time() if now is None else now)

    @property
    def job_status(self) -> JobStatus:
        if self.status in STATUS_GROUPS[JobStatus.ACTIVE] and self.delayed():
            return JobStatus.DELAYED
        return next(group for group, members in STATUS_GROUPS.items() if self.status in members)

    @property
    def is_stage_run(self) -> bool:
        return Tag.STAGE in self.tags and Tag.PROJECT in self.tags


@dataclass(frozen=True)
class RunQuery:
    """Runs carrying all ``tags`` (a value may be a list: any of them), in ``statuses``."""

    tags: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    statuses: Sequence[str] | None = None
    run_ids: Sequence[str] | None = None


@dataclass(frozen=True)
class Launch:
    """A run to start: a stage job for a project partition, or a maintenance job.

    ``run_key`` (a run tag) names what caused it; a run with that key already there means it was
    started, so starting it again is a no-op (see ``RunStore.launch_once``).
    """

    job_name: str
    tags: Mapping[str, str]
    partition: str | None = None
    run_key: str | None = None
    run_config: Mapping[str, Any] = field(default_factory=dict)

    @property
    def all_tags(self) -> dict[str, str]:
        tags = dict(self.tags)
        if self.partition is not None:
            tags[Tag.PARTITION] = self.partition
        if self.run_key is not None:
            tags[Tag.RUN_KEY] = self.run_key
        return tags


class RunStoreUnavailable(Exception):
    """Dagster could not be reached, or did not answer in time. ``maybe_done``: the request may
    have gone through (a timeout), so only an idempotent retry is safe."""

    def __init__(self, message: str, *, maybe_done: bool = False) -> None:
        super().__init__(message)
        self.message, self.maybe_done = message, maybe_done


class LaunchElsewhere(Exception):
    """This store cannot start runs here (no code location to launch from, no run queue): the
    sensors will start it, from what was recorded."""


class RunStoreError(Exception):
    """Dagster answered, with an error."""


@dataclass(frozen=True)
class Overview:
    """Run counts per query, some runs per query, and pool limits, read together."""

    counts: dict[str, int]
    runs: dict[str, list[Run]]
    pool_limits: dict[str, int | None]


class RunStore(Protocol):
    def runs(
        self, query: RunQuery, limit: int | None = None, cursor: str | None = None
    ) -> list[Run]:
        """Newest first; ``cursor`` is the last run id of the previous page."""
        ...

    def run(self, run_id: str) -> Run | None: ...

    def overview(
        self,
        counts: Mapping[str, RunQuery] | None = None,
        runs: Mapping[str, tuple[RunQuery, int]] | None = None,
        pools: Sequence[str] = (),
    ) -> Overview:
        """Counts, runs and pool limits in one read (GraphQL: one request)."""
        ...

    def launch(self, launch: Launch) -> str:
        """Start the run (through the run queue); its run id."""
        ...

    def add_partition(self, partitions_def: str, key: str) -> None:
        """Idempotent: an existing partition is fine."""
        ...

    def remove_partition(self, partitions_def: str, key: str) -> None:
        """Idempotent: a missing partition is fine."""
        ...

    def observe(self, asset: str, partition: str, description: str) -> None:
        """Record a runless observation of an asset partition (what sensors react to)."""
        ...

    def observations(self, asset: str, partition: str, limit: int = 20) -> list[str]:
        """Descriptions of the partition's latest observations, newest first."""
        ...

    def set_pool_limit(self, pool: str, limit: int) -> None: ...

    def asset_metadata(self, asset: str) -> dict[str, Any]:
        """The asset definition's metadata in the code location (JSON entries parsed)."""
        ...

    def delete_run(self, run_id: str) -> None: ...

    def latest_materialization_run(self, asset: str, partition: str) -> str | None:
        """The run id of the partition's latest materialisation."""
        ...


_LAUNCH_LOCKS = [threading.Lock() for _ in range(64)]


def launch_once(store: RunStore, launch: Launch) -> str:
    """Start ``launch`` unless a run with its run key exists; the run id either way.

    Requests for one run key in this process go one at a time (a double click, a client retrying
    while the first request is in flight), so the second finds the first's run."""
    if launch.run_key is None:
        return store.launch(launch)
    with _LAUNCH_LOCKS[hash(launch.run_key) % len(_LAUNCH_LOCKS)]:
        existing = store.runs(RunQuery(tags={Tag.RUN_KEY: launch.run_key}), limit=1)
        if existing:
            return existing[0].run_id
        return store.launch(launch)


def stable_id(*parts: str) -> str:
    """An id that the same parts always give (idempotent keys, run keys)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, "dubbing:" + "/".join(parts)).hex
