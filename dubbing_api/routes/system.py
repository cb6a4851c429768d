"""Health and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from redis.exceptions import RedisError
from starlette.responses import JSONResponse, Response

from dubbing_api.errors import responses
from dubbing_api.models import Health, Me
from dubbing_api.routes.dead_letter import open_count
from dubbing_api.routes.queue import stats_of
from dubbing_api.services import Caller, Svc
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.operations import queues
from dubbing_pipeline.operations.runs import RunStoreError, RunStoreUnavailable

router = APIRouter(tags=["system"])


@router.get(
    "/healthz",
    response_model=Health,
    responses={503: {"model": Health, "description": "Dagster or Redis is unreachable"}},
)
def healthz(svc: Svc) -> JSONResponse:
    """Liveness, and whether Dagster and Redis answer (no token needed)."""
    dagster = redis = "ok"
    try:
        svc.runs.ping()
    except (RunStoreUnavailable, RunStoreError) as exc:
        dagster = str(exc)
    try:
        svc.events.ping()
    except RedisError as exc:
        redis = f"unreachable: {exc}"
    ok = dagster == redis == "ok"
    body = Health(status="ok" if ok else "degraded", dagster=dagster, redis=redis)
    return JSONResponse(body.model_dump(by_alias=True), 200 if ok else 503)


@router.get("/api/me", responses=responses(403))
def me(caller: Caller) -> Me:
    """Who the token belongs to: clients (the workbench) show operators' pages to admins."""
    return Me(user_id=caller.user_id, role=caller.role)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format"},
        503: {"description": "Dagster's webserver is unreachable"},
    },
)
def metrics(svc: Svc) -> Response:
    """Prometheus metrics: queue depths, job durations, dead letter size (no token needed)."""
    registry = CollectorRegistry()
    depth = Gauge(
        "dubbing_queue_jobs", "Jobs by queue and state", ["queue", "state"], registry=registry
    )
    for stats in stats_of(svc, list(Stage)):
        for state in queues.QUEUE_STATES:
            depth.labels(stats.queue.value, state).set(getattr(stats, state))
    duration = Gauge(
        "dubbing_job_duration_seconds",
        "Mean run time of the last 100 finished jobs",
        ["queue"],
        registry=registry,
    )
    for stage in Stage:
        runs = queues.jobs(svc.runs, stage=stage, status=queues.JobStatus.COMPLETED, limit=100)
        spans = [r.ended - r.started for r in runs if r.started and r.ended]
        duration.labels(stage.value).set(sum(spans) / len(spans) if spans else 0)
    dlq = Gauge("dubbing_dead_letter_jobs", "Open dead letter entries", registry=registry)
    dlq.set(open_count(svc))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
