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
    MixChoices,
    ProjectCreate,
    ProjectCreated,
    ProjectList,
    ProjectOut,
    Uploaded,
    job_status,
)
from dubbing_api.routing import api
from dubbing_api.services import Services, services
from dubbing_pipeline.domain import artifacts
from dubbing_pipeline.domain.artifacts import upload_prefix
from dubbing_pipeline.domain.errors import JobProcessingError
from dubbing_pipeline.domain.projects import PARTITIONS, Project
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.tags import Tag, job_tags
from dubbing_pipeline.operations import reviews
from dubbing_pipeline.operations.projects import save_project

# "video" is the lip-synced video of a premium project, else the muxed one.
ARTIFACTS = ("video", "subtitles.srt", "subtitles.vtt", "source.srt", "source.vtt")


class FileQuery(Body):
    filename: str = Field(default="video.mp4", pattern=r"^[\w.-]{1,100}$")


class UploadQuery(FileQuery, MixChoices):
    target_language: str
    source_language: str = "auto"
    premium: bool = False


async def _start(svc: Services, project: Project) -> ProjectCreated:
    project = project.model_copy(update={"stt_launched_by": "creator"})
    save_project(svc.store, project)
    await svc.dagster.add_partition(PARTITIONS, project.id)
    tags = job_tags(project, Stage.STT) | {Tag.PARTITION: project.id}
    job_id = await svc.dagster.launch(Stage.STT.job_name, tags)
    return ProjectCreated(project=await _project_out(svc, project), job_id=job_id)


