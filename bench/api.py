"""API latency under load: p50/p95/p99 and throughput of four read endpoints at 50 concurrent
clients, with 10,000 runs in the run store.

    python -m bench.api [--json out.json] [--runs 10000] [--seconds 30] [--clients 50]

Seeds a temp DAGSTER_HOME (embedded SQLite; bench/seed.py), starts dagster-webserver and the API
(uvicorn) on loopback, and drives each endpoint in turn from a separate process: ``--clients``
async clients, each sending its next request as soon as the last one is answered (closed loop, no
think time), for ``--seconds`` after a short warm-up. Latency is the client's, from send to the
whole body read; an error is a non-2xx answer, a timeout (10 s) or a broken connection. The
clients are aiohttp's: httpx (``--client httpx``) needs ~3 ms of CPU a request here, so on two
cores it, not the API, set the pace. Also printed: the CPU each process used (in cores).
"""

from __future__ import annotations

import asyncio
import os
import random
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import uvloop

from bench.common import Report, arguments, percentiles
from bench.seed import ADMIN, USERS, bearer, environment, seed_home, services

REDIS_URL = "redis://127.0.0.1:6379/10"  # the API benchmarks' own database (tests use 13-15)
TARGET_P99_MS = 100.0


@dataclass(frozen=True)
class Endpoint:
    """What a client asks for: a path per request, and who it is (client index -> user)."""

    name: str
    path: Callable[[random.Random, list[str]], str]
    caller: Callable[[int], str]


def _user(i: int) -> str:
    return USERS[i % len(USERS)]


def _mostly_users(i: int) -> str:
    """One client in ten is an operator (admin: sees every user's runs, the heavier query)."""
    return ADMIN if i % 10 == 9 else _user(i)


ENDPOINTS = {
    e.name: e
    for e in (
        Endpoint("job", lambda rng, owned: f"/api/jobs/{rng.choice(owned)}", _user),
        Endpoint("queue_stats", lambda rng, owned: "/api/queue/stats", lambda i: ADMIN),
        Endpoint("queue_jobs", lambda rng, owned: "/api/queue/STT/jobs?limit=50", _mostly_users),
        Endpoint(
            "dead_letter_stats", lambda rng, owned: "/api/queue/dead-letter/stats", _mostly_users
        ),
    )
}


def drive(
    base_url: str,
    name: str,
    owned: dict[str, list[str]],
    clients: int,
    seconds: float,
    warmup_s: float,
    library: str = "aiohttp",
) -> dict[str, Any]:
    """One endpoint under load (runs in the load process): latencies in ms and error counts."""
    load = _drive(base_url, ENDPOINTS[name], owned, clients, seconds, warmup_s, library)
    return uvloop.run(load)


