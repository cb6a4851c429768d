"""Projects: create one (a video URL in the store, or an upload streamed into it), list, get,
and download what it produced (with range requests)."""

from __future__ import annotations

import uuid
from pathlib import Path

from pydantic import Field, ValidationError
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from dubbing_api.auth import Principal
from dubbing_api.errors import ApiError, not_found
from dubbing_api.models import (
    Body,
    ProjectCreate,
    ProjectCreated,
    ProjectList,
    ProjectOut,
    job_status,
)
from dubbing_api.routing import api
from dubbing_api.services import Services, services
from dubbing_pipeline import review
from dubbing_pipeline.errors import JobProcessingError
from dubbing_pipeline.partitions import PROJECTS
from dubbing_pipeline.projects import Project, run_tags, save_project
from dubbing_pipeline.stages import Stage

REMOTE_SCHEMES = ("s3://", "gs://", "gcs://", "az://", "abfs://")
# "video" is the lip-synced video of a premium project, else the muxed one.
ARTIFACTS = ("video", "subtitles.srt", "subtitles.vtt", "source.srt", "source.vtt")


class UploadQuery(Body):
    target_language: str
    source_language: str = "auto"
    premium: bool = False
    filename: str = Field(default="video.mp4", pattern=r"^[\w.-]{1,100}$")


async def _start(svc: Services, project: Project) -> ProjectCreated:
    project = project.model_copy(update={"stt_launched_by": "creator"})
    save_project(svc.store, project)
    await svc.dagster.add_partition(PROJECTS, project.id)
    tags = run_tags(project, Stage.STT) | {"dagster/partition": project.id}
    job_id = await svc.dagster.launch(Stage.STT.job_name, tags)
    return ProjectCreated(project=await _project_out(svc, project), job_id=job_id)


