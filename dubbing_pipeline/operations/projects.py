"""Project manifests in the artifact store, where every stage, sensor, backfill and notebook reads
the same settings without run config; the partition key is the project id."""

from __future__ import annotations

from dagster import DagsterInstance

from dubbing_pipeline.domain import artifacts
from dubbing_pipeline.domain.errors import validation_error
from dubbing_pipeline.domain.projects import PARTITIONS, Project
from dubbing_pipeline.infra.storage import ArtifactStore


def manifest_uri(store: ArtifactStore, project_id: str) -> str:
    return store.uri(artifacts.manifest(project_id))


def save_project(store: ArtifactStore, project: Project) -> Project:
    store.write_text(manifest_uri(store, project.id), project.model_dump_json(indent=2))
    return project


def load_project(store: ArtifactStore, project_id: str) -> Project:
    uri = manifest_uri(store, project_id)
    if not store.exists(uri):
        raise validation_error(f"project {project_id!r} has no manifest at {uri}")
    return Project.model_validate_json(store.read_text(uri))


def pin_voices(store: ArtifactStore, project_id: str, pins: dict[str, str]) -> Project:
    """Pin dub voices by speaker name (an empty voice name unpins); the next TTS run uses them."""
    project = load_project(store, project_id)
    voices = {**project.voices, **pins}
    voices = {speaker: voice for speaker, voice in voices.items() if voice.strip()}
    if any(not speaker.strip() for speaker in voices):
        raise validation_error("a voice pin needs a speaker name")
    return save_project(store, project.model_copy(update={"voices": voices}))


def create_project(instance: DagsterInstance, store: ArtifactStore, project: Project) -> Project:
    """Write the manifest, then register the partition (in that order, so no stage sees a
    partition without settings)."""
    save_project(store, project)
    instance.add_dynamic_partitions(PARTITIONS, [project.id])
    return project
