"""A run store that looks like weeks of production, made in seconds, and the loopback services
(dagster-webserver, the API under uvicorn, a private Redis database) the API benchmarks run on.

Runs are what the pipeline leaves behind: projects of several users going through the stages in
order, most completed, some failed (dead letter entries, open or retried), some waiting in the run
queue, a few started (some of them delayed, waiting for a retry). They are written in bulk, with
the columns the run storage itself writes (2,000 runs a transaction), each a clone of a real run
of its stage job, so it has the job's snapshot and origin as a launched run would. Deterministic.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import redis
from dagster import DagsterInstance, DagsterRun, DagsterRunStatus
from dagster._core.remote_origin import (
    ManagedGrpcPythonEnvCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.storage.runs.schema import RunsTable, RunTagsTable
from dagster._core.storage.tags import PARENT_RUN_ID_TAG, PARTITION_NAME_TAG, RUN_KEY_TAG
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._serdes import serialize_value

from dubbing_pipeline.domain.errors import JobErrorType
from dubbing_pipeline.domain.projects import PARTITIONS, Project
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.tags import Tag, job_tags
from dubbing_pipeline.operations import dead_letter
from tests.support.stack import BIN, ROOT, free_port, process, wait_http

ADMIN = "ops"
USERS = tuple(f"user{i:02d}" for i in range(20))
STAGE_SECONDS = {Stage.STT: 25, Stage.MT: 6, Stage.TTS: 18, Stage.MUXING: 5, Stage.LIP_SYNC: 40}
# How a project's last run ended (the runs before it succeeded): weights, out of 100.
OUTCOMES = {"done": 74, "failed": 12, "queued": 10, "started": 2, "canceled": 2}
ERROR_WEIGHTS = {"TRANSIENT": 30, "RESOURCE": 15, "TIMEOUT": 10, "VALIDATION": 35, "PERMANENT": 10}


def bearer(user: str) -> str:
    return f"bench-token-{user}"


@dataclass
class SeededRun:
    run_id: str
    stage: Stage
    status: DagsterRunStatus
    tags: dict[str, str]
    created: float
    started: float | None = None
    ended: float | None = None


@dataclass
class Seeded:
    """What the benchmarks need to know about the store they load."""

    runs: list[SeededRun] = field(default_factory=list)

    def job_ids_by_user(self) -> dict[str, list[str]]:
        owned: dict[str, list[str]] = {}
        for run in self.runs:
            owned.setdefault(run.tags[Tag.USER], []).append(run.run_id)
        return owned

    def summary(self) -> dict[str, int]:
        counts = {"runs": len(self.runs), "users": len(self.job_ids_by_user())}
        for run in self.runs:
            counts[run.status.value] = counts.get(run.status.value, 0) + 1
            state = run.tags.get(dead_letter.STATE)
            if state:
                counts[f"dead_letter_{state}"] = counts.get(f"dead_letter_{state}", 0) + 1
        return counts


def plan_runs(count: int, seed: int = 7, now: float | None = None) -> Seeded:
    """``count`` runs of projects created over the last 14 days, oldest first."""
    rng, now = random.Random(seed), now or time.time()
    user_weights = [1 / (i + 1) for i in range(len(USERS))]  # a few heavy users, a long tail
    seeded = Seeded()
    while len(seeded.runs) < count:
        project = Project(
            id=f"p-{rng.getrandbits(48):012x}",
            video_uri="incoming/video.mp4",
            source_language="en",
            target_language=rng.choice(("es", "fr", "de", "pt")),
            premium=rng.random() < 0.3,
            user_id=rng.choices(USERS, user_weights)[0],
        )
        stages = [s for s in Stage if project.premium or s is not Stage.LIP_SYNC]
        reached = rng.randint(1, len(stages))
        outcome = rng.choices(list(OUTCOMES), list(OUTCOMES.values()))[0]
        clock = now - rng.uniform(600, 14 * 86400)
        for i, stage in enumerate(stages[:reached]):
            last = i == reached - 1
            run = _run(rng, project, stage, outcome if last else "done", clock, now)
            seeded.runs.append(run)
            clock = (run.ended or run.created) + rng.uniform(4, 12)  # sensor tick, queue, start
            if run.tags.get(dead_letter.STATE) == "retried":
                seeded.runs.append(_retry_of(rng, project, run, clock))
    seeded.runs = sorted(seeded.runs[:count], key=lambda r: r.created)
    return seeded


def _run(
    rng: random.Random, project: Project, stage: Stage, outcome: str, at: float, now: float
) -> SeededRun:
    tags = job_tags(project, stage) | {PARTITION_NAME_TAG: project.id}
    run = SeededRun(
        str(uuid.UUID(int=rng.getrandbits(128))), stage, DagsterRunStatus.SUCCESS, tags, at
    )
    if outcome == "queued":
        run.status = DagsterRunStatus.QUEUED
        return run
    run.started = at + rng.uniform(1, 8)
    if outcome == "started":
        run.status = DagsterRunStatus.STARTED
        if rng.random() < 0.3:  # waiting for a retry, past the end of any benchmark
            tags[Tag.RETRY_AT] = f"{now + 3600:.3f}"
        return run
    run.ended = run.started + STAGE_SECONDS[stage] * rng.uniform(0.5, 2.5)
    if outcome == "canceled":
        run.status = DagsterRunStatus.CANCELED
    elif outcome == "failed":
        run.status = DagsterRunStatus.FAILURE
        error = rng.choices(list(ERROR_WEIGHTS), list(ERROR_WEIGHTS.values()))[0]
        retryable = error not in (JobErrorType.VALIDATION, JobErrorType.PERMANENT)
        tags |= {
            dead_letter.STATE: "open" if rng.random() < 0.8 else "retried",
            dead_letter.ERROR_TYPE: error,
            dead_letter.ERROR_MESSAGE: f"{stage} failed: {error.lower()} error (seeded)",
            dead_letter.ATTEMPTS: "3" if retryable else "1",
        }
    return run


def _retry_of(rng: random.Random, project: Project, failed: SeededRun, at: float) -> SeededRun:
    """The job dead_letter_retry_sensor launched for a retried entry (it succeeded)."""
    key = f"dlq-retry:{failed.run_id}"
    failed.tags[dead_letter.RETRIED_AS] = key
    retry = _run(rng, project, failed.stage, "done", at, at)
    retry.tags |= {RUN_KEY_TAG: key, PARENT_RUN_ID_TAG: failed.run_id}
    return retry


def write_runs(instance: DagsterInstance, seeded: Seeded, batch: int = 2000) -> None:
    """Insert the planned runs in bulk, each a clone of a real run of its stage's job."""
    from dubbing_pipeline.definitions import defs

    templates: dict[Stage, DagsterRun] = {}
    for stage in Stage:
        real = instance.create_run_for_job(
            defs.resolve_job_def(stage.job_name), remote_job_origin=_origin(stage.job_name)
        )
        instance.delete_run(real.run_id)  # only its snapshots stay
        templates[stage] = real
    instance.add_dynamic_partitions(PARTITIONS, sorted({r.tags[Tag.PROJECT] for r in seeded.runs}))
    storage = instance.run_storage
    for start in range(0, len(seeded.runs), batch):
        rows = [_row(templates[run.stage], run) for run in seeded.runs[start : start + batch]]
        tags = [
            {"run_id": run.run_id, "key": k, "value": v}
            for run in seeded.runs[start : start + batch]
            for k, v in run.tags.items()
        ]
        with storage.connect() as conn:
            conn.execute(RunsTable.insert(), rows)
            conn.execute(RunTagsTable.insert(), tags)


