"""The run queue, telling the event stream when a job is created.

Dagster has no hook for "a run was enqueued" that fires before the run can start, so the
QueuedRunCoordinator itself publishes ``job_created`` right after enqueueing. That keeps the
stream in order (created, then started) whoever submits: a sensor, the UI, or the API's GraphQL.
Configured in dagster.yaml; publishes only when ``DUBBING_REDIS_URL`` is set.
"""

from __future__ import annotations

from dagster import DagsterInstance, DagsterRun, QueuedRunCoordinator, SubmitRunContext

from dubbing_pipeline.domain.tags import Tag
from dubbing_pipeline.infra.events import EventPublisher, JobEvent
from dubbing_pipeline.infra.settings import settings


class EventingRunCoordinator(QueuedRunCoordinator):
    def register_instance(self, instance: DagsterInstance) -> None:
        """Load the run launcher now, not at the first launch: the warm run launcher starts its
        workers when the daemon loads it, so the first run finds them warm."""
        super().register_instance(instance)
        _ = instance.run_launcher

    def submit_run(self, context: SubmitRunContext) -> DagsterRun:
        run = super().submit_run(context)
        if Tag.STAGE in run.tags:
            publisher = EventPublisher(redis_url=settings().redis_url)
            publisher.publish(
                JobEvent.for_run("job_created", run.run_id, run.tags, status="waiting")
            )
        return run
