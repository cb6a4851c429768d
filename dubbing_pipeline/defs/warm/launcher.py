"""``WarmRunLauncher``: stage runs start in warm processes instead of a fresh interpreter.

DefaultRunLauncher spawns ``dagster api execute_run`` per run: a new interpreter imports Dagster
(0.66 s) and our code (0.35 s), then loads its model again. This launcher, configured in
``dagster.yaml`` like DefaultRunLauncher and CeleryRunLauncher, hands each run to a warm run
server (``server.py``) whose long-lived workers (``worker.py``) already hold Dagster, the code
location and the engine modules, and keep loaded models between runs within a byte budget.

What Dagster promises about runs holds: the worker executes the run with the body of
``dagster api execute_run`` (events, status, cancellation thread); ``check_run_worker_health``
answers run monitoring (a killed worker's run FAILS, and run retries retry it); ``terminate``
interrupts the run as Dagster interrupts its own run processes; the server outlives daemon
restarts, so runs in flight go on; a launch under changed code starts fresh workers.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dagster import DagsterRun, Field, IntSource
from dagster._core.events import EngineEventData
from dagster._core.launcher import (
    CheckRunHealthResult,
    LaunchRunContext,
    RunLauncher,
    WorkerStatus,
)
from dagster._serdes import ConfigurableClass, ConfigurableClassData

from dubbing_pipeline.defs.warm.protocol import ServerUnavailable, alive, call, ensure_server
from dubbing_pipeline.domain.tags import Tag

DEFAULT_PRELOAD = ["dubbing_pipeline.definitions", "faster_whisper"]
SKIPPED_DIRS = {".git", ".venv", "__pycache__", "node_modules", ".dagster_home", "artifacts"}


class WarmRunLauncher(RunLauncher, ConfigurableClass):
    def __init__(
        self,
        workers: int = 2,
        preload: list[str] | None = None,
        terminate_grace_s: int = 20,
        prestart: bool = True,
        inst_data: ConfigurableClassData | None = None,
    ) -> None:
        self._inst_data = inst_data
        self.workers = workers
        self.preload = DEFAULT_PRELOAD if preload is None else list(preload)
        self.terminate_grace_s = terminate_grace_s
        self.prestart = prestart
        self._fingerprints: dict[str, str] = {}
        super().__init__()

    @property
    def inst_data(self) -> ConfigurableClassData | None:
        return self._inst_data

    @classmethod
    def config_type(cls) -> dict[str, Field]:
        return {
            "workers": Field(IntSource, is_required=False, default_value=2),
            "preload": Field([str], is_required=False, default_value=DEFAULT_PRELOAD),
            "terminate_grace_s": Field(IntSource, is_required=False, default_value=20),
            "prestart": Field(bool, is_required=False, default_value=True),
        }

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]
    ) -> WarmRunLauncher:
        return cls(inst_data=inst_data, **config_value)

    def register_instance(self, instance: Any) -> None:
        """The daemon starts the server with its workers (in the background) when it first
        uses the launcher: its first dequeue or run-monitoring pass, so a fresh instance has
        none until its first run; other processes start it on their first launch, or with
        ``start_workers``."""
        super().register_instance(instance)
        if self.prestart and _is_daemon():
            threading.Thread(target=self._start_quietly, daemon=True).start()

    def start_workers(self) -> None:
        """Start the warm run server and its workers now unless one answers, so that the first
        run finds them warm (a benchmark before its clock, a deployment's start script)."""
        ensure_server(self._home, self._server_config(self._generation_of_module()))

    # launching

    @property
    def _home(self) -> str:
        return self._instance.root_directory

    def _server_config(self, generation: str | None) -> dict[str, Any]:
        config = {"workers": self.workers, "preload": self.preload}
        return config | {"terminate_grace_s": self.terminate_grace_s, "generation": generation}

    def _start_quietly(self) -> None:
        with contextlib.suppress(Exception):  # the first launch tries again, and says why
            self.start_workers()

    def launch_run(self, context: LaunchRunContext) -> None:
        run = context.dagster_run
        generation = self._generation(run)
        ensure_server(self._home, self._server_config(generation))
        answer = call(
            self._home,
            {"op": "launch", "run_id": run.run_id, "job": run.job_name, "generation": generation},
        )
        if "error" in answer:
            raise ServerUnavailable(answer["error"])
        self._instance.add_run_tags(run.run_id, {Tag.WARM_WORKER: str(answer["pid"])})
        self._instance.report_engine_event(
            f"Handed to warm run worker pid {answer['pid']}"
            + (f" (warm, {answer['runs']} runs before)" if answer["warm"] else " (starting)"),
            run,
            EngineEventData(
                {"warm_worker_pid": answer["pid"], "warm": answer["warm"], "code": generation}
            ),
            cls=self.__class__,
        )

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            return False
        self._instance.report_run_canceling(run)
        try:
            answer = call(self._home, {"op": "terminate", "run_id": run_id})
        except ServerUnavailable:
            return False
        return bool(answer.get("terminated"))

    # monitoring

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        try:
            answer = call(self._home, {"op": "health", "run_id": run.run_id})
        except ServerUnavailable as exc:
            pid = run.tags.get(Tag.WARM_WORKER)
            if pid and alive(int(pid)):  # an orphaned worker still finishing it
                return CheckRunHealthResult(WorkerStatus.RUNNING, str(exc))
            return CheckRunHealthResult(WorkerStatus.FAILED, f"run worker is gone: {exc}")
        status = WorkerStatus[answer.get("status", "UNKNOWN")]
        return CheckRunHealthResult(status, answer.get("message"))

    def get_run_worker_debug_info(
        self, run: DagsterRun, include_container_logs: bool | None = True
    ) -> str | None:
        try:
            return str(call(self._home, {"op": "status"}))
        except ServerUnavailable as exc:
            return str(exc)

    # code generations

    def _generation(self, run: DagsterRun) -> str:
        """A fingerprint of the code location's files (names, sizes, mtimes): workers that
        imported other code must not run this run (a reload under ``dagster dev``)."""
        origin = run.job_code_origin
        pointer = origin.repository_origin.code_pointer if origin else None
        root = _code_root(pointer)
        return _fingerprint(root) if root else "unknown"

    def _generation_of_module(self) -> str:
        root = _module_root(self.preload[0]) if self.preload else None
        return _fingerprint(root) if root else "unknown"


def _code_root(pointer: Any) -> Path | None:
    module = getattr(pointer, "module", None)
    if module:
        return _module_root(module)
    python_file = getattr(pointer, "python_file", None)
    return Path(python_file).resolve().parent if python_file else None


def _module_root(module: str) -> Path | None:
    """The folder of the module's top-level package (or the module's own file's folder)."""
    try:
        spec = importlib.util.find_spec(module.split(".")[0])
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(spec.origin).parent if spec.origin else None


def _fingerprint(root: Path) -> str:
    digest = hashlib.sha1(str(root).encode())
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        for name in sorted(files):
            if name.endswith(".py"):
                stat = os.stat(os.path.join(folder, name))
                digest.update(f"{folder}/{name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:12]


def _is_daemon() -> bool:
    command = " ".join(sys.argv[:3])
    return "dagster-daemon" in command or "dagster._daemon" in command
