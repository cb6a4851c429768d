"""Where a stage's runs execute: the run tags Dagster's distributed launchers read.

GPU stages carry what a Kubernetes run launcher needs to request ``nvidia.com/gpu`` (the
``dagster-k8s/config`` tag) and the Celery queue their workers listen on (the
``dagster-celery/queue`` tag); every launcher ignores the tags of the others, so the same
definitions serve the embedded default, Celery and Kubernetes. ``dubbing/gpu`` lets the run
queue keep one GPU run per GPU host (``tag_concurrency_limits`` in the production profiles).
"""

from __future__ import annotations

import json

from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.tags import Tag
from dubbing_pipeline.infra.settings import settings

CELERY_QUEUE_TAG = "dagster-celery/queue"
K8S_CONFIG_TAG = "dagster-k8s/config"
GPU_TAG = Tag.GPU


def gpu_stages() -> frozenset[Stage]:
    """``DUBBING_GPU_STAGES=STT,TTS`` (or ``none``); default: every stage with a neural engine."""
    return settings().gpu_stage_set()


def celery_queue(stage: Stage) -> str:
    return "dubbing-gpu" if stage in gpu_stages() else "dubbing-cpu"


def k8s_config(stage: Stage) -> dict:
    """The ``dagster-k8s/config`` of a stage's run pod: a GPU and GPU nodes for GPU stages."""
    if stage not in gpu_stages():
        return {"container_config": {"resources": {"requests": {"cpu": "1", "memory": "2Gi"}}}}
    return {
        "container_config": {
            "resources": {
                "requests": {"cpu": "2", "memory": "8Gi"},
                "limits": {"nvidia.com/gpu": "1"},
            }
        },
        "pod_spec_config": {
            "node_selector": {Tag.GPU: "true"},
            "tolerations": [
                {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
            ],
        },
    }


def placement_tags(stage: Stage) -> dict[str, str]:
    """Run tags of every run of the stage's job, whoever launches it."""
    tags = {CELERY_QUEUE_TAG: celery_queue(stage), K8S_CONFIG_TAG: json.dumps(k8s_config(stage))}
    if stage in gpu_stages():
        tags[GPU_TAG] = "true"
    return tags
