"""Request and response bodies: the API's contract, and the source of /openapi.json. Responses
are the operations' own models with camelCase names; requests are strict (``true`` is not a
number, unknown fields are refused)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
)
from pydantic.alias_generators import to_camel

from dubbing_pipeline.domain.background import BackgroundMethod
from dubbing_pipeline.domain.review import MAX_EDIT_CHARS
from dubbing_pipeline.domain.speakers import SpeakerEdits
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.operations.dead_letter import DeadLetterEntry, DeadLetterStats
from dubbing_pipeline.operations.jobs import Job
from dubbing_pipeline.operations.queues import QueueStats, Retention
from dubbing_pipeline.operations.runs import JobStatus

LANGUAGE = Field(min_length=2, max_length=35, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
SpeakerName = Annotated[StrictStr, StringConstraints(min_length=1, max_length=40)]
VoiceName = Annotated[StrictStr, StringConstraints(min_length=1, max_length=80)]


class Body(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


def _json_number(value: object) -> object:
    """JSON numbers only: not ``true``, not ``"5"`` (what the schema says is what is taken)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number")
    return value


JsonInt = Annotated[int, BeforeValidator(_json_number)]  # 5 and 5.0, not 5.5
JsonFloat = Annotated[float, BeforeValidator(_json_number)]


class Request(Body):
    """Request bodies: strings, booleans and numbers as JSON types, unknown fields refused."""


class JobOut(Job, Body):
    """A stage run as the API shows it."""


class JobList(Body):
    jobs: list[JobOut]
    next_cursor: str | None


class QueueStatsOut(QueueStats, Body):
    pass


class AllQueueStats(Body):
    queues: list[QueueStatsOut]


class QueueState(Body):
    queue: Stage
    is_paused: bool


class CleanRequest(Retention, Request):
    completed_keep_last: JsonInt = Field(default=100, ge=0, le=1_000_000)
    completed_max_age_hours: JsonFloat = Field(default=24, ge=0, le=1_000_000)
    failed_keep_last: JsonInt = Field(default=500, ge=0, le=1_000_000)
    failed_max_age_hours: JsonFloat = Field(default=168, ge=0, le=1_000_000)


class Accepted(Body):
    job_id: str
    message: str


class ProgressUpdate(Request):
    progress: JsonInt = Field(ge=0, le=100)
    message: StrictStr | None = Field(default=None, max_length=500)


class DeadLetterOut(DeadLetterEntry, Body):
    """A dead letter entry as the API shows it."""


class DeadLetterList(Body):
    jobs: list[DeadLetterOut]


class DeadLetterStatsOut(DeadLetterStats, Body):
    pass


class ProjectCreate(Request):
    video_url: StrictStr = Field(
        min_length=1,
        max_length=2000,
        description="A key of your upload area (POST /api/uploads) or an allowed object URL.",
    )
    source_language: StrictStr = Field(default="auto", min_length=2, max_length=35)
    target_language: StrictStr = LANGUAGE
    premium: StrictBool = False
    background: BackgroundMethod | None = Field(
        default=None,
        description="What plays under the dub: stem (your music-and-effects stem), demucs (the "
        "source without its voices), duck (the source, lowered under the dub) or none; unset: "
        "the deployment's default.",
    )
    background_url: StrictStr | None = Field(
        default=None,
        min_length=1,
        max_length=2000,
        description="The music-and-effects stem, named like videoUrl; implies background stem.",
    )
    original_track: StrictBool | None = Field(
        default=None, description="Keep the source audio as a second track (default: yes)."
    )
    min_speakers: StrictInt | None = Field(default=None, ge=1, le=32)
    max_speakers: StrictInt | None = Field(default=None, ge=1, le=32)
    voices: dict[SpeakerName, VoiceName] = Field(
        default_factory=dict, description="Pinned dub voices by speaker name, e.g. {'S1': 'm3'}."
    )


class Uploaded(Body):
    key: str = Field(description="The store key to name as a project's videoUrl.")


