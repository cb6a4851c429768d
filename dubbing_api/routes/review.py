"""Human review of the transcript and the translation: read, approve (with edits), reject.
One implementation (``operations.approvals``): the decision is written beside the segments,
the next stage starts at once, and Dagster records the decision (review_gate_sensor, reading
it, is the safety net). Repeating an approval or a rejection changes nothing."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path
from starlette.requests import Request
from starlette.responses import JSONResponse

from dubbing_api.auth import Principal
from dubbing_api.errors import responses
from dubbing_api.idempotency import IdempotencyKey, fingerprint, once
from dubbing_api.models import ApproveRequest, RejectRequest, ReviewOut, SegmentOut
from dubbing_api.services import Caller, Services, Svc
from dubbing_pipeline.domain.errors import NotFound
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.operations import approvals, reviews

router = APIRouter(
    prefix="/api/projects/{projectId}/review/{stage}", tags=["review"], responses=responses()
)
REVIEWED = ("transcript", "translation")
ProjectId = Annotated[str, Path(alias="projectId", min_length=1, max_length=64)]
StageName = Annotated[str, Path(json_schema_extra={"enum": list(REVIEWED)})]


def _target(svc: Services, caller: Principal, project_id: str, name: str) -> tuple[str, Stage]:
    project = svc.own_project(caller, project_id)
    if name not in REVIEWED:
        raise NotFound(f"review stage {name!r} (transcript or translation)")
    return project.id, Stage.parse(name)


def _out(svc: Services, project_id: str, stage: Stage) -> ReviewOut:
    doc = reviews.load_segments(svc.store, project_id, stage)
    decision = reviews.current_decision(svc.store, project_id, stage)
    segments = decision.segments if decision and decision.segments else doc
    fits = reviews.segment_fits(svc.store, project_id) if stage is Stage.MT else {}
    out = []
    for segment in segments.segments:
        fit = fits.get(segment.id)
        timing = (
            {"tempo": fit.tempo, "at_cap": fit.at_cap, "overflow_seconds": fit.overflow_seconds}
            if fit
            else {}
        )
        fields = segment.model_dump(exclude={"words": {"__all__": {"speaker"}}})
        out.append(SegmentOut(**fields, **timing))
    return ReviewOut(
        project_id=project_id,
        stage="transcript" if stage is Stage.STT else "translation",
        language=doc.language,
        segments=out,
        decision=decision.decision if decision else "pending",
        reason=decision.reason if decision else None,
    )


@router.get("", responses=responses(404))
def get_review(project_id: ProjectId, stage: StageName, svc: Svc, caller: Caller) -> ReviewOut:
    """A stage's segments for review, with the current decision."""
    return _out(svc, *_target(svc, caller, project_id, stage))


@router.post("/approve", response_model=ReviewOut, responses=responses(404, 422))
def approve(
    project_id: ProjectId,
    stage: StageName,
    request: Request,
    svc: Svc,
    caller: Caller,
    idempotency_key: IdempotencyKey = None,
    body: Annotated[ApproveRequest, Body()] = ApproveRequest(),  # noqa: B008 - never mutated
) -> JSONResponse:
    """Approve the segments, with text edits by segment id, speaker edits (transcript) and voice
    pins; the next stage starts."""
    project, reviewed = _target(svc, caller, project_id, stage)

    def decide() -> ReviewOut:
        approvals.approve(
            svc.store,
            svc.runs,
            project,
            reviewed,
            reviewer=caller.user_id,
            edits=body.parsed_edits(),
            speakers=body.speakers.parsed() if body.speakers else None,
            voices=body.voices,
        )
        return _out(svc, project, reviewed)

    request_print = fingerprint("POST", request.url.path, body.model_dump(mode="json"))
    return once(svc.idempotency, caller.user_id, idempotency_key, request_print, 200, decide)


@router.post("/reject", response_model=ReviewOut, responses=responses(404, 422))
def reject(
    project_id: ProjectId,
    stage: StageName,
    body: RejectRequest,
    request: Request,
    svc: Svc,
    caller: Caller,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Reject the segments, with a reason."""
    project, reviewed = _target(svc, caller, project_id, stage)

    def decide() -> ReviewOut:
        approvals.reject(
            svc.store, svc.runs, project, reviewed, reviewer=caller.user_id, reason=body.reason
        )
        return _out(svc, project, reviewed)

    request_print = fingerprint("POST", request.url.path, body.model_dump(mode="json"))
    return once(svc.idempotency, caller.user_id, idempotency_key, request_print, 200, decide)
