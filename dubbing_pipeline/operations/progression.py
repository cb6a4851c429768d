"""How a project moves on: which stage's run follows a new project, an approval or a finished
stage, and under which run key, so that whoever starts it (a sensor, a finishing run's hook, an
approval, the API) starts it once. The sensors decide the same way and stay the safety net."""

from __future__ import annotations

import logging
from dataclasses import replace

from dubbing_pipeline.domain import review
from dubbing_pipeline.domain.errors import JobProcessingError
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.tags import Sensor, Tag, job_tags
from dubbing_pipeline.infra.storage import ArtifactStore
from dubbing_pipeline.operations import reviews
from dubbing_pipeline.operations.projects import load_project
from dubbing_pipeline.operations.runs import Launch

AFTER_REVIEW = {Stage.STT: Stage.MT, Stage.MT: Stage.TTS}
AFTER_SUCCESS = {Stage.TTS: Stage.MUXING, Stage.MUXING: Stage.LIP_SYNC}

log = logging.getLogger(__name__)


def next_launch(
    store: ArtifactStore,
    project_id: str,
    stage: Stage,
    cause: str,
    logger: logging.Logger | logging.LoggerAdapter = log,
) -> Launch | None:
    """The run of ``stage`` for a sensor-driven project, keyed by its cause (or None, logged).

    A project that cannot be read is logged and skipped: it must not block the ones after it.
    """
    try:
        project = load_project(store, project_id)
    except JobProcessingError as exc:
        logger.error(f"project {project_id}: {exc.message}; not starting {stage}")
        return None
    if project.driven_by != "sensors":
        return None
    if stage is Stage.LIP_SYNC and not project.premium:
        logger.info(f"{project_id} is {project.tier}: done after muxing")
        return None
    return Launch(
        stage.job_name,
        job_tags(project, stage),
        partition=project_id,
        run_key=f"{cause}:{stage}:{project_id}",
    )


def approval_launch(
    store: ArtifactStore,
    project_id: str,
    stage: Stage,
    decision_id: str,
    logger: logging.Logger | logging.LoggerAdapter = log,
) -> Launch | None:
    """The run after the approval ``decision_id`` of ``stage``, while it is the current decision
    (a later rejection, or new segments, make it stale: nothing starts)."""
    if stage not in AFTER_REVIEW:
        return None
    decision = reviews.current_decision(store, project_id, stage)
    if decision is None or decision.id != decision_id or decision.decision != "approved":
        logger.info(f"skipping stale approval of {stage.asset_name} {project_id}")
        return None
    launch = next_launch(store, project_id, AFTER_REVIEW[stage], approval_cause(decision), logger)
    return as_sensor(launch, Sensor.REVIEW_GATE) if launch else None


def approval_cause(decision: review.ReviewDecision) -> str:
    return f"approved-{decision.id}"


def as_sensor(launch: Launch, sensor_name: str) -> Launch:
    """The launch tagged as ``sensor_name``'s request with the same run key would be, so the
    sensor daemon finds the run there and launches nothing twice."""
    return replace(launch, tags={**launch.tags, Tag.SENSOR_NAME: sensor_name})
