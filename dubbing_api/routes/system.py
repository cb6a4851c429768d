"""Health, Prometheus metrics and the OpenAPI document."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from dubbing_api.dagster_client import runs_filter
from dubbing_api.errors import ApiError
from dubbing_api.models import Health
from dubbing_api.openapi import openapi_schema
from dubbing_api.routes.queue import stats_of
from dubbing_api.routing import api
from dubbing_api.services import services
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.tags import Tag
from dubbing_pipeline.operations import dead_letter

QUEUE_STATES = ("waiting", "active", "completed", "failed", "delayed", "paused")


@api(
    "GET",
    "/healthz",
    "Liveness and the reachability of Dagster and Redis",
    roles=None,
    response=Health,
)
async def healthz(request: Request) -> Response:
    svc = services(request)
    dagster = redis = "ok"
    try:
        await svc.dagster.ping()
    except ApiError as exc:
        dagster = exc.message
    try:
        svc.redis.ping()
    except Exception as exc:
        redis = f"unreachable: {exc}"
    ok = dagster == redis == "ok"
    body = Health(status="ok" if ok else "degraded", dagster=dagster, redis=redis)
    return JSONResponse(body.model_dump(by_alias=True), 200 if ok else 503)


@api(
    "GET",
    "/metrics",
    "Prometheus metrics: queue depths, job durations, dead letter size",
    roles=None,
    content_type=CONTENT_TYPE_LATEST,
)
async def metrics(request: Request) -> Response:
    svc = services(request)
    registry = CollectorRegistry()
    depth = Gauge(
        "dubbing_queue_jobs", "Jobs by queue and state", ["queue", "state"], registry=registry
    )
    for stats in await stats_of(svc, list(Stage)):
        for state in QUEUE_STATES:
            depth.labels(stats.queue, state).set(getattr(stats, state))
    duration = Gauge(
        "dubbing_job_duration_seconds",
        "Mean run time of the last 100 finished jobs",
        ["queue"],
        registry=registry,
    )
    for stage in Stage:
        runs = await svc.dagster.runs({Tag.STAGE: stage.value}, ["SUCCESS"], limit=100)
        spans = [r.ended - r.started for r in runs if r.started and r.ended]
        duration.labels(stage.value).set(sum(spans) / len(spans) if spans else 0)
    dead = await svc.dagster.counts({"open": runs_filter({dead_letter.STATE: "open"})})
    dlq = Gauge("dubbing_dead_letter_jobs", "Open dead letter entries", registry=registry)
    dlq.set(dead["open"])
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


async def openapi(request: Request) -> Response:
    return JSONResponse(openapi_schema(request.app.routes, "dubbing_api", "0.1.0"))


routes = [healthz, metrics]
