"""``RunStore`` on the Dagster instance itself: for code that runs beside Dagster (the CLI,
notebooks, sensors, hooks, maintenance jobs and tests), never for the HTTP service."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dagster import (
    AssetKey,
    AssetObservation,
    AssetRecordsFilter,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    JobDefinition,
    QueuedRunCoordinator,
    RunRecord,
    RunsFilter,
)

from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.tags import Tag
from dubbing_pipeline.operations.runs import (
    Launch,
    LaunchElsewhere,
    Overview,
    Run,
    RunQuery,
)

JobResolver = Callable[[str], JobDefinition]
"""A job definition by name: ``Definitions.resolve_job_def`` of the code location."""


@dataclass
class InstanceRunStore:
    """``resolve_job`` and a ``template`` run (one launched from the code location, which names
    where new runs load their code) are needed only to launch; reads need neither."""

    instance: DagsterInstance
    resolve_job: JobResolver | None = None
    template: DagsterRun | None = None

    def runs(
        self, query: RunQuery, limit: int | None = None, cursor: str | None = None
    ) -> list[Run]:
        records = self.instance.get_run_records(_filter(query), limit=limit, cursor=cursor)
        return [_run(r) for r in records]

    def run(self, run_id: str) -> Run | None:
        found = self.runs(RunQuery(run_ids=[run_id]), limit=1)
        return found[0] if found else None

    def overview(
        self,
        counts: Mapping[str, RunQuery] | None = None,
        runs: Mapping[str, tuple[RunQuery, int]] | None = None,
        pools: Sequence[str] = (),
    ) -> Overview:
        storage = self.instance.event_log_storage
        known = storage.get_concurrency_keys()
        return Overview(
            counts={k: self.instance.get_runs_count(_filter(q)) for k, q in (counts or {}).items()},
            runs={k: self.runs(q, limit=n) for k, (q, n) in (runs or {}).items()},
            pool_limits={
                p: storage.get_concurrency_info(p).slot_count if p in known else None for p in pools
            },
        )

    def launch(self, launch: Launch) -> str:
        """Queue the run as a sensor of the code location would: it needs the job definition and
        the code location's origin (taken from ``template``) and a run queue (otherwise the run
        would execute inside this process)."""
        template = self.template or self._latest_launched()
        if self.resolve_job is None or template is None:
            raise LaunchElsewhere("no code location to launch from here")
        if not isinstance(self.instance.run_coordinator, QueuedRunCoordinator):
            raise LaunchElsewhere("the instance has no run queue")
        remote, code = template.remote_job_origin, template.job_code_origin
        if remote is None or code is None:
            raise LaunchElsewhere("the template run was not launched from a code location")
        job = self.resolve_job(launch.job_name)
        run = self.instance.create_run_for_job(
            job,
            run_config=dict(launch.run_config),
            tags={**job.run_tags, **launch.all_tags},
            remote_job_origin=remote.repository_origin.get_job_origin(launch.job_name),
            job_code_origin=code.repository_origin.get_job_origin(launch.job_name),
        )
        self.instance.submit_run(run.run_id, workspace=None)  # type: ignore[arg-type]
        return run.run_id

    def add_partition(self, partitions_def: str, key: str) -> None:
        if not self.instance.has_dynamic_partition(partitions_def, key):
            self.instance.add_dynamic_partitions(partitions_def, [key])

    def remove_partition(self, partitions_def: str, key: str) -> None:
        if self.instance.has_dynamic_partition(partitions_def, key):
            self.instance.delete_dynamic_partition(partitions_def, key)

    def observe(self, asset: str, partition: str, description: str) -> None:
        self.instance.report_runless_asset_event(
            AssetObservation(
                asset_key=AssetKey(asset), partition=partition, description=description
            )
        )

    def observations(self, asset: str, partition: str, limit: int = 20) -> list[str]:
        records = self.instance.fetch_observations(
            AssetRecordsFilter(asset_key=AssetKey(asset), asset_partitions=[partition]),
            limit=limit,
        ).records
        return [
            r.asset_observation.description or ""
            for r in records
            if r.asset_observation is not None
        ]

    def asset_metadata(self, asset: str) -> dict[str, Any]:
        """Not known to the instance (it holds no definitions): nothing."""
        return {}

    def set_pool_limit(self, pool: str, limit: int) -> None:
        self.instance.event_log_storage.set_concurrency_slots(pool, limit)

    def delete_run(self, run_id: str) -> None:
        self.instance.delete_run(run_id)

    def latest_materialization_run(self, asset: str, partition: str) -> str | None:
        records = self.instance.fetch_materializations(
            AssetRecordsFilter(asset_key=AssetKey(asset), asset_partitions=[partition]), limit=1
        ).records
        return records[0].run_id if records else None

    def _latest_launched(self) -> DagsterRun | None:
        """A run of ours that a launcher started (it knows the code location's origin)."""
        stages = [stage.value for stage in Stage]
        for record in self.instance.get_run_records(RunsFilter(tags={Tag.STAGE: stages}), limit=20):
            if record.dagster_run.remote_job_origin is not None:
                return record.dagster_run
        return None


def _filter(query: RunQuery) -> RunsFilter:
    return RunsFilter(
        tags=dict(query.tags),
        statuses=[DagsterRunStatus(s) for s in query.statuses] if query.statuses else None,
        run_ids=list(query.run_ids) if query.run_ids is not None else None,
    )


def _run(record: RunRecord) -> Run:
    run = record.dagster_run
    return Run(
        run_id=run.run_id,
        status=run.status.value,
        tags=dict(run.tags),
        created=record.create_timestamp.timestamp(),
        started=record.start_time,
        ended=record.end_time,
    )
