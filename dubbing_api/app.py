"""The application factory: ``uvicorn --factory dubbing_api.app:create_app``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import redis
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.routing import Route, WebSocketRoute

from dubbing_api.auth import BearerAuth, TokenStore, auth_failed
from dubbing_api.cache import SharedCache
from dubbing_api.dagster_client import DagsterClient
from dubbing_api.errors import EXCEPTION_HANDLERS
from dubbing_api.events import EventHub, events_endpoint
from dubbing_api.routes import ROUTES
from dubbing_api.routes.system import openapi
from dubbing_api.services import Services
from dubbing_api.settings import Settings
from dubbing_pipeline.infra.events import EventPublisher
from dubbing_pipeline.infra.storage import ArtifactStore


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        timeout = httpx.Timeout(settings.graphql_timeout_s)
        async with httpx.AsyncClient(timeout=timeout) as http:
            app.state.services = Services(
                settings=settings,
                dagster=DagsterClient(http, settings.graphql_url, settings.code_location),
                store=ArtifactStore(base_url=settings.artifacts_url),
                events=EventPublisher(redis_url=settings.redis_url),
                redis=redis.Redis.from_url(settings.redis_url, socket_timeout=2),
                cache=SharedCache(settings.cache_ttl_s),
            )
            app.state.event_hub = EventHub(settings.redis_url)
            try:
                yield
            finally:
                await app.state.event_hub.aclose()

    return Starlette(
        routes=[
            *ROUTES,
            Route("/openapi.json", openapi, include_in_schema=False),
            WebSocketRoute("/ws", events_endpoint),
        ],
        middleware=[
            Middleware(
                AuthenticationMiddleware,
                backend=BearerAuth(TokenStore.from_file(settings.tokens_file)),
                on_error=auth_failed,
            )
        ],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        lifespan=lifespan,
    )
