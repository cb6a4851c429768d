"""One asset job per stage: a job is one run of one stage for one project partition."""

from dagster import AssetSelection, define_asset_job, in_process_executor

from dubbing_pipeline.defs.handoff import hand_off
from dubbing_pipeline.defs.partitions import projects_partitions
from dubbing_pipeline.defs.placement import placement_tags
from dubbing_pipeline.domain.stages import Stage

STAGE_JOBS = {
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
        hooks={hand_off},  # TTS -> MUXING -> LIP_SYNC at once; the sensor is the safety net
    )
    for stage in Stage
}
