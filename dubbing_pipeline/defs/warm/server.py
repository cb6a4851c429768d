"""The warm run server: keeps a few long-lived run workers (``worker.py``) and hands each launched
run to an idle one, preferring the worker that last ran the same job (its model is loaded).

It answers the launcher (``protocol.py``): launch, health, terminate, status, stop. A worker that
dies mid-run leaves its run FAILED for run monitoring (and Dagster's run retries), and is
replaced. Workers belong to a code generation (a fingerprint of the code location's files): a
launch under new code retires the old workers once idle, so code reloads take effect.

    python -m dubbing_pipeline.defs.warm.server $DAGSTER_HOME '{"workers": 2}'  (the launcher does)
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, Listener
from pathlib import Path
from typing import Any

from dubbing_pipeline.defs.warm.protocol import SERVER_FILE, authkey, state_dir

MAX_OUTCOMES = 1000  # finished or lost runs remembered for health checks


@dataclass
class Worker:
    proc: subprocess.Popen
    conn: Connection
    generation: str
    run_id: str | None = None
    job: str | None = None  # the job it ran last: its models are loaded
    runs: int = 0
    ready: bool = False
    retiring: bool = False
    report: dict[str, Any] = field(default_factory=dict)
    send_lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, message: dict[str, Any]) -> None:
        with self.send_lock:
            self.conn.send(message)

    def view(self) -> dict[str, Any]:
        mine = {"pid": self.proc.pid, "run_id": self.run_id, "job": self.job, "runs": self.runs}
        return mine | {"ready": self.ready, "generation": self.generation} | self.report


class Server:
    def __init__(self, home: Path, config: dict[str, Any]) -> None:
        self.home = home
        self.size = int(config.get("workers", 2))
        self.preload: list[str] = list(config.get("preload", []))
        self.grace_s = float(config.get("terminate_grace_s", 20))
        self.generation: str | None = config.get("generation")
        self.lock = threading.RLock()
        self.workers: list[Worker] = []
        self.outcomes: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.stopping = threading.Event()
        self.log = (state_dir(home) / "workers.log").open("a")

    # workers

    def spawn(self, generation: str) -> Worker:
        mine, theirs = socket.socketpair()
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "dubbing_pipeline.defs.warm.worker"),
                *(str(theirs.fileno()), json.dumps(self.preload)),
            ],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        theirs.close()
        worker = Worker(proc, Connection(mine.detach()), generation)
        self.workers.append(worker)
        threading.Thread(target=self._listen, args=(worker,), daemon=True).start()
        return worker

    def _listen(self, worker: Worker) -> None:
        while True:
            try:
                message = worker.conn.recv()
            except (EOFError, OSError):
                break
            with self.lock:
                worker.report = message.get("report", worker.report)
                if "ready" in message:
                    worker.ready = True
                if "done" in message:
                    self._finished(worker, message["done"], int(message["rc"]))
        code = worker.proc.wait()
        with self.lock:
            if worker in self.workers:
                self.workers.remove(worker)
            if worker.run_id is not None:
                self._remember(
                    worker.run_id,
                    "FAILED",
                    f"warm run worker {worker.proc.pid} exited ({_exit(code)}) during the run",
                )
            if not self.stopping.is_set():
                self._replenish()

    def _finished(self, worker: Worker, run_id: str, code: int) -> None:
        status = "SUCCESS" if code == 0 else "FAILED"
        self._remember(run_id, status, f"the run's execution returned {code}")
        worker.run_id, worker.runs = None, worker.runs + 1
        spare = [w for w in self._current() if w.run_id is None]
        if worker.retiring or (len(self._current()) > self.size and len(spare) > 1):
            self._retire(worker)
        self._replenish()

    def _remember(self, run_id: str, status: str, message: str) -> None:
        self.outcomes[run_id] = {"status": status, "message": message}
        while len(self.outcomes) > MAX_OUTCOMES:
            self.outcomes.popitem(last=False)

    def _current(self) -> list[Worker]:
        return [w for w in self.workers if w.generation == self.generation and not w.retiring]

    def _retire(self, worker: Worker) -> None:
        worker.retiring = True
        if worker.run_id is None:
            try:
                worker.send({"exit": True})
            except OSError:
                worker.proc.kill()

    def _replenish(self) -> None:
        while self.generation is not None and len(self._current()) < self.size:
            self.spawn(self.generation)

    # requests

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        with self.lock:
            if op == "ping":
                return {"pid": os.getpid()}
            if op == "launch":
                return self.launch(request["run_id"], request["job"], request["generation"])
            if op == "health":
                return self.health(request["run_id"])
            if op == "terminate":
                return self.terminate(request["run_id"])
            if op == "status":
                workers = [w.view() for w in self.workers]
                return {"pid": os.getpid(), "size": self.size, "workers": workers}
            if op == "stop":
                self.stopping.set()
                return {"stopping": True}
        return {"error": f"unknown op {op!r}"}

    def launch(self, run_id: str, job: str, generation: str) -> dict[str, Any]:
        if generation != self.generation:  # new code: old workers go once idle
            self.generation = generation
            for worker in list(self.workers):
                if worker.generation != generation:
                    self._retire(worker)
        idle = [w for w in self._current() if w.run_id is None]
        idle.sort(key=lambda w: (not w.ready, w.job != job))
        worker = idle[0] if idle else self.spawn(generation)
        warm = worker.ready
        worker.run_id, worker.job = run_id, job
        self.outcomes.pop(run_id, None)
        worker.send({"run": run_id})
        self._replenish()
        return {"pid": worker.proc.pid, "warm": warm, "runs": worker.runs}

    def health(self, run_id: str) -> dict[str, Any]:
        for worker in self.workers:
            if worker.run_id == run_id:
                return {"status": "RUNNING", "pid": worker.proc.pid}
        return self.outcomes.get(run_id) or {"status": "UNKNOWN", "message": "not launched here"}

    def terminate(self, run_id: str) -> dict[str, Any]:
        """Interrupt the run as Dagster's own run process is interrupted (SIGINT: the run is
        canceled, the worker stays); a worker still on it after ``grace_s`` is killed."""
        for worker in self.workers:
            if worker.run_id == run_id:
                os.kill(worker.proc.pid, signal.SIGINT)
                threading.Timer(self.grace_s, self._kill_if_still, (worker, run_id)).start()
                return {"terminated": True, "pid": worker.proc.pid}
        return {"terminated": False}

    def _kill_if_still(self, worker: Worker, run_id: str) -> None:
        with self.lock:
            if worker.run_id == run_id and worker.proc.poll() is None:
                worker.proc.kill()

    # serving

    def serve(self) -> None:
        listener = Listener(("127.0.0.1", 0), authkey=authkey(self.home))
        port = listener.address[1]
        target = state_dir(self.home) / SERVER_FILE
        partial = target.with_suffix(".tmp")
        partial.write_text(json.dumps({"pid": os.getpid(), "port": port}))
        partial.replace(target)
        with self.lock:
            self._replenish()
        threading.Thread(target=self._watch, args=(listener,), daemon=True).start()
        while not self.stopping.is_set():
            try:
                conn = listener.accept()
            except (OSError, EOFError):  # a client that failed authentication, or closed
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()
        self._shutdown()

    def _answer(self, conn: Connection) -> None:
        with conn:
            try:
                request = conn.recv()
                conn.send(self.handle(request))
            except (EOFError, OSError):
                return
            except Exception as exc:  # the server itself must go on
                conn.send({"error": repr(exc)})

    def _watch(self, listener: Listener) -> None:
        """Stop when asked, or when the instance's folder is gone (a test's temp home)."""
        while not self.stopping.wait(1.0):
            if not self.home.exists():
                self.stopping.set()
        try:  # wake the accept loop
            with socket.create_connection(listener.address, timeout=1):
                pass
        except OSError:
            pass

    def _shutdown(self) -> None:
        """Idle workers are asked to exit (they leave at once); a worker on a run is terminated
        (its run then fails, as a killed run process's does); any left after 10 s is killed."""
        deadline = time.monotonic() + 10
        with self.lock:
            for worker in list(self.workers):
                if worker.run_id is None:
                    self._retire(worker)
                else:
                    worker.proc.terminate()
        for worker in list(self.workers):
            try:
                worker.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                worker.proc.kill()
        try:
            if json.loads((state_dir(self.home) / SERVER_FILE).read_text())["pid"] == os.getpid():
                (state_dir(self.home) / SERVER_FILE).unlink()
        except (OSError, ValueError, KeyError):
            pass


def _exit(code: int) -> str:
    return f"signal {signal.Signals(-code).name}" if code < 0 else f"code {code}"


def main() -> None:
    home = Path(sys.argv[1])
    config = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C meant for `dagster dev`
    Server(home, config).serve()
    os._exit(0)


if __name__ == "__main__":
    main()
