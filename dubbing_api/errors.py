"""One error shape for every failure: ``{"error": {"code", "message"}}`` with the right status."""

from __future__ import annotations

import logging

from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from dubbing_pipeline.domain.errors import JobProcessingError

log = logging.getLogger(__name__)
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


def error_response(status: int, code: str, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": {"code": code, "message": message}}, status, headers=headers)


async def api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message)


async def http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return error_response(
        exc.status_code, HTTP_CODES.get(exc.status_code, "error"), str(exc.detail)
    )


async def validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ValidationError)
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "body"
    return error_response(400, "validation_error", f"{field}: {first['msg']}")


async def job_error(request: Request, exc: Exception) -> JSONResponse:
    """The pipeline's own VALIDATION errors (bad edits, unknown segment) are the caller's fault;
    their messages name artifacts by key, not by where the store keeps them."""
    assert isinstance(exc, JobProcessingError)
    return error_response(
        400, "invalid_request", request.app.state.services.store.scrub(exc.message)
    )


async def server_error(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, "internal_error", "internal error; it has been logged")


EXCEPTION_HANDLERS = {
    ApiError: api_error,
    HTTPException: http_error,
    ValidationError: validation_error,
    JobProcessingError: job_error,
    Exception: server_error,
}
