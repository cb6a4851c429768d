"""Where every artifact lives in the store: each key and file name, spelled once.

A project's files sit under ``projects/<project>/<stage asset>/``; a user's uploads under
``uploads/<user>/``. The store (``infra.storage``) turns a key into a URI.
"""

from __future__ import annotations

from typing import Literal

from dubbing_pipeline.domain.stages import Stage

PROJECTS = "projects"
UPLOADS = "uploads"
REJECTED = "ingestion/rejected"
IDEMPOTENCY = "idempotency"

MANIFEST = "project.json"
SEGMENTS = "segments.json"  # what a stage produced (STT, MT)
ENGINE_SEGMENTS = "engine_segments.json"  # STT: the engine's own segments, for audit
REVIEW = "review.json"  # the decision on it, with the approved segments
DUB_TRACK = "dub_track.wav"
TIMING = "timing.json"  # TTS: how each segment's clip was fitted (speed-up, overflow)
DUBBED = "dubbed"  # the muxed video, + .mp4 or .mkv
LIPSYNCED = "lipsynced"  # the lip-synced video, same suffix as the muxed one
VIDEO_SUFFIXES = (".mp4", ".mkv")

Role = Literal["target", "source"]
Deliverable = Literal[
    "video", "subtitles.srt", "subtitles.vtt", "source.srt", "source.vtt", "source"
]
"""What a user downloads: the dubbed video (lip-synced for premium), the dub's subtitles and the
source's, and the source video itself (what a reviewer watches; its original audio)."""
DELIVERABLES: tuple[Deliverable, ...] = (
    "video",
    "subtitles.srt",
    "subtitles.vtt",
    "source.srt",
    "source.vtt",
    "source",
)
SubtitleFormat = Literal["srt", "vtt"]


def manifest(project_id: str) -> str:
    return f"{PROJECTS}/{project_id}/{MANIFEST}"


def stage_file(project_id: str, stage: Stage, name: str) -> str:
    return f"{PROJECTS}/{project_id}/{stage.asset_name}/{name}"


def subtitles(role: Role, language: str, fmt: SubtitleFormat) -> str:
    """The delivered subtitles: ``target.es.srt`` (the dub's language), ``source.en.vtt``."""
    return f"{role}.{language}.{fmt}"


def clip(key: str) -> str:
    """A synthesised clip in the TTS stage's content-addressed cache."""
    return f"clips/{key}.wav"


def separated(key: str) -> str:
    """A source's music and effects as a separation model left them, cached by content."""
    return f"background/{key}.flac"


def voice(name: str) -> str:
    """A speaker's reference clip for a cloning TTS engine."""
    return f"voices/{name}"


def upload_prefix(user_id: str) -> str:
    """The keys a user's uploads get, and the only keys that user may name as a source."""
    return f"{UPLOADS}/{user_id}/"


def rejection(digest: str) -> str:
    return f"{REJECTED}/{digest}.json"


def idempotency_record(user_id: str, digest: str) -> str:
    """What the API answered a request with an ``Idempotency-Key`` (``digest``: of the key)."""
    return f"{IDEMPOTENCY}/{user_id}/{digest}.json"
