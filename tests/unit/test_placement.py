"""GPU stages carry the run tags Dagster's Kubernetes and Celery launchers read; others don't."""

from __future__ import annotations

import pytest
from dagster_celery.tags import DAGSTER_CELERY_QUEUE_TAG
from dagster_k8s.job import get_user_defined_k8s_config

from dubbing_pipeline.definitions import defs
from dubbing_pipeline.defs.placement import CELERY_QUEUE_TAG, GPU_TAG, placement_tags
from dubbing_pipeline.domain.stages import Stage


def test_every_run_of_a_gpu_stage_job_requests_a_gpu() -> None:
    assert CELERY_QUEUE_TAG == DAGSTER_CELERY_QUEUE_TAG
    for stage in Stage:
        # The job's run tags: Dagster puts them on every run of it (UI, GraphQL, sensors), and
        # the K8sRunLauncher reads the pod from them as this parser does (validating it).
        tags = defs.resolve_job_def(stage.job_name).run_tags
        pod = get_user_defined_k8s_config(tags)
        limits = pod.container_config["resources"].get("limits", {})
        if stage is Stage.MUXING:
            assert "nvidia.com/gpu" not in limits and GPU_TAG not in tags
            assert tags[CELERY_QUEUE_TAG] == "dubbing-cpu"
        else:
            assert limits["nvidia.com/gpu"] == "1", stage
            assert pod.pod_spec_config["tolerations"][0]["key"] == "nvidia.com/gpu"
            assert tags[CELERY_QUEUE_TAG] == "dubbing-gpu" and tags[GPU_TAG] == "true"


def test_a_cpu_only_deployment_names_no_gpu_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUBBING_GPU_STAGES", "none")
    assert all(GPU_TAG not in placement_tags(stage) for stage in Stage)
    monkeypatch.setenv("DUBBING_GPU_STAGES", "TTS")
    assert [s for s in Stage if GPU_TAG in placement_tags(s)] == [Stage.TTS]
    monkeypatch.setenv("DUBBING_GPU_STAGES", "TTS,NOPE")
    with pytest.raises(ValueError, match="unknown stage 'NOPE'"):
        placement_tags(Stage.TTS)
