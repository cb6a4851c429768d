"""The Helm values name what our code expects: one image everywhere our code is imported, our
run coordinator, and the GPU tag the stage jobs carry. (No cluster here: these are the checks that
catch a drift between the values and the code.)"""

from __future__ import annotations

from glob import glob
from pathlib import Path

import pytest
import yaml
from dagster import QueuedRunCoordinator, instance_for_test

from dubbing_pipeline.defs.placement import GPU_TAG

ROOT = Path(__file__).parents[2]
VALUES = yaml.safe_load((ROOT / "deploy/helm/values.yaml").read_text())


def test_webserver_daemon_and_code_location_run_one_image() -> None:
    (location,) = VALUES["dagster-user-deployments"]["deployments"]
    images = [VALUES["dagsterWebserver"]["image"], VALUES["dagsterDaemon"]["image"]]
    assert all(image == location["image"] for image in images)
    assert location["dagsterApiGrpcArgs"] == ["--module-name", "dubbing_pipeline.definitions"]


def test_the_run_queue_is_ours_and_limits_gpu_runs_by_the_stage_tag() -> None:
    coordinator = VALUES["dagsterDaemon"]["runCoordinator"]["config"]["customRunCoordinator"]
    overrides = {"run_coordinator": coordinator} | VALUES["additionalInstanceConfig"]
    with instance_for_test(overrides=overrides) as instance:  # Dagster validates the whole
        queue = instance.run_coordinator  # instance config, as the chart's pods will
        assert isinstance(queue, QueuedRunCoordinator)  # the hand-off submits to a run queue
        runs = instance.get_concurrency_config().run_queue_config
    assert runs is not None
    limits = runs.tag_concurrency_limits
    assert [limit["key"] for limit in limits] == [GPU_TAG]
    assert VALUES["runLauncher"]["type"] == "K8sRunLauncher"


@pytest.mark.parametrize("path", ["dagster.yaml", *glob("profiles/*/dagster.yaml", root_dir=ROOT)])
def test_every_shipped_instance_config_is_one_dagster_accepts(path: str) -> None:
    """The run queue, concurrency, monitoring and retry sections of each dagster.yaml, loaded
    by Dagster (storage and launchers need their servers: the integration tests load those)."""
    config = yaml.safe_load((ROOT / path).read_text())
    loadable = {k: v for k, v in config.items() if k not in {"storage", "run_launcher"}}
    with instance_for_test(overrides=loadable) as instance:
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        runs = instance.get_concurrency_config().run_queue_config
        assert runs is not None and runs.max_concurrent_runs >= 2


def test_the_embedded_default_runs_warm_as_the_warm_profile_says() -> None:
    """The launcher block is written twice (YAML has no include): the embedded default's and
    the one profiles/warm gives the Postgres profile must not drift apart."""
    default, warm = (
        yaml.safe_load((ROOT / path).read_text())["run_launcher"]
        for path in ("dagster.yaml", "profiles/warm/dagster.yaml")
    )
    assert default == warm
    assert default["class"] == "WarmRunLauncher"
