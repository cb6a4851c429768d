"""Projects: the settings of one dubbing job (the manifest, ``operations.projects`` stores it)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from dubbing_pipeline.domain import languages
from dubbing_pipeline.domain.background import BackgroundMethod

_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class Project(BaseModel):
    """What a user asked for: which video, from which language into which, and the tier."""

    id: str = Field(default_factory=lambda: f"p-{uuid.uuid4().hex[:12]}")
    video_uri: str
    source_language: str = "auto"
    target_language: str
    premium: bool = False
    user_id: str = "local"
    background: BackgroundMethod | None = Field(
        default=None,
        description="What plays under the dub (stem, demucs, duck, none); None: the "
        "deployment's default.",
    )
    background_uri: str | None = Field(
        default=None, description="The music-and-effects stem, for background 'stem'."
    )
    original_track: bool | None = Field(
        default=None,
        description="Keep the source audio as a second track; None: the deployment's default.",
    )
    stt_launched_by: Literal["sensor", "creator"] = Field(
        default="sensor",
        description="'creator': whoever created the project launched STT itself (the API), so "
        "new_project_sensor gives it a grace period before starting STT under the same run key "
        "(only if that launch was lost).",
    )
    driven_by: Literal["sensors", "caller"] = Field(
        default="sensors",
        description="'sensors': the daemon starts each stage; 'caller': whoever created the "
        "project materialises the stages itself (CLI, notebook), and the sensors leave it alone.",
    )
    min_speakers: int | None = Field(
        default=None, ge=1, le=32, description="Diarization finds at least this many speakers."
    )
    max_speakers: int | None = Field(
        default=None, ge=1, le=32, description="Diarization finds at most this many speakers."
    )
    voices: dict[str, str] = Field(
        default_factory=dict,
        description="Pinned dub voices by speaker name (S1, or the name a reviewer gave): an "
        "espeak-ng variant (m3, f2...) or a Piper speaker; the rest are chosen by pitch.",
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

    @model_validator(mode="after")
    def _stem_with_its_file(self) -> Project:
        if self.background_uri and self.background is None:
            self.background = "stem"  # naming a stem is choosing it
        if self.background == "stem" and not self.background_uri:
            raise ValueError("background 'stem' needs the stem: background_uri")
        if self.background_uri and self.background != "stem":
            raise ValueError(
                f"a background stem is only used with background 'stem', not {self.background!r}"
            )
        return self

    @model_validator(mode="after")
    def _speaker_bounds(self) -> Project:
        if self.min_speakers and self.max_speakers and self.min_speakers > self.max_speakers:
            raise ValueError(
                f"min_speakers ({self.min_speakers}) exceeds max_speakers ({self.max_speakers})"
            )
        if any(not k.strip() or not v.strip() for k, v in self.voices.items()):
            raise ValueError("a voice pin needs a speaker name and a voice name")
        return self

    @property
    def tier(self) -> str:
        return "premium" if self.premium else "standard"


PARTITIONS = "projects"
"""The name of the dynamic partition set: one partition per project, keyed by its id."""
