"""Projects: upload files into your own area, create a project for one of them (or by uploading
the video itself), list and read projects, download what they produced (with range requests)."""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from pathlib import Path
from typing import Annotated, Any

import fsspec
from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from pydantic import ValidationError
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse

from dubbing_api.auth import Principal
from dubbing_api.errors import ApiError, responses
from dubbing_api.idempotency import IdempotencyKey, derived_id, fingerprint, once
from dubbing_api.models import ProjectCreate, ProjectCreated, ProjectList, ProjectOut, Uploaded
from dubbing_api.services import Caller, Services, Svc, user_filter
from dubbing_pipeline.domain import artifacts
from dubbing_pipeline.domain.errors import NotFound
from dubbing_pipeline.domain.projects import Project
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.tags import Tag
from dubbing_pipeline.operations import jobs, projects, queues

router = APIRouter(tags=["projects"], responses=responses())
ProjectId = Annotated[str, PathParam(alias="projectId", min_length=1, max_length=64)]
Filename = Annotated[
    str, Query(pattern=r"^[\w.-]{1,100}$", description="The file's name (letters, digits, ._-)")
]
BINARY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/octet-stream": {
                "schema": {"type": "string", "format": "binary", "minLength": 1}
            }
        },
    }
}
MEDIA_TYPES = {
    "video": ("video/mp4", "video/x-matroska"),
    "srt": ("application/x-subrip",),
    "vtt": ("text/vtt",),
    "source": ("application/octet-stream",),  # an upload of another container (.mov, .webm)
}
SUFFIX_TYPES = {
    ".mp4": "video/mp4",
    ".mkv": "video/x-matroska",
    ".srt": "application/x-subrip",
    ".vtt": "text/vtt",
}


def source_uri(svc: Services, caller: Principal, value: str, field: str) -> str:
    """Where a caller-named source lives: a key inside the caller's own upload area (what
    ``POST /api/uploads`` answers), or an object-storage URL under a prefix the deployment allows.
    Anything else, and a key that is missing or a folder, gets the same answer: whether another
    user's file exists must not be learnable from it."""
    allowed = svc.settings.api_source_urls
    if "://" in value:
        if allowed and value.startswith(allowed):
            return _readable(value, field)
        raise ApiError(
            400,
            "validation_error",
            f"{field}: object-storage URLs must start with one of {', '.join(allowed)}"
            if allowed
            else f"{field}: this deployment takes no object-storage URLs",
        )
    key = value.lstrip("/")
    uri = svc.store.uri(*key.split("/"))
    owned = key.startswith(artifacts.upload_prefix(caller.user_id)) and ".." not in key.split("/")
    if not owned or not svc.store.is_file(uri):
        raise ApiError(
            400,
            "validation_error",
            f"{field}: not an upload of yours: upload the file with POST /api/uploads and pass "
            "the key it answers",
        )
    return uri


def _readable(url: str, field: str) -> str:
    """An object-storage URL is read here, with this service's credentials, before a project
    depends on it: a missing object, a folder, missing credentials or a filesystem that is not
    installed are a 400 now, not three retries of STT later."""
    try:
        fs, path = fsspec.url_to_fs(url)
        info = fs.info(path)
    except ImportError as exc:
        raise ApiError(400, "validation_error", f"{field}: cannot read this scheme: {exc}") from exc
    except FileNotFoundError as exc:
        raise ApiError(400, "validation_error", f"{field}: no object at {url}") from exc
    except Exception as exc:  # credentials, permissions, an unreachable endpoint
        reason = f"{type(exc).__name__}: {exc}"[:300]
        raise ApiError(400, "validation_error", f"{field}: cannot read {url} ({reason})") from exc
    if info.get("type") != "file":
        raise ApiError(400, "validation_error", f"{field}: {url} is a folder, not a file")
    return url


def _project(caller: Principal, **fields: Any) -> Project:
    try:
        return Project(user_id=caller.user_id, stt_launched_by="creator", **fields)
    except ValidationError as exc:
        error = exc.errors()[0]
        if not error["loc"]:  # a rule across fields (min_speakers over max_speakers)
            raise ApiError(400, "validation_error", str(error["msg"])) from exc
        names = {"source_language": "sourceLanguage", "target_language": "targetLanguage"}
        field = names.get(str(error["loc"][0]), str(error["loc"][0])) if error["loc"] else "body"
        raise ApiError(400, "validation_error", f"{field}: {error['msg']}") from exc


