"""Human review after STT and MT: a person approves the segments (maybe edited) or rejects them.

An approval names the exact segments it reviewed (their hash): if the stage runs again afterwards,
the old approval no longer counts. ``operations.reviews`` stores decisions and records them.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

from dubbing_pipeline.domain.errors import validation_error
from dubbing_pipeline.domain.segments import SegmentDoc
from dubbing_pipeline.domain.speakers import SpeakerEdits, apply_speaker_edits
from dubbing_pipeline.domain.stages import Stage

MAX_EDIT_CHARS = 1000  # a sentence of speech; more is a paste gone wrong, not an edit


class ReviewDecision(BaseModel):
    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    project_id: str
    stage: Stage
    decision: Literal["approved", "rejected"]
    reviewer: str
    decided_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    reviewed_sha: str = Field(description="Hash of the stage output that was reviewed.")
    edited_segment_ids: list[int] = []
    speaker_edits: SpeakerEdits | None = Field(
        default=None, description="The reviewer's renames, merges and moves of speakers."
    )
    reason: str | None = None
    segments: SegmentDoc | None = Field(
        default=None, description="Approved segments, edits applied."
    )


def check_reviewable(stage: Stage) -> None:
    if not stage.needs_review:
        raise validation_error(f"stage {stage} has no review gate")


def with_edits(
    doc: SegmentDoc,
    stage: Stage,
    edits: Mapping[int, str],
    speakers: SpeakerEdits | None = None,
) -> SegmentDoc:
    """``doc`` with the reviewer's text edits by segment id (unknown ids and empty texts are
    refused) and speaker edits (transcript only: the translation keeps the approved speakers)."""
    if speakers and stage is not Stage.STT:
        raise validation_error("speakers are reviewed on the transcript, not the translation")
    unknown = sorted(set(edits) - {s.id for s in doc.segments})
    if unknown:
        raise validation_error(f"no segment with id {unknown} in {stage.asset_name}")
    if any(not text.strip() for text in edits.values()):
        raise validation_error("an edited segment text must not be empty")
    if too_long := sorted(i for i, text in edits.items() if len(text) > MAX_EDIT_CHARS):
        raise validation_error(
            f"edited segment(s) {too_long} are over {MAX_EDIT_CHARS} characters: a segment is "
            "one sentence of speech"
        )
    segments = [s.with_text(edits[s.id].strip()) if s.id in edits else s for s in doc.segments]
    if speakers:
        segments = apply_speaker_edits(segments, speakers)
    return doc.model_copy(update={"segments": segments})


def describe(decision: ReviewDecision) -> str:
    return f"dubbing/review {decision.decision} {decision.id} by {decision.reviewer}"


def parse_description(description: str | None) -> tuple[str, str] | None:
    """(decision, decision id) from an observation's description, if it records a review."""
    match = _DESCRIPTION.match(description or "")
    return (match["decision"], match["id"]) if match else None


_DESCRIPTION = re.compile(r"^dubbing/review (?P<decision>approved|rejected) (?P<id>[0-9a-f]{32})\b")
