"""Jobs (Dagster runs of one stage for one project): read, retry, and the workers' progress."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from starlette.requests import Request
from starlette.responses import JSONResponse

from dubbing_api.errors import responses
from dubbing_api.idempotency import IdempotencyKey
from dubbing_api.models import Accepted, JobList, JobOut, ProgressUpdate
from dubbing_api.routes.dead_letter import retry
from dubbing_api.services import Caller, Svc, Worker, user_filter
from dubbing_pipeline.domain.errors import Conflict, NotFound
from dubbing_pipeline.domain.tags import Tag
from dubbing_pipeline.infra.events import EVENTS_ASSET, JobEvent, describe
from dubbing_pipeline.operations import jobs

router = APIRouter(prefix="/api/jobs", tags=["jobs"], responses=responses())
JobId = Annotated[str, Path(alias="jobId", min_length=1, max_length=64)]
ProjectId = Annotated[str, Path(alias="projectId", min_length=1, max_length=64)]


def _out(job: jobs.Job) -> JobOut:
    return JobOut.model_validate(job.model_dump())


@router.get("/{jobId}", responses=responses(404))
def get_job(job_id: JobId, svc: Svc, caller: Caller) -> JobOut:
    """One job."""
    run = jobs.stage_run(svc.runs, job_id, user_filter(caller))
    if run is None:
        raise NotFound(f"job {job_id}")
    return _out(jobs.with_progress([run], svc.events)[0])


@router.get("/project/{projectId}", responses=responses(404))
def project_jobs(project_id: ProjectId, svc: Svc, caller: Caller) -> JobList:
    """A project's jobs, newest first."""
    project = svc.own_project(caller, project_id)
    found = jobs.project_runs(svc.runs, project.id)
    return JobList(jobs=[_out(j) for j in jobs.with_progress(found, svc.events)], next_cursor=None)


@router.get("/project/{projectId}/current", responses=responses(404))
def current_job(project_id: ProjectId, svc: Svc, caller: Caller) -> JobOut:
    """A project's latest job."""
    project = svc.own_project(caller, project_id)
    found = jobs.project_runs(svc.runs, project.id, limit=1)
    if not found:
        raise NotFound(f"a job of project {project.id}")
    return _out(jobs.with_progress(found, svc.events)[0])


@router.post(
    "/{jobId}/retry",
    status_code=202,
    response_model=Accepted,
    responses=responses(404, 409, 422),
)
def retry_job(
    job_id: JobId,
    request: Request,
    svc: Svc,
    caller: Caller,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Retry a failed job from the dead letter queue (the same as the dead letter retry)."""
    return retry(svc, request, caller, job_id, idempotency_key)


@router.put("/{jobId}/progress", responses=responses(403, 404, 409))
def put_progress(job_id: JobId, body: ProgressUpdate, svc: Svc, _: Worker) -> JobOut:
    """Report a running job's progress (workers)."""
    run = jobs.stage_run(svc.runs, job_id)
    if run is None:
        raise NotFound(f"job {job_id}")
    if run.status not in ("STARTING", "STARTED"):
        raise Conflict(f"job {run.run_id} is {run.status}, not running")
    event = JobEvent.for_run(
        "job_progress", run.run_id, run.tags, status="active", progress=body.progress
    )
    # Recorded in Dagster like a run's own progress; the relay takes it to the stream.
    event = event.model_copy(update={"message": body.message})
    svc.runs.observe(EVENTS_ASSET, run.tags[Tag.PROJECT], describe(event))
    return _out(jobs.Job.of(run, body.progress))
