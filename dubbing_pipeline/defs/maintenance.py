"""Housekeeping as a Dagster job: cleaning old runs runs in Dagster (a daily schedule, the UI, or
the API's POST /api/queue/{queue}/clean), with the one set of retention rules
(``operations.queues.Retention``) and the one implementation (``operations.queues.clean``)."""

from dagster import (
    Config,
    DefaultScheduleStatus,
    OpExecutionContext,
    ScheduleDefinition,
    in_process_executor,
    job,
    op,
)
from pydantic import Field

from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.tags import Tag
from dubbing_pipeline.operations import queues
from dubbing_pipeline.operations.instance_store import InstanceRunStore


class CleanConfig(queues.Retention, Config):
    stages: list[Stage] = Field(default_factory=lambda: list(Stage))


@op
def clean_runs(context: OpExecutionContext, config: CleanConfig) -> None:
    retention = queues.Retention.model_validate(config.model_dump(exclude={"stages"}))
    deleted = queues.clean(InstanceRunStore(context.instance), retention, config.stages)
    context.log.info(f"deleted {len(deleted)} runs: {', '.join(deleted) or 'none'}")


@job(executor_def=in_process_executor, tags={Tag.MAINTENANCE: "clean"}, name=queues.CLEAN_JOB)
def clean_runs_job() -> None:
    clean_runs()


clean_runs_schedule = ScheduleDefinition(
    job=clean_runs_job, cron_schedule="17 3 * * *", default_status=DefaultScheduleStatus.RUNNING
)
