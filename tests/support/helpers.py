"""Assertions on Dagster results and media that several test modules share."""

from __future__ import annotations

from typing import Any

from dagster import ExecuteInProcessResult

from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.infra.media import stream_md5

__all__ = ["metadata", "stream_md5"]


def metadata(result: ExecuteInProcessResult, stage: Stage) -> dict[str, Any]:
    (event,) = result.asset_materializations_for_node(stage.asset_name)
    return {k: v.value for k, v in event.metadata.items()}
