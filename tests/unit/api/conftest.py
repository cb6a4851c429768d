"""The HTTP service in process: FastAPI's TestClient in front, Dagster's GraphQL API answered
by ``FakeDagster`` (queries validated against the real schema), a real artifact folder and a
real Redis database. Route logic is tested here in seconds; the real stack is for what needs it."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from dubbing_api.app import create_app
from dubbing_api.settings import Settings
from dubbing_pipeline.domain.projects import Project
from dubbing_pipeline.domain.segments import Segment, SegmentDoc
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.tags import Tag, job_tags
from dubbing_pipeline.infra.storage import ArtifactStore
from dubbing_pipeline.operations import reviews
from dubbing_pipeline.operations.projects import save_project
from tests.support.fake_dagster import FakeDagster
from tests.support.stack import TEST_REDIS, TOKENS, token

REDIS_URL = f"{TEST_REDIS}/12"  # the in-process API tests' own database

Seen = set[tuple[str, str, int]]  # (method, path template, status)


class Api:
    """Clients per user over one app, and what each answered (for the coverage check)."""

    def __init__(self, app: Any, fake: FakeDagster, store: ArtifactStore, seen: Seen) -> None:
        self.app, self.fake, self.store, self.seen = app, fake, store, seen
        self._templates = [
            (method.upper(), path, re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"))
            for path, ops in app.openapi()["paths"].items()
            for method in ops
        ]
        self._client = TestClient(app, raise_server_exceptions=False)
        self._client.__enter__()

    def client(self, user: str | None) -> TestClient:
        headers = {"Authorization": f"Bearer {token(user)}"} if user else {}
        # Not entered: the lifespan (and its clients) of the first TestClient serve them all.
        client = TestClient(self.app, headers=headers, raise_server_exceptions=False)
        client.event_hooks = {"request": [], "response": [self._record]}
        return client

    def _record(self, response: Any) -> None:
        method, path = response.request.method, response.request.url.path
        for m, template, pattern in self._templates:
            if m == method and pattern.match(path):
                self.seen.add((method, template, response.status_code))
                return

    def close(self) -> None:
        self._client.__exit__(None, None, None)

    # -- what the pipeline would have made --------------------------------------------------
    def project(self, user: str = "alice", **fields: Any) -> Project:
        upload = self.store.uri("uploads", user, "sample.mp4")
        self.store.write_bytes(upload, b"\0" * 16)
        project = Project(
            user_id=user, video_uri=upload, source_language="en", target_language="es", **fields
        )
        save_project(self.store, project)
        self.fake.partitions.add(project.id)
        return project

    def run(self, project: Project, stage: Stage, status: str = "SUCCESS", **tags: str) -> str:
        return self.fake.add_run(stage.job_name, job_tags(project, stage) | tags, status).run_id

    def segments(self, project: Project, stage: Stage, texts: list[str]) -> SegmentDoc:
        doc = SegmentDoc(
            language="en" if stage is Stage.STT else "es",
            duration=10.0 * len(texts),
            segments=[
                Segment(id=i, start=10.0 * i, end=10.0 * i + 5, text=t) for i, t in enumerate(texts)
            ],
        )
        self.store.write_text(
            reviews.segments_uri(self.store, project.id, stage), doc.model_dump_json()
        )
        return doc


@pytest.fixture(scope="session")
def seen() -> Seen:
    return set()


@pytest.fixture
def api(tmp_path: Path, seen: Seen, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    redis.Redis.from_url(REDIS_URL).flushdb()
    tokens = {
        hashlib.sha256(token(u).encode()).hexdigest(): {"user": u, "role": r}
        for u, r in TOKENS.items()
    }
    (tmp_path / "tokens.json").write_text(json.dumps(tokens))
    settings = Settings(
        graphql_url="http://dagster.test/graphql",
        artifacts=str(tmp_path / "artifacts"),
        api_tokens=str(tmp_path / "tokens.json"),
        redis_url=REDIS_URL,
        api_cache_ttl_s=0,
        max_upload_bytes=1024,
    )
    fake = FakeDagster()
    app = create_app(settings, transport=fake.transport())
    harness = Api(app, fake, ArtifactStore(base_url=settings.artifacts), seen)
    yield harness
    harness.close()


@pytest.fixture
def as_user(api: Api) -> Callable[[str | None], TestClient]:
    return api.client


__all__ = ["Api", "Tag"]