def _origin(job: str) -> RemoteJobOrigin:
    """Where the webserver of workspace.yaml finds the job (a queued run must say)."""
    module = "dubbing_pipeline.definitions"
    target = LoadableTargetOrigin(
        executable_path=sys.executable, module_name=module, working_directory=str(ROOT)
    )
    location = ManagedGrpcPythonEnvCodeLocationOrigin(target, module)
    return RemoteJobOrigin(
        repository_origin=RemoteRepositoryOrigin(
            code_location_origin=location, repository_name="__repository__"
        ),
        job_name=job,
    )


def _row(template: DagsterRun, run: SeededRun) -> dict[str, Any]:
    """The columns ``SqlRunStorage.add_run`` writes, plus the start and end times that the run's
    events would set (the storage's own helper checks the snapshot per run: 10 ms each)."""
    clone = template._replace(run_id=run.run_id, status=run.status, tags=run.tags)
    return {
        "run_id": run.run_id,
        "pipeline_name": clone.job_name,
        "status": run.status.value,
        "run_body": serialize_value(clone),
        "snapshot_id": clone.job_snapshot_id,
        "partition": run.tags.get(PARTITION_NAME_TAG),
        "create_timestamp": datetime.fromtimestamp(run.created, UTC),
        "update_timestamp": datetime.fromtimestamp(run.ended or run.started or run.created, UTC),
        "start_time": run.started,
        "end_time": run.ended,
    }


