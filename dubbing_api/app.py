"""The application factory: ``uvicorn --factory dubbing_api.app:create_app``.

FastAPI on Starlette: typed parameters and bodies, and a valid OpenAPI 3.1 document made from
the same types (``/openapi.json``). Routes are plain functions run in a thread pool: the
operations they call (``dubbing_pipeline.operations``) block on GraphQL, Redis and the store.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.responses import RedirectResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from dubbing_api.auth import BearerAuth, TokenStore, auth_failed
from dubbing_api.errors import EXCEPTION_HANDLERS
from dubbing_api.events import EventHub, events_endpoint
from dubbing_api.idempotency import IdempotencyStore
from dubbing_api.routes import ROUTERS
from dubbing_api.services import Services
from dubbing_api.settings import Settings
from dubbing_pipeline.infra.batching import SharedCache
from dubbing_pipeline.infra.events import EventPublisher
from dubbing_pipeline.infra.storage import ArtifactStore
from dubbing_pipeline.operations.graphql_store import GraphQLRunStore

VERSION = "0.2.0"
WORKBENCH = Path(__file__).parent / "static"  # the review workbench: one static bundle


def create_app(
    settings: Settings | None = None, transport: httpx.BaseTransport | None = None
) -> FastAPI:
    """``transport``: how GraphQL requests travel (tests pass an in-process one)."""
    settings = settings or Settings()
    store = ArtifactStore(base_url=settings.artifacts)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        timeout = httpx.Timeout(settings.graphql_timeout_s)
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=32)
        with httpx.Client(timeout=timeout, limits=limits, transport=transport) as http:
            app.state.services = Services(
                settings=settings,
                runs=GraphQLRunStore(http, settings.graphql_url, settings.code_location),
                store=store,
                events=EventPublisher(
                    redis_url=settings.redis_url, timeout_s=settings.redis_timeout_s
                ),
                cache=SharedCache(settings.api_cache_ttl_s),
                idempotency=IdempotencyStore(store),
            )
            app.state.event_hub = EventHub(settings.redis_url)
            try:
                yield
            finally:
                await app.state.event_hub.aclose()

    app = FastAPI(
        title="dubbing_api",
        version=VERSION,
        description="Dub videos: projects, review, queues, jobs, the dead letter queue, events.",
        routes=[
            WebSocketRoute("/ws", events_endpoint),
            # The workbench is a client of the public API like any other: static files, no
            # token needed to load them, every call it makes carries the user's own token.
            Mount("/workbench", StaticFiles(directory=WORKBENCH, html=True), name="workbench"),
            Route("/", lambda _: RedirectResponse("/workbench/"), include_in_schema=False),
        ],
        middleware=[
            Middleware(
                AuthenticationMiddleware,
                backend=BearerAuth(TokenStore.from_file(settings.api_tokens)),
                on_error=auth_failed,
            )
        ],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        # Operation ids are the route functions' names: what generated clients call them.
        generate_unique_id_function=lambda route: route.name,
    )
    for router in ROUTERS:
        app.include_router(router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, less the 422 it declares for invalid parameters: this service
    answers those with a 400 in its own error shape (``errors.invalid_request``)."""
    if app.openapi_schema is None:
        spec = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        for operation in (op for path in spec["paths"].values() for op in path.values()):
            default = operation["responses"].get("422", {})
            if "HTTPValidationError" in json.dumps(default):
                del operation["responses"]["422"]
        for name in ("HTTPValidationError", "ValidationError"):
            spec.get("components", {}).get("schemas", {}).pop(name, None)
        app.openapi_schema = spec
    return app.openapi_schema
