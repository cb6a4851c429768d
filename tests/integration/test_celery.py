"""Scale-out with dagster-celery: the daemon hands runs to two Celery workers on loopback (Redis
broker, Postgres storage, the repo's profiles/celery files), GPU stages to one and CPU stages to
the other, and a project completes with its steps executed in both worker processes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterEventType, EventRecordsFilter

from dubbing_pipeline.defs.placement import CELERY_QUEUE_TAG, celery_queue
from dubbing_pipeline.domain.projects import Project
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.infra import media
from tests.support.daemon import REDIS_URL, Daemon, running_daemon
from tests.support.stack import CELERY_ENV, Worker, celery_workers
from tests.support.storage import on_postgres

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not on_postgres(),
        reason="Celery workers share the instance through Postgres: the Postgres pass runs this",
    ),
]
STANDARD_STAGES = (Stage.STT, Stage.MT, Stage.TTS, Stage.MUXING)


@pytest.fixture
def celery(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Daemon, list]]:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.setenv("DUBBING_ARTIFACTS", str(tmp_path / "artifacts"))
    monkeypatch.setenv("DUBBING_STT_MODEL", "tiny.en")
    monkeypatch.setenv("DUBBING_REDIS_URL", REDIS_URL)
    for name, value in CELERY_ENV.items():
        monkeypatch.setenv(name, value)
    with (
        running_daemon(tmp_path, profile="celery") as daemon,
        celery_workers(tmp_path, os.environ.copy()) as workers,
    ):
        yield daemon, workers


def test_a_project_completes_with_its_steps_on_two_celery_workers(
    celery: tuple[Daemon, list[Worker]], sample_video: Path
) -> None:
    daemon, workers = celery
    manager = daemon.manager
    project = manager.start_stt_stage(
        Project(
            user_id="alice",
            video_uri=str(sample_video),
            source_language="en",
            target_language="es",
            premium=False,
        )
    )
    daemon.wait_for_run(project.id, Stage.STT, timeout=300)
    manager.approve(project.id, Stage.STT, reviewer="alice")
    daemon.wait_for_run(project.id, Stage.MT, timeout=300)
    manager.approve(project.id, Stage.MT, reviewer="alice")
    runs = {stage: daemon.wait_for_run(project.id, stage, timeout=300) for stage in STANDARD_STAGES}

    by_queue = {w.queue: w for w in workers}
    step_pids = {}
    for stage, run in runs.items():
        assert run.tags[CELERY_QUEUE_TAG] == celery_queue(stage)
        worker = by_queue[celery_queue(stage)]
        # The run's Celery task went to that worker, and its step ran in that worker's process.
        assert run.tags["dagster-celery/task_id"] in worker.log.read_text(), stage
        records = daemon.instance.get_event_records(
            EventRecordsFilter(DagsterEventType.STEP_START), limit=1000
        )
        pids = {r.event_log_entry.dagster_event.pid for r in records if r.run_id == run.run_id}
        assert pids == {worker.pid}, (stage, pids, worker)
        step_pids[stage] = worker.pid
    assert len(set(step_pids.values())) == 2  # spread over both workers
    materialization = daemon.instance.get_latest_materialization_event(
        AssetKey(Stage.MUXING.asset_name)
    ).asset_materialization
    dubbed = media.probe(Path(materialization.metadata["video_uri"].value))
    audio = [s for s in dubbed.raw["streams"] if s["codec_type"] == "audio"]
    assert [s["tags"]["language"] for s in audio] == ["spa", "eng"]  # the dub, the original
