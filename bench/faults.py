"""The fault suite, in full: the real stack (daemon, webserver, relay, API; Postgres, a Redis of
its own with append-only persistence, tiny.en), one project per fault driven through the HTTP
API as a product would (each review approved once it opens), a WebSocket-free check of what
reached the stream against what Dagster recorded. Prints one row per fault:

    fault | completed | duplicate runs | events expected | delivered | in order | STT engine s |
    relay p50 s (event time in Dagster -> stream entry)

    python -m bench.faults [--only redis_pause,worker_kill] [--json out.json]

Faults: none (the baseline), redis_pause (SIGSTOP for the whole STT run, then 30 s more),
redis_restart (stopped while STT runs, the transcript approved while it is down, restarted on
its append-only file), worker_kill (SIGKILL of the STT run's process), webserver_kill (stopped
while an approval is sent; the client retries its 503 with the same Idempotency-Key),
webserver_stall (SIGSTOP while an approval is sent; it times out and is retried), daemon_kill
(SIGKILL of dagster-daemon while STT runs, started again 10 s later), api_restart (the API
stopped and started between the reviews), triple_approval (the same approval three times at
once, both reviews). Engine slowdown: the STT run's engine seconds during the Redis stall over
the baseline's (target <= 10 %), both after a warm-up project that loads the models.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dagster import AssetKey, AssetRecordsFilter, DagsterInstance

from bench.common import Report, arguments
from dubbing_pipeline.cli.sample import make_sample_video
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.infra.events import JobEvent
from tests.support.faults import (
    Project,
    RedisServer,
    delivered,
    expected_events,
    kill_first_run_worker,
    order_problems,
    redis_server,
    runs_per_stage,
    stack_instance,
)
from tests.support.stack import Stack, running_stack, wait_until

Fault = Callable[[Stack, RedisServer, Project], None]


def _started(project: Project) -> None:
    def active() -> bool:
        answer = project.stack.client(project.user).get(f"/api/jobs/project/{project.id}/current")
        return answer.status_code == 200 and answer.json()["status"] in ("active", "completed")

    wait_until(active, 180, "STT to start")


def none(stack: Stack, redis: RedisServer, project: Project) -> None:
    project.create().run_through()


def redis_pause(stack: Stack, redis: RedisServer, project: Project) -> None:
    project.create()
    redis.pause()
    try:
        project.wait_for(Stage.STT)
        time.sleep(30)
    finally:
        redis.resume()
    project.run_through()


def redis_restart(stack: Stack, redis: RedisServer, project: Project) -> None:
    project.create()
    _started(project)
    redis.stop()
    try:
        project.wait_for(Stage.STT)
        project.approve(Stage.STT)
        time.sleep(10)
    finally:
        redis.start()
    project.run_through()


def worker_kill(stack: Stack, redis: RedisServer, project: Project) -> None:
    project.create()
    with stack_instance(stack) as instance:
        kill_first_run_worker(instance, project.id)
    project.run_through()


def _during_approval(
    stack: Stack, project: Project, stop: Callable[[], None], start: Callable[[], None]
) -> None:
    project.create().wait_for(Stage.STT)
    project.retry_for = 180
    stop()
    click = threading.Thread(target=project.approve, args=(Stage.STT,))
    click.start()
    time.sleep(15)
    start()
    click.join()
    project.retry_for = 0
    project.run_through()


def webserver_kill(stack: Stack, redis: RedisServer, project: Project) -> None:
    _during_approval(stack, project, stack.stop_webserver, stack.start_webserver)


def webserver_stall(stack: Stack, redis: RedisServer, project: Project) -> None:
    assert stack.webserver is not None
    pid = stack.webserver.pid
    _during_approval(
        stack, project, lambda: os.kill(pid, signal.SIGSTOP), lambda: os.kill(pid, signal.SIGCONT)
    )


def daemon_kill(stack: Stack, redis: RedisServer, project: Project) -> None:
    project.create()
    _started(project)
    assert stack.daemon is not None
    os.kill(stack.daemon.pid, signal.SIGKILL)
    time.sleep(10)
    stack.stop_daemon()  # what it left behind
    stack.start_daemon()
    project.run_through()


def api_restart(stack: Stack, redis: RedisServer, project: Project) -> None:
    project.create().wait_for(Stage.STT)
    port = stack.api_ports[0]
    stack.stop_api(port)
    stack.start_api(port)
    project.run_through()


def triple_approval(stack: Stack, redis: RedisServer, project: Project) -> None:
    project.approvals = 3
    project.create().run_through()


FAULTS: dict[str, Fault] = {
    f.__name__: f
    for f in (
        none,
        redis_pause,
        redis_restart,
        worker_kill,
        webserver_kill,
        webserver_stall,
        daemon_kill,
        api_restart,
        triple_approval,
    )
}


def stt_engine_seconds(instance: DagsterInstance, project_id: str) -> float | None:
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey(Stage.STT.asset_name), asset_partitions=[project_id]),
        limit=1,
    ).records
    event = records[0].asset_materialization if records else None
    return float(event.metadata["engine_seconds"].value) if event else None  # type: ignore[arg-type]


def measure(name: str, fault: Fault, stack: Stack, redis: RedisServer) -> dict[str, Any]:
    project = Project(stack, "alice")
    started = time.monotonic()
    error = ""
    try:
        fault(stack, redis, project)
    except Exception as exc:  # a row that says what went wrong, and the next fault
        error = f"{type(exc).__name__}: {exc}"[:200]
    row: dict[str, Any] = {"fault": name, "seconds": round(time.monotonic() - started)}
    if not project.id:
        return row | {"error": error}
    with stack_instance(stack) as instance:
        counts = runs_per_stage(instance, project.id)
        expected = sum(expected_events(instance, project.id).values())
        engine = stt_engine_seconds(instance, project.id)
    completed = project.stages().get(Stage.MUXING.value) == "completed"
    with contextlib.suppress(AssertionError):
        wait_until(lambda: len(delivered(redis.url, project.id)) >= expected, 60, "the relay")
    stream = delivered(redis.url, project.id)
    return row | {
        "completed": int(completed),
        "duplicate_runs": sum(n - 1 for n in counts.values()),
        "events_expected": expected,
        "events_delivered": len(stream),
        "in_order": not order_problems(stream),
        "problems": order_problems(stream)[:3],
        "stt_engine_s": engine,
        "relay_p50_s": relay_latency(stream),
        "error": error,
    }


def relay_latency(stream: list[JobEvent]) -> float | None:
    """Median seconds from an event's time in Dagster to its entry in the stream (the stream id
    is the time Redis added it)."""
    waits = [int((e.id or "0").split("-")[0]) / 1000 - e.timestamp.timestamp() for e in stream]
    return round(statistics.median(waits), 2) if waits else None


def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated faults (default: all, none first)")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(FAULTS)
    rows = []
    with tempfile.TemporaryDirectory(prefix="faults-") as tmp:
        root = Path(tmp)
        video = make_sample_video(root / "sample.mp4")
        with redis_server(root) as redis, running_stack(root, DUBBING_REDIS_URL=redis.url) as stack:
            uploads = root / "artifacts" / "uploads" / "alice"
            uploads.mkdir(parents=True)
            shutil.copy(video, uploads / "sample.mp4")
            # Run workers keep their models loaded: a first project loads them, so that no
            # row's engine seconds (the stall's slowdown is one) include loading them.
            print("warm-up", measure("warm-up", none, stack, redis), flush=True)
            for name in names:
                rows.append(measure(name, FAULTS[name], stack, redis))
                print(rows[-1], flush=True)
    report = Report("faults")
    base = next((r["stt_engine_s"] for r in rows if r["fault"] == "none"), None)
    print(
        "\n| fault | projects completed | duplicate runs | events expected | delivered | "
        "in order | STT engine s | relay p50 s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['fault']} | {row.get('completed', 0)}/1 | {row.get('duplicate_runs', '-')} | "
            f"{row.get('events_expected', '-')} | {row.get('events_delivered', '-')} | "
            f"{'yes' if row.get('in_order') else 'no'} | {row.get('stt_engine_s', '-')} | "
            f"{row.get('relay_p50_s', '-')} |"
        )
        report.add(f"{row['fault']}_completed", row.get("completed", 0))
        report.add(f"{row['fault']}_duplicate_runs", row.get("duplicate_runs", -1))
        report.add(
            f"{row['fault']}_events_lost",
            row.get("events_expected", 0) - row.get("events_delivered", 0),
        )
    stalled = next((r.get("stt_engine_s") for r in rows if r["fault"] == "redis_pause"), None)
    if base and stalled:
        report.add("engine_slowdown_during_redis_stall_pct", 100 * (stalled / base - 1), "<= 10")
    report.emit(args.json)


if __name__ == "__main__":
    main()