# -- the services ---------------------------------------------------------------------------------
@dataclass
class Loopback:
    root: Path
    env: dict[str, str]
    graphql_port: int | None = None
    api_port: int | None = None
    pids: dict[str, int] = field(default_factory=dict)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time used so far by each service, its child processes included (uvicorn's
        workers, the webserver's code server)."""
        used = {}
        for name, pid in self.pids.items():
            tree = psutil.Process(pid)
            times = [p.cpu_times() for p in [tree, *tree.children(recursive=True)]]
            used[name] = sum(t.user + t.system for t in times)
        return used


def environment(root: Path, redis_url: str) -> dict[str, str]:
    """A temp DAGSTER_HOME on the embedded default (SQLite), tokens for USERS and ADMIN, and a
    Redis database of the benchmark's own (flushed)."""
    home = root / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
    roles = {user: "user" for user in USERS} | {ADMIN: "admin"}
    tokens = {
        hashlib.sha256(bearer(u).encode()).hexdigest(): {"user": u, "role": r}
        for u, r in roles.items()
    }
    (root / "tokens.json").write_text(json.dumps(tokens))
    redis.Redis.from_url(redis_url).flushdb()
    return dict(os.environ) | {
        "DAGSTER_HOME": str(home),
        "DUBBING_ARTIFACTS": str(root / "artifacts"),
        "DUBBING_REDIS_URL": redis_url,
        "DUBBING_API_TOKENS": str(root / "tokens.json"),
        "DUBBING_GRAPHQL_TIMEOUT_S": "10",
    }


@contextmanager
def services(
    root: Path,
    env: dict[str, str],
    webserver: bool = True,
    api_workers: int = 1,
    app_dir: Path | None = None,
) -> Iterator[Loopback]:
    """dagster-webserver (unless not needed) and the API under uvicorn, on free loopback ports,
    in ``env`` (from ``environment``). No daemon: nothing may launch or change the seeded runs
    while they are measured. ``app_dir``: import ``dubbing_api`` from there (another version of
    it, to compare)."""
    env = dict(env)
    svc = Loopback(root, env)
    with ExitStack() as stack:
        if webserver:
            svc.graphql_port = free_port()
            env["DAGSTER_GRAPHQL_URL"] = f"http://127.0.0.1:{svc.graphql_port}/graphql"
            args = [str(BIN / "dagster-webserver"), "-w", str(ROOT / "workspace.yaml")]
            args += ["-h", "127.0.0.1", "-p", str(svc.graphql_port)]
            svc.pids["webserver"] = stack.enter_context(
                process(args, root / "webserver.log", env)
            ).pid
            wait_http(f"http://127.0.0.1:{svc.graphql_port}/server_info")
        svc.api_port = free_port()
        args = [str(BIN / "uvicorn"), "--factory", "dubbing_api.app:create_app"]
        args += ["--host", "127.0.0.1", "--port", str(svc.api_port), "--log-level", "warning"]
        args += ["--workers", str(api_workers)] if api_workers > 1 else []
        args += ["--app-dir", str(app_dir)] if app_dir else []
        svc.pids["api"] = stack.enter_context(process(args, root / "api.log", env)).pid
        wait_http(f"{svc.api}/openapi.json")
        yield svc


def seed_home(env: dict[str, str], count: int) -> tuple[Seeded, float]:
    """Plan and write ``count`` runs into the environment's DAGSTER_HOME; the seconds it took."""
    began = time.perf_counter()
    seeded = plan_runs(count)
    with DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        write_runs(instance, seeded)
    return seeded, time.perf_counter() - began
