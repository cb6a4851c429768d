"""Everything Dagster loads: the five stage assets, one job per stage, the sensors that move a
project along, the clean-up job and its schedule, and the deployment's resources."""

from dagster import Definitions

from dubbing_pipeline.defs.assets import STAGE_ASSETS
from dubbing_pipeline.defs.ingestion import ingestion_sensor
from dubbing_pipeline.defs.jobs import STAGE_JOBS
from dubbing_pipeline.defs.maintenance import clean_runs_job, clean_runs_schedule
from dubbing_pipeline.defs.resources import default_resources
from dubbing_pipeline.defs.sensors import SENSORS

defs = Definitions(
    assets=STAGE_ASSETS,
    jobs=[*STAGE_JOBS.values(), clean_runs_job],
    schedules=[clean_runs_schedule],
    sensors=[*SENSORS, ingestion_sensor],
    resources=default_resources(),
)
