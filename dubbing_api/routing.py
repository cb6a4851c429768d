"""Routes declared once with what OpenAPI needs: who may call, what goes in, what comes out.

``@api(...)`` wraps a handler: it checks the caller's role, parses the JSON body and the query
string into pydantic models (a bad field is a 400 naming it), and serialises the returned model.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dubbing_api.auth import Principal, Role, principal
from dubbing_api.errors import ApiError

Handler = Callable[..., Awaitable[BaseModel | Response]]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    roles: tuple[Role, ...] | None  # None: public
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    content_type: str = "application/json"


def api(
    method: str,
    path: str,
    summary: str,
    *,
    roles: tuple[Role, ...] | None = ("user", "admin"),
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    content_type: str = "application/json",
) -> Callable[[Handler], Route]:
    operation = Operation(method, path, summary, roles, body, query, response, status, content_type)

    def decorate(handler: Handler) -> Route:
        async def endpoint(request: Request) -> Response:
            kwargs: dict[str, Any] = {}
            if operation.roles is not None:
                kwargs["caller"] = principal(request, *operation.roles)
            if operation.query is not None:
                kwargs["query"] = operation.query.model_validate(dict(request.query_params))
            if operation.body is not None:
                kwargs["body"] = operation.body.model_validate(await _json(request))
            result = await handler(request, **kwargs)
            if isinstance(result, Response):
                return result
            # Messages the pipeline wrote (errors, dead letter entries) may name an artifact by
            # its location: callers see its key, never this host's folders.
            body = request.app.state.services.store.scrub(
                json.dumps(result.model_dump(mode="json", by_alias=True))
            )
            return Response(body, operation.status, media_type="application/json")

        route = Route(path, endpoint, methods=[method], name=handler.__name__)
        route.operation = operation  # type: ignore[attr-defined]
        return route

    return decorate


async def _json(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from exc


__all__ = ["Operation", "Principal", "api"]