def _mix_choices(svc: Services, caller: Principal, body: ProjectCreate) -> dict[str, Any]:
    """What plays under the dub; a stem is named and checked exactly like the video."""
    stem = body.background_url
    if body.background == "stem" and not stem:
        raise ApiError(400, "validation_error", "backgroundUrl: background 'stem' needs the stem")
    return {
        "background": body.background,
        "background_uri": source_uri(svc, caller, stem, "backgroundUrl") if stem else None,
        "original_track": body.original_track,
    }


def _check_languages(svc: Services, source: str, target: str) -> None:
    """Refuse at the door what the engines cannot dub (not after a person's review)."""
    known = svc.cache.get("capabilities", lambda: projects.capabilities(svc.runs))
    if problem := known.problem(source, target):
        raise ApiError(400, "validation_error", problem)


def _start(svc: Services, project: Project) -> ProjectCreated:
    project, job_id = projects.create_project(svc.store, svc.runs, project, start=True)
    return ProjectCreated(project=_out(svc, project), job_id=job_id or "")


def _out(svc: Services, project: Project) -> ProjectOut:
    statuses = jobs.stage_statuses(jobs.project_runs(svc.runs, project.id, limit=100))
    return ProjectOut(
        id=project.id,
        user_id=project.user_id,
        video_url=svc.store.key_of(project.video_uri),
        source_language=project.source_language,
        target_language=project.target_language,
        premium=project.premium,
        background=project.background,
        background_url=svc.store.key_of(project.background_uri) if project.background_uri else None,
        original_track=project.original_track,
        created_at=project.created_at,
        stages=statuses,
    )


