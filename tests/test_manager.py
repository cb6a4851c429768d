"""JobManager on a real instance with in-process runs: stats, jobs, pause flags, clean."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance

from dubbing_pipeline.defs.maintenance import clean_runs_job
from dubbing_pipeline.domain.errors import JobProcessingError
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.operations import dead_letter, queues
from dubbing_pipeline.operations.manager import JobManager, Retention

pytestmark = pytest.mark.integration
EVERYTHING = Retention(0, 0, 0, 0)


def _tag_as_dead_letter(instance: DagsterInstance, run_id: str, state: str = "open") -> None:
    """What dead_letter_sensor does for a failed run when the daemon runs."""
    tags, _ = dead_letter.classify_failed_run(instance, instance.get_run_by_id(run_id))
    instance.add_run_tags(run_id, tags | {dead_letter.STATE: state})


def test_clean_keeps_latest_materialisations_and_open_dead_letters(
    tmp_path: Path, instance: DagsterInstance, store, new_project, run_stage
) -> None:
    manager = JobManager(instance, store)
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
    tmp_path: Path, instance: DagsterInstance, store, new_project, run_stage
) -> None:
    manager = JobManager(instance, store)
    ok_project = new_project(user_id="alice")
    ok = run_stage(ok_project, Stage.STT).run_id
    failed = run_stage(new_project(user_id="bob", video_uri=str(tmp_path / "x.mp4")), Stage.STT)
    _tag_as_dead_letter(instance, failed.run_id)

    stats = manager.queue_stats(Stage.STT)
    assert (stats["completed"], stats["failed"], stats["waiting"], stats["active"]) == (1, 1, 0, 0)
    job = manager.job(ok)
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
    assert manager.dead_letter_stats()["by_error_type"] == {"VALIDATION": 1}

    manager.retry_dead_letter(failed.run_id, user_id="bob")
    with pytest.raises(JobProcessingError, match="already retried"):
        manager.retry_dead_letter(failed.run_id, user_id="bob")
    with pytest.raises(JobProcessingError, match="not in the dead letter queue"):
        manager.retry_dead_letter(ok)


def test_pause_and_resume_set_the_stage_pool(instance: DagsterInstance, store) -> None:
    manager = JobManager(instance, store)
    assert not manager.is_paused(Stage.TTS)
    manager.pause(Stage.TTS)
    manager.pause(Stage.TTS)  # twice: resume must still restore the limit from before
    assert manager.is_paused(Stage.TTS) and not manager.is_paused(Stage.STT)
    assert instance.event_log_storage.get_concurrency_info(Stage.TTS.pool).slot_count == 0
    manager.resume(Stage.TTS)
    assert instance.event_log_storage.get_concurrency_info(Stage.TTS.pool).slot_count == 1


def test_the_clean_job_applies_the_same_rules(
    instance: DagsterInstance, resources, new_project, run_stage
) -> None:
    project = new_project()
    old = run_stage(project, Stage.STT).run_id
    latest = run_stage(project, Stage.STT).run_id
    config = {"completed_keep_last": 0, "completed_max_age_hours": 0, "stages": ["STT"]}
    result = clean_runs_job.execute_in_process(
        instance=instance,
        resources={"store": resources["store"]},
        run_config={"ops": {"clean_runs": {"config": config}}},
    )
    assert result.success
    assert instance.get_run_by_id(old) is None and instance.get_run_by_id(latest) is not None


def test_a_run_waiting_for_its_retry_counts_as_delayed() -> None:
    started = [{queues.RETRY_AT: str(time.time() + 30)}, {queues.RETRY_AT: "1.0"}, {}]
    counts = {"waiting": 2, "active": 3, "completed": 4, "failed": 1}
    assert queues.queue_stats(counts, started, paused=True) == {
        "waiting": 2,
        "active": 2,
        "completed": 4,
        "failed": 1,
        "delayed": 1,
        "paused": 2,
    }
    assert queues.queue_stats(counts, started, paused=False)["paused"] == 0
