"""Error classes and the retry schedule: retries are spent only where they can help."""

from __future__ import annotations

import os
import subprocess

import pytest

from dubbing_pipeline.defs.retries import RetrySchedule, schedule_for
from dubbing_pipeline.domain.errors import (
    RETRYABLE_TYPES,
    JobErrorType,
    JobProcessingError,
    classify,
    validation_error,
)
from dubbing_pipeline.domain.stages import Stage

# -- error classes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error_type", "retryable"),
    [
        (JobErrorType.TRANSIENT, True),
        (JobErrorType.RESOURCE, True),
        (JobErrorType.TIMEOUT, True),
        (JobErrorType.VALIDATION, False),
        (JobErrorType.PERMANENT, False),
    ],
)
def test_each_error_type_has_its_retry_default(error_type: JobErrorType, retryable: bool) -> None:
    error = JobProcessingError("boom", error_type)
    assert error.retryable is retryable
    assert (error_type in RETRYABLE_TYPES) is retryable


def test_an_unclassified_job_error_is_permanent() -> None:
    error = JobProcessingError("something broke")
    assert error.error_type is JobErrorType.PERMANENT
    assert error.retryable is False
    assert str(error) == error.message == "something broke"


def test_an_explicit_retryable_flag_wins_over_the_default() -> None:
    assert JobProcessingError("x", JobErrorType.VALIDATION, retryable=True).retryable is True
    assert JobProcessingError("x", JobErrorType.TRANSIENT, retryable=False).retryable is False


def test_error_type_given_as_its_name_is_accepted_and_anything_else_refused() -> None:
    error = JobProcessingError("slow", "TIMEOUT")  # type: ignore[arg-type]
    assert error.error_type is JobErrorType.TIMEOUT
    assert error.retryable is True
    with pytest.raises(ValueError):
        JobProcessingError("x", "FLAKY")  # type: ignore[arg-type]


def test_validation_error_is_never_retried() -> None:
    error = validation_error("bad input")
    assert error.error_type is JobErrorType.VALIDATION
    assert error.retryable is False
    assert error.message == "bad input"


def test_repr_shows_the_class_and_the_retry_decision() -> None:
    text = repr(JobProcessingError("GPU busy", JobErrorType.RESOURCE))
    assert "GPU busy" in text and "RESOURCE" in text and "retryable=True" in text


# -- classify ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "error_type"),
    [
        (TimeoutError("engine took too long"), JobErrorType.TIMEOUT),
        (subprocess.TimeoutExpired(["ffmpeg"], 3600), JobErrorType.TIMEOUT),
        (MemoryError(), JobErrorType.RESOURCE),
        (RuntimeError("CUDA Out Of Memory. Tried to allocate 2 GiB"), JobErrorType.RESOURCE),
        (FileNotFoundError(2, "No such file", "in.mp4"), JobErrorType.VALIDATION),
        (IsADirectoryError(21, "Is a directory", "in.mp4"), JobErrorType.VALIDATION),
        (NotADirectoryError(20, "Not a directory", "x/in.mp4"), JobErrorType.VALIDATION),
        (ModuleNotFoundError("No module named 'ctranslate2'"), JobErrorType.PERMANENT),
        (ConnectionResetError("peer reset"), JobErrorType.TRANSIENT),
        (ValueError("something unexpected"), JobErrorType.TRANSIENT),
        (KeyError("missing"), JobErrorType.TRANSIENT),
    ],
)
def test_classify_maps_exceptions_to_their_class(
    exc: BaseException, error_type: JobErrorType
) -> None:
    error = classify(exc)
    assert isinstance(error, JobProcessingError)
    assert error.error_type is error_type
    assert error.retryable is (error_type in RETRYABLE_TYPES)


def test_classify_keeps_the_exception_type_and_message() -> None:
    error = classify(ConnectionResetError("peer reset by storage"))
    assert error.message == "ConnectionResetError: peer reset by storage"


def test_classify_passes_a_job_error_through_unchanged() -> None:
    original = JobProcessingError("GPU busy", JobErrorType.RESOURCE, retryable=False)
    assert classify(original) is original


def test_a_timeout_mentioning_memory_is_still_a_timeout() -> None:
    assert classify(TimeoutError("out of memory while waiting")).error_type is JobErrorType.TIMEOUT


# -- retry schedule ---------------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No DUBBING_RETRY_* settings from the surrounding environment."""
    for name in list(os.environ):
        if name.startswith("DUBBING_RETRY_"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_the_default_schedule_waits_5_15_45_seconds() -> None:
    schedule = RetrySchedule()
    assert schedule.attempts == 3
    assert [schedule.wait_before_retry(n) for n in range(3)] == [5.0, 15.0, 45.0]


def test_a_custom_schedule_multiplies_its_first_delay() -> None:
    schedule = RetrySchedule(attempts=4, first_delay_s=0.5, factor=2.0)
    assert [schedule.wait_before_retry(n) for n in range(3)] == [0.5, 1.0, 2.0]


@pytest.mark.parametrize("attempts", [1, 3, 6])
def test_policy_allows_one_retry_fewer_than_attempts(attempts: int) -> None:
    policy = RetrySchedule(attempts=attempts, first_delay_s=2.0).policy
    assert policy.max_retries == attempts - 1
    assert policy.delay == 2.0


@pytest.mark.parametrize("stage", list(Stage))
def test_schedule_for_defaults_without_settings(
    clean_env: pytest.MonkeyPatch, stage: Stage
) -> None:
    assert schedule_for(stage) == RetrySchedule(attempts=3, first_delay_s=5.0)


def test_global_settings_apply_to_every_stage(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("DUBBING_RETRY_ATTEMPTS", "5")
    clean_env.setenv("DUBBING_RETRY_DELAY_S", "0.5")
    for stage in Stage:
        schedule = schedule_for(stage)
        assert schedule.attempts == 5
        assert [schedule.wait_before_retry(n) for n in range(3)] == [0.5, 1.5, 4.5]
        assert schedule.policy.max_retries == 4


def test_a_stage_setting_overrides_the_global_one_for_that_stage_only(
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv("DUBBING_RETRY_ATTEMPTS", "4")
    clean_env.setenv("DUBBING_RETRY_TTS_ATTEMPTS", "7")
    clean_env.setenv("DUBBING_RETRY_TTS_DELAY_S", "1")
    assert schedule_for(Stage.TTS) == RetrySchedule(attempts=7, first_delay_s=1.0)
    assert schedule_for(Stage.TTS).policy.max_retries == 6
    assert schedule_for(Stage.STT) == RetrySchedule(attempts=4, first_delay_s=5.0)
    assert schedule_for(Stage.MT).policy.max_retries == 3


def test_a_stage_with_an_underscore_in_its_name_reads_its_own_setting(
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv("DUBBING_RETRY_LIP_SYNC_ATTEMPTS", "2")
    assert schedule_for(Stage.LIP_SYNC).attempts == 2
    assert schedule_for(Stage.LIP_SYNC).policy.max_retries == 1
    assert schedule_for(Stage.MUXING).attempts == 3


def test_an_empty_stage_setting_falls_back_to_the_global_one(
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv("DUBBING_RETRY_ATTEMPTS", "6")
    clean_env.setenv("DUBBING_RETRY_STT_ATTEMPTS", "")
    assert schedule_for(Stage.STT).attempts == 6
