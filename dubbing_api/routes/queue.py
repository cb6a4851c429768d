"""Queues are stages: stats, jobs by status, pause/resume (a concurrency pool at 0 slots), clean."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query
from starlette.requests import Request
from starlette.responses import JSONResponse

from dubbing_api.errors import responses
from dubbing_api.idempotency import IdempotencyKey, fingerprint, once
from dubbing_api.models import (
    Accepted,
    AllQueueStats,
    CleanRequest,
    JobList,
    JobOut,
    QueueState,
    QueueStatsOut,
)
from dubbing_api.services import Admin, Caller, Services, Svc, user_filter
from dubbing_pipeline.domain.errors import NotFound
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.infra.settings import pool_limit
from dubbing_pipeline.operations import jobs, queues
from dubbing_pipeline.operations.runs import JobStatus

router = APIRouter(prefix="/api/queue", tags=["queues"], responses=responses())
QueueName = Annotated[
    str,
    Path(
        description="A queue is a stage; any other name is a 404.",
        json_schema_extra={"enum": [s.value for s in Stage]},
    ),
]


def stage_of(name: str) -> Stage:
    try:
        return Stage(name)
    except ValueError:
        raise NotFound(f"queue {name!r} (queues: {', '.join(s.value for s in Stage)})") from None


def stats_of(svc: Services, stages: list[Stage]) -> list[QueueStatsOut]:
    """Shared for ``api_cache_ttl_s`` by every request: 20 run counts are the webserver's
    heaviest read."""
    found = svc.cache.get(("queue-stats", *stages), lambda: queues.stats(svc.runs, stages))
    return [QueueStatsOut.model_validate(s.model_dump()) for s in found]


@router.get("/stats", responses=responses(403))
def all_queue_stats(svc: Svc, _: Admin) -> AllQueueStats:
    """Stats of every queue."""
    return AllQueueStats(queues=stats_of(svc, list(Stage)))


@router.get("/stats/{queue}", responses=responses(403, 404))
def queue_stats(queue: QueueName, svc: Svc, _: Admin) -> QueueStatsOut:
    """Stats of one queue."""
    return stats_of(svc, [stage_of(queue)])[0]


@router.get("/{queue}/jobs", responses=responses(403, 404))
def queue_jobs(
    queue: QueueName,
    svc: Svc,
    caller: Caller,
    status: JobStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[
        str | None, Query(description="The last job id of the previous page.")
    ] = None,
) -> JobList:
    """A queue's jobs, newest first (a user sees their own)."""
    stage, user = stage_of(queue), user_filter(caller)
    found = svc.cache.get(
        ("queue-jobs", stage, user, status, limit, cursor),
        lambda: queues.jobs(
            svc.runs, stage=stage, status=status, user_id=user, limit=limit, cursor=cursor
        ),
    )
    listed = [JobOut.model_validate(j.model_dump()) for j in jobs.with_progress(found, svc.events)]
    return JobList(jobs=listed, next_cursor=found[-1].run_id if len(found) == limit else None)


@router.post("/{queue}/pause", responses=responses(403, 404))
def pause_queue(queue: QueueName, svc: Svc, _: Admin) -> QueueState:
    """Start no new job of this queue (running ones finish, queued ones wait)."""
    stage = stage_of(queue)
    queues.pause(svc.runs, stage)
    svc.cache.clear()
    return QueueState(queue=stage, is_paused=True)


@router.post("/{queue}/resume", responses=responses(403, 404))
def resume_queue(queue: QueueName, svc: Svc, _: Admin) -> QueueState:
    """Let the queue's jobs start again."""
    stage = stage_of(queue)
    queues.resume(svc.runs, stage, pool_limit(stage))
    svc.cache.clear()
    return QueueState(queue=stage, is_paused=False)


@router.post(
    "/{queue}/clean",
    status_code=202,
    response_model=Accepted,
    responses=responses(403, 404, 422),
)
def clean_queue(
    queue: QueueName,
    request: Request,
    svc: Svc,
    caller: Admin,
    idempotency_key: IdempotencyKey = None,
    body: Annotated[CleanRequest, Body()] = CleanRequest(),  # noqa: B008 - never mutated
) -> JSONResponse:
    """Delete old finished jobs by the retention rules (runs ``clean_runs_job``; while one is
    waiting or running for this queue, that one is the answer)."""
    stage = stage_of(queue)

    def clean() -> Accepted:
        job_id = queues.request_clean(svc.runs, [stage], body)
        return Accepted(job_id=job_id, message=f"cleaning {stage} by the retention rules")

    request_print = fingerprint("POST", request.url.path, body.model_dump(mode="json"))
    return once(svc.idempotency, caller.user_id, idempotency_key, request_print, 202, clean)
