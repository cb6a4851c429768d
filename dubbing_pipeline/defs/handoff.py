"""The prompt path from one stage to the next: a finishing run submits its successor itself,
without waiting for ``stage_success_sensor``'s next tick.

The hook runs after the step's materialisation is stored, so the next stage reads it. It starts
the run the sensor would (``operations.progression``: same run key, tagged as the sensor's), so
the sensor, still the safety net, finds it there and starts nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable

from dagster import HookContext, HookDefinition, JobDefinition, success_hook

from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.tags import Sensor, Tag
from dubbing_pipeline.operations import checks
from dubbing_pipeline.operations.instance_store import InstanceRunStore
from dubbing_pipeline.operations.progression import AFTER_SUCCESS, as_sensor, next_launch
from dubbing_pipeline.operations.runs import LaunchElsewhere, launch_once


def successor_cause(run_id: str) -> str:
    return f"after-{run_id}"


def hand_off_hook(resolve_job: Callable[[str], JobDefinition]) -> HookDefinition:
    """The success hook; ``resolve_job`` finds the next stage's job in the code location."""

    @success_hook(required_resource_keys={"store"}, name="hand_off")
    def hand_off(context: HookContext) -> None:
        """TTS -> MUXING -> LIP_SYNC at once, unless the run's blocking checks failed (the
        project waits for review); the sensor is the safety net."""
        run = context.instance.get_run_by_id(context.run_id)
        if run is None or Tag.STAGE not in run.tags:
            return
        stage = Stage(run.tags[Tag.STAGE])
        if stage not in AFTER_SUCCESS:
            return
        if reason := checks.held_back(context.instance, run.run_id):  # blocking checks failed
            context.log.warning(f"not handing off to {AFTER_SUCCESS[stage]}: {reason}")
            return
        launch = next_launch(
            context.resources.store,
            run.tags[Tag.PROJECT],
            AFTER_SUCCESS[stage],
            successor_cause(run.run_id),
            context.log,
        )
        if launch is None:
            return
        runs = InstanceRunStore(context.instance, resolve_job, template=run)
        try:
            run_id = launch_once(runs, as_sensor(launch, Sensor.STAGE_SUCCESS))
        except LaunchElsewhere as exc:  # an in-process run (the CLI): the caller goes on
            context.log.info(f"not handing off to {AFTER_SUCCESS[stage]}: {exc}")
            return
        context.log.info(f"submitted {AFTER_SUCCESS[stage]} as run {run_id}")

    return hand_off
