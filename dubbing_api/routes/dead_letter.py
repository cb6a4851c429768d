"""The dead letter queue: failed-for-good jobs (run tags set by dead_letter_sensor)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.requests import Request
from starlette.responses import JSONResponse

from dubbing_api.errors import responses
from dubbing_api.idempotency import IdempotencyKey, fingerprint, once
from dubbing_api.models import Accepted, DeadLetterList, DeadLetterOut, DeadLetterStatsOut
from dubbing_api.services import Caller, Services, Svc, user_filter
from dubbing_pipeline.domain.tags import Tag
from dubbing_pipeline.operations import dead_letter
from dubbing_pipeline.operations.runs import RunQuery

router = APIRouter(
    prefix="/api/queue/dead-letter", tags=["dead letter queue"], responses=responses()
)
JobId = Annotated[str, Path(min_length=1, max_length=64)]


@router.get("/stats")
def dead_letter_stats(svc: Svc, caller: Caller) -> DeadLetterStatsOut:
    """Open dead letter entries by stage and error type."""
    # Every caller's stats come from one listing of all open entries, shared for a moment: a
    # count per stage and per type would cost more (the webserver counts tag pairs slowly).
    entries = svc.cache.get("dead-letter-open", lambda: dead_letter.entries(svc.runs, limit=10_000))
    owned = [entry for entry in entries if caller.owns(entry.user_id)]
    return DeadLetterStatsOut.model_validate(dead_letter.stats(owned).model_dump())


@router.get("/jobs")
def dead_letter_jobs(
    svc: Svc, caller: Caller, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> DeadLetterList:
    """Open dead letter entries, newest first."""
    entries = dead_letter.entries(svc.runs, user_id=user_filter(caller), limit=limit)
    return DeadLetterList(jobs=[DeadLetterOut.model_validate(e.model_dump()) for e in entries])


@router.post(
    "/{jobId}/retry", status_code=202, response_model=Accepted, responses=responses(404, 409, 422)
)
def retry_dead_letter(
    job_id: Annotated[str, Path(alias="jobId", min_length=1, max_length=64)],
    request: Request,
    svc: Svc,
    caller: Caller,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Retry a dead letter entry as a new job (once per entry)."""
    return retry(svc, request, caller, job_id, idempotency_key)


def retry(
    svc: Services, request: Request, caller: Caller, job_id: str, key: str | None
) -> JSONResponse:
    def run() -> Accepted:
        dead_letter.request_retry(svc.runs, job_id, user_filter(caller))
        svc.cache.clear()
        return Accepted(job_id=job_id, message="retry requested; the new job appears in seconds")

    request_print = fingerprint("POST", request.url.path, None)
    return once(svc.idempotency, caller.user_id, key, request_print, 202, run)


def open_count(svc: Services) -> int:
    """Open entries (for /metrics)."""
    return svc.runs.overview(counts={"open": RunQuery({Tag.DEAD_LETTER: "open"})}).counts["open"]
