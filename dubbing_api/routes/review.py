"""Human review of the transcript and the translation: read, approve (with edits), reject.
The decision is written beside the segments and recorded in Dagster as an observation (through
GraphQL). An approval launches the next stage's job at once; review_gate_sensor, reading the
observation, is the safety net."""

from __future__ import annotations

import logging

from starlette.requests import Request

from dubbing_api.auth import Principal
from dubbing_api.errors import ApiError, not_found
from dubbing_api.models import ApproveRequest, RejectRequest, ReviewOut, SegmentOut
from dubbing_api.routing import api
from dubbing_api.services import Services, services
from dubbing_pipeline.defs import handoff
from dubbing_pipeline.domain import review
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.operations import reviews
from dubbing_pipeline.operations.projects import pin_voices

PATH = "/api/projects/{projectId}/review/{stage}"
log = logging.getLogger(__name__)


def _target(request: Request, caller: Principal) -> tuple[Services, str, Stage]:
    svc = services(request)
    project = svc.own_project(caller, request.path_params["projectId"])
    name = request.path_params["stage"]
    if name not in ("transcript", "translation"):
        raise not_found(f"review stage {name!r} (transcript or translation)")
    return svc, project.id, Stage.parse(name)


def _out(svc: Services, project_id: str, stage: Stage) -> ReviewOut:
    doc = reviews.load_segments(svc.store, project_id, stage)
    decision = reviews.current_decision(svc.store, project_id, stage)
    segments = decision.segments if decision and decision.segments else doc
    return ReviewOut(
        project_id=project_id,
        stage=stage.asset_name,  # type: ignore[arg-type]
        language=doc.language,
        segments=[SegmentOut(**s.model_dump(exclude={"words"})) for s in segments.segments],
        decision=decision.decision if decision else "pending",
        reason=decision.reason if decision else None,
    )


@api("GET", PATH, "A stage's segments for review, with the current decision", response=ReviewOut)
async def get_review(request: Request, caller: Principal) -> ReviewOut:
    return _out(*_target(request, caller))


@api(
    "POST",
    PATH + "/approve",
    "Approve the segments, with text edits by segment id, speaker edits and voice pins",
    body=ApproveRequest,
    response=ReviewOut,
)
async def approve(request: Request, caller: Principal, body: ApproveRequest) -> ReviewOut:
    svc, project_id, stage = _target(request, caller)
    decision = reviews.approve(
        svc.store,
        project_id,
        stage,
        reviewer=caller.user_id,
        edits=body.edits,
        speakers=body.speakers,
    )
    if body.voices:
        pin_voices(svc.store, project_id, body.voices)
    await _hand_off(svc, project_id, stage, decision.id)
    await svc.dagster.observe(stage.asset_name, project_id, review.describe(decision))
    return _out(svc, project_id, stage)


async def _hand_off(svc: Services, project_id: str, stage: Stage, decision_id: str) -> None:
    """Launch the next stage now, as review_gate_sensor would (same run key and sensor name, so
    its next tick launches nothing more). If this fails, the sensor still does it."""
    request = handoff.approval_request(log, svc.store, project_id, stage, decision_id)
    if request is None or request.job_name is None:
        return
    try:
        if not await svc.dagster.runs({handoff.RUN_KEY_TAG: request.run_key or ""}, limit=1):
            tags = handoff.as_sensor(request, handoff.REVIEW_SENSOR)
            await svc.dagster.launch(request.job_name, tags)
    except ApiError as exc:
        log.warning(f"{project_id}: {stage} hand-off failed ({exc}); the sensor will launch it")


@api(
    "POST",
    PATH + "/reject",
    "Reject the segments, with a reason",
    body=RejectRequest,
    response=ReviewOut,
)
async def reject(request: Request, caller: Principal, body: RejectRequest) -> ReviewOut:
    svc, project_id, stage = _target(request, caller)
    decision = reviews.reject(
        svc.store, project_id, stage, reviewer=caller.user_id, reason=body.reason
    )
    await svc.dagster.observe(stage.asset_name, project_id, review.describe(decision))
    return _out(svc, project_id, stage)


routes = [get_review, approve, reject]
