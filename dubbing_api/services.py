"""What the routes share: the app's clients, the caller (a FastAPI dependency that checks the
role), and lookups that enforce ownership (another user's object is a 404, so existence does
not leak)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBearer
from starlette.requests import HTTPConnection

from dubbing_api.auth import Principal, Role
from dubbing_api.errors import ApiError
from dubbing_api.idempotency import IdempotencyStore
from dubbing_api.settings import Settings
from dubbing_pipeline.domain.errors import JobProcessingError, NotFound
from dubbing_pipeline.domain.projects import Project
from dubbing_pipeline.infra.batching import SharedCache
from dubbing_pipeline.infra.events import EventPublisher
from dubbing_pipeline.infra.storage import ArtifactStore
from dubbing_pipeline.operations.graphql_store import GraphQLRunStore
from dubbing_pipeline.operations.projects import load_project


@dataclass
class Services:
    settings: Settings
    runs: GraphQLRunStore
    store: ArtifactStore
    events: EventPublisher
    cache: SharedCache
    idempotency: IdempotencyStore

    def own_project(self, caller: Principal, project_id: str) -> Project:
        try:
            project = load_project(self.store, project_id)
        except (JobProcessingError, ValueError) as exc:
            raise NotFound(f"project {project_id}") from exc
        if not caller.owns(project.user_id):
            raise NotFound(f"project {project_id}")
        return project


def services(connection: HTTPConnection) -> Services:
    """The app's services, from a request or a WebSocket alike."""
    return connection.app.state.services


_bearer = HTTPBearer(auto_error=False, description="An API token (see the README)")


def caller(*roles: Role) -> Callable[..., Principal]:
    """A dependency: the signed-in caller, who must hold one of ``roles``. (The authentication
    middleware has already checked the token; this declares the scheme in OpenAPI.)"""

    def dependency(request: Request, _: Annotated[object, Depends(_bearer)]) -> Principal:
        user = request.user
        if not isinstance(user, Principal):
            raise ApiError(401, "unauthorized", "a bearer token is required")
        if user.role not in roles:
            raise ApiError(403, "forbidden", f"this needs the role {' or '.join(roles)}")
        return user

    return dependency


Svc = Annotated[Services, Depends(services)]
Caller = Annotated[Principal, Depends(caller("user", "admin"))]
Admin = Annotated[Principal, Depends(caller("admin"))]
Worker = Annotated[Principal, Depends(caller("worker"))]


def user_filter(principal: Principal) -> str | None:
    """The user whose objects a listing shows: the caller's own, or everyone's for an admin."""
    return None if principal.is_admin else principal.user_id


__all__ = ["Admin", "Caller", "NotFound", "Services", "Svc", "Worker", "services", "user_filter"]
