"""What the benchmarks share about warm run workers: waiting for them, and their memory."""

from __future__ import annotations

import time
from typing import Any

from dubbing_pipeline.defs.warm.protocol import ServerUnavailable, call


def wait_for_warm_workers(home: str, timeout: float = 600) -> list[dict[str, Any]]:
    """The warm run server's workers once all are ready (``WarmRunLauncher.start_workers``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status = call(home, {"op": "status"})
        except ServerUnavailable:
            status = {}
        workers = status.get("workers", [])
        if workers and len(workers) >= status["size"] and all(w["ready"] for w in workers):
            return workers
        time.sleep(0.2)
    raise SystemExit(f"the warm run workers were not ready in {timeout} s")


def worker_memory(home: str) -> dict[str, float]:
    """Resident memory of the warm run workers (MB): the largest, the sum, and models held."""
    try:
        workers = call(home, {"op": "status"}).get("workers", [])
    except ServerUnavailable:
        return {}
    rss = [w.get("rss_bytes", 0) / 2**20 for w in workers]
    models = [w.get("models_bytes", 0) / 2**20 for w in workers]
    return {
        "warm_workers": len(workers),
        "warm_worker_rss_max_mb": max(rss, default=0.0),
        "warm_worker_rss_sum_mb": sum(rss),
        "warm_models_max_mb": max(models, default=0.0),
    }
