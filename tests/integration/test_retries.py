"""The retry schedule as Dagster runs it: waits between attempts, and dead-letter metadata."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import ConfigurableResource, DagsterEventType

from dubbing_pipeline.cli.runner import stage_failure
from dubbing_pipeline.domain.errors import JobErrorType, JobProcessingError
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.engines.base import Progress, Transcription
from dubbing_pipeline.engines.stt import FasterWhisperSTT
from tests.support.helpers import metadata

pytestmark = pytest.mark.integration


class FlakySTT(ConfigurableResource):
    """The real engine behind a GPU that is busy for the first ``failures`` calls."""

    failures: int
    counter_file: str

    def transcribe(self, media: Path, language: str | None, progress: Progress) -> Transcription:
        counter = Path(self.counter_file)
        calls = int(counter.read_text()) + 1 if counter.exists() else 1
        counter.write_text(str(calls))
        if calls <= self.failures:
            raise JobProcessingError("GPU busy", JobErrorType.RESOURCE)
        return FasterWhisperSTT(model="tiny.en").transcribe(media, language, progress)


@pytest.fixture
def short_schedule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUBBING_RETRY_DELAY_S", "0.5")  # 0.5 s, then 1.5 s


def test_two_transient_failures_then_success_waits_on_schedule(
    tmp_path: Path, instance, resources, new_project, run_stage, short_schedule
) -> None:
    resources["stt"] = FlakySTT(failures=2, counter_file=str(tmp_path / "calls"))
    project = new_project()
    result = run_stage(project, Stage.STT)
    assert result.success, stage_failure(result)
    assert metadata(result, Stage.STT)["attempt"] == 3

    records = instance.all_logs(result.run_id)
    up = [
        r.timestamp for r in records if r.dagster_event_type == DagsterEventType.STEP_UP_FOR_RETRY
    ]
    restarted = [
        r.timestamp for r in records if r.dagster_event_type == DagsterEventType.STEP_RESTARTED
    ]
    assert len(up) == len(restarted) == 2
    waits = [start - failed for failed, start in zip(up, restarted, strict=True)]
    assert waits[0] >= 0.5 and waits[1] >= 1.5, waits
    assert waits[1] > waits[0] * 2  # the second wait is three times the first, not equal


def test_retries_exhausted_is_a_dead_letter_failure(
    tmp_path: Path, instance, resources, new_project, run_stage, short_schedule
) -> None:
    resources["stt"] = FlakySTT(failures=5, counter_file=str(tmp_path / "calls"))
    result = run_stage(new_project(), Stage.STT)
    assert not result.success
    assert stage_failure(result) == ("RESOURCE", "GPU busy")
    (failure,) = result.get_step_failure_events()
    meta = failure.step_failure_data.user_failure_data.metadata
    assert meta["attempts"].value == 3
    assert meta["dead_letter_reason"].value == "retries_exhausted"
    assert (tmp_path / "calls").read_text() == "3"
