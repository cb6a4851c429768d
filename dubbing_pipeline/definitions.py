"""Everything Dagster loads: the five stage assets and the deployment's resources."""

from dagster import Definitions

from dubbing_pipeline.assets import STAGE_ASSETS
from dubbing_pipeline.resources import default_resources

defs = Definitions(assets=STAGE_ASSETS, resources=default_resources())
