"""Everything Dagster loads: the five stage assets (and ``job_events``, what their runs report),
one job per stage, the sensors that move a project along, the event relay, the clean-up job and
its schedule, and the deployment's resources."""

from dagster import AssetKey, AssetSpec, Definitions, JobDefinition, MetadataValue, map_asset_specs

from dubbing_pipeline.defs.assets import STAGE_ASSETS
from dubbing_pipeline.defs.assets.common import JOB_EVENTS
from dubbing_pipeline.defs.handoff import hand_off_hook
from dubbing_pipeline.defs.ingestion import ingestion_sensor
from dubbing_pipeline.defs.jobs import stage_jobs
from dubbing_pipeline.defs.maintenance import clean_runs_job, clean_runs_schedule
from dubbing_pipeline.defs.relay import event_relay_sensor
from dubbing_pipeline.defs.resources import default_resources, engine_capabilities
from dubbing_pipeline.defs.sensors import stage_sensors
from dubbing_pipeline.domain.languages import CAPABILITIES as CAPABILITIES_KEY
from dubbing_pipeline.domain.stages import Stage


def resolve_job(name: str) -> JobDefinition:
    """A job of this code location: what a finishing run's hand-off launches."""
    return defs.resolve_job_def(name)


STAGE_JOBS = stage_jobs(hand_off_hook(resolve_job))
RESOURCES = default_resources()
CAPABILITIES = engine_capabilities(RESOURCES).model_dump(mode="json")


def _with_capabilities(spec: AssetSpec) -> AssetSpec:
    """The transcript asset carries what the engines can do: the API reads it (GraphQL) to
    refuse a project they cannot dub when it is created."""
    if spec.key != AssetKey(Stage.STT.asset_name):
        return spec
    return spec.merge_attributes(metadata={CAPABILITIES_KEY: MetadataValue.json(CAPABILITIES)})


defs = Definitions(
    assets=[*map_asset_specs(_with_capabilities, STAGE_ASSETS), JOB_EVENTS],
    jobs=[*STAGE_JOBS.values(), clean_runs_job],
    schedules=[clean_runs_schedule],
    sensors=[*stage_sensors(STAGE_JOBS), ingestion_sensor, event_relay_sensor],
    resources=RESOURCES,
)
