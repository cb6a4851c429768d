"""The retry schedule (5 s, 15 s, 45 s ...) and the turn of any error into retry or dead letter.

Dagster's ``Backoff.EXPONENTIAL`` waits ``delay * (2**n - 1)`` (5, 15, 35 s), while the product
promises a factor of three (5, 15, 45 s). Each stage therefore carries a ``RetryPolicy`` (attempts
and first delay; it also covers failures outside the stage body, such as an engine that fails to
load), and classified errors inside the body request their own wait with ``RetryRequested``
computed from that same schedule. Permanent errors raise ``Failure(allow_retries=False)``: no
retry is wasted on them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from dagster import (
    AssetExecutionContext,
    Backoff,
    Failure,
    OpExecutionContext,
    RetryPolicy,
    RetryRequested,
)

from dubbing_pipeline.domain.errors import JobProcessingError, classify
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.tags import Tag
from dubbing_pipeline.infra.settings import settings


@dataclass(frozen=True)
class RetrySchedule:
    attempts: int = 3  # in all: the first try and two retries
    first_delay_s: float = 5.0
    factor: float = 3.0

    def wait_before_retry(self, retry_number: int) -> float:
        """Seconds to wait before retry ``retry_number + 1`` (0 -> 5 s, 1 -> 15 s, 2 -> 45 s)."""
        return self.first_delay_s * self.factor**retry_number

    @property
    def policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_retries=self.attempts - 1, delay=self.first_delay_s, backoff=Backoff.EXPONENTIAL
        )


def schedule_for(stage: Stage) -> RetrySchedule:
    """The deployment's schedule: ``DUBBING_RETRY_ATTEMPTS``/``DUBBING_RETRY_DELAY_S`` for all
    stages, ``DUBBING_RETRY_<STAGE>_ATTEMPTS``/``..._DELAY_S`` for one (read at definition load)."""
    attempts, delay = settings().retry(stage)
    return RetrySchedule(attempts=attempts, first_delay_s=delay)


@contextmanager
def classified_errors(
    context: AssetExecutionContext | OpExecutionContext,
    stage: Stage,
    on_final_failure: Callable[[JobProcessingError, int], None] = lambda *_: None,
) -> Iterator[None]:
    """Retry retryable errors on the schedule; fail everything else at once, with its class.
    ``on_final_failure(error, attempts)`` hears of a failure that goes to the dead letter queue."""
    try:
        yield
    except (RetryRequested, Failure):
        raise
    except Exception as exc:
        error = classify(exc)
        schedule = schedule_for(stage)
        attempt = context.retry_number + 1
        if error.retryable and attempt < schedule.attempts:
            wait = schedule.wait_before_retry(context.retry_number)
            context.log.warning(
                f"{stage} attempt {attempt}/{schedule.attempts} failed [{error.error_type}] "
                f"{error.message}; retrying in {wait:g} s"
            )
            # Shown as "delayed" in queue stats until the retry starts.
            context.instance.add_run_tags(
                context.run_id, {Tag.RETRY_AT: f"{time.time() + wait:.3f}"}
            )
            raise RetryRequested(max_retries=schedule.attempts - 1, seconds_to_wait=wait) from exc
        on_final_failure(error, attempt)
        raise Failure(
            description=f"[{error.error_type}] {error.message}",
            metadata={
                "error_type": error.error_type.value,
                "error_message": error.message,
                "retryable": error.retryable,
                "attempts": attempt,
                "dead_letter_reason": "retries_exhausted" if error.retryable else "permanent",
            },
            allow_retries=False,
        ) from exc
