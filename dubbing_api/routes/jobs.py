"""Jobs (Dagster runs of one stage for one project): read, retry, and the workers' progress."""

from __future__ import annotations

from starlette.requests import Request

from dubbing_api.auth import Principal
from dubbing_api.errors import ApiError, not_found
from dubbing_api.models import Accepted, JobList, JobOut, ProgressUpdate
from dubbing_api.routes.dead_letter import request_retry
from dubbing_api.routing import api
from dubbing_api.services import services
from dubbing_pipeline.domain.tags import Tag
from dubbing_pipeline.infra.events import JobEvent


@api("GET", "/api/jobs/{jobId}", "One job", response=JobOut)
async def get_job(request: Request, caller: Principal) -> JobOut:
    svc = services(request)
    return (await svc.jobs([await svc.own_run(caller, request.path_params["jobId"])]))[0]


@api("GET", "/api/jobs/project/{projectId}", "A project's jobs, newest first", response=JobList)
async def project_jobs(request: Request, caller: Principal) -> JobList:
    svc = services(request)
    project = svc.own_project(caller, request.path_params["projectId"])
    runs = await svc.dagster.runs({Tag.PROJECT: project.id}, limit=200)
    return JobList(jobs=await svc.jobs(runs), next_cursor=None)


@api("GET", "/api/jobs/project/{projectId}/current", "A project's latest job", response=JobOut)
async def current_job(request: Request, caller: Principal) -> JobOut:
    svc = services(request)
    project = svc.own_project(caller, request.path_params["projectId"])
    runs = await svc.dagster.runs({Tag.PROJECT: project.id}, limit=1)
    if not runs:
        raise not_found(f"a job of project {project.id}")
    return (await svc.jobs(runs))[0]


@api(
    "POST",
    "/api/jobs/{jobId}/retry",
    "Retry a failed job (from the dead letter queue)",
    response=Accepted,
    status=202,
)
async def retry_job(request: Request, caller: Principal) -> Accepted:
    return await request_retry(request, caller, request.path_params["jobId"])


@api(
    "PUT",
    "/api/jobs/{jobId}/progress",
    "Report a job's progress (workers)",
    roles=("worker",),
    body=ProgressUpdate,
    response=JobOut,
)
async def put_progress(request: Request, caller: Principal, body: ProgressUpdate) -> JobOut:
    svc = services(request)
    run = await svc.dagster.run(request.path_params["jobId"])
    if run is None or Tag.STAGE not in run.tags:
        raise not_found(f"job {request.path_params['jobId']}")
    if run.status not in ("STARTING", "STARTED"):
        raise ApiError(409, "conflict", f"job {run.run_id} is {run.status}, not running")
    event = JobEvent.for_run(
        "job_progress",
        run.run_id,
        run.tags,
        status="active",
        progress=body.progress,
        message=body.message,
    )
    svc.events.publish(event)
    return (await svc.jobs([run]))[0]


routes = [get_job, project_jobs, current_job, retry_job, put_progress]
