"""Shared fixtures: real media made with espeak-ng + ffmpeg, a real Dagster instance, the offline
engines. Nothing here is mocked."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance, ExecuteInProcessResult, instance_for_test

from dubbing_pipeline.cli.runner import materialize_stage
from dubbing_pipeline.cli.sample import make_sample_video
from dubbing_pipeline.defs.resources import default_resources
from dubbing_pipeline.domain.projects import Project
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.infra.storage import ArtifactStore
from dubbing_pipeline.operations import approvals
from dubbing_pipeline.operations.instance_store import InstanceRunStore
from dubbing_pipeline.operations.projects import create_project
from tests.support.stack import Stack, running_stack
from tests.support.storage import instance_overrides


@pytest.fixture(scope="session")
def sample_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """~20 s of English espeak-ng speech over an ffmpeg test pattern (H.264 + AAC)."""
    return make_sample_video(tmp_path_factory.mktemp("media") / "sample.mp4")


@pytest.fixture(scope="session")
def demucs_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny random HTDemucs weights (none ship anywhere): ``repo/`` as a Demucs weights folder
    (model ``tiny``), ``hf/`` as a HuggingFace cache (model ``test/tiny``)."""
    pytest.importorskip("demucs")
    from tests.support.tiny_models import build_demucs, build_demucs_hf_cache

    root = tmp_path_factory.mktemp("demucs")
    build_demucs(root / "repo", "tiny")
    build_demucs_hf_cache(root / "hf", "test/tiny")
    return root


@pytest.fixture
def artifacts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "artifacts"
    monkeypatch.setenv("DUBBING_ARTIFACTS", str(folder))
    return folder


@pytest.fixture
def resources(artifacts: Path) -> dict[str, Any]:
    return default_resources()


@pytest.fixture
def store(resources: dict[str, Any]) -> ArtifactStore:
    return resources["store"]


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    with instance_for_test(overrides=instance_overrides()) as inst:
        yield inst


@pytest.fixture
def runs(instance: DagsterInstance) -> InstanceRunStore:
    return InstanceRunStore(instance)


@pytest.fixture
def new_project(
    runs: InstanceRunStore, store: ArtifactStore, sample_video: Path
) -> Callable[..., Project]:
    def make(**fields: Any) -> Project:
        settings = {"video_uri": str(sample_video), "source_language": "en"} | fields
        settings.setdefault("target_language", "es")
        return create_project(store, runs, Project(**settings))[0]

    return make


@pytest.fixture
def run_stage(
    instance: DagsterInstance, resources: dict[str, Any]
) -> Callable[..., ExecuteInProcessResult]:
    def run(project: Project, stage: Stage, **kwargs: Any) -> ExecuteInProcessResult:
        return materialize_stage(project, stage, instance=instance, resources=resources, **kwargs)

    return run


@pytest.fixture
def approve(runs: InstanceRunStore, store: ArtifactStore) -> Callable[..., None]:
    def do(project: Project, stage: Stage, edits: dict[int, str] | None = None) -> None:
        approvals.approve(store, runs, project.id, stage, reviewer="t", edits=edits)

    return do


@pytest.fixture(scope="module")
def stack(  # the whole system on loopback, shared by a module's API tests
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, sample_video: Path
) -> Iterator[Stack]:
    """A module may set ``STACK_ENV`` (environment overrides for every process)."""
    root = tmp_path_factory.mktemp("stack")
    with running_stack(root, **getattr(request.module, "STACK_ENV", {})) as running:
        for user in ("alice", "bob"):  # what POST /api/uploads would have put there
            uploads = root / "artifacts" / "uploads" / user
            uploads.mkdir(parents=True)
            shutil.copy(sample_video, uploads / "sample.mp4")
            (uploads / "notes.mp4").write_text("not a video")
        yield running


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/integration is an integration test (real runs, real stack)."""
    for item in items:
        if "tests/integration/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.integration)
