"""The operations on a real instance with in-process runs (through JobManager, the Python face
the API's routes share their implementation with): stats, jobs, pause, clean, dead letters."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterEvent, DagsterEventType, DagsterInstance

from dubbing_pipeline.defs.maintenance import clean_runs_job
from dubbing_pipeline.domain.errors import Conflict, NotFound
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.tags import Tag
from dubbing_pipeline.operations import dead_letter
from dubbing_pipeline.operations.instance_store import InstanceRunStore
from dubbing_pipeline.operations.manager import JobManager
from dubbing_pipeline.operations.queues import Retention
from dubbing_pipeline.operations.runs import JobStatus

EVERYTHING = Retention(
    completed_keep_last=0, completed_max_age_hours=0, failed_keep_last=0, failed_max_age_hours=0
)


def _tag_as_dead_letter(instance: DagsterInstance, run_id: str, state: str = "open") -> None:
    """What dead_letter_sensor does for a failed run when the daemon runs."""
    tags, _ = dead_letter.classify_failed_run(instance, instance.get_run_by_id(run_id))
    instance.add_run_tags(run_id, tags | {dead_letter.STATE: state})


def test_clean_keeps_latest_materialisations_and_open_dead_letters(
    tmp_path: Path, instance: DagsterInstance, runs: InstanceRunStore, store, new_project, run_stage
) -> None:
    manager = JobManager(runs, store)
    project = new_project()
    old = run_stage(project, Stage.STT).run_id
    latest = run_stage(project, Stage.STT).run_id
    open_entry = run_stage(new_project(video_uri=str(tmp_path / "missing.mp4")), Stage.STT).run_id
    retried = run_stage(new_project(video_uri=str(tmp_path / "gone.mp4")), Stage.STT).run_id
    _tag_as_dead_letter(instance, open_entry)
    _tag_as_dead_letter(instance, retried, state="retried")

    assert manager.clean(Retention()) == []  # everything is younger than a day
    assert sorted(manager.clean(EVERYTHING)) == sorted([old, retried])
    survivors = {job.id for job in manager.jobs(stage=Stage.STT)}
    assert survivors == {latest, open_entry}
    assert project.id in instance.get_materialized_partitions(AssetKey(Stage.STT.asset_name))


def test_jobs_stats_and_dead_letter_view(
    tmp_path: Path, instance: DagsterInstance, runs: InstanceRunStore, store, new_project, run_stage
) -> None:
    manager = JobManager(runs, store)
    ok_project = new_project(user_id="alice")
    ok = run_stage(ok_project, Stage.STT).run_id
    failed = run_stage(new_project(user_id="bob", video_uri=str(tmp_path / "x.mp4")), Stage.STT)
    _tag_as_dead_letter(instance, failed.run_id)

    stats = manager.queue_stats(Stage.STT)
    assert (stats.completed, stats.failed, stats.waiting, stats.active) == (1, 1, 0, 0)
    job = manager.job(ok)
    assert job is not None
    assert (job.status, job.stage, job.user_id, job.progress) == ("completed", "STT", "alice", 100)
    assert [j.id for j in manager.jobs(project_id=ok_project.id)] == [ok]
    assert manager.job("no-such-run") is None

    (entry,) = manager.dead_letter_entries()
    assert (entry.job_id, entry.user_id, entry.error_type, entry.attempts) == (
        failed.run_id,
        "bob",
        "VALIDATION",
        1,
    )
    assert "does not exist" in entry.message
    assert manager.dead_letter_entries(user_id="alice") == []
    assert manager.dead_letter_stats().by_error_type == {"VALIDATION": 1}

    with pytest.raises(NotFound):
        manager.retry_dead_letter(failed.run_id, user_id="alice")  # not hers: not found
    manager.retry_dead_letter(failed.run_id, user_id="bob")
    with pytest.raises(Conflict, match="already retried"):
        manager.retry_dead_letter(failed.run_id, user_id="bob")
    with pytest.raises(Conflict, match="not in the dead letter queue"):
        manager.retry_dead_letter(ok)


def test_a_job_waiting_for_its_retry_is_delayed_in_stats_and_lists(
    instance: DagsterInstance, runs: InstanceRunStore, store, new_project, run_stage
) -> None:
    """The status the API has always shown ("delayed") is one the Python face knows too."""
    manager = JobManager(runs, store)
    run_id = run_stage(new_project(), Stage.STT).run_id
    run = instance.get_run_by_id(run_id)
    assert run is not None
    instance.add_run_tags(run_id, {Tag.RETRY_AT: str(time.time() + 60)})
    started = DagsterEvent(DagsterEventType.RUN_START.value, run.job_name)
    instance.run_storage.handle_run_event(run_id, started)  # as a run waiting for its retry is
    assert [j.id for j in manager.jobs(status=JobStatus.DELAYED)] == [run_id]
    assert manager.jobs(status=JobStatus.ACTIVE) == []
    stats = manager.queue_stats(Stage.STT)
    assert (stats.delayed, stats.active) == (1, 0)


def test_pause_and_resume_set_the_stage_pool(
    instance: DagsterInstance, runs: InstanceRunStore, store
) -> None:
    manager = JobManager(runs, store)
    assert not manager.queue_stats(Stage.TTS).is_paused
    manager.pause(Stage.TTS)
    manager.pause(Stage.TTS)  # twice: resume must still restore the limit
    assert manager.queue_stats(Stage.TTS).is_paused
    assert not manager.queue_stats(Stage.STT).is_paused
    assert instance.event_log_storage.get_concurrency_info(Stage.TTS.pool).slot_count == 0
    manager.resume(Stage.TTS)
    assert instance.event_log_storage.get_concurrency_info(Stage.TTS.pool).slot_count == 1


def test_the_clean_job_applies_the_same_rules(
    instance: DagsterInstance, new_project, run_stage
) -> None:
    project = new_project()
    old = run_stage(project, Stage.STT).run_id
    latest = run_stage(project, Stage.STT).run_id
    config = {"completed_keep_last": 0, "completed_max_age_hours": 0, "stages": ["STT"]}
    result = clean_runs_job.execute_in_process(
        instance=instance, run_config={"ops": {"clean_runs": {"config": config}}}
    )
    assert result.success
    assert instance.get_run_by_id(old) is None and instance.get_run_by_id(latest) is not None
