"""What the routes share: the app's clients, and lookups that enforce ownership (another
user's object is a 404, so existence does not leak)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import redis
from starlette.requests import HTTPConnection

from dubbing_api.auth import Principal
from dubbing_api.cache import Batcher, SharedCache
from dubbing_api.dagster_client import DagsterClient, Run
from dubbing_api.errors import not_found
from dubbing_api.models import JobOut
from dubbing_api.settings import Settings
from dubbing_pipeline.domain.errors import JobProcessingError
from dubbing_pipeline.domain.projects import Project
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.tags import Tag
from dubbing_pipeline.infra.events import EventPublisher
from dubbing_pipeline.infra.storage import ArtifactStore
from dubbing_pipeline.operations.projects import load_project


@dataclass
class Services:
    settings: Settings
    dagster: DagsterClient
    store: ArtifactStore
    events: EventPublisher
    redis: redis.Redis
    cache: SharedCache

    def __post_init__(self) -> None:
        self._progress: Batcher[str, int] = Batcher(self._progress_of)

    async def own_run(self, caller: Principal, job_id: str) -> Run:
        run = await self.dagster.run(job_id)
        if run is None or Tag.STAGE not in run.tags or not caller.owns(run.tags.get(Tag.USER)):
            raise not_found(f"job {job_id}")
        return run

    def own_project(self, caller: Principal, project_id: str) -> Project:
        try:
            project = load_project(self.store, project_id)
        except (JobProcessingError, ValueError) as exc:
            raise not_found(f"project {project_id}") from exc
        if not caller.owns(project.user_id):
            raise not_found(f"project {project_id}")
        return project

    def claim(self, key: str, ttl_s: int = 7 * 24 * 3600) -> bool:
        """True for the first caller only, across every API instance (Redis SET NX)."""
        return bool(self.redis.set(key, "1", nx=True, ex=ttl_s))

    async def _progress_of(self, job_ids: Sequence[str]) -> dict[str, int]:
        values = self.events.progress_of(list(job_ids))
        return {job: v for job, v in zip(job_ids, values, strict=True) if v is not None}

    async def jobs(self, runs: list[Run]) -> list[JobOut]:
        """Runs as jobs, with their progress from Redis: one MGET per list; requests for one job
        each (GET /api/jobs/{id}) share one MGET among those that arrive together."""
        ids = [r.run_id for r in runs]
        progress = (
            await self._progress.get_many(ids) if len(ids) == 1 else self.events.progress_of(ids)
        )
        return [JobOut.of(run, p) for run, p in zip(runs, progress, strict=True)]


def services(conn: HTTPConnection) -> Services:
    return conn.app.state.services


def queue(name: str) -> Stage:
    """A queue name from the path; ``dead-letter`` and anything unknown are 404s."""
    try:
        return Stage(name)
    except ValueError:
        raise not_found(f"queue {name!r} (queues: {', '.join(s.value for s in Stage)})") from None


def user_filter(caller: Principal) -> dict[str, str]:
    return {} if caller.is_admin else {Tag.USER: caller.user_id}
