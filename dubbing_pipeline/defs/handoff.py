"""How a project moves to its next stage, and the prompt path that does it without waiting for a
sensor tick.

The sensors decide the next run for every cause (a new project, an approval, a success) with
``next_run_request``; that stays the safety net. The finishing run (a success hook) and the
approval itself submit the same request at once, tagged with the run key and sensor name the
sensor would use: Dagster's sensor daemon then finds the run already there and launches nothing
twice. This cuts a transition from a sensor tick plus a launch to a launch.
"""

from __future__ import annotations

import logging

from dagster import (
    DagsterInstance,
    DagsterRun,
    HookContext,
    QueuedRunCoordinator,
    RunRequest,
    RunsFilter,
    success_hook,
)

from dubbing_pipeline.domain.errors import JobProcessingError
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.tags import Tag, job_tags
from dubbing_pipeline.infra.storage import ArtifactStore
from dubbing_pipeline.operations import reviews
from dubbing_pipeline.operations.projects import load_project

RUN_KEY_TAG = Tag.RUN_KEY  # what the sensor daemon matches a request's run key on
SENSOR_NAME_TAG = Tag.SENSOR_NAME
PARTITION_TAG = Tag.PARTITION
AFTER_REVIEW = {Stage.STT: Stage.MT, Stage.MT: Stage.TTS}
AFTER_SUCCESS = {Stage.TTS: Stage.MUXING, Stage.MUXING: Stage.LIP_SYNC}
REVIEW_SENSOR = "review_gate_sensor"
SUCCESS_SENSOR = "stage_success_sensor"

log = logging.getLogger(__name__)


def next_run_request(
    log: logging.Logger, store: ArtifactStore, project_id: str, stage: Stage, cause: str
) -> RunRequest | None:
    """The run of ``stage`` for a sensor-driven project, keyed by its cause (or None, logged).

    A project that cannot be read is logged and skipped: it must not block the ones after it.
    """
    try:
        project = load_project(store, project_id)
    except JobProcessingError as exc:
        log.error(f"project {project_id}: {exc.message}; not starting {stage}")
        return None
    if project.driven_by != "sensors":
        return None
    if stage is Stage.STT and project.stt_launched_by == "creator":
        return None  # the API launched it with the project (a sensor check would race it)
    if stage is Stage.LIP_SYNC and not project.premium:
        log.info(f"{project_id} is {project.tier}: done after muxing")
        return None
    return RunRequest(
        run_key=f"{cause}:{stage}:{project_id}",
        job_name=stage.job_name,
        partition_key=project_id,
        tags=job_tags(project, stage),
    )


def approval_request(
    log: logging.Logger, store: ArtifactStore, project_id: str, stage: Stage, decision_id: str
) -> RunRequest | None:
    """The run after the approval ``decision_id`` of ``stage``, while it is the current decision
    (a later rejection, or new segments, make it stale: nothing starts)."""
    if stage not in AFTER_REVIEW:
        return None
    decision = reviews.current_decision(store, project_id, stage)
    if decision is None or decision.id != decision_id or decision.decision != "approved":
        log.info(f"skipping stale approval of {stage.asset_name} {project_id}")
        return None
    cause = f"approved-{decision.id}"
    return next_run_request(log, store, project_id, AFTER_REVIEW[stage], cause)


def as_sensor(request: RunRequest, sensor_name: str) -> dict[str, str]:
    """The tags that make a run submitted for ``request`` the one ``sensor_name`` would make."""
    return {
        **request.tags,
        RUN_KEY_TAG: request.run_key or "",
        SENSOR_NAME_TAG: sensor_name,
        PARTITION_TAG: request.partition_key or "",
    }


def submitted(instance: DagsterInstance, request: RunRequest) -> bool:
    """Whether a run exists for ``request``'s run key (submitted by a hand-off or the sensor)."""
    run_key = request.run_key or ""
    return bool(instance.get_run_ids(RunsFilter(tags={RUN_KEY_TAG: run_key}), limit=1))


def submit(
    instance: DagsterInstance, request: RunRequest, like: DagsterRun, sensor_name: str
) -> str | None:
    """Queue ``request`` as ``sensor_name`` would, in the code location of the launched run
    ``like``. None when ``like`` was not launched (an in-process run), the instance has no run
    queue (a submitted run would launch inside this process) or the run exists."""
    remote, code = like.remote_job_origin, like.job_code_origin
    if remote is None or code is None or request.run_key is None or request.job_name is None:
        return None
    if not isinstance(instance.run_coordinator, QueuedRunCoordinator):
        return None
    if submitted(instance, request):
        return None
    # definitions imports this module (the hook); in a run it is loaded already
    from dubbing_pipeline.definitions import defs

    job = defs.resolve_job_def(request.job_name)
    run = instance.create_run_for_job(
        job,
        tags={**job.run_tags, **as_sensor(request, sensor_name)},
        remote_job_origin=remote.repository_origin.get_job_origin(request.job_name),
        job_code_origin=code.repository_origin.get_job_origin(request.job_name),
    )
    instance.submit_run(run.run_id, workspace=None)  # type: ignore[arg-type]
    return run.run_id


def after_approval(
    instance: DagsterInstance, store: ArtifactStore, project_id: str, stage: Stage, decision: str
) -> str | None:
    """Submit the stage after an approved review now (before the approval is recorded, so the
    review gate sensor sees the run, not a second request)."""
    request = approval_request(log, store, project_id, stage, decision)
    if request is None:
        return None
    reviewed = instance.get_runs(
        RunsFilter(job_name=stage.job_name, tags={Tag.PROJECT: project_id}), limit=1
    )
    return submit(instance, request, reviewed[0], REVIEW_SENSOR) if reviewed else None


@success_hook(required_resource_keys={"store"})
def hand_off(context: HookContext) -> None:
    """TTS -> MUXING -> LIP_SYNC without waiting for stage_success_sensor's next tick. Runs
    after the step's materialisation is stored, so the next stage reads it."""
    run = context.instance.get_run_by_id(context.run_id)
    if run is None or Tag.STAGE not in run.tags:
        return
    stage = Stage(run.tags[Tag.STAGE])
    if stage not in AFTER_SUCCESS:
        return
    request = next_run_request(
        context.log,  # type: ignore[arg-type]
        context.resources.store,
        run.tags[Tag.PROJECT],
        AFTER_SUCCESS[stage],
        f"after-{run.run_id}",
    )
    if request is not None and (run_id := submit(context.instance, request, run, SUCCESS_SENSOR)):
        context.log.info(f"submitted {AFTER_SUCCESS[stage]} as run {run_id}")
