"""What a queue's numbers mean, shared by JobManager (instance) and the API (GraphQL): run
statuses grouped as the seed's queue states, and "delayed" = a started run waiting for a retry."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from dubbing_pipeline.domain.tags import Tag

STATUS_GROUPS: dict[str, tuple[str, ...]] = {
    "waiting": ("QUEUED", "NOT_STARTED"),
    "active": ("STARTING", "STARTED"),
    "completed": ("SUCCESS",),
    "failed": ("FAILURE",),
}
RETRY_AT = Tag.RETRY_AT  # set on the run while its step waits for a retry


def group_of(status: str) -> str:
    return next((group for group, members in STATUS_GROUPS.items() if status in members), status)


def is_delayed(tags: Mapping[str, str], now: float | None = None) -> bool:
    return float(tags.get(RETRY_AT, 0)) > (time.time() if now is None else now)


def queue_stats(
    counts: Mapping[str, int], started_run_tags: Iterable[Mapping[str, str]], paused: bool
) -> dict[str, int]:
    """Counts by group, plus delayed (split off active) and paused (waiting, while paused)."""
    stats = {group: counts.get(group, 0) for group in STATUS_GROUPS}
    stats["delayed"] = sum(is_delayed(tags) for tags in started_run_tags)
    stats["active"] -= stats["delayed"]
    stats["paused"] = stats["waiting"] if paused else 0
    return stats
