"""WebSocket event latency: publication (EventPublisher, Redis Stream) to receipt by each client
of one API instance, and events lost.

    python -m bench.events [--json out.json] [--clients 200] [--events 500] [--rate 100]

Starts the API under uvicorn on loopback (no Dagster: /ws only reads Redis) and, in a separate
process, ``--clients`` WebSocket clients: most sign in as one of 20 users, ``--admin-share`` of
them as an operator (who sees every user's events), as /ws delivers a user's events only to that
user's connections. Then ``--events`` job_progress events, addressed round-robin to the 20 users,
are published at ``--rate`` per second. Latency is the receipt time minus the event's own
``timestamp`` (set as it is published; one clock). Lost: an event a client should have got
(its user's, or all for an operator) and did not within ``--grace`` seconds of the last one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import tempfile
import time
from datetime import datetime
from pathlib import Path
from threading import Event
from typing import Any

import redis
import uvloop
from websockets.asyncio.client import connect

from bench.common import Report, arguments, percentiles
from bench.seed import ADMIN, USERS, bearer, environment, services
from dubbing_pipeline.infra.events import STREAM, EventPublisher, JobEvent

REDIS_URL = "redis://127.0.0.1:6379/11"  # this benchmark's own database (tests use 13-15)
TARGET_P99_MS = 1000.0


def callers(clients: int, admin_share: float) -> list[str]:
    """Who each client signs in as: the first ``admin_share`` are operators, then users in turn."""
    admins = round(clients * admin_share)
    return [ADMIN] * admins + [USERS[i % len(USERS)] for i in range(clients - admins)]


def addressee(seq: int) -> str:
    return USERS[seq % len(USERS)]


def expected(caller: str, events: int) -> int:
    return events if caller == ADMIN else sum(addressee(i) == caller for i in range(events))


def listen(
    url: str, users: list[str], events: int, after: str, ready: Event, done: Event, grace: float
) -> dict[str, Any]:
    """The client process: connect everyone, say ready, collect until all arrived or
    ``grace`` s after ``done``."""
    return uvloop.run(_listen(url, users, events, after, ready, done, grace))


async def _listen(
    url: str, users: list[str], events: int, after: str, ready: Event, done: Event, grace: float
) -> dict[str, Any]:
    gate = asyncio.Semaphore(50)

    async def open_one(user: str) -> Any:
        async with gate:
            return await connect(f"{url}/ws?token={bearer(user)}&lastEventId={after}")

    sockets = await asyncio.gather(*(open_one(user) for user in users))
    latencies: list[list[float]] = [[] for _ in users]
    seen: list[set[int]] = [set() for _ in users]
    duplicates = 0

    async def read(i: int) -> None:
        nonlocal duplicates
        want = expected(users[i], events)
        async for message in sockets[i]:
            event = json.loads(message)
            received = time.time()
            seq = int(event["message"])
            duplicates += seq in seen[i]
            seen[i].add(seq)
            latencies[i].append(received - datetime.fromisoformat(event["timestamp"]).timestamp())
            if len(seen[i]) >= want:
                return

    ready.set()
    readers = asyncio.gather(*(read(i) for i in range(len(users))))
    await asyncio.to_thread(done.wait)
    with contextlib.suppress(TimeoutError):  # the stragglers' events count as lost
        await asyncio.wait_for(readers, grace)
    await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)
    return {
        "latencies_ms": [x * 1000 for per_client in latencies for x in per_client],
        "received": [len(s) for s in seen],
        "duplicates": duplicates,
    }


def publish(events: int, rate: float) -> float:
    """``events`` job_progress events at ``rate`` per second; the seconds it took."""
    publisher = EventPublisher(redis_url=REDIS_URL)
    began = time.perf_counter()
    for seq in range(events):
        time.sleep(max(0.0, began + seq / rate - time.perf_counter()))
        event = JobEvent(
            type="job_progress",
            projectId=f"p-bench-{seq % 50}",
            userId=addressee(seq),
            jobId=f"job-{seq % 50}",
            stage="TTS",
            status="active",
            progress=seq % 101,
            message=str(seq),
        )
        if publisher.publish(event) is None:
            raise RuntimeError("Redis did not take an event")
    return time.perf_counter() - began


def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--rate", type=float, default=100, help="events published per second")
    parser.add_argument("--admin-share", type=float, default=0.1)
    parser.add_argument("--grace", type=float, default=10, help="seconds to wait for stragglers")
    args = parser.parse_args()

    users = callers(args.clients, args.admin_share)
    report = Report("websocket event latency")
    spawn = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="bench-events-") as tmp:
        root = Path(tmp)
        env = environment(root, REDIS_URL)  # a flushed database: the stream starts empty
        with (
            services(root, env, webserver=False) as svc,
            spawn.Pool(1) as pool,
            spawn.Manager() as manager,
        ):
            last = redis.Redis.from_url(REDIS_URL).xrevrange(STREAM, count=1)
            after = last[0][0].decode() if last else "0-0"
            ready, done = manager.Event(), manager.Event()
            ws_url = svc.api.replace("http://", "ws://")
            job = pool.apply_async(
                listen, (ws_url, users, args.events, after, ready, done, args.grace)
            )
            if not ready.wait(120):
                raise RuntimeError(f"the clients did not connect: {job.get(1)}")
            cpu_before = svc.cpu_seconds()
            publish_s = publish(args.events, args.rate)
            done.set()
            result = job.get(args.grace + 60)
            api_cpu = svc.cpu_seconds()["api"] - cpu_before["api"]

    wanted = [expected(user, args.events) for user in users]
    lost = sum(max(0, w - r) for w, r in zip(wanted, result["received"], strict=True))
    cuts = percentiles(result["latencies_ms"])
    print(f"published {args.events} events in {publish_s:.1f} s; API CPU {api_cpu:.1f} s")
    report.add("clients", args.clients)
    report.add("operators_among_them", users.count(ADMIN))
    report.add("events_published", args.events)
    report.add("publish_rate_per_s", args.events / publish_s)
    report.add("deliveries_expected", sum(wanted))
    report.add("latency_p50_ms", cuts["p50"])
    report.add("latency_p99_ms", cuts["p99"], f"<= {TARGET_P99_MS:.0f}")
    report.add("latency_max_ms", max(result["latencies_ms"], default=float("nan")))
    report.add("events_lost", lost, "0")
    report.add("duplicates", result["duplicates"], "0")
    report.add("api_cpu_s", api_cpu)
    report.emit(args.json)


if __name__ == "__main__":
    main()
