"""Assertions on Dagster results and media that several test modules share."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from dagster import ExecuteInProcessResult

from dubbing_pipeline.domain.stages import Stage


def metadata(result: ExecuteInProcessResult, stage: Stage) -> dict[str, Any]:
    (event,) = result.asset_materializations_for_node(stage.asset_name)
    return {k: v.value for k, v in event.metadata.items()}


def stream_md5(path: Path, selector: str) -> str:
    """MD5 of a stream's packets, unchanged by a stream copy."""
    out = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(path),
            "-map",
            f"0:{selector}",
            "-c",
            "copy",
            "-f",
            "md5",
            "-",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()
