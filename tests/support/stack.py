"""The whole system on loopback for integration tests: dagster-daemon, dagster-webserver (GraphQL),
the event relay and the API under uvicorn, on a temp DAGSTER_HOME and a private Redis database.
Each can be stopped and started again (the fault suite does)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx
import redis

from dubbing_pipeline.defs.warm.protocol import stop_server
from tests.support.storage import prepare_home

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
T = TypeVar("T")
# The tests' Redis server (``DUBBING_TEST_REDIS``: another server lets two checkouts test at
# once); they use databases 13-15 of it and flush them.
TEST_REDIS = os.environ.get("DUBBING_TEST_REDIS", "redis://127.0.0.1:6379").rstrip("/")
REDIS_URL = f"{TEST_REDIS}/15"  # a database of its own, flushed per stack
MAX_UPLOAD = 4 * 1024 * 1024
TOKENS = {"alice": "user", "bob": "user", "root": "admin", "worker": "worker"}


def token(user: str) -> str:
    return f"test-token-{user}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def process(args: list[str], log: Path, env: dict[str, str]) -> Iterator[subprocess.Popen]:
    """A child in its own process group, stopped with everything it started."""
    with log.open("w") as out:
        child = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield child
        finally:
            try:
                os.killpg(child.pid, signal.SIGCONT)  # a stalled one (the fault suite) too
                os.killpg(child.pid, signal.SIGTERM)
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass  # killed already (the fault suite does)


def wait_until(probe: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"waited {timeout} s for {what}")


def wait_http(url: str, timeout: float = 240) -> None:  # a loaded 2-core machine
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} did not come up in {timeout} s")


@dataclass
class Stack:
    root: Path
    env: dict[str, str]
    graphql_port: int
    api_ports: list[int] = field(default_factory=list)
    _exits: ExitStack = field(default_factory=ExitStack)
    _webserver: ExitStack = field(default_factory=ExitStack)
    _daemon: ExitStack = field(default_factory=ExitStack)
    webserver: subprocess.Popen | None = None
    daemon: subprocess.Popen | None = None
    _apis: dict[int, ExitStack] = field(default_factory=dict)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_ports[0]}"

    def client(self, user: str | None, port: int | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token(user)}"} if user else {}
        base = f"http://127.0.0.1:{port or self.api_ports[0]}"
        return httpx.Client(base_url=base, headers=headers, timeout=30)

    def start_webserver(self) -> None:
        args = [
            str(BIN / "dagster-webserver"),
            "-w",
            str(ROOT / "workspace.yaml"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.graphql_port),
        ]
        log = self.root / f"webserver-{time.monotonic_ns()}.log"
        self.webserver = self._webserver.enter_context(process(args, log, self.env))
        wait_http(f"http://127.0.0.1:{self.graphql_port}/server_info", timeout=240)
        wait_until(self._code_loaded, 180, "the webserver to load the code location")

    def _code_loaded(self) -> bool:
        """The webserver answers before it has loaded the code location; a launch then waits
        for the load (seconds on a busy machine) and may outlast the API's GraphQL timeout."""
        query = "{ workspaceOrError { ... on Workspace { locationEntries { loadStatus } } } }"
        try:
            answer = httpx.post(
                f"http://127.0.0.1:{self.graphql_port}/graphql", json={"query": query}, timeout=10
            ).json()
        except (httpx.TransportError, ValueError):
            return False
        entries = (answer.get("data") or {}).get("workspaceOrError", {}).get("locationEntries", [])
        return bool(entries) and all(e["loadStatus"] == "LOADED" for e in entries)

    def stop_webserver(self) -> None:
        self._webserver.close()

    def start_daemon(self) -> subprocess.Popen:
        """dagster-daemon (sensors, the run queue, run monitoring and retries, the relay)."""
        args = [str(BIN / "dagster-daemon"), "run", "-w", str(ROOT / "workspace.yaml")]
        log = self.root / f"daemon-{time.monotonic_ns()}.log"
        self.daemon = self._daemon.enter_context(process(args, log, self.env))
        return self.daemon

    def stop_daemon(self) -> None:
        self._daemon.close()

    def start_relay(self) -> subprocess.Popen:
        """``dubbing relay``, as ``scripts/serve`` runs it beside the daemon's relay sensor."""
        args = [str(BIN / "dubbing"), "relay"]
        log = self.root / f"relay-{time.monotonic_ns()}.log"
        return self._exits.enter_context(process(args, log, self.env))

    def stop_api(self, port: int) -> None:
        self._apis.pop(port).close()
        self.api_ports.remove(port)

    def start_api(self, port: int | None = None) -> int:
        port = port or free_port()
        args = [
            str(BIN / "uvicorn"),
            "--factory",
            "dubbing_api.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ]
        exits = self._apis[port] = ExitStack()
        exits.enter_context(
            process(args, self.root / f"api-{port}-{time.monotonic_ns()}.log", self.env)
        )
        self._exits.callback(exits.close)
        wait_http(f"http://127.0.0.1:{port}/openapi.json")
        self.api_ports.append(port)
        return port


@contextmanager
def running_stack(
    root: Path, profile: str = "postgres", launcher: str = "configured", **overrides: str
) -> Iterator[Stack]:
    """Daemon, webserver and one API instance on loopback; ``overrides`` replace environment
    variables (e.g. ``DUBBING_STT_MODEL="base"``, ``DUBBING_REDIS_URL``); ``profile`` is the
    profiles/ folder used on Postgres; ``launcher``: "warm" (profiles/warm) or "default"."""
    home = root / "dagster_home"
    storage_env = prepare_home(home, profile, launcher)
    tokens = {
        hashlib.sha256(token(u).encode()).hexdigest(): {"user": u, "role": r}
        for u, r in TOKENS.items()
    }
    (root / "tokens.json").write_text(json.dumps(tokens))
    redis.Redis.from_url(overrides.get("DUBBING_REDIS_URL", REDIS_URL)).flushdb()
    port = free_port()
    env = (
        os.environ
        | storage_env
        | {
            "DAGSTER_HOME": str(home),
            "DUBBING_ARTIFACTS": str(root / "artifacts"),
            "DUBBING_STT_MODEL": "tiny.en",
            "DUBBING_REDIS_URL": REDIS_URL,
            "DUBBING_API_TOKENS": str(root / "tokens.json"),
            "DAGSTER_GRAPHQL_URL": f"http://127.0.0.1:{port}/graphql",
            "DUBBING_GRAPHQL_TIMEOUT_S": "10",  # a busy 2-core machine
            "DUBBING_MAX_UPLOAD_BYTES": str(MAX_UPLOAD),
        }
        | overrides
    )
    stack = Stack(root, env, port)
    stack._exits.callback(stop_server, home)  # the warm run server outlives the daemon
    with stack._exits, stack._webserver, stack._daemon:
        stack.start_daemon()
        stack.start_relay()
        stack.start_webserver()
        stack.start_api()
        yield stack


CELERY_ENV = {
    "DUBBING_CELERY_BROKER": f"{TEST_REDIS}/13",
    "DUBBING_CELERY_BACKEND": f"{TEST_REDIS}/14",
    "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",  # the worker script runs dagster-celery
}


@dataclass
class Worker:
    queue: str
    pid: int  # the celery process itself (solo pool: runs execute in it)
    log: Path


@contextmanager
def celery_workers(root: Path, env: dict[str, str]) -> Iterator[list[Worker]]:
    """Two workers of profiles/celery on loopback: ``dubbing-gpu`` and ``dubbing-cpu``."""
    for url in (env["DUBBING_CELERY_BROKER"], env["DUBBING_CELERY_BACKEND"]):
        redis.Redis.from_url(url).flushdb()
    with ExitStack() as stack:
        workers = []
        for queue, name in (("dubbing-gpu", "gpu1"), ("dubbing-cpu", "cpu1")):
            log = root / f"worker-{name}.log"
            script = str(ROOT / "profiles" / "celery" / "worker")
            # Celery writes its own pid: the CLI may start other children before the worker.
            pidfile = root / f"worker-{name}.pid"
            stack.enter_context(process([script, queue, name, f"--pidfile={pidfile}"], log, env))
            wait_until(lambda log=log: "ready." in log.read_text(), 90, f"{name} to be ready")
            workers.append(Worker(queue, int(pidfile.read_text().strip()), log))
        yield workers
