"""A warm run worker: one long-lived process that imports Dagster, the code location and the engine
modules once, then executes the runs the server hands it, one at a time, with the body of
``dagster api execute_run`` (what DefaultRunLauncher's fresh process and dagster-celery's task
run): the same events, run status, cancellation thread and interrupt handling. Models loaded by
a run stay in the process's model cache (``infra.model_cache``) for the next.

    python -m dubbing_pipeline.defs.warm.worker FD PRELOAD_JSON   (the server starts it)
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import signal
import sys
import time
import traceback
from multiprocessing.connection import Connection
from typing import Any


def report() -> dict[str, Any]:
    """What this process holds: resident memory, loaded models and the budget they share."""
    from dubbing_pipeline.infra.model_cache import shared_cache

    cache = shared_cache()
    return {
        "rss_bytes": _rss_bytes(),
        "models": [[_name(e.key), e.bytes] for e in cache.entries()],
        "models_bytes": cache.held_bytes(),
        "budget_bytes": cache.budget_bytes,
    }


def execute(instance: Any, run_id: str, served: int) -> int:
    """One run, as ``dagster api execute_run`` executes it; the exit code it would have."""
    from dagster._cli.api import _execute_run_command_body
    from dagster._core.events import EngineEventData
    from dagster._utils.interrupts import capture_interrupts

    run = instance.get_run_by_id(run_id)
    if run is None:
        return 1
    held = report()
    instance.report_engine_event(
        f"Warm run worker (pid {os.getpid()}) takes the run, its run number {served + 1}; "
        f"models loaded: {', '.join(n for n, _ in held['models']) or 'none'}",
        run,
        EngineEventData(_metadata(held, served)),
    )
    with capture_interrupts():  # a SIGINT (terminate) interrupts this run, not the worker
        code = _execute_run_command_body(
            run_id, instance, write_stream_fn=lambda _: None, set_exit_code_on_failure=True
        )
    gc.collect()
    return code


def main() -> None:
    conn = Connection(int(sys.argv[1]))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # between runs an interrupt is meaningless
    started = time.monotonic()
    from dagster import DagsterInstance

    for module in json.loads(sys.argv[2]):
        importlib.import_module(module)
    instance = DagsterInstance.get()
    conn.send({"ready": round(time.monotonic() - started, 3), "report": report()})
    served = 0
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the server is gone
            break
        if message.get("exit"):
            break
        run_id = message["run"]
        try:
            code = execute(instance, run_id, served)
        except BaseException:  # the worker outlives a broken run; monitoring fails it
            traceback.print_exc()
            code = 1
        served += 1
        try:
            conn.send({"done": run_id, "rc": code, "report": report()})
        except OSError:
            break
    instance.dispose()


def _metadata(held: dict[str, Any], served: int) -> dict[str, Any]:
    from dagster import MetadataValue

    return {
        "warm_worker_pid": MetadataValue.int(os.getpid()),
        "warm_worker_runs_before": MetadataValue.int(served),
        "warm_worker_rss_mb": MetadataValue.float(round(held["rss_bytes"] / 2**20, 1)),
        "models_loaded": MetadataValue.text(
            ", ".join(f"{n} ({b / 2**20:.0f} MB)" for n, b in held["models"]) or "none"
        ),
        "models_mb": MetadataValue.float(round(held["models_bytes"] / 2**20, 1)),
        "model_budget_mb": MetadataValue.float(round(held["budget_bytes"] / 2**20, 1)),
    }


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def _name(key: object) -> str:
    """A readable model name from a cache key: its kind and the last part of its path."""
    if isinstance(key, tuple) and key:
        parts = [str(k) for k in key[:3]]
        return ":".join([parts[0], *(os.path.basename(p.rstrip("/")) or p for p in parts[1:])])
    return str(key)


if __name__ == "__main__":
    main()
