"""Human review after STT and MT: a person approves the segments (maybe edited) or rejects them.

The approved segments are written beside the stage's own (``approved.json``) and are what the next
stage reads. An approval names the exact segments it reviewed (their hash): if the stage runs again
afterwards, the old approval no longer counts. ``record`` makes the decision visible in Dagster as
an observation of that asset partition.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Literal

from dagster import AssetKey, AssetObservation, DagsterInstance
from pydantic import BaseModel, Field

from dubbing_pipeline.errors import validation_error
from dubbing_pipeline.segments import SegmentDoc
from dubbing_pipeline.stages import Stage
from dubbing_pipeline.storage import ArtifactStore

SEGMENTS = "segments.json"
DECISION = "review.json"


class ReviewDecision(BaseModel):
    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    project_id: str
    stage: Stage
    decision: Literal["approved", "rejected"]
    reviewer: str
    decided_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    reviewed_sha: str = Field(description="Hash of the stage output that was reviewed.")
    edited_segment_ids: list[int] = []
    reason: str | None = None
    segments: SegmentDoc | None = Field(
        default=None, description="Approved segments, edits applied."
    )


def segments_uri(store: ArtifactStore, project_id: str, stage: Stage) -> str:
    return store.artifact_uri(project_id, stage.asset_name, SEGMENTS)


def _decision_uri(store: ArtifactStore, project_id: str, stage: Stage) -> str:
    return store.artifact_uri(project_id, stage.asset_name, DECISION)


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
) -> ReviewDecision:
    """Approve the stage's current segments, with text edits by segment id."""
    if not stage.needs_review:
        raise validation_error(f"stage {stage} has no review gate")
    doc = load_segments(store, project_id, stage)
    edits = dict(edits or {})
    unknown = sorted(set(edits) - {s.id for s in doc.segments})
    if unknown:
        raise validation_error(f"no segment with id {unknown} in {stage.asset_name}")
    if any(not text.strip() for text in edits.values()):
        raise validation_error("an edited segment text must not be empty")
    edited = doc.model_copy(
        update={
            "segments": [
                s.with_text(edits[s.id].strip()) if s.id in edits else s for s in doc.segments
            ]
        }
    )
    decision = ReviewDecision(
        project_id=project_id,
        stage=stage,
        decision="approved",
        reviewer=reviewer,
        reviewed_sha=doc.sha256,
        edited_segment_ids=sorted(edits),
        segments=edited,
    )
    return _save(store, decision)


def reject(
    store: ArtifactStore, project_id: str, stage: Stage, *, reviewer: str, reason: str
) -> ReviewDecision:
    if not stage.needs_review:
        raise validation_error(f"stage {stage} has no review gate")
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


def describe(decision: ReviewDecision) -> str:
    return f"dubbing/review {decision.decision} {decision.id} by {decision.reviewer}"


def parse_description(description: str | None) -> tuple[str, str] | None:
    """(decision, decision id) from an observation's description, if it records a review."""
    match = _DESCRIPTION.match(description or "")
    return (match["decision"], match["id"]) if match else None


_DESCRIPTION = re.compile(r"^dubbing/review (?P<decision>approved|rejected) (?P<id>[0-9a-f]{32})\b")
