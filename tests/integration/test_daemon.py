"""Projects on a real dagster-daemon: sensors start STT, wait for each review, start the next
stage exactly once per approval, chain TTS -> MUXING -> LIP_SYNC, dead-letter and retry failures,
hold a paused stage; events reach the Redis stream in order. (A killed run worker, failed and
retried by Dagster, is in test_faults and test_warm_runs.)"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import DagsterRunStatus
from faster_whisper import WhisperModel

from dubbing_pipeline.domain.errors import Conflict
from dubbing_pipeline.domain.projects import Project
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.engines.models import whisper_model_path
from dubbing_pipeline.operations import reviews
from tests.support.daemon import REDIS_URL, Daemon, running_daemon, wait_until

pytestmark = pytest.mark.integration


def _project(user: str, video: str, premium: bool) -> Project:
    return Project(
        user_id=user, video_uri=video, source_language="en", target_language="es", premium=premium
    )


@pytest.fixture
def daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Daemon]:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.setenv("DUBBING_ARTIFACTS", str(tmp_path / "artifacts"))
    monkeypatch.setenv("DUBBING_STT_MODEL", "tiny.en")
    monkeypatch.setenv("DUBBING_REDIS_URL", REDIS_URL)
    with running_daemon(tmp_path) as daemon:
        yield daemon


def test_project_moves_through_review_gates_and_progression(
    daemon: Daemon, sample_video: Path
) -> None:
    manager, store = daemon.manager, daemon.store
    project = manager.start_stt_stage(_project("alice", str(sample_video), premium=True))
    daemon.wait_for_run(project.id, Stage.STT)
    time.sleep(6)  # a few sensor ticks: nothing may start before the review
    assert daemon.stage_runs(project.id, Stage.MT) == []

    manager.approve(project.id, Stage.STT, reviewer="alice")
    (handed_off,) = daemon.stage_runs(project.id, Stage.MT)  # submitted by the approval itself
    assert handed_off.tags["dagster/sensor_name"] == "review_gate_sensor"  # so it never repeats
    daemon.wait_for_run(project.id, Stage.MT)
    time.sleep(6)
    assert daemon.stage_runs(project.id, Stage.TTS) == []

    last = reviews.load_segments(store, project.id, Stage.MT).segments[-1].id
    manager.approve(project.id, Stage.MT, reviewer="alice", edits={last: "Hasta luego, amigos."})
    assert len(daemon.stage_runs(project.id, Stage.TTS)) == 1
    for stage in (Stage.TTS, Stage.MUXING, Stage.LIP_SYNC):
        run = daemon.wait_for_run(project.id, stage)
        assert run.tags["dubbing/user"] == "alice" and run.tags["dubbing/tier"] == "premium"
    for before, after in ((Stage.TTS, Stage.MUXING), (Stage.MUXING, Stage.LIP_SYNC)):
        # the finishing run's hook submitted its successor, not stage_success_sensor's next tick
        (finished,) = daemon.stage_runs(project.id, before)
        (started,) = daemon.stage_runs(project.id, after)
        logged = [e.message for e in daemon.instance.all_logs(finished.run_id)]
        assert f"submitted {after} as run {started.run_id}" in logged, after

    time.sleep(6)  # no duplicate launches from later ticks
    for stage in Stage:
        assert len(daemon.stage_runs(project.id, stage)) == 1, stage

    whisper = WhisperModel(whisper_model_path("base"), device="cpu", compute_type="int8")
    dub = store.artifact_uri(project.id, Stage.TTS, "dub_track.wav")
    segments, _ = whisper.transcribe(dub, language="es")
    assert "luego" in " ".join(s.text for s in segments).lower()  # the edit is what was spoken

    def relayed() -> list:  # the relay (the daemon's sensor) copies them from the event log
        events = [e for e in daemon.events.read() if e.projectId == project.id]
        return events if events and events[-1].type == "project_completed" else []

    events = wait_until(relayed, 30, "the events relayed")
    assert len({e.sourceId for e in events}) == len(events)  # each once
    flow = [(e.stage, e.type) for e in events if e.type != "job_progress"]
    for stage in Stage:  # each job's own events, in order, once each
        expected = ["job_created", "job_started", "job_completed"]
        expected += ["stage_ready_for_review"] if stage.needs_review else []
        expected += ["project_completed"] if stage is Stage.LIP_SYNC else []
        assert [t for s, t in flow if s == stage.value] == expected, stage
    position = {event: i for i, event in enumerate(flow)}
    for before, after in zip(list(Stage), list(Stage)[1:], strict=False):
        # A reviewed stage's successor is created after the review opened; an automatic one
        # as soon as its predecessor's work is done (the run hands off before it is recorded
        # as a success), so it may be created before that job_completed.
        gate = "stage_ready_for_review" if before.needs_review else "job_started"
        assert position[(before.value, gate)] < position[(after.value, "job_created")]
    assert flow[-1] == (Stage.LIP_SYNC.value, "project_completed")
    assert {e.userId for e in events} == {"alice"}
    progress = [e.progress for e in events if e.type == "job_progress" and e.stage == "STT"]
    assert progress and progress == sorted(progress) and progress[-1] == 100
    stt_job = daemon.stage_runs(project.id, Stage.STT)[0].run_id
    assert daemon.events.progress(stt_job) == 100  # readable outside the run
    middle = events[len(events) // 2]
    assert [e.id for e in daemon.events.read(after=middle.id)] == [
        e.id for e in events[len(events) // 2 + 1 :]
    ]


def test_a_validation_error_is_dead_lettered_and_retried_once(
    daemon: Daemon, sample_video: Path, tmp_path: Path
) -> None:
    video = tmp_path / "late.mp4"  # not there yet: a VALIDATION error
    manager = daemon.manager
    project = manager.start_stt_stage(_project("bob", str(video), premium=False))
    failed = daemon.wait_for_run(project.id, Stage.STT, status=DagsterRunStatus.FAILURE)
    (entry,) = wait_until(manager.dead_letter_entries, 60, "the dead letter entry")
    assert (entry.job_id, entry.error_type, entry.attempts, entry.user_id) == (
        failed.run_id,
        "VALIDATION",
        1,
        "bob",
    )
    assert manager.dead_letter_stats().by_stage == {"STT": 1}
    assert manager.dead_letter_entries(user_id="alice") == []
    failures = wait_until(
        lambda: [e for e in daemon.events.read() if e.type == "job_failed"], 30, "job_failed"
    )
    assert [(f.jobId, f.error, f.status) for f in failures] == [
        (failed.run_id, "VALIDATION", "failed")
    ]

    shutil.copy(sample_video, video)  # the cause, fixed
    manager.retry_dead_letter(entry.job_id, user_id="bob")
    with pytest.raises(Conflict, match="already retried"):
        manager.retry_dead_letter(entry.job_id, user_id="bob")
    retry = wait_until(
        lambda: [r for r in daemon.stage_runs(project.id, Stage.STT) if r.run_id != failed.run_id],
        60,
        "the retry run",
    )[0]
    assert retry.tags["dagster/parent_run_id"] == failed.run_id
    daemon.wait_for_run(project.id, Stage.STT)
    assert manager.dead_letter_entries() == []
    time.sleep(6)  # a few more sensor ticks
    assert len(daemon.stage_runs(project.id, Stage.STT)) == 2  # one failure, one retry: no more


def test_a_paused_stage_starts_nothing_until_resumed(daemon: Daemon, sample_video: Path) -> None:
    manager = daemon.manager
    manager.pause(Stage.STT)
    projects = [
        manager.start_stt_stage(_project("carol", str(sample_video), premium=False))
        for _ in range(2)
    ]
    wait_until(
        lambda: all(daemon.stage_runs(p.id, Stage.STT) for p in projects), 60, "queued STT runs"
    )
    time.sleep(12)  # several daemon ticks
    statuses = {daemon.stage_runs(p.id, Stage.STT)[0].status for p in projects}
    assert statuses == {DagsterRunStatus.QUEUED}
    stats = manager.queue_stats(Stage.STT)
    assert (stats.waiting, stats.paused, stats.active) == (2, 2, 0)

    manager.resume(Stage.STT)
    for project in projects:
        daemon.wait_for_run(project.id, Stage.STT)
    assert manager.queue_stats(Stage.STT).completed == 2
