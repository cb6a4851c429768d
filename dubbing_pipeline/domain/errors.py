"""Error classes every stage speaks, so retries are spent only where they can help."""

from __future__ import annotations

import subprocess
from enum import StrEnum


class JobErrorType(StrEnum):
    TRANSIENT = "TRANSIENT"  # network blip, flaky storage: retry
    RESOURCE = "RESOURCE"  # GPU busy or out of memory: retry later
    TIMEOUT = "TIMEOUT"  # an engine or a subprocess overran: retry
    VALIDATION = "VALIDATION"  # the input is wrong: retrying cannot help
    PERMANENT = "PERMANENT"  # anything else that will fail the same way again


RETRYABLE_TYPES = frozenset({JobErrorType.TRANSIENT, JobErrorType.RESOURCE, JobErrorType.TIMEOUT})


class JobProcessingError(Exception):
    """An error with the class that decides whether a stage is retried or dead-lettered."""

    def __init__(
        self,
        message: str,
        error_type: JobErrorType = JobErrorType.PERMANENT,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = JobErrorType(error_type)
        self.retryable = self.error_type in RETRYABLE_TYPES if retryable is None else retryable

    def __repr__(self) -> str:
        return (
            f"JobProcessingError({self.message!r}, {self.error_type}, retryable={self.retryable})"
        )


class NotFound(Exception):
    """What an operation was asked about does not exist, or is not the caller's (the same
    answer, so another user's objects cannot be discovered)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} not found")
        self.message = f"{what} not found"


class Conflict(Exception):
    """The request cannot be done in the object's current state (retrying it will not help)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def validation_error(message: str) -> JobProcessingError:
    return JobProcessingError(message, JobErrorType.VALIDATION)


def classify(exc: BaseException) -> JobProcessingError:
    """Map any exception raised inside a stage to a JobProcessingError.

    Unknown exceptions count as TRANSIENT: a retry is cheap, and a job that still fails after
    the last attempt lands in the dead letter queue with its message intact.
    """
    if isinstance(exc, JobProcessingError):
        return exc
    message = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, TimeoutError | subprocess.TimeoutExpired):
        return JobProcessingError(message, JobErrorType.TIMEOUT)
    if isinstance(exc, MemoryError) or "out of memory" in str(exc).lower():
        return JobProcessingError(message, JobErrorType.RESOURCE)
    if isinstance(exc, FileNotFoundError | IsADirectoryError | NotADirectoryError):
        return JobProcessingError(message, JobErrorType.VALIDATION)
    if isinstance(exc, ImportError):  # an engine's package missing from this deployment
        return JobProcessingError(
            f"{message} (this deployment lacks a package the configured engine needs)",
            JobErrorType.PERMANENT,
        )
    return JobProcessingError(message, JobErrorType.TRANSIENT)
