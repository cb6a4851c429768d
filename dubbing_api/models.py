"""Request and response bodies: the API's contract, and the source of /openapi.json."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from dubbing_api.dagster_client import Run
from dubbing_pipeline.domain.background import BackgroundMethod
from dubbing_pipeline.domain.tags import Tag
from dubbing_pipeline.operations import dead_letter, queues
from dubbing_pipeline.operations.dead_letter import DeadLetterEntry
from dubbing_pipeline.operations.manager import Job


class Body(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class JobOut(Job, Body):
    """A stage run as the API shows it (camelCase), with why it failed."""

    error_type: str | None = None
    error: str | None = None

    @classmethod
    def of(cls, run: Run, progress: int | None) -> JobOut:
        status = job_status(run)
        return cls(
            id=run.run_id,
            project_id=run.tags.get(Tag.PROJECT, ""),
            user_id=run.tags.get(Tag.USER, ""),
            stage=run.tags.get(Tag.STAGE, ""),
            status=status,
            progress=100 if status == "completed" else progress,
            error_type=run.tags.get(dead_letter.ERROR_TYPE),
            error=run.tags.get(dead_letter.ERROR_MESSAGE),
            created_at=utc(run.created),
            started_at=utc(run.started) if run.started else None,
            ended_at=utc(run.ended) if run.ended else None,
        )


class JobList(Body):
    jobs: list[JobOut]
    next_cursor: str | None


class QueueStats(Body):
    queue: str
    waiting: int
    active: int
    completed: int
    failed: int
    delayed: int
    paused: int
    is_paused: bool


class AllQueueStats(Body):
    queues: list[QueueStats]


class QueueState(Body):
    queue: str
    is_paused: bool


class CleanRequest(Body):
    completed_keep_last: int = Field(default=100, ge=0)
    completed_max_age_hours: float = Field(default=24, ge=0)
    failed_keep_last: int = Field(default=500, ge=0)
    failed_max_age_hours: float = Field(default=168, ge=0)


class Accepted(Body):
    job_id: str
    message: str


class ProgressUpdate(Body):
    progress: int = Field(ge=0, le=100)
    message: str | None = Field(default=None, max_length=500)


class DeadLetterOut(DeadLetterEntry, Body):
    """A dead letter entry as the API shows it (camelCase)."""


class DeadLetterList(Body):
    jobs: list[DeadLetterOut]


class DeadLetterStats(Body):
    total: int
    by_stage: dict[str, int]
    by_error_type: dict[str, int]


class MixChoices(Body):
    """What plays under the dub; unset: the deployment's defaults."""

    background: BackgroundMethod | None = Field(
        default=None,
        description="stem (your music-and-effects stem), demucs (the source without its "
        "voices), duck (the source, lowered under the dub) or none.",
    )
    background_url: str | None = Field(
        default=None,
        max_length=2000,
        description="The stem, named like videoUrl (an upload of yours); implies stem.",
    )
    original_track: bool | None = Field(
        default=None, description="Keep the source audio as a second track."
    )


class ProjectCreate(MixChoices):
    video_url: str = Field(min_length=1, max_length=2000)
    source_language: str = "auto"
    target_language: str
    premium: bool = False


class Uploaded(Body):
    key: str = Field(description="The store key to name as a project's videoUrl.")


class ProjectOut(Body):
    id: str
    user_id: str
    video_url: str
    source_language: str
    target_language: str
    premium: bool
    background: str | None
    background_url: str | None
    created_at: datetime
    stages: dict[str, str] = Field(description="Each stage's latest job status.")


class ProjectCreated(Body):
    project: ProjectOut
    job_id: str


class ProjectList(Body):
    projects: list[ProjectOut]


class SegmentOut(Body):
    id: int
    start: float
    end: float
    text: str
    confidence: float | None
    speaker: str
    source_text: str | None


class ReviewOut(Body):
    project_id: str
    stage: Literal["transcript", "translation"]
    language: str
    segments: list[SegmentOut]
    decision: Literal["pending", "approved", "rejected"]
    reason: str | None


class ApproveRequest(Body):
    edits: dict[int, str] = Field(default_factory=dict, description="New text by segment id.")


class RejectRequest(Body):
    reason: str = Field(min_length=1, max_length=2000)


class Health(Body):
    status: Literal["ok", "degraded"]
    dagster: str
    redis: str


def job_status(run: Run) -> str:
    """The queue state a job is in: waiting, active, delayed, completed, failed (or canceled)."""
    return "delayed" if queues.is_delayed(run.tags) else queues.group_of(run.status)


def utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)