def _project(caller: Principal, **fields: object) -> Project:
    try:
        return Project(user_id=caller.user_id, **{k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        error = exc.errors()[0]
        field = (
            {
                "video_uri": "videoUrl",
                "source_language": "sourceLanguage",
                "target_language": "targetLanguage",
                "background_uri": "backgroundUrl",
            }.get(str(error["loc"][0]), error["loc"][0])
            if error["loc"]
            else "body"
        )
        raise ApiError(400, "validation_error", f"{field}: {error['msg']}") from exc


async def _project_out(svc: Services, project: Project) -> ProjectOut:
    runs = await svc.dagster.runs({Tag.PROJECT: project.id}, limit=100)
    stages: dict[str, str] = {}
    for run in reversed(runs):  # oldest first, so the latest run of each stage wins
        stages[run.tags.get(Tag.STAGE, "")] = job_status(run)
    return ProjectOut(
        id=project.id,
        user_id=project.user_id,
        video_url=svc.store.key_of(project.video_uri),
        source_language=project.source_language,
        target_language=project.target_language,
        premium=project.premium,
        background=project.background,
        background_url=svc.store.key_of(project.background_uri) if project.background_uri else None,
        created_at=project.created_at,
        stages=stages,
    )


def source_uri(svc: Services, caller: Principal, value: str, field: str) -> str:
    """Where a caller-named source lives: a key inside the caller's own upload area (what
    ``POST /api/uploads`` answers), or an object-storage URL under a prefix the deployment allows.
    Anything else, and a key that is missing or a folder, gets the same answer: whether another
    user's file exists must not be learnable from it."""
    if "://" in value:
        if value.startswith(svc.settings.source_url_prefixes):
            return value
        raise ApiError(
            400,
            "validation_error",
            f"{field}: this deployment takes no object-storage URLs"
            if not svc.settings.source_url_prefixes
            else f"{field}: object-storage URLs must start with one of "
            f"{', '.join(svc.settings.source_url_prefixes)}",
        )
    key = value.lstrip("/")
    uri = svc.store.uri(*key.split("/"))
    owned = key.startswith(upload_prefix(caller.user_id)) and ".." not in key.split("/")
    if not owned or not svc.store.is_file(uri):
        raise ApiError(
            400,
            "validation_error",
            f"{field}: no upload {value!r} of yours: upload the file with POST /api/uploads "
            "and pass the key it answers",
        )
    return uri


@api(
    "POST",
    "/api/projects",
    "Create a project for a video you uploaded (POST /api/uploads) or an allowed URL",
    body=ProjectCreate,
    response=ProjectCreated,
    status=201,
)
async def create_project(
    request: Request, caller: Principal, body: ProjectCreate
) -> ProjectCreated:
    svc = services(request)
    project = _project(
        caller,
        video_uri=source_uri(svc, caller, body.video_url, "videoUrl"),
        source_language=body.source_language,
        target_language=body.target_language,
        premium=body.premium,
        **_mix_choices(svc, caller, body),
    )
    return await _start(svc, project)


def _mix_choices(svc: Services, caller: Principal, choices: MixChoices) -> dict[str, object]:
    """The project's background choices; a stem is named and checked exactly like the video."""
    stem = choices.background_url
    if choices.background == "stem" and not stem:
        raise ApiError(400, "validation_error", "backgroundUrl: background 'stem' needs the stem")
    return {
        "background": choices.background,
        "background_uri": source_uri(svc, caller, stem, "backgroundUrl") if stem else None,
        "original_track": choices.original_track,
    }


async def _receive(request: Request, svc: Services, uri: str) -> None:
    """Stream the request body into the store at ``uri``, refusing more than the upload limit
    and an empty body."""
    limit = svc.settings.max_upload_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "payload_too_large", f"uploads are limited to {limit} bytes")
    size = 0
    with svc.store.writing(uri) as local, Path(local).open("wb") as out:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ApiError(413, "payload_too_large", f"uploads are limited to {limit} bytes")
            out.write(chunk)
        if size == 0:
            raise ApiError(400, "validation_error", "body: the upload is empty")


def _upload_uri(svc: Services, caller: Principal, filename: str) -> str:
    key = f"{upload_prefix(caller.user_id)}{uuid.uuid4().hex[:12]}-{filename}"
    return svc.store.uri(*key.split("/"))


@api(
    "POST",
    "/api/uploads",
    "Upload a file (a video, a background stem) into your own upload area",
    query=FileQuery,
    response=Uploaded,
    status=201,
)
async def upload_file(request: Request, caller: Principal, query: FileQuery) -> Uploaded:
    svc = services(request)
    uri = _upload_uri(svc, caller, query.filename)
    await _receive(request, svc, uri)
    return Uploaded(key=svc.store.key_of(uri))


@api(
    "POST",
    "/api/projects/upload",
    "Create a project by uploading the video (request body)",
    query=UploadQuery,
    response=ProjectCreated,
    status=201,
)
async def upload_project(request: Request, caller: Principal, query: UploadQuery) -> ProjectCreated:
    svc = services(request)
    project = _project(
        caller,
        video_uri="pending",
        source_language=query.source_language,
        target_language=query.target_language,
        premium=query.premium,
        **_mix_choices(svc, caller, query),
    )
    uri = _upload_uri(svc, caller, query.filename)
    await _receive(request, svc, uri)
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
    tags = {Tag.STAGE: Stage.STT.value} | ({} if caller.is_admin else {Tag.USER: caller.user_id})
    ids = dict.fromkeys(
        r.tags[Tag.PROJECT] for r in await svc.dagster.runs(tags, limit=query.limit)
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
            language = reviews.load_segments(svc.store, project.id, stage).language
        except JobProcessingError:
            return None
        name = artifacts.subtitles(
            "target" if role == "subtitles" else "source",
            language,
            "srt" if suffix == "srt" else "vtt",
        )
        return svc.store.artifact_uri(project.id, Stage.MUXING, name)
    stages = [Stage.LIP_SYNC, Stage.MUXING] if project.premium else [Stage.MUXING]
    for stage in stages:
        stem = artifacts.LIPSYNCED if stage is Stage.LIP_SYNC else artifacts.DUBBED
        for suffix in artifacts.VIDEO_SUFFIXES:
            uri = svc.store.artifact_uri(project.id, stage, stem + suffix)
            if svc.store.exists(uri):
                return uri
    return None


routes = [create_project, upload_file, upload_project, list_projects, get_project, get_artifact]
