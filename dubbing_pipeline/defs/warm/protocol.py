"""How the launcher reaches the warm run server: a loopback socket whose port and key live under
``$DAGSTER_HOME/warm_runs/`` (any process of the instance, the daemon or the webserver, finds it
there), messages are dicts (``multiprocessing.connection``: framed, authenticated).

The server is started by the first launch that finds none and outlives the daemon that started
it, so a daemon restart leaves the runs in flight running.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Client
from pathlib import Path
from typing import Any

SERVER_FILE = "server.json"
KEY_FILE = "authkey"


class ServerUnavailable(RuntimeError):
    pass


def state_dir(home: str | Path) -> Path:
    folder = Path(home) / "warm_runs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def authkey(home: str | Path) -> bytes:
    """The key both sides prove they read from the instance's folder (made once, mode 0600)."""
    path = state_dir(home) / KEY_FILE
    if not path.exists():
        with _locked(home, "key"):
            if not path.exists():
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as out:
                    out.write(secrets.token_hex(32))
    return path.read_text().encode()


def server_info(home: str | Path) -> dict[str, Any] | None:
    try:
        return json.loads((state_dir(home) / SERVER_FILE).read_text())
    except (OSError, ValueError):
        return None


def call(home: str | Path, request: dict[str, Any], timeout: float = 10) -> dict[str, Any]:
    """One request to the running server; ServerUnavailable when none answers."""
    info = server_info(home)
    if info is None:
        raise ServerUnavailable("no warm run server")
    try:
        with Client(("127.0.0.1", info["port"]), authkey=authkey(home)) as conn:
            conn.send(request)
            if not conn.poll(timeout):
                raise ServerUnavailable(f"the warm run server did not answer in {timeout} s")
            return conn.recv()
    except (OSError, EOFError) as exc:
        raise ServerUnavailable(f"warm run server at port {info['port']}: {exc}") from exc


def ensure_server(home: str | Path, config: dict[str, Any], timeout: float = 60) -> None:
    """Start the server unless one answers (one starter at a time, across processes)."""
    with _locked(home, "start"):
        try:
            call(home, {"op": "ping"}, timeout=5)
            return
        except ServerUnavailable:
            pass
        (state_dir(home) / SERVER_FILE).unlink(missing_ok=True)
        log = (state_dir(home) / "server.log").open("a")
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dubbing_pipeline.defs.warm.server",
                str(home),
                json.dumps(config),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # not in the daemon's process group: it outlives a restart
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                call(home, {"op": "ping"}, timeout=5)
                return
            except ServerUnavailable:
                time.sleep(0.05)
        raise ServerUnavailable(f"the warm run server did not start in {timeout} s")


def stop_server(home: str | Path) -> None:
    """Stop the server and its workers (tests, ``dubbing`` maintenance); nothing if none runs."""
    try:
        call(home, {"op": "stop"}, timeout=30)
    except ServerUnavailable:
        return
    info = server_info(home) or {}
    deadline = time.monotonic() + 30
    while info.get("pid") and alive(info["pid"]) and time.monotonic() < deadline:
        time.sleep(0.1)


def alive(pid: int) -> bool:
    """Whether ``pid`` still runs: a zombie (killed, its parent gone, not yet reaped by an init
    that may never reap it) does not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no procfs: the signal's answer stands
    return state not in ("Z", "X")


@contextmanager
def _locked(home: str | Path, name: str) -> Iterator[None]:
    with (state_dir(home) / f"{name}.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
