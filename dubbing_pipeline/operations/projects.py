"""Project manifests in the artifact store, where every stage, sensor, backfill and notebook reads
the same settings without run config (the partition key is the project id), and starting one."""

from __future__ import annotations

from dubbing_pipeline.domain import artifacts
from dubbing_pipeline.domain.artifacts import Deliverable
from dubbing_pipeline.domain.errors import JobProcessingError, validation_error
from dubbing_pipeline.domain.languages import CAPABILITIES as CAPABILITIES_KEY
from dubbing_pipeline.domain.languages import Capabilities
from dubbing_pipeline.domain.projects import PARTITIONS, Project
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.tags import Sensor, Tag, job_tags
from dubbing_pipeline.infra.storage import ArtifactStore
from dubbing_pipeline.operations import reviews
from dubbing_pipeline.operations.runs import (
    Launch,
    LaunchElsewhere,
    RunStore,
    RunStoreUnavailable,
    launch_once,
)

CREATED = "created"  # the cause of every project's STT run: its run key is created:STT:<id>


def manifest_uri(store: ArtifactStore, project_id: str) -> str:
    return store.uri(artifacts.manifest(project_id))


def save_project(store: ArtifactStore, project: Project) -> Project:
    store.write_text(manifest_uri(store, project.id), project.model_dump_json(indent=2))
    return project


def load_project(store: ArtifactStore, project_id: str) -> Project:
    uri = manifest_uri(store, project_id)
    if not store.exists(uri):
        raise validation_error(f"project {project_id!r} has no manifest")
    return Project.model_validate_json(store.read_text(uri))


def pin_voices(store: ArtifactStore, project_id: str, pins: dict[str, str]) -> Project:
    """Pin dub voices by speaker name (an empty voice name unpins); the next TTS run uses them."""
    project = load_project(store, project_id)
    voices = {**project.voices, **pins}
    voices = {speaker: voice for speaker, voice in voices.items() if voice.strip()}
    if any(not speaker.strip() for speaker in voices):
        raise validation_error("a voice pin needs a speaker name")
    return save_project(store, project.model_copy(update={"voices": voices}))


def carry_pins(store: ArtifactStore, project_id: str, renames: dict[str, str]) -> None:
    """A renamed speaker's pin moves to the new name, so a rename never changes a voice."""
    project = load_project(store, project_id)
    pins = dict(project.voices)
    for old, new in renames.items():
        if old in pins and new not in pins:
            pins[new] = pins.pop(old)
    if pins != project.voices:
        save_project(store, project.model_copy(update={"voices": pins}))


def stt_launch(project: Project) -> Launch:
    """The project's first run, as ``new_project_sensor`` would request it."""
    return Launch(
        Stage.STT.job_name,
        job_tags(project, Stage.STT) | {Tag.SENSOR_NAME: Sensor.NEW_PROJECT},
        partition=project.id,
        run_key=f"{CREATED}:{Stage.STT}:{project.id}",
    )


def create_project(
    store: ArtifactStore, runs: RunStore, project: Project, *, start: bool = False
) -> tuple[Project, str | None]:
    """Write the manifest, then register the partition (in that order, so no stage sees a
    partition without settings); with ``start``, launch STT at once (else new_project_sensor
    does). Creating the same project again changes nothing. If Dagster cannot be reached before
    anything started, the project is removed again: an error means nothing happened; after a
    timeout, ``new_project_sensor`` starts STT under the same run key if the launch was lost."""
    uri = manifest_uri(store, project.id)
    if store.exists(uri):
        project = Project.model_validate_json(store.read_text(uri))
    else:
        save_project(store, project)
    try:
        runs.add_partition(PARTITIONS, project.id)
        return project, launch_once(runs, stt_launch(project)) if start else None
    except LaunchElsewhere:
        return project, None  # new_project_sensor starts it
    except RunStoreUnavailable as exc:
        if not exc.maybe_done:
            _remove(store, runs, project.id)
        raise


def _remove(store: ArtifactStore, runs: RunStore, project_id: str) -> None:
    """Undo a creation that Dagster refused: the partition (if it got in), then the manifest."""
    try:
        runs.remove_partition(PARTITIONS, project_id)
    finally:
        store.delete(manifest_uri(store, project_id))


def deliverable_uri(store: ArtifactStore, project: Project, name: Deliverable) -> str | None:
    """Where a project's deliverable is, once produced (None before)."""
    if name == "source":  # the caller's own video: what a reviewer watches, the original audio
        return project.video_uri if store.is_file(project.video_uri) else None
    if name != "video":
        dub = name.startswith("subtitles")
        kind: artifacts.Role = "target" if dub else "source"
        fmt: artifacts.SubtitleFormat = "srt" if name.endswith(".srt") else "vtt"
        try:  # the detected language names the file when the source language was "auto"
            language = reviews.load_segments(store, project.id, Stage.MT if dub else Stage.STT)
        except JobProcessingError:
            return None
        name_in_store = artifacts.subtitles(kind, language.language, fmt)
        uri = store.artifact_uri(project.id, Stage.MUXING, name_in_store)
        return uri if store.exists(uri) else None
    stages = [Stage.LIP_SYNC, Stage.MUXING] if project.premium else [Stage.MUXING]
    for stage in stages:
        stem = artifacts.LIPSYNCED if stage is Stage.LIP_SYNC else artifacts.DUBBED
        for suffix in artifacts.VIDEO_SUFFIXES:
            uri = store.artifact_uri(project.id, stage, stem + suffix)
            if store.exists(uri):
                return uri
    return None


def capabilities(runs: RunStore) -> Capabilities:
    """What the code location's engines can do (unknown where it does not say)."""
    known = runs.asset_metadata(Stage.STT.asset_name).get(CAPABILITIES_KEY)
    return Capabilities.model_validate(known) if known else Capabilities()