async def _receive(request: Request, svc: Services, uri: str) -> None:
    """Stream the request body to a local file, refusing more than the upload limit and an empty
    body, then publish it to the store (off the event loop: it may be an upload)."""
    limit = svc.settings.max_upload_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "payload_too_large", f"uploads are limited to {limit} bytes")
    handle, name = tempfile.mkstemp(prefix="dubbing-upload-")
    local, size = Path(name), 0
    try:
        with os.fdopen(handle, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise ApiError(
                        413, "payload_too_large", f"uploads are limited to {limit} bytes"
                    )
                out.write(chunk)
        if size == 0:
            raise ApiError(400, "validation_error", "body: the upload is empty")
        await run_in_threadpool(svc.store.publish, local, uri)
    finally:
        with contextlib.suppress(FileNotFoundError):
            local.unlink()


def _upload_uri(svc: Services, caller: Principal, filename: str) -> str:
    key = f"{artifacts.upload_prefix(caller.user_id)}{uuid.uuid4().hex[:12]}-{filename}"
    return svc.store.uri(*key.split("/"))


@router.post(
    "/api/uploads",
    status_code=201,
    responses=responses(413),
    openapi_extra=BINARY,
)
async def upload_file(
    request: Request, svc: Svc, caller: Caller, filename: Filename = "video.mp4"
) -> Uploaded:
    """Upload a file (a video, a background stem) into your own upload area."""
    uri = _upload_uri(svc, caller, filename)
    await _receive(request, svc, uri)
    return Uploaded(key=svc.store.key_of(uri))


@router.post(
    "/api/projects",
    status_code=201,
    response_model=ProjectCreated,
    responses=responses(422),
)
def create_project(
    body: ProjectCreate,
    request: Request,
    svc: Svc,
    caller: Caller,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Create a project for a video you uploaded (POST /api/uploads) or an allowed URL; its
    transcription starts at once."""

    def create() -> ProjectCreated:
        project = _project(
            caller,
            **(
                {"id": derived_id(caller.user_id, idempotency_key, "p-")} if idempotency_key else {}
            ),
            video_uri=source_uri(svc, caller, body.video_url, "videoUrl"),
            source_language=body.source_language,
            target_language=body.target_language,
            premium=body.premium,
            min_speakers=body.min_speakers,
            max_speakers=body.max_speakers,
            voices=body.voices,
            **_mix_choices(svc, caller, body),
        )
        _check_languages(svc, project.source_language, project.target_language)
        return _start(svc, project)

    request_print = fingerprint("POST", request.url.path, body.model_dump(mode="json"))
    return once(svc.idempotency, caller.user_id, idempotency_key, request_print, 201, create)


@router.post(
    "/api/projects/upload",
    status_code=201,
    response_model=ProjectCreated,
    responses=responses(413, 422),
    openapi_extra=BINARY,
)
async def upload_project(
    request: Request,
    svc: Svc,
    caller: Caller,
    target_language: Annotated[str, Query(alias="targetLanguage", min_length=2, max_length=35)],
    source_language: Annotated[str, Query(alias="sourceLanguage", max_length=35)] = "auto",
    premium: bool = False,
    filename: Filename = "video.mp4",
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Create a project by uploading the video (the request body, streamed)."""
    query = {"target": target_language, "source": source_language, "premium": premium}
    request_print = fingerprint("POST", request.url.path, query | {"filename": filename})
    if idempotency_key and svc.idempotency.get(caller.user_id, idempotency_key):
        # answered before: the kept answer (or a 422), without taking the upload again
        return once(svc.idempotency, caller.user_id, idempotency_key, request_print, 201, _never)
    project = _project(
        caller,
        **({"id": derived_id(caller.user_id, idempotency_key, "p-")} if idempotency_key else {}),
        video_uri="pending",
        source_language=source_language,
        target_language=target_language,
        premium=premium,
    )
    await run_in_threadpool(_check_languages, svc, source_language, target_language)
    uri = _upload_uri(svc, caller, filename)
    await _receive(request, svc, uri)
    started = project.model_copy(update={"video_uri": uri})
    return await run_in_threadpool(
        once,
        svc.idempotency,
        caller.user_id,
        idempotency_key,
        request_print,
        201,
        lambda: _start(svc, started),
    )


def _never() -> ProjectCreated:
    raise AssertionError("a kept answer is replayed, never produced again")


@router.get("/api/projects")
def list_projects(
    svc: Svc, caller: Caller, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> ProjectList:
    """The caller's projects, newest first (a project whose manifest cannot be read is left out,
    never failing the list)."""
    found = queues.jobs(svc.runs, stage=Stage.STT, user_id=user_filter(caller), limit=limit)
    listed: list[ProjectOut] = []
    for project_id in dict.fromkeys(run.tags[Tag.PROJECT] for run in found):
        try:
            listed.append(_out(svc, svc.own_project(caller, project_id)))
        except NotFound:
            continue
    return ProjectList(projects=listed)


@router.get("/api/projects/{projectId}", responses=responses(404))
def get_project(project_id: ProjectId, svc: Svc, caller: Caller) -> ProjectOut:
    """One project and its stages."""
    return _out(svc, svc.own_project(caller, project_id))


@router.get(
    "/api/projects/{projectId}/artifacts/{name}",
    response_class=FileResponse,
    responses={
        200: {
            "description": "The file (range requests are served)",
            "content": {t: {} for types in MEDIA_TYPES.values() for t in types},
        },
        206: {"description": "A range of the file"},
        **responses(404),
    },
)
def get_artifact(
    project_id: ProjectId,
    name: Annotated[str, PathParam(json_schema_extra={"enum": list(artifacts.DELIVERABLES)})],
    svc: Svc,
    caller: Caller,
) -> FileResponse:
    """Download the dubbed video (lip-synced for premium projects), the subtitles, or the
    source video (its original audio)."""
    project = svc.own_project(caller, project_id)
    deliverable = next((d for d in artifacts.DELIVERABLES if d == name), None)
    if deliverable is None:
        raise NotFound(f"artifact {name!r} (artifacts: {', '.join(artifacts.DELIVERABLES)})")
    uri = projects.deliverable_uri(svc.store, project, deliverable)
    if uri is None:
        raise NotFound(f"{name} of project {project.id} (not produced yet)")
    # A remote store's file is copied here, and deleted only once it has been sent.
    local, temporary = svc.store.local_file(uri)
    return FileResponse(
        local,
        filename=f"{project.id}-{Path(uri).name}",
        media_type=SUFFIX_TYPES.get(Path(uri).suffix.lower(), "application/octet-stream"),
        background=BackgroundTask(local.unlink) if temporary else None,
    )
