"""Approving and rejecting a stage's output: the one implementation behind the CLI, notebooks,
``JobManager`` and the API.

An approval is written beside the segments, then the next stage's run is started at once (under
the run key ``review_gate_sensor`` would use, so the sensor, ticking later, starts nothing more),
then the decision is recorded in Dagster as an observation of the reviewed partition (what the
sensor reads, and what the UI shows). Each step is idempotent, so a repeated request (a double
click, a client retrying a timeout) changes nothing; and when Dagster cannot be reached before
anything started, the approval is undone, so an error means nothing happened.
"""

from __future__ import annotations

from collections.abc import Mapping

from dubbing_pipeline.domain.review import ReviewDecision, describe
from dubbing_pipeline.domain.speakers import SpeakerEdits
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.infra.storage import ArtifactStore
from dubbing_pipeline.operations import progression, projects, reviews
from dubbing_pipeline.operations.runs import (
    LaunchElsewhere,
    RunStore,
    RunStoreUnavailable,
    launch_once,
)


def approve(
    store: ArtifactStore,
    runs: RunStore,
    project_id: str,
    stage: Stage,
    *,
    reviewer: str,
    edits: Mapping[int, str] | None = None,
    speakers: SpeakerEdits | None = None,
    voices: Mapping[str, str] | None = None,
) -> ReviewDecision:
    """Approve, with text edits, speaker edits (transcript) and voice pins by speaker name; a
    renamed speaker's pin follows the new name."""
    previous = reviews.stored_decision(store, project_id, stage)
    decision = reviews.approve(
        store, project_id, stage, reviewer=reviewer, edits=edits, speakers=speakers
    )
    if speakers and speakers.rename:
        projects.carry_pins(store, project_id, speakers.rename)
    if voices:
        projects.pin_voices(store, project_id, dict(voices))
    launch = progression.approval_launch(store, project_id, stage, decision.id)
    if launch is not None:
        try:
            launch_once(runs, launch)
        except LaunchElsewhere:
            pass  # review_gate_sensor starts it when it reads the recorded decision
        except RunStoreUnavailable as exc:
            if not exc.maybe_done and decision != previous:
                reviews.restore(store, project_id, stage, previous)  # nothing happened
            raise
    record(runs, decision)
    return decision


def reject(
    store: ArtifactStore,
    runs: RunStore,
    project_id: str,
    stage: Stage,
    *,
    reviewer: str,
    reason: str,
) -> ReviewDecision:
    previous = reviews.stored_decision(store, project_id, stage)
    decision = reviews.reject(store, project_id, stage, reviewer=reviewer, reason=reason)
    try:
        record(runs, decision)
    except RunStoreUnavailable as exc:
        if not exc.maybe_done and decision != previous:
            reviews.restore(store, project_id, stage, previous)
        raise
    return decision


def record(runs: RunStore, decision: ReviewDecision) -> None:
    """Report the decision as an observation of the reviewed partition, once."""
    description = describe(decision)
    if description not in runs.observations(decision.stage.asset_name, decision.project_id):
        runs.observe(decision.stage.asset_name, decision.project_id, description)
