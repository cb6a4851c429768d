"""Housekeeping as a Dagster job: cleaning old runs runs in Dagster (a daily schedule, the UI, or
the API's POST /api/queue/{queue}/clean via GraphQL), so there is one implementation of the
retention rules: JobManager.clean."""

from dagster import (
    Config,
    DefaultScheduleStatus,
    OpExecutionContext,
    ScheduleDefinition,
    in_process_executor,
    job,
    op,
)

from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.tags import Tag
from dubbing_pipeline.infra.storage import ArtifactStore
from dubbing_pipeline.operations.manager import JobManager, Retention


class CleanConfig(Config):
    stages: list[str] = [s.value for s in Stage]  # noqa: RUF012 - pydantic copies defaults
    completed_keep_last: int = 100
    completed_max_age_hours: float = 24
    failed_keep_last: int = 500
    failed_max_age_hours: float = 7 * 24


@op
def clean_runs(context: OpExecutionContext, config: CleanConfig, store: ArtifactStore) -> None:
    retention = Retention(
        completed_keep_last=config.completed_keep_last,
        completed_max_age_s=config.completed_max_age_hours * 3600,
        failed_keep_last=config.failed_keep_last,
        failed_max_age_s=config.failed_max_age_hours * 3600,
    )
    stages = [Stage(s) for s in config.stages]
    deleted = JobManager(context.instance, store).clean(retention, stages=stages)
    context.log.info(f"deleted {len(deleted)} runs: {', '.join(deleted) or 'none'}")


@job(executor_def=in_process_executor, tags={Tag.MAINTENANCE: "clean"})
def clean_runs_job() -> None:
    clean_runs()


clean_runs_schedule = ScheduleDefinition(
    job=clean_runs_job, cron_schedule="17 3 * * *", default_status=DefaultScheduleStatus.RUNNING
)
