"""The asset checks' results as the operations see them: what a stage run's checks said (read from
the run's own events in the Dagster instance, by the hand-off hook and the success sensor) and
whether they hold the project back for review. The API reads the same results through GraphQL
(``graphql_store.check_results``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from dagster import AssetCheckEvaluation, DagsterEventType, DagsterInstance
from pydantic import BaseModel, Field

from dubbing_pipeline.domain.media_checks import MUXED_CHECKS, SPEECH_CHECKS
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.text_checks import TRANSCRIPT_CHECKS, TRANSLATION_CHECKS

NAMES: dict[Stage, tuple[str, ...]] = {
    Stage.STT: tuple(TRANSCRIPT_CHECKS),
    Stage.MT: tuple(TRANSLATION_CHECKS),
    Stage.TTS: tuple(SPEECH_CHECKS),
    Stage.MUXING: tuple(MUXED_CHECKS),
}


def keys(stages: Sequence[Stage] | None = None) -> list[tuple[str, str]]:
    """(asset, check) of every check on ``stages`` (all stages when None)."""
    chosen = NAMES if stages is None else {s: NAMES[s] for s in stages if s in NAMES}
    return [(stage.asset_name, name) for stage, names in chosen.items() for name in names]


class CheckResult(BaseModel):
    """One check's latest verdict on a project's stage."""

    stage: Stage
    check: str = Field(description="The check's name on the stage's asset.")
    passed: bool
    severity: Literal["WARN", "ERROR"]
    blocking: bool = Field(description="Failed with ERROR: the project went to review.")
    description: str | None = Field(description="What failed, naming the first segments.")
    failing: list[dict[str, Any]] = Field(
        default_factory=list, description="The failing segments: value and limit each."
    )
    job_id: str | None = Field(description="The stage run that checked.")
    checked_at: datetime | None = None


def from_evaluation(
    evaluation: AssetCheckEvaluation, run_id: str | None, timestamp: float | None
) -> CheckResult | None:
    stage = _stage(evaluation.asset_key.to_user_string())
    if stage is None:
        return None
    severity = "ERROR" if evaluation.severity.value == "ERROR" else "WARN"
    metadata = evaluation.metadata or {}
    failing = metadata.get("failing")
    return CheckResult(
        stage=stage,
        check=evaluation.check_name,
        passed=evaluation.passed,
        severity=severity,
        blocking=not evaluation.passed and severity == "ERROR",
        description=evaluation.description,
        failing=list(failing.value) if failing is not None else [],  # type: ignore[arg-type]
        job_id=run_id,
        checked_at=datetime.fromtimestamp(timestamp, UTC) if timestamp else None,
    )


def _stage(asset_name: str) -> Stage | None:
    try:
        return Stage.parse(asset_name)
    except ValueError:
        return None


def run_results(instance: DagsterInstance, run_id: str) -> list[CheckResult]:
    """What the checks of one run said (its ASSET_CHECK_EVALUATION events)."""
    found = []
    for record in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION):
        event = record.dagster_event
        data = event.event_specific_data if event else None
        if isinstance(data, AssetCheckEvaluation):
            result = from_evaluation(data, run_id, record.timestamp)
            if result is not None:
                found.append(result)
    return found


def review_reason(results: Sequence[CheckResult]) -> str | None:
    """Why the checks hold the project back (None: nothing does), naming what failed."""
    failed = [r for r in results if r.blocking]
    if not failed:
        return None
    return "checks failed: " + "; ".join(r.description or r.check for r in failed)


def held_back(instance: DagsterInstance, run_id: str) -> str | None:
    """The review reason of a finished run, read from its own events."""
    return review_reason(run_results(instance, run_id))
