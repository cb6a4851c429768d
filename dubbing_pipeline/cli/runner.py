"""Materialise stages in this process with the same definitions Dagster loads: for the CLI,
notebooks and tests. Launched runs (daemon, UI, API) go through the run queue instead."""

from __future__ import annotations

from typing import Any

from dagster import DagsterInstance, ExecuteInProcessResult, materialize

from dubbing_pipeline.defs.assets import STAGE_ASSETS
from dubbing_pipeline.defs.resources import default_resources
from dubbing_pipeline.domain.projects import Project
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.tags import job_tags
from dubbing_pipeline.operations.instance_store import InstanceRunStore


def materialize_stage(
    project: Project,
    stage: Stage,
    *,
    instance: DagsterInstance,
    resources: dict[str, Any] | None = None,
    run_config: dict[str, Any] | None = None,
    raise_on_error: bool = False,
    tags: dict[str, str] | None = None,
) -> ExecuteInProcessResult:
    """``tags``: more run tags (a re-execution's lineage, say)."""
    return materialize(
        STAGE_ASSETS,
        selection=[stage.asset_name],
        partition_key=project.id,
        instance=instance,
        resources=resources or default_resources(),
        run_config=run_config,
        tags=job_tags(project, stage) | (tags or {}),
        raise_on_error=raise_on_error,
    )


def run_store(instance: DagsterInstance) -> InstanceRunStore:
    """The operations' run store on ``instance``, able to launch this code location's jobs."""
    from dubbing_pipeline.definitions import resolve_job  # loads the code location: only here

    return InstanceRunStore(instance, resolve_job)


def stage_failure(result: ExecuteInProcessResult) -> tuple[str, str] | None:
    """(error_type, message) of a failed stage run, as the dead letter queue will show it."""
    if result.success:
        return None
    failures = result.get_step_failure_events()
    if not failures:
        return "PERMANENT", "run failed before its step started"
    data = failures[0].step_failure_data
    if data.user_failure_data is not None and "error_type" in data.user_failure_data.metadata:
        meta = data.user_failure_data.metadata
        return str(meta["error_type"].value), str(meta["error_message"].value)
    return "PERMANENT", data.error.message.strip() if data.error else "step failed"
