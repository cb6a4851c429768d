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
    RunRequest,
    RunsFilter,
    success_hook,
)
from dagster._core.origin import JobPythonOrigin
from dagster._core.remote_origin import RemoteJobOrigin

from dubbing_pipeline.errors import JobProcessingError
from dubbing_pipeline.projects import load_project, run_tags
from dubbing_pipeline.stages import Stage
from dubbing_pipeline.storage import ArtifactStore

RUN_KEY_TAG = "dagster/run_key"  # what the sensor daemon matches a request's run key on
SENSOR_NAME_TAG = "dagster/sensor_name"
PARTITION_TAG = "dagster/partition"
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
        tags=run_tags(project, stage),
    )


def as_sensor(request: RunRequest, sensor_name: str) -> dict[str, str]:
    """The tags that make a run submitted for ``request`` the one ``sensor_name`` would make."""
    return {
        **request.tags,
        RUN_KEY_TAG: request.run_key or "",
        SENSOR_NAME_TAG: sensor_name,
        PARTITION_TAG: request.partition_key or "",
    }


def submit(
    instance: DagsterInstance, request: RunRequest, like: DagsterRun, sensor_name: str
) -> str | None:
    """Queue ``request`` as ``sensor_name`` would, in the code location of the launched run
    ``like``. None when ``like`` was not launched (an in-process run) or the run exists."""
    remote, code = like.remote_job_origin, like.job_code_origin
    if remote is None or code is None or request.run_key is None:
        return None
    if instance.get_run_ids(RunsFilter(tags={RUN_KEY_TAG: request.run_key}), limit=1):
        return None
    # definitions imports this module (the hook); in a run it is loaded already
    from dubbing_pipeline.definitions import defs

    job = defs.resolve_job_def(request.job_name or "")
    run = instance.create_run_for_job(
        job,
        tags={**job.run_tags, **as_sensor(request, sensor_name)},
        remote_job_origin=RemoteJobOrigin(
            repository_origin=remote.repository_origin, job_name=request.job_name
        ),
        job_code_origin=JobPythonOrigin(request.job_name, code.repository_origin),
    )
    instance.submit_run(run.run_id, workspace=None)  # type: ignore[arg-type]
    return run.run_id


def after_approval(
    instance: DagsterInstance, store: ArtifactStore, project_id: str, stage: Stage, decision: str
) -> str | None:
    """Submit the stage after an approved review now (before the approval is recorded, so the
    review gate sensor sees the run, not a second request)."""
    if stage not in AFTER_REVIEW:
        return None
    reviewed = instance.get_runs(
        RunsFilter(job_name=stage.job_name, tags={"dubbing/project": project_id}), limit=1
    )
    request = next_run_request(log, store, project_id, AFTER_REVIEW[stage], f"approved-{decision}")
    if not reviewed or request is None:
        return None
    return submit(instance, request, reviewed[0], REVIEW_SENSOR)


@success_hook(required_resource_keys={"store"})
def hand_off(context: HookContext) -> None:
    """TTS -> MUXING -> LIP_SYNC without waiting for stage_success_sensor's next tick. Runs
    after the step's materialisation is stored, so the next stage reads it."""
    run = context.instance.get_run_by_id(context.run_id)
    if run is None or "dubbing/stage" not in run.tags:
        return
    stage = Stage(run.tags["dubbing/stage"])
    if stage not in AFTER_SUCCESS:
        return
    request = next_run_request(
        context.log,  # type: ignore[arg-type]
        context.resources.store,
        run.tags["dubbing/project"],
        AFTER_SUCCESS[stage],
        f"after-{run.run_id}",
    )
    if request is not None and (run_id := submit(context.instance, request, run, SUCCESS_SENSOR)):
        context.log.info(f"submitted {AFTER_SUCCESS[stage]} as run {run_id}")
