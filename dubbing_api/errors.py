"""One error shape for every failure, ``{"error": {"code", "message"}}`` with the right status,
and the statuses each operation declares in the OpenAPI document."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from dubbing_pipeline.domain.errors import Conflict, JobProcessingError, NotFound
from dubbing_pipeline.operations.runs import RunStoreError, RunStoreUnavailable

log = logging.getLogger(__name__)
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
}


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


ERROR_DESCRIPTIONS = {
    400: "The request is invalid: the message names the field or the problem",
    401: "No valid bearer token",
    403: "The token's role may not do this",
    404: "Not found, or not the caller's (the same answer)",
    409: "Not possible in the object's current state",
    413: "The upload is over the limit",
    422: "The Idempotency-Key was used with another request",
    502: "Dagster answered with an error",
    503: "Dagster's webserver is unreachable or slow: nothing happened, or a retry is safe",
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error statuses an operation declares (401 and 400 for every one)."""
    return {
        status: {"model": ErrorBody, "description": ERROR_DESCRIPTIONS[status]}
        for status in sorted({400, 401, 503, *statuses})
    }


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    headers = dict(headers or {})
    if status == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    return JSONResponse({"error": {"code": code, "message": message}}, status, headers=headers)


def _scrub(request: Request, message: str) -> str:
    """Messages that name an artifact show its key, never this host's folders."""
    return request.app.state.services.store.scrub(message)


async def api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, _scrub(request, exc.message))


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code, headers = HTTP_CODES.get(exc.status_code, "error"), dict(exc.headers or {})
    if exc.status_code == 405:  # Starlette names the first matching route's methods only
        headers["Allow"] = ", ".join(sorted(_allowed(request)))
    return error_response(exc.status_code, code, str(exc.detail), headers)


def _allowed(request: Request) -> set[str]:
    """The methods the OpenAPI document declares for the requested path."""
    methods: set[str] = set()
    for template, operations in request.app.openapi()["paths"].items():
        if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), request.url.path):
            methods |= {method.upper() for method in operations}
    return methods


async def invalid_request(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0]
    if first.get("type") == "json_invalid":
        reason = (first.get("ctx") or {}).get("error", "")
        return error_response(400, "invalid_json", f"body: the body is not valid JSON: {reason}")
    loc = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    field = ".".join(loc) or "body"
    return error_response(400, "validation_error", f"{field}: {first.get('msg', 'invalid')}")


async def job_error(request: Request, exc: Exception) -> JSONResponse:
    """The pipeline's own VALIDATION errors (bad edits, unknown segment) are the caller's fault."""
    assert isinstance(exc, JobProcessingError)
    return error_response(400, "invalid_request", _scrub(request, exc.message))


async def missing(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, NotFound)
    return error_response(404, "not_found", _scrub(request, exc.message))


async def conflict(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Conflict)
    return error_response(409, "conflict", _scrub(request, exc.message))


async def dagster_unavailable(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RunStoreUnavailable)
    hint = " (the request may have gone through: retrying it is safe)" if exc.maybe_done else ""
    return error_response(503, "dagster_unavailable", exc.message + hint)


async def dagster_error(_: Request, exc: Exception) -> JSONResponse:
    return error_response(502, "dagster_error", str(exc))


async def server_error(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, "internal_error", "internal error; it has been logged")


EXCEPTION_HANDLERS = {
    ApiError: api_error,
    HTTPException: http_error,
    RequestValidationError: invalid_request,
    JobProcessingError: job_error,
    NotFound: missing,
    Conflict: conflict,
    RunStoreUnavailable: dagster_unavailable,
    RunStoreError: dagster_error,
    Exception: server_error,
}