class Failed(Exception):
    """A request that got no answer: ``kind`` is timeout or transport."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@asynccontextmanager
async def http_client(
    library: str, base_url: str, clients: int
) -> AsyncIterator[Callable[[str, dict[str, str]], Awaitable[int]]]:
    """``get(path, headers) -> status`` that reads the whole body. aiohttp by default: httpx
    spends ~3 ms of CPU per request here, enough to make the client the bottleneck."""
    if library == "httpx":
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        async with httpx.AsyncClient(base_url=base_url, timeout=10, limits=limits) as http:

            async def get_httpx(path: str, headers: dict[str, str]) -> int:
                try:
                    return (await http.get(path, headers=headers)).status_code
                except httpx.TimeoutException as exc:
                    raise Failed("timeout") from exc
                except httpx.TransportError as exc:
                    raise Failed("transport") from exc

            yield get_httpx
        return
    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(base_url, connector=connector, timeout=timeout) as session:

        async def get_aiohttp(path: str, headers: dict[str, str]) -> int:
            try:
                async with session.get(path, headers=headers) as response:
                    await response.read()
                    return response.status
            except TimeoutError as exc:
                raise Failed("timeout") from exc
            except aiohttp.ClientError as exc:
                raise Failed("transport") from exc

        yield get_aiohttp


async def _drive(
    base_url: str,
    endpoint: Endpoint,
    owned: dict[str, list[str]],
    clients: int,
    seconds: float,
    warmup_s: float,
    library: str,
) -> dict[str, Any]:
    cpu_at_start = time.process_time()
    latencies: list[float] = []
    errors = {"status": 0, "timeout": 0, "transport": 0}
    statuses: dict[int, int] = {}
    begin = time.perf_counter() + warmup_s
    end = begin + seconds

    async def client(i: int, get: Callable[[str, dict[str, str]], Awaitable[int]]) -> None:
        user = endpoint.caller(i)
        headers = {"Authorization": f"Bearer {bearer(user)}"}
        rng = random.Random(i)
        while (sent := time.perf_counter()) < end:
            path = endpoint.path(rng, owned.get(user, []))
            try:
                status = await get(path, headers)
            except Failed as failure:
                errors[failure.kind] += sent >= begin
                await asyncio.sleep(0.05)
                continue
            if sent < begin:
                continue
            if 200 <= status < 300:
                latencies.append((time.perf_counter() - sent) * 1000)
            else:
                statuses[status] = statuses.get(status, 0) + 1
                errors["status"] += 1

    async with http_client(library, base_url, clients) as get:
        await asyncio.gather(*(client(i, get) for i in range(clients)))
    cpu = {"client": time.process_time() - cpu_at_start}
    return {"latencies_ms": latencies, "errors": errors, "statuses": statuses, "cpu": cpu}


def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--warmup", type=float, default=3, help="seconds not measured, each")
    parser.add_argument("--api-workers", type=int, default=1, help="uvicorn --workers")
    parser.add_argument("--client", choices=("aiohttp", "httpx"), default="aiohttp")
    parser.add_argument(
        "--app-dir", type=Path, help="import dubbing_api from this folder (to compare versions)"
    )
    parser.add_argument("--only", nargs="*", choices=list(ENDPOINTS), default=list(ENDPOINTS))
    args = parser.parse_args()

    report = Report("api latency under load")
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        root = Path(tmp)
        env = environment(root, REDIS_URL)
        seeded, seed_s = seed_home(env, args.runs)
        print(f"seeded in {seed_s:.1f} s: {seeded.summary()}", flush=True)
        report.add("runs_in_store", len(seeded.runs))
        report.add("clients", args.clients)
        report.add("api_workers", args.api_workers)
        report.add("client_library", args.client)
        owned = seeded.job_ids_by_user()
        spawn = get_context("spawn")
        with (
            services(root, env, api_workers=args.api_workers, app_dir=args.app_dir) as svc,
            ProcessPoolExecutor(1, mp_context=spawn) as load,
        ):
            for name in args.only:
                load_before, cpu_before = os.getloadavg()[0], svc.cpu_seconds()
                began = time.perf_counter()
                result = load.submit(
                    drive,
                    *(svc.api, name, owned, args.clients, args.seconds, args.warmup, args.client),
                ).result()
                wall = time.perf_counter() - began
                used = {k: v - cpu_before[k] for k, v in svc.cpu_seconds().items()}
                result["cpu"] = {k: v / wall for k, v in (used | result["cpu"]).items()}
                result["seconds"] = args.seconds
                _add(report, name, result, load_before)
    report.emit(args.json)


def _add(report: Report, name: str, result: dict[str, Any], load_before: float) -> None:
    latencies, errors = result["latencies_ms"], result["errors"]
    cuts = percentiles(latencies)
    cpu = ", ".join(f"{k} {v:.2f}" for k, v in result["cpu"].items())
    print(
        f"{name}: {len(latencies)} ok, errors {errors} {result['statuses'] or ''}; "
        f"CPU in cores: {cpu}; load average {load_before:.1f} before",
        flush=True,
    )
    report.add(f"{name}_p50_ms", cuts["p50"])
    report.add(f"{name}_p95_ms", cuts["p95"])
    report.add(f"{name}_p99_ms", cuts["p99"], f"<= {TARGET_P99_MS:.0f}")
    report.add(f"{name}_requests_per_s", len(latencies) / result["seconds"])
    report.add(f"{name}_errors", sum(errors.values()), "0")


if __name__ == "__main__":
    main()
