"""Review decisions in the artifact store, beside the segments they judge: the approved segments
(``review.json``) are what the next stage reads. ``record`` makes a decision visible in Dagster as
an observation of the reviewed asset partition."""

from __future__ import annotations

from collections.abc import Mapping

from dagster import AssetKey, AssetObservation, DagsterInstance

from dubbing_pipeline.domain import artifacts
from dubbing_pipeline.domain.errors import validation_error
from dubbing_pipeline.domain.review import ReviewDecision, check_reviewable, describe, with_edits
from dubbing_pipeline.domain.segments import SegmentDoc
from dubbing_pipeline.domain.speakers import SpeakerEdits
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.infra.storage import ArtifactStore
from dubbing_pipeline.operations.projects import load_project, save_project


def segments_uri(store: ArtifactStore, project_id: str, stage: Stage) -> str:
    return store.uri(artifacts.stage_file(project_id, stage, artifacts.SEGMENTS))


def _decision_uri(store: ArtifactStore, project_id: str, stage: Stage) -> str:
    return store.uri(artifacts.stage_file(project_id, stage, artifacts.REVIEW))


def load_segments(store: ArtifactStore, project_id: str, stage: Stage) -> SegmentDoc:
    uri = segments_uri(store, project_id, stage)
    if not store.exists(uri):
        raise validation_error(f"{stage.asset_name} of project {project_id!r} has not run yet")
    return SegmentDoc.model_validate_json(store.read_text(uri))


def approve(
    store: ArtifactStore,
    project_id: str,
    stage: Stage,
    *,
    reviewer: str,
    edits: Mapping[int, str] | None = None,
    speakers: SpeakerEdits | None = None,
) -> ReviewDecision:
    """Approve the stage's current segments, with text edits by segment id and (transcript)
    speaker edits. A renamed speaker's voice pin moves to the new name, so a rename never
    changes a voice."""
    check_reviewable(stage)
    doc = load_segments(store, project_id, stage)
    edits = dict(edits or {})
    decision = ReviewDecision(
        project_id=project_id,
        stage=stage,
        decision="approved",
        reviewer=reviewer,
        reviewed_sha=doc.sha256,
        edited_segment_ids=sorted(edits),
        speaker_edits=speakers or None,
        segments=with_edits(doc, stage, edits, speakers),
    )
    if speakers and speakers.rename:
        _carry_pins(store, project_id, speakers)
    return _save(store, decision)


def _carry_pins(store: ArtifactStore, project_id: str, speakers: SpeakerEdits) -> None:
    project = load_project(store, project_id)
    pins = dict(project.voices)
    for old, new in speakers.rename.items():
        if old in pins and new not in pins:
            pins[new] = pins.pop(old)
    if pins != project.voices:
        save_project(store, project.model_copy(update={"voices": pins}))


def reject(
    store: ArtifactStore, project_id: str, stage: Stage, *, reviewer: str, reason: str
) -> ReviewDecision:
    check_reviewable(stage)
    if not reason.strip():
        raise validation_error("a rejection needs a reason")
    doc = load_segments(store, project_id, stage)
    decision = ReviewDecision(
        project_id=project_id,
        stage=stage,
        decision="rejected",
        reviewer=reviewer,
        reviewed_sha=doc.sha256,
        reason=reason.strip(),
    )
    return _save(store, decision)


def _save(store: ArtifactStore, decision: ReviewDecision) -> ReviewDecision:
    uri = _decision_uri(store, decision.project_id, decision.stage)
    store.write_text(uri, decision.model_dump_json(indent=2))
    return decision


def current_decision(store: ArtifactStore, project_id: str, stage: Stage) -> ReviewDecision | None:
    """The decision on the stage's *current* output, or None if it is unreviewed (or stale)."""
    uri = _decision_uri(store, project_id, stage)
    if not store.exists(uri):
        return None
    decision = ReviewDecision.model_validate_json(store.read_text(uri))
    if decision.reviewed_sha != load_segments(store, project_id, stage).sha256:
        return None
    return decision


def approved_segments(store: ArtifactStore, project_id: str, stage: Stage) -> SegmentDoc:
    """What the next stage works on; anything but a current approval is a VALIDATION error."""
    decision = current_decision(store, project_id, stage)
    if decision is None:
        raise validation_error(f"{stage.asset_name} of project {project_id!r} awaits review")
    if decision.decision != "approved" or decision.segments is None:
        raise validation_error(
            f"{stage.asset_name} of project {project_id!r} was rejected: {decision.reason}"
        )
    return decision.segments


def record(instance: DagsterInstance, decision: ReviewDecision) -> None:
    """Show the decision in Dagster: an observation on the reviewed asset partition. The
    description is what the sensor reads, so GraphQL's reportRunlessAssetEvents (which takes a
    description but no metadata) records the same thing."""
    instance.report_runless_asset_event(
        AssetObservation(
            asset_key=AssetKey(decision.stage.asset_name),
            partition=decision.project_id,
            description=describe(decision),
            metadata={
                "review/decision": decision.decision,
                "review/id": decision.id,
                "review/reviewer": decision.reviewer,
                "review/edited_segments": len(decision.edited_segment_ids),
                "review/reason": decision.reason or "",
                "review/reviewed_sha": decision.reviewed_sha,
            },
        )
    )
