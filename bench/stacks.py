"""The whole system on loopback for the benchmarks: the embedded default (warm run workers, or
Dagster's DefaultRunLauncher to compare with) or the Celery profile, ready before the clock
starts."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from dagster import DagsterInstance

from bench.warm import wait_for_warm_workers
from dubbing_pipeline.defs.warm.launcher import WarmRunLauncher
from tests.support.stack import CELERY_ENV, TEST_REDIS, Stack, celery_workers, running_stack

REDIS_URL = f"{TEST_REDIS}/9"  # the tests' Redis server (DUBBING_TEST_REDIS), its own database
# The speech checks run (their cost is part of what is measured) but never hold a bench project
# for review, which would wait for a person forever: Whisper base hears some espeak-ng clips
# badly or not at all (a 60 s turnaround was held by `intelligibility` on 2026-12-01).
UNHELD_CHECKS = {
    "DUBBING_CHECK_WER_ERROR": "100",
    "DUBBING_CHECK_MAX_CUT_SHARE": "1",
    "DUBBING_CHECK_SILENCE_DBFS": "-200",
}


@contextmanager
def bench_stack(
    root: Path, profile: str, launcher: str, **overrides: str
) -> Iterator[tuple[Stack, DagsterInstance]]:
    """``profile`` embedded (SQLite) or celery (Postgres, two Celery workers); ``launcher`` warm
    or default (embedded only)."""
    overrides = {"DUBBING_REDIS_URL": REDIS_URL} | UNHELD_CHECKS | overrides
    if profile == "celery":
        os.environ["DUBBING_TEST_STORAGE"] = "postgres"
        overrides |= CELERY_ENV
    with ExitStack() as running:
        stack = running.enter_context(
            running_stack(
                root,
                "celery" if profile == "celery" else "postgres",
                launcher="configured" if profile == "celery" else launcher,
                **overrides,
            )
        )
        if profile == "celery":
            running.enter_context(celery_workers(root, stack.env))
        os.environ.update(stack.env)
        instance = running.enter_context(DagsterInstance.get())
        time.sleep(5)  # let the daemon load the code location before the clock starts
        if profile != "celery" and launcher != "default":  # and the warm workers start
            warm = instance.run_launcher
            assert isinstance(warm, WarmRunLauncher), type(warm)
            warm.start_workers()  # the daemon would start them only with the first run
            wait_for_warm_workers(stack.env["DAGSTER_HOME"])
        yield stack, instance
