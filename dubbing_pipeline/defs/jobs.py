"""One asset job per stage: a job is one run of one stage for one project partition."""

from typing import TYPE_CHECKING

from dagster import (
    AssetSelection,
    HookDefinition,
    define_asset_job,
    in_process_executor,
)

if TYPE_CHECKING:  # what define_asset_job returns (not exported by dagster)
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )

from dubbing_pipeline.defs.partitions import projects_partitions
from dubbing_pipeline.defs.placement import placement_tags
from dubbing_pipeline.domain.stages import Stage


def stage_jobs(hand_off: HookDefinition) -> dict[Stage, "UnresolvedAssetJobDefinition"]:
    """The stage jobs; ``hand_off`` (a success hook) starts the next automatic stage at once."""
    return {
        stage: define_asset_job(
            stage.job_name,
            selection=AssetSelection.assets(stage.asset_name),
            partitions_def=projects_partitions,
            description=f"{stage}: materialise {stage.asset_name} for one project.",
            # One step per job: run it in the run's own process instead of spawning another
            # (a multiprocess step re-imports everything, the engines included).
            executor_def=in_process_executor,
            # Where the run executes under Celery or Kubernetes (GPU stages on GPU workers).
            run_tags=placement_tags(stage),
            hooks={hand_off},
        )
        for stage in Stage
    }
