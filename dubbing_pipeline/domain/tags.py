"""The run tag vocabulary: every name a job (a Dagster run) is tagged with, spelled once.

A job's tags say whose project it is and which stage it runs; the dead letter queue, retries and
maintenance add theirs. The ``dagster/`` names are Dagster's own, read and written where a run
must look as if a sensor, a partition or a re-execution made it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dubbing_pipeline.domain.projects import Project


class Tag:
    """Tag names. ``JOB`` are the tags every stage run carries."""

    PROJECT = "dubbing/project"
    USER = "dubbing/user"
    STAGE = "dubbing/stage"
    SOURCE_LANGUAGE = "dubbing/source_language"
    TARGET_LANGUAGE = "dubbing/target_language"
    TIER = "dubbing/tier"

    RETRY_AT = "dubbing/retry_at"  # set while a failed step waits for its retry
    DEAD_LETTER = "dubbing/dead_letter"  # open -> retry_requested -> retried
    ERROR_TYPE = "dubbing/error_type"
    ERROR_MESSAGE = "dubbing/error_message"
    ATTEMPTS = "dubbing/attempts"
    RETRIED_AS = "dubbing/retried_as"  # the run key of a dead letter entry's retry
    MAINTENANCE = "dubbing/maintenance"
    GPU = "dubbing/gpu"
    WARM_WORKER = "dubbing/warm_worker"  # the pid of the warm run worker a run executes in

    # Dagster's own
    RUN_KEY = "dagster/run_key"
    SENSOR_NAME = "dagster/sensor_name"
    PARTITION = "dagster/partition"
    PARENT_RUN_ID = "dagster/parent_run_id"
    ROOT_RUN_ID = "dagster/root_run_id"
    WILL_RETRY = "dagster/will_retry"


class Sensor:
    """Names of the sensors that start stages: runs started for them elsewhere (an approval, a
    finishing run's hook, the API) carry them, so the sensor daemon starts nothing twice."""

    NEW_PROJECT = "new_project_sensor"
    REVIEW_GATE = "review_gate_sensor"
    STAGE_SUCCESS = "stage_success_sensor"


JOB_TAGS = (
    Tag.PROJECT,
    Tag.USER,
    Tag.STAGE,
    Tag.SOURCE_LANGUAGE,
    Tag.TARGET_LANGUAGE,
    Tag.TIER,
)


def job_tags(project: Project, stage: str) -> dict[str, str]:
    """Tags every run of a stage carries: who, what, which languages, which tier."""
    return {
        Tag.PROJECT: project.id,
        Tag.USER: project.user_id,
        Tag.STAGE: str(stage),
        Tag.SOURCE_LANGUAGE: project.source_language,
        Tag.TARGET_LANGUAGE: project.target_language,
        Tag.TIER: project.tier,
    }
