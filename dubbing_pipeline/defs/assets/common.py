"""What every stage asset shares: its partitioning, retry policy, error classes, artifact paths,
progress reporting and the figures in its materialisation metadata.

A run records its events (started, progress) in Dagster's event log, as
observations of the ``job_events`` asset; the relay (``operations.relay``) takes them to Redis.
A run never waits on Redis."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetObservation,
    AssetRecordsFilter,
    AssetSpec,
    MetadataValue,
)
from dagster import asset as dagster_asset

from dubbing_pipeline.defs.partitions import projects_partitions
from dubbing_pipeline.defs.retries import classified_errors, schedule_for
from dubbing_pipeline.domain import artifacts
from dubbing_pipeline.domain.errors import validation_error
from dubbing_pipeline.domain.projects import Project
from dubbing_pipeline.domain.segments import SegmentDoc, to_srt, to_vtt
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.tags import Tag, job_tags
from dubbing_pipeline.infra.events import EVENTS_ASSET, EventType, JobEvent, describe
from dubbing_pipeline.infra.storage import ArtifactStore
from dubbing_pipeline.operations.projects import load_project

PROGRESS_STEP = 0.1  # engines report every 10 %
JOB_EVENTS = AssetSpec(
    EVENTS_ASSET,
    partitions_def=projects_partitions,
    group_name="dubbing",
    description="What the stage runs of each project report as they work (job_started, "
    "job_progress): observations the event relay takes to the Redis stream.",
)


def stage_asset(stage: Stage, *, description: str, kinds: set[str], **kwargs: Any):
    """``@asset`` with what every stage has: project partitions, the stage's retry policy,
    a concurrency pool named after the stage, and the stage tag."""
    return dagster_asset(
        name=stage.asset_name,
        partitions_def=projects_partitions,
        retry_policy=schedule_for(stage).policy,
        pool=stage.pool,
        group_name="dubbing",
        kinds=kinds,
        description=description,
        op_tags={Tag.STAGE: stage.value},
        **kwargs,
    )


@dataclass
class StageRun:
    """One attempt of one stage for one project."""

    context: AssetExecutionContext
    stage: Stage
    store: ArtifactStore
    project: Project
    engine_seconds: float = 0.0
    engine_started_at: float | None = None  # wall clock of the first engine call
    _reported: float = field(default=-1.0, repr=False)

    def emit(self, type_: EventType, **fields: Any) -> None:
        """Record an event in the run's event log (a database write; Redis is the relay's)."""
        event = JobEvent.for_run(
            type_, self.context.run_id, job_tags(self.project, self.stage), **fields
        )
        self.context.log_event(
            AssetObservation(
                asset_key=EVENTS_ASSET, partition=self.project.id, description=describe(event)
            )
        )

    def uri(self, name: str) -> str:
        return self.store.artifact_uri(self.project.id, self.stage, name)

    def progress(self, fraction: float) -> None:
        """Engines call this as they work; it is logged at every 10 % step."""
        fraction = max(0.0, min(1.0, fraction))
        if fraction - self._reported >= PROGRESS_STEP or (fraction >= 1.0 > self._reported):
            self._reported = fraction
            self.context.log.info(f"{self.stage} progress {round(fraction * 100)}%")
            self.emit("job_progress", status="active", progress=round(fraction * 100))

    @contextmanager
    def engine(self) -> Iterator[None]:
        """Time spent inside engines, reported so orchestration overhead can be measured."""
        if self.engine_started_at is None:
            self.engine_started_at = time.time()
        started = time.perf_counter()
        try:
            yield
        finally:
            self.engine_seconds += time.perf_counter() - started

    def write_segments(self, doc: SegmentDoc, role: artifacts.Role) -> dict[str, str]:
        """segments.json plus SRT and WebVTT of the same segments."""
        return {
            "segments": self.store.write_text(
                self.uri(artifacts.SEGMENTS), doc.model_dump_json(indent=2)
            ),
            "srt": self.store.write_text(
                self.uri(artifacts.subtitles(role, doc.language, "srt")), to_srt(doc)
            ),
            "vtt": self.store.write_text(
                self.uri(artifacts.subtitles(role, doc.language, "vtt")), to_vtt(doc)
            ),
        }

    def upstream_metadata(self, asset_name: str, key: str) -> Any:
        """A value from the latest materialisation of an upstream partition's metadata."""
        records = self.context.instance.fetch_materializations(
            AssetRecordsFilter(asset_key=AssetKey(asset_name), asset_partitions=[self.project.id]),
            limit=1,
        ).records
        materialization = records[0].asset_materialization if records else None
        if materialization is None or key not in materialization.metadata:
            raise validation_error(f"{asset_name} of project {self.project.id!r} has no {key}")
        return materialization.metadata[key].value

    def metadata(self, uris: dict[str, str], **figures: Any) -> dict[str, Any]:
        meta: dict[str, Any] = {f"{name}_uri": uri_value(uri) for name, uri in uris.items()}
        meta.update({k: v for k, v in figures.items() if v is not None})
        meta["engine_seconds"] = round(self.engine_seconds, 3)
        if self.engine_started_at is not None:  # stage-transition latency is measured to here
            meta["engine_started_at"] = round(self.engine_started_at, 3)
        meta["attempt"] = self.context.retry_number + 1
        return meta


def uri_value(uri: str) -> MetadataValue:
    """An artifact's URI as metadata: a path the UI shows as one, or a URL for object storage."""
    return MetadataValue.path(uri) if "://" not in uri else MetadataValue.url(uri)


@contextmanager
def stage_run(
    context: AssetExecutionContext, stage: Stage, store: ArtifactStore
) -> Iterator[StageRun]:
    """Load the partition's project, classify any error the stage raises, and record when the
    stage starts and progresses (its end is the run's own success or failure: the relay's)."""
    with classified_errors(context, stage):
        run = StageRun(context, stage, store, load_project(store, context.partition_key))
        # Runs started outside our launchers (a backfill, the UI's Materialize button) get the
        # job tags here, so queues, the dead letter queue, events and the API see them too.
        wanted = job_tags(run.project, stage)
        missing = {k: v for k, v in wanted.items() if context.run.tags.get(k) != v}
        if missing:
            context.instance.add_run_tags(context.run_id, missing)
        run.emit("job_started", status="active", message=f"attempt {context.retry_number + 1}")
        yield run
    run.progress(1.0)  # engines need not end exactly on 100 %; completion is the run's success
