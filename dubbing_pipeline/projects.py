"""Projects: the settings of one dubbing job, stored beside its artifacts.

The manifest lives in the artifact store (``projects/<id>/project.json``) so every stage, sensor,
backfill and notebook reads the same settings without run config; the partition key is the id.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Literal

from dagster import DagsterInstance
from pydantic import BaseModel, Field, field_validator

from dubbing_pipeline import languages
from dubbing_pipeline.errors import validation_error
from dubbing_pipeline.partitions import PROJECTS
from dubbing_pipeline.storage import ArtifactStore

_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class Project(BaseModel):
    """What a user asked for: which video, from which language into which, and the tier."""

    id: str = Field(default_factory=lambda: f"p-{uuid.uuid4().hex[:12]}")
    video_uri: str
    source_language: str = "auto"
    target_language: str
    premium: bool = False
    user_id: str = "local"
    stt_launched_by: Literal["sensor", "creator"] = Field(
        default="sensor",
        description="'creator': whoever created the project launched STT itself (the API), so "
        "new_project_sensor must not launch it a second time.",
    )
    driven_by: Literal["sensors", "caller"] = Field(
        default="sensors",
        description="'sensors': the daemon starts each stage; 'caller': whoever created the "
        "project materialises the stages itself (CLI, notebook), and the sensors leave it alone.",
    )
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError("project id must be 1-63 chars of a-z, 0-9, '-' or '_'")
        return value

    @field_validator("source_language", "target_language")
    @classmethod
    def _valid_language(cls, value: str) -> str:
        if not languages.is_valid(value):
            raise ValueError(f"{value!r} is not an ISO 639 language code")
        return value

    @property
    def tier(self) -> str:
        return "premium" if self.premium else "standard"


UPLOADS = "uploads"


def upload_prefix(user_id: str) -> str:
    """The store keys a user's uploads get, and the only keys that user may name as a source."""
    return f"{UPLOADS}/{user_id}/"


def manifest_uri(store: ArtifactStore, project_id: str) -> str:
    return store.uri("projects", project_id, "project.json")


def save_project(store: ArtifactStore, project: Project) -> Project:
    store.write_text(manifest_uri(store, project.id), project.model_dump_json(indent=2))
    return project


def load_project(store: ArtifactStore, project_id: str) -> Project:
    uri = manifest_uri(store, project_id)
    if not store.exists(uri):
        raise validation_error(f"project {project_id!r} has no manifest at {uri}")
    return Project.model_validate_json(store.read_text(uri))


def create_project(instance: DagsterInstance, store: ArtifactStore, project: Project) -> Project:
    """Write the manifest, then register the partition (in that order, so no stage sees a
    partition without settings)."""
    save_project(store, project)
    instance.add_dynamic_partitions(PROJECTS, [project.id])
    return project


RUN_TAG_KEYS = frozenset(
    {
        "dubbing/project",
        "dubbing/user",
        "dubbing/stage",
        "dubbing/source_language",
        "dubbing/target_language",
        "dubbing/tier",
    }
)


def run_tags(project: Project, stage: str) -> dict[str, str]:
    """Tags every run of a stage carries: who, what, which languages, which tier."""
    return {
        "dubbing/project": project.id,
        "dubbing/user": project.user_id,
        "dubbing/stage": str(stage),
        "dubbing/source_language": project.source_language,
        "dubbing/target_language": project.target_language,
        "dubbing/tier": project.tier,
    }