class ProjectOut(Body):
    id: str
    user_id: str
    video_url: str
    source_language: str
    target_language: str
    premium: bool
    background: str | None = Field(description="What plays under the dub (null: the default).")
    background_url: str | None
    original_track: bool | None = Field(
        default=None,
        description="Whether the dubbed video keeps the source audio as a second track "
        "(null: the deployment's default, which keeps it).",
    )
    created_at: datetime
    stages: dict[Stage, JobStatus] = Field(description="Each stage's latest job status.")


class ProjectCreated(Body):
    project: ProjectOut
    job_id: str


class ProjectList(Body):
    projects: list[ProjectOut]


class WordOut(Body):
    start: float
    end: float
    text: str
    probability: float | None = Field(description="The recogniser's confidence in the word.")


class SegmentOut(Body):
    id: int
    start: float
    end: float
    text: str
    confidence: float | None
    speaker: str
    source_text: str | None
    words: list[WordOut] | None = Field(
        default=None, description="Transcript: recognised words (while they spell the text)."
    )
    tempo: float | None = Field(
        default=None, description="Translation, after TTS: the speed-up its clip was given."
    )
    at_cap: bool | None = Field(
        default=None, description="Translation, after TTS: the clip needed the speed-up cap."
    )
    overflow_seconds: float | None = Field(
        default=None,
        description="Translation, after TTS: speech cut because it did not fit even at the cap.",
    )


class ReviewOut(Body):
    project_id: str
    stage: Literal["transcript", "translation"]
    language: str
    segments: list[SegmentOut]
    decision: Literal["pending", "approved", "rejected"]
    reason: str | None


SEGMENT_ID = r"^[0-9]{1,9}$"
SegmentId = Annotated[StrictStr, StringConstraints(pattern=SEGMENT_ID)]
EditText = Annotated[
    StrictStr, StringConstraints(min_length=1, max_length=MAX_EDIT_CHARS, pattern=r"\S")
]


def _edits_schema(schema: dict[str, Any]) -> None:
    """Segment ids as ``propertyNames`` and the text rule as ``additionalProperties``: what
    pydantic writes (``patternProperties``) most client generators do not read."""
    (text,) = schema.pop("patternProperties").values()
    schema["propertyNames"] = {"pattern": SEGMENT_ID}
    schema["additionalProperties"] = text


class SpeakerEditsIn(Request):
    """Names are the reviewed transcript's speakers; renames apply last."""

    rename: dict[SpeakerName, SpeakerName] = Field(default_factory=dict)
    merge: dict[SpeakerName, SpeakerName] = Field(
        default_factory=dict, description="Speaker -> the speaker it is merged into."
    )
    move: dict[SegmentId, SpeakerName] = Field(
        default_factory=dict,
        description="Segment id -> the speaker who says it.",
        json_schema_extra=_edits_schema,
    )

    def parsed(self) -> SpeakerEdits:
        move = {int(k): v for k, v in self.move.items()}
        return SpeakerEdits(rename=self.rename, merge=self.merge, move=move)


class ApproveRequest(Request):
    edits: dict[SegmentId, EditText] = Field(
        default_factory=dict,
        description=f"New text by segment id (at most {MAX_EDIT_CHARS} characters each).",
        json_schema_extra=_edits_schema,
    )
    speakers: SpeakerEditsIn | None = Field(
        default=None, description="Transcript only: rename, merge and move speakers."
    )
    voices: dict[SpeakerName, str] = Field(
        default_factory=dict,
        description="Pin dub voices by speaker name (after renames); an empty voice unpins.",
    )

    def parsed_edits(self) -> dict[int, str]:
        return {int(k): v for k, v in self.edits.items()}


class RejectRequest(Request):
    reason: StrictStr = Field(min_length=1, max_length=2000, pattern=r"\S")


class Me(Body):
    user_id: str
    role: Literal["user", "admin", "worker"]


class Health(Body):
    status: Literal["ok", "degraded"]
    dagster: str
    redis: str