def _project(caller: Principal, **fields: object) -> Project:
    try:
        return Project(user_id=caller.user_id, **{k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        error = exc.errors()[0]
        field = {
            "video_uri": "videoUrl",
            "source_language": "sourceLanguage",
            "target_language": "targetLanguage",
        }.get(str(error["loc"][0]), error["loc"][0])
        raise ApiError(400, "validation_error", f"{field}: {error['msg']}") from exc


async def _project_out(svc: Services, project: Project) -> ProjectOut:
    runs = await svc.dagster.runs({"dubbing/project": project.id}, limit=100)
    stages: dict[str, str] = {}
    for run in reversed(runs):  # oldest first, so the latest run of each stage wins
        stages[run.tags.get("dubbing/stage", "")] = job_status(run)
    return ProjectOut(
        id=project.id,
        user_id=project.user_id,
        video_url=project.video_uri,
        source_language=project.source_language,
        target_language=project.target_language,
        premium=project.premium,
        created_at=project.created_at,
        stages=stages,
    )


@api(
    "POST",
    "/api/projects",
    "Create a project for a video already in the artifact store",
    body=ProjectCreate,
    response=ProjectCreated,
    status=201,
)
async def create_project(
    request: Request, caller: Principal, body: ProjectCreate
) -> ProjectCreated:
    svc = services(request)
    video = body.video_url
    if not video.startswith(REMOTE_SCHEMES):  # a key in the store, never a path on this server
        if "://" in video or video.startswith("/") or ".." in video.split("/"):
            raise ApiError(
                400,
                "validation_error",
                "videoUrl: use an object-storage URL or a key inside the artifact store",
            )
        video = svc.store.uri(video)
        if not svc.store.exists(video):
            raise ApiError(400, "validation_error", f"videoUrl: no object at {body.video_url!r}")
    project = _project(
        caller,
        id=body.id,
        video_uri=video,
        source_language=body.source_language,
        target_language=body.target_language,
        premium=body.premium,
    )
    if svc.store.exists(svc.store.uri("projects", project.id, "project.json")):
        raise ApiError(409, "conflict", f"project {project.id} exists")
    return await _start(svc, project)


@api(
    "POST",
    "/api/projects/upload",
    "Create a project by uploading the video (request body)",
    query=UploadQuery,
    response=ProjectCreated,
    status=201,
)
async def upload_project(request: Request, caller: Principal, query: UploadQuery) -> ProjectCreated:
    svc, limit = services(request), services(request).settings.max_upload_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "payload_too_large", f"uploads are limited to {limit} bytes")
    project = _project(
        caller,
        video_uri="pending",
        source_language=query.source_language,
        target_language=query.target_language,
        premium=query.premium,
    )
    uri = svc.store.uri("uploads", project.id, f"{uuid.uuid4().hex[:8]}-{query.filename}")
    size = 0
    with svc.store.writing(uri) as local, Path(local).open("wb") as out:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ApiError(413, "payload_too_large", f"uploads are limited to {limit} bytes")
            out.write(chunk)
        if size == 0:
            raise ApiError(400, "validation_error", "body: the upload is empty")
    return await _start(svc, project.model_copy(update={"video_uri": uri}))


class ProjectsQuery(Body):
    limit: int = Field(default=50, ge=1, le=500)


@api(
    "GET",
    "/api/projects",
    "The caller's projects, newest first",
    query=ProjectsQuery,
    response=ProjectList,
)
async def list_projects(request: Request, caller: Principal, query: ProjectsQuery) -> ProjectList:
    svc = services(request)
    tags = {"dubbing/stage": Stage.STT.value} | (
        {} if caller.is_admin else {"dubbing/user": caller.user_id}
    )
    ids = dict.fromkeys(
        r.tags["dubbing/project"] for r in await svc.dagster.runs(tags, limit=query.limit)
    )
    return ProjectList(projects=[await _project_out(svc, svc.own_project(caller, i)) for i in ids])


@api("GET", "/api/projects/{projectId}", "One project and its stages", response=ProjectOut)
async def get_project(request: Request, caller: Principal) -> ProjectOut:
    svc = services(request)
    return await _project_out(svc, svc.own_project(caller, request.path_params["projectId"]))


@api(
    "GET",
    "/api/projects/{projectId}/artifacts/{name}",
    "Download the dubbed video or subtitles (video, subtitles.srt/.vtt, source.srt/.vtt)",
    content_type="application/octet-stream",
)
async def get_artifact(request: Request, caller: Principal) -> Response:
    svc = services(request)
    project = svc.own_project(caller, request.path_params["projectId"])
    name = request.path_params["name"]
    if name not in ARTIFACTS:
        raise not_found(f"artifact {name!r} (artifacts: {', '.join(ARTIFACTS)})")
    uri = _artifact_uri(svc, project, name)
    if uri is None or not svc.store.exists(uri):
        raise not_found(f"{name} of project {project.id} (not produced yet)")
    with svc.store.reading(uri) as path:  # local stores hand out the file itself
        return FileResponse(path, filename=f"{project.id}-{Path(uri).name}")


def _artifact_uri(svc: Services, project: Project, name: str) -> str | None:
    if name != "video":
        role, suffix = name.split(".")
        stage = Stage.MT if role == "subtitles" else Stage.STT
        try:  # the detected language names the file when the source language was "auto"
            language = review.load_segments(svc.store, project.id, stage).language
        except JobProcessingError:
            return None
        prefix = "target" if role == "subtitles" else "source"
        return svc.store.artifact_uri(project.id, "muxed_video", f"{prefix}.{language}.{suffix}")
    stages = [Stage.LIP_SYNC, Stage.MUXING] if project.premium else [Stage.MUXING]
    for stage in stages:
        stem = "lipsynced" if stage is Stage.LIP_SYNC else "dubbed"
        for suffix in (".mp4", ".mkv"):
            uri = svc.store.artifact_uri(project.id, stage.asset_name, stem + suffix)
            if svc.store.exists(uri):
                return uri
    return None


routes = [create_project, upload_project, list_projects, get_project, get_artifact]
