"""The Helm values name what our code expects: one image everywhere our code is imported, our
run coordinator, and the GPU tag the stage jobs carry. (No cluster here: these are the checks that
catch a drift between the values and the code.)"""

from __future__ import annotations

import importlib
from pathlib import Path

import yaml
from dagster import QueuedRunCoordinator

from dubbing_pipeline.defs.placement import GPU_TAG

VALUES = yaml.safe_load((Path(__file__).parents[2] / "deploy/helm/values.yaml").read_text())


def test_webserver_daemon_and_code_location_run_one_image() -> None:
    (location,) = VALUES["dagster-user-deployments"]["deployments"]
    images = [VALUES["dagsterWebserver"]["image"], VALUES["dagsterDaemon"]["image"]]
    assert all(image == location["image"] for image in images)
    assert location["dagsterApiGrpcArgs"] == ["--module-name", "dubbing_pipeline.definitions"]


def test_the_run_queue_is_ours_and_limits_gpu_runs_by_the_stage_tag() -> None:
    coordinator = VALUES["dagsterDaemon"]["runCoordinator"]["config"]["customRunCoordinator"]
    cls = getattr(importlib.import_module(coordinator["module"]), coordinator["class"])
    assert issubclass(cls, QueuedRunCoordinator)  # the hand-off submits to a run queue
    limits = coordinator["config"]["tag_concurrency_limits"]
    assert [limit["key"] for limit in limits] == [GPU_TAG]
    assert VALUES["runLauncher"]["type"] == "K8sRunLauncher"
