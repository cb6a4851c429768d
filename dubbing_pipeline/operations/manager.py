"""JobManager: the queue operations as a Python object on a run store, for scripts, notebooks
and tests. Each method is a call into the one implementation the API uses too."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from dubbing_pipeline.domain.projects import Project
from dubbing_pipeline.domain.review import ReviewDecision
from dubbing_pipeline.domain.speakers import SpeakerEdits
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.infra.events import EventPublisher
from dubbing_pipeline.infra.settings import pool_limit
from dubbing_pipeline.infra.storage import ArtifactStore
from dubbing_pipeline.operations import approvals, dead_letter, jobs, queues
from dubbing_pipeline.operations.jobs import Job
from dubbing_pipeline.operations.projects import create_project
from dubbing_pipeline.operations.queues import QueueStats, Retention
from dubbing_pipeline.operations.runs import JobStatus, RunStore


@dataclass
class JobManager:
    runs: RunStore
    store: ArtifactStore
    events: EventPublisher = field(default_factory=EventPublisher)

    # -- starting and reviewing ---------------------------------------------------------------
    def start_stt_stage(self, project: Project) -> Project:
        """Register the project; ``new_project_sensor`` submits its STT run."""
        return create_project(self.store, self.runs, project)[0]

    def approve(
        self,
        project_id: str,
        stage: Stage,
        reviewer: str,
        edits: Mapping[int, str] | None = None,
        speakers: SpeakerEdits | None = None,
        voices: Mapping[str, str] | None = None,
    ) -> ReviewDecision:
        return approvals.approve(
            self.store,
            self.runs,
            project_id,
            stage,
            reviewer=reviewer,
            edits=edits,
            speakers=speakers,
            voices=voices,
        )

    def reject(self, project_id: str, stage: Stage, reviewer: str, reason: str) -> ReviewDecision:
        return approvals.reject(
            self.store, self.runs, project_id, stage, reviewer=reviewer, reason=reason
        )

    # -- jobs -----------------------------------------------------------------------------------
    def job(self, job_id: str) -> Job | None:
        run = jobs.stage_run(self.runs, job_id)
        return jobs.with_progress([run], self.events)[0] if run else None

    def jobs(
        self,
        *,
        project_id: str | None = None,
        stage: Stage | None = None,
        status: JobStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> list[Job]:
        """Newest first; ``cursor`` is the last job id of the previous page."""
        found = queues.jobs(
            self.runs, stage=stage, status=status, project_id=project_id, limit=limit, cursor=cursor
        )
        return jobs.with_progress(found, self.events)

    # -- queues -------------------------------------------------------------------------------
    def queue_stats(self, stage: Stage) -> QueueStats:
        return queues.stats(self.runs, [stage])[0]

    def pause(self, stage: Stage) -> None:
        queues.pause(self.runs, stage)

    def resume(self, stage: Stage) -> None:
        queues.resume(self.runs, stage, pool_limit(stage))

    def clean(
        self, retention: Retention | None = None, stages: list[Stage] | None = None
    ) -> list[str]:
        """Delete finished stage runs past retention (now, in this process); their ids."""
        return queues.clean(self.runs, retention or Retention(), stages or list(Stage))

    # -- dead letter queue ----------------------------------------------------------------------
    def dead_letter_entries(self, user_id: str | None = None) -> list[dead_letter.DeadLetterEntry]:
        return dead_letter.entries(self.runs, user_id=user_id)

    def dead_letter_stats(self, user_id: str | None = None) -> dead_letter.DeadLetterStats:
        return dead_letter.stats(self.dead_letter_entries(user_id))

    def retry_dead_letter(self, job_id: str, user_id: str | None = None) -> None:
        dead_letter.request_retry(self.runs, job_id, user_id=user_id)
