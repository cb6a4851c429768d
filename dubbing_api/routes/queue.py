"""Queues are stages: stats, jobs by status, pause/resume (a concurrency pool at 0 slots), clean."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from starlette.requests import Request

from dubbing_api.auth import Principal
from dubbing_api.dagster_client import Overview, runs_filter
from dubbing_api.models import (
    Accepted,
    AllQueueStats,
    Body,
    CleanRequest,
    JobList,
    QueueState,
    QueueStats,
)
from dubbing_api.routing import api
from dubbing_api.services import Services, queue, services, user_filter
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.tags import Tag
from dubbing_pipeline.operations import queues

ADMIN = ("admin",)


class JobsQuery(Body):
    status: Literal["waiting", "active", "completed", "failed", "delayed"] | None = None
    limit: int = Field(default=50, ge=1, le=500)
    cursor: str | None = Field(default=None, description="The last job id of the previous page.")


async def stats_of(svc: Services, stages: list[Stage]) -> list[QueueStats]:
    """Every stage's counts, started runs (for delayed) and pool limit, in one GraphQL request,
    shared for ``cache_ttl_s`` by every request: 20 run counts are the webserver's heaviest read."""
    key = ("queue-stats", *stages)
    overview = await svc.cache.get(key, lambda: _overview(svc, stages))
    result = []
    for stage in stages:
        paused = overview.pool_limits[stage.pool] == 0
        stage_counts = {g: overview.counts[f"{stage}:{g}"] for g in queues.STATUS_GROUPS}
        started = [r.tags for r in overview.runs[stage.value]]
        stats = queues.queue_stats(stage_counts, started, paused)
        result.append(QueueStats(queue=stage.value, is_paused=paused, **stats))
    return result


async def _overview(svc: Services, stages: list[Stage]) -> Overview:
    return await svc.dagster.overview(
        counts={
            f"{stage}:{group}": runs_filter({Tag.STAGE: stage.value}, statuses)
            for stage in stages
            for group, statuses in queues.STATUS_GROUPS.items()
        },
        runs={s.value: (runs_filter({Tag.STAGE: s.value}, ["STARTED"]), 500) for s in stages},
        pools=[stage.pool for stage in stages],
    )


@api("GET", "/api/queue/stats", "Stats of every queue", roles=ADMIN, response=AllQueueStats)
async def all_queue_stats(request: Request, caller: Principal) -> AllQueueStats:
    return AllQueueStats(queues=await stats_of(services(request), list(Stage)))


@api("GET", "/api/queue/stats/{queue}", "Stats of one queue", roles=ADMIN, response=QueueStats)
async def queue_stats(request: Request, caller: Principal) -> QueueStats:
    (stats,) = await stats_of(services(request), [queue(request.path_params["queue"])])
    return stats


@api(
    "GET",
    "/api/queue/{queue}/jobs",
    "A queue's jobs, newest first",
    query=JobsQuery,
    response=JobList,
)
async def queue_jobs(request: Request, caller: Principal, query: JobsQuery) -> JobList:
    svc, stage = services(request), queue(request.path_params["queue"])
    group = "active" if query.status == "delayed" else query.status
    statuses = queues.STATUS_GROUPS[group] if group else None
    tags = {Tag.STAGE: stage.value} | user_filter(caller)
    runs = await svc.cache.get(
        ("queue-jobs", *tags.items(), statuses, query.limit, query.cursor),
        lambda: svc.dagster.runs(tags, statuses, limit=query.limit, cursor=query.cursor),
    )
    jobs = await svc.jobs(runs)
    if query.status in ("delayed", "active"):
        jobs = [j for j in jobs if (j.status == "delayed") == (query.status == "delayed")]
    next_cursor = runs[-1].run_id if len(runs) == query.limit else None
    return JobList(jobs=jobs, next_cursor=next_cursor)


@api(
    "POST",
    "/api/queue/{queue}/pause",
    "Start no new job of this queue",
    roles=ADMIN,
    response=QueueState,
)
async def pause_queue(request: Request, caller: Principal) -> QueueState:
    stage, svc = queue(request.path_params["queue"]), services(request)
    await svc.dagster.set_pool_limit(stage.pool, 0)
    svc.cache.clear()
    return QueueState(queue=stage.value, is_paused=True)


@api(
    "POST",
    "/api/queue/{queue}/resume",
    "Let the queue's jobs start again",
    roles=ADMIN,
    response=QueueState,
)
async def resume_queue(request: Request, caller: Principal) -> QueueState:
    stage, svc = queue(request.path_params["queue"]), services(request)
    await svc.dagster.set_pool_limit(stage.pool, stage.pool_limit)
    svc.cache.clear()
    return QueueState(queue=stage.value, is_paused=False)


@api(
    "POST",
    "/api/queue/{queue}/clean",
    "Delete old finished jobs (runs clean_runs_job)",
    roles=ADMIN,
    body=CleanRequest,
    response=Accepted,
    status=202,
)
async def clean_queue(request: Request, caller: Principal, body: CleanRequest) -> Accepted:
    stage = queue(request.path_params["queue"])
    config = body.model_dump() | {"stages": [stage.value]}
    job_id = await services(request).dagster.launch(
        "clean_runs_job",
        {Tag.MAINTENANCE: "clean"},
        {"ops": {"clean_runs": {"config": config}}},
    )
    return Accepted(job_id=job_id, message=f"cleaning {stage} by the retention rules")


routes = [all_queue_stats, queue_stats, queue_jobs, pause_queue, resume_queue, clean_queue]
