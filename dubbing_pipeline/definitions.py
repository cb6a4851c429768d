"""Everything Dagster loads: the five stage assets, one job per stage, the sensors that move a
project along, and the deployment's resources."""

from dagster import Definitions

from dubbing_pipeline.assets import STAGE_ASSETS
from dubbing_pipeline.jobs import STAGE_JOBS
from dubbing_pipeline.resources import default_resources
from dubbing_pipeline.sensors import SENSORS

defs = Definitions(
    assets=STAGE_ASSETS,
    jobs=list(STAGE_JOBS.values()),
    sensors=SENSORS,
    resources=default_resources(),
)
