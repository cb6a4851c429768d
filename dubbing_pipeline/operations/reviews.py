"""Review decisions in the artifact store, beside the segments they judge: the approved segments
(``review.json``) are what the next stage reads. ``operations.approvals`` decides and hands off."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from dubbing_pipeline.domain import artifacts
from dubbing_pipeline.domain.errors import validation_error
from dubbing_pipeline.domain.fits import SegmentFit, TrackFits
from dubbing_pipeline.domain.review import ReviewDecision, check_reviewable, with_edits
from dubbing_pipeline.domain.segments import SegmentDoc
from dubbing_pipeline.domain.speakers import SpeakerEdits
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.infra.storage import ArtifactStore


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
    speaker edits. Approving what is already approved (the same output, the same edits) returns
    that decision unchanged; twins that race (both read before either wrote) get the same id, so
    the next stage's run key is the same and it starts once."""
    check_reviewable(stage)
    doc = load_segments(store, project_id, stage)
    edits = dict(edits or {})
    approved = with_edits(doc, stage, edits, speakers)
    stored = stored_decision(store, project_id, stage)
    current = current_decision(store, project_id, stage)
    if (
        current is not None
        and current.decision == "approved"
        and current.segments is not None
        and current.segments.sha256 == approved.sha256
    ):
        return current
    # The id names what is approved and what it replaces: the same approval of the same state
    # is the same decision, while approving again after a rejection is a new one.
    basis = [project_id, stage.value, doc.sha256, approved.sha256, stored.id if stored else ""]
    decision = ReviewDecision(
        id=hashlib.sha256("\n".join(basis).encode()).hexdigest()[:32],
        project_id=project_id,
        stage=stage,
        decision="approved",
        reviewer=reviewer,
        reviewed_sha=doc.sha256,
        edited_segment_ids=sorted(edits),
        speaker_edits=speakers or None,
        segments=approved,
    )
    return save(store, decision)


def reject(
    store: ArtifactStore, project_id: str, stage: Stage, *, reviewer: str, reason: str
) -> ReviewDecision:
    """Reject the stage's current segments; rejecting them again for the same reason returns
    that decision unchanged."""
    check_reviewable(stage)
    if not reason.strip():
        raise validation_error("a rejection needs a reason")
    doc = load_segments(store, project_id, stage)
    current = current_decision(store, project_id, stage)
    if current is not None and (current.decision, current.reason) == ("rejected", reason.strip()):
        return current
    decision = ReviewDecision(
        project_id=project_id,
        stage=stage,
        decision="rejected",
        reviewer=reviewer,
        reviewed_sha=doc.sha256,
        reason=reason.strip(),
    )
    return save(store, decision)


def save(store: ArtifactStore, decision: ReviewDecision) -> ReviewDecision:
    uri = _decision_uri(store, decision.project_id, decision.stage)
    store.write_text(uri, decision.model_dump_json(indent=2))
    return decision


def stored_decision(store: ArtifactStore, project_id: str, stage: Stage) -> ReviewDecision | None:
    """The stored decision, current or stale (what to put back if a new one must be undone)."""
    uri = _decision_uri(store, project_id, stage)
    if not store.exists(uri):
        return None
    return ReviewDecision.model_validate_json(store.read_text(uri))


def restore(
    store: ArtifactStore, project_id: str, stage: Stage, previous: ReviewDecision | None
) -> None:
    """Put ``previous`` back as the stage's decision (or none at all)."""
    if previous is not None:
        save(store, previous)
        return
    uri = _decision_uri(store, project_id, stage)
    if store.exists(uri):
        store.delete(uri)


def current_decision(store: ArtifactStore, project_id: str, stage: Stage) -> ReviewDecision | None:
    """The decision on the stage's *current* output, or None if it is unreviewed (or stale)."""
    decision = stored_decision(store, project_id, stage)
    if decision is None:
        return None
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


def segment_fits(store: ArtifactStore, project_id: str) -> dict[int, SegmentFit]:
    """How TTS fitted each translated segment (empty before TTS has run): which needed the
    speed-up cap, which were cut."""
    uri = store.uri(artifacts.stage_file(project_id, Stage.TTS, artifacts.TIMING))
    if not store.exists(uri):
        return {}
    fits = TrackFits.model_validate_json(store.read_text(uri))
    return {fit.segment_id: fit for fit in fits.segments}
