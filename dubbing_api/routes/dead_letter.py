"""The dead letter queue: failed-for-good jobs (run tags set by dead_letter_sensor)."""

from __future__ import annotations

from collections import Counter

from pydantic import Field
from starlette.requests import Request

from dubbing_api.auth import Principal
from dubbing_api.errors import ApiError
from dubbing_api.models import (
    Accepted,
    Body,
    DeadLetterList,
    DeadLetterOut,
    DeadLetterStats,
)
from dubbing_api.routing import api
from dubbing_api.services import services, user_filter
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.tags import Tag
from dubbing_pipeline.operations import dead_letter


class DeadLetterQuery(Body):
    limit: int = Field(default=100, ge=1, le=1000)


async def _open_entries(request: Request, caller: Principal, limit: int) -> list[DeadLetterOut]:
    tags = {dead_letter.STATE: "open"} | user_filter(caller)
    runs = await services(request).dagster.runs(tags, ["FAILURE"], limit=limit)
    return [
        DeadLetterOut.model_validate(
            dead_letter.entry_of(run.run_id, run.tags, run.ended).model_dump()
        )
        for run in runs
    ]


@api(
    "GET",
    "/api/queue/dead-letter/stats",
    "Open dead letter entries by stage and error type",
    response=DeadLetterStats,
)
async def dead_letter_stats(request: Request, caller: Principal) -> DeadLetterStats:
    # Every caller's stats come from one listing of all open entries, shared for cache_ttl_s:
    # a count per stage and per type would cost more (the webserver counts tag pairs slowly).
    svc = services(request)
    runs = await svc.cache.get(
        "dead-letter-open",
        lambda: svc.dagster.runs({dead_letter.STATE: "open"}, ["FAILURE"], limit=10_000),
    )
    entries = [dead_letter.entry_of(run.run_id, run.tags, run.ended) for run in runs]
    owned = [entry for entry in entries if caller.owns(entry.user_id)]
    return DeadLetterStats(
        total=len(owned),
        by_stage=dict(Counter(entry.stage for entry in owned)),
        by_error_type=dict(Counter(entry.error_type for entry in owned)),
    )


@api(
    "GET",
    "/api/queue/dead-letter/jobs",
    "Open dead letter entries, newest first",
    query=DeadLetterQuery,
    response=DeadLetterList,
)
async def dead_letter_jobs(
    request: Request, caller: Principal, query: DeadLetterQuery
) -> DeadLetterList:
    return DeadLetterList(jobs=await _open_entries(request, caller, query.limit))


@api(
    "POST",
    "/api/queue/dead-letter/{jobId}/retry",
    "Retry a dead letter entry as a new job",
    response=Accepted,
    status=202,
)
async def retry_dead_letter(request: Request, caller: Principal) -> Accepted:
    return await request_retry(request, caller, request.path_params["jobId"])


async def request_retry(request: Request, caller: Principal, job_id: str) -> Accepted:
    """Record the request as an observation; dead_letter_retry_sensor launches the job once."""
    svc = services(request)
    run = await svc.own_run(caller, job_id)
    state = run.tags.get(dead_letter.STATE)
    if run.status != "FAILURE" or state is None:
        raise ApiError(409, "conflict", f"job {job_id} is not in the dead letter queue")
    # The sensor marks the entry retried a tick later; the claim refuses a second request now.
    if state != "open" or not svc.claim(f"dubbing:dlq-retry:{job_id}"):
        raise ApiError(409, "conflict", f"job {job_id} was already retried")
    stage = Stage(run.tags[Tag.STAGE])
    description = dead_letter.retry_description(job_id, caller.user_id)
    await svc.dagster.observe(stage.asset_name, run.tags[Tag.PROJECT], description)
    return Accepted(job_id=job_id, message="retry requested; the new job appears within seconds")


routes = [dead_letter_stats, dead_letter_jobs, retry_dead_letter]
