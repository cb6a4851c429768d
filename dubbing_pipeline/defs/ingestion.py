"""Ingestion: a video dropped under the incoming prefix (``s3://bucket/incoming/`` in production,
a local folder on the embedded default) becomes exactly one project.

Layout: ``<prefix>/<user>/<name>.<video extension>`` with a sidecar manifest ``<name>.json``
(``{"targetLanguage": "es", "sourceLanguage": "en", "premium": false}``; a ``"user"`` there
overrides the folder). A video whose manifest has not arrived yet is looked at again on the next
pass. The project id is derived from the object's key, so a rewritten key, a repeated listing or
a daemon restart never makes a second project. A manifest without its partition (a tick that
died between the two) gets its partition on the next pass; an object the store fails to read
ends the page there, and the next tick starts again from it. Objects that cannot become a
project (not a video, a malformed manifest) are recorded once under ``ingestion/rejected/`` in
the artifact store and in the sensor's log, and never block the objects after them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Container
from datetime import UTC, datetime
from pathlib import PurePosixPath

import fsspec
from dagster import DefaultSensorStatus, SensorEvaluationContext, SensorResult, sensor
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dubbing_pipeline.defs.partitions import projects_partitions
from dubbing_pipeline.domain import artifacts
from dubbing_pipeline.domain.projects import PARTITIONS, Project
from dubbing_pipeline.infra.settings import settings
from dubbing_pipeline.infra.storage import ArtifactStore
from dubbing_pipeline.operations.projects import manifest_uri, save_project

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".mpg", ".mpeg"})
PAGE = 200  # objects looked at per tick; the cursor pages through large listings


class Sidecar(BaseModel):
    """The manifest beside a dropped video."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")
    target_language: str = Field(alias="targetLanguage")
    source_language: str = Field(default="auto", alias="sourceLanguage")
    premium: bool = False
    user: str | None = None


class Rejection(BaseModel):
    key: str
    reason: str
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))


def incoming_url() -> str | None:
    return settings().incoming_url


def project_id_for(key: str) -> str:
    return f"in-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def rejections(store: ArtifactStore) -> list[Rejection]:
    """What ingestion refused, for the operator."""
    fs, root = fsspec.url_to_fs(store.uri(artifacts.REJECTED))
    if not fs.exists(root):
        return []
    return [Rejection.model_validate_json(fs.cat_file(path)) for path in sorted(fs.find(root))]


def ingest(
    store: ArtifactStore, url: str, cursor: str, log, known: Container[str] = ()
) -> tuple[list[str], str]:
    """Look at up to PAGE objects after ``cursor``; return the ids whose partitions must be added
    (new projects, and manifests whose partition is not in ``known``) and the next cursor."""
    fs, root = fsspec.url_to_fs(url.rstrip("/"))
    listing = sorted(fs.find(root))
    keys = [k for k in listing if k > cursor]
    page = keys[:PAGE]
    created: list[str] = []
    names = set(listing)
    done = cursor
    for key in page:
        try:
            project_id = _ingest_one(store, fs, root, key, names, log)
        except OSError as exc:  # the store failed mid-page: start again from this object
            log.warning(f"ingestion stopped at {key}, retried next tick: {exc}")
            return created, done
        if project_id and project_id not in known:
            created.append(project_id)
        done = key
    next_cursor = page[-1] if len(keys) > PAGE else ""  # "" once the listing is done: rescan
    return created, next_cursor


def _ingest_one(
    store: ArtifactStore, fs: fsspec.AbstractFileSystem, root: str, key: str, names: set[str], log
) -> str | None:
    """The project of one object (its manifest saved), or None for objects that are not one."""
    relative = PurePosixPath(key).relative_to(PurePosixPath(root))
    suffix = relative.suffix.lower()
    if suffix == ".json":
        return None  # read with its video
    if suffix not in VIDEO_SUFFIXES or len(relative.parts) < 2:
        _reject(store, key, f"not a video under <user>/ (suffix {suffix or 'none'})", log)
        return None
    project_id = project_id_for(key)
    if store.exists(manifest_uri(store, project_id)):
        return project_id
    sidecar_key = str(PurePosixPath(key).with_suffix(".json"))
    if sidecar_key not in names:
        log.info(f"{key}: waiting for its manifest {sidecar_key}")
        return None
    try:
        sidecar = Sidecar.model_validate_json(fs.cat_file(sidecar_key))
        project = Project(
            id=project_id,
            video_uri=f"{fs.unstrip_protocol(key)}",
            source_language=sidecar.source_language,
            target_language=sidecar.target_language,
            premium=sidecar.premium,
            user_id=sidecar.user or relative.parts[0],
        )
    except (ValidationError, ValueError) as exc:
        _reject(store, key, f"malformed manifest {sidecar_key}: {_first_error(exc)}", log)
        return None
    save_project(store, project)
    return project.id


@sensor(minimum_interval_seconds=5, default_status=DefaultSensorStatus.RUNNING)
def ingestion_sensor(context: SensorEvaluationContext, store: ArtifactStore) -> SensorResult:
    """New videos under DUBBING_INCOMING_URL become projects (new_project_sensor starts them).
    Dagster adds the partitions and moves the cursor together, with the tick."""
    url = incoming_url()
    if url is None:
        return SensorResult(skip_reason="DUBBING_INCOMING_URL is not set")
    known = set(context.instance.get_dynamic_partitions(PARTITIONS))
    created, cursor = ingest(store, url, context.cursor or "", context.log, known)
    return SensorResult(
        dynamic_partitions_requests=[projects_partitions.build_add_request(created)]
        if created
        else None,
        cursor=cursor,
        skip_reason=None if created else "no new project",
    )


def _reject(store: ArtifactStore, key: str, reason: str, log) -> None:
    uri = store.uri(artifacts.rejection(hashlib.sha256(key.encode()).hexdigest()[:16]))
    if not store.exists(uri):
        log.warning(f"ingestion rejected {key}: {reason}")
        store.write_text(uri, Rejection(key=key, reason=reason).model_dump_json())


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        return f"{'.'.join(str(p) for p in error['loc']) or 'body'}: {error['msg']}"
    return str(exc)
