"""Outcomes (``domain.checks``) as Dagster asset checks: one spec per check on the stage's asset,
declared up front so the UI lists them before any run; one result per check per
materialisation, carrying the failing segments and by how much.

The checks are computed inside the stage's asset (``check_specs`` on the asset, results in its
``MaterializeResult``) rather than as separate ``@asset_check`` ops: they need what the stage holds
in hand (the STT engine already loaded, the track plan, the clips, the project's choices) and a
separate op would load the engines and read every artifact again in another step. Each result is
recorded against the partition's materialisation, shown beside the asset in the UI.

ERROR checks hold the project back, but the specs are not Dagster-``blocking``: a blocking check
that fails with ERROR fails its step (``DagsterAssetCheckFailedError``), so the stage run would be
a FAILURE, a dead letter (whose retry gives the same verdict) and a "failed" job in the API, for
an output a person can review and fix. Dagster's blocking also stops only the steps after it in
the same run, and each stage is its own run. So the hand-off to the next stage reads the run's
check results instead (``operations.checks``; ``defs.handoff``, ``stage_success_sensor``), and the
specs say which checks do that (``dubbing/blocks_next_stage`` metadata, and their description).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    MetadataValue,
    PreviewWarning,
)

from dubbing_pipeline.defs.partitions import projects_partitions
from dubbing_pipeline.domain.checks import SHOWN_SEGMENTS, Outcome
from dubbing_pipeline.domain.stages import Stage

# Checks that can fail with ERROR, and so hold the project back for review.
BLOCKING = frozenset(
    {
        "language",
        "segments",
        "translated",
        "untranslated_words",
        "target_language",
        "intelligibility",
        "fits_slot",
        "silence",
        "streams",
        "video_unchanged",
        "duration",
    }
)


BLOCKS = "dubbing/blocks_next_stage"


def specs(stage: Stage, described: Mapping[str, str]) -> list[AssetCheckSpec]:
    with warnings.catch_warnings():  # a partitioned check is a Dagster preview: said once, here
        warnings.simplefilter("ignore", PreviewWarning)
        return [
            AssetCheckSpec(
                name,
                asset=stage.asset_name,
                description=description
                + (
                    " Blocks the next stage on ERROR: the project goes to review."
                    if name in BLOCKING
                    else ""
                ),
                blocking=False,  # see the module's docstring
                partitions_def=projects_partitions,  # a result per project, like the asset's
                metadata={BLOCKS: name in BLOCKING},
            )
            for name, description in described.items()
        ]


def results(stage: Stage, outcomes: Iterable[Outcome]) -> list[AssetCheckResult]:
    return [
        AssetCheckResult(
            asset_key=stage.asset_name,
            check_name=outcome.name,
            passed=outcome.passed,
            severity=AssetCheckSeverity(outcome.severity),
            description=outcome.describe(),
            metadata=_metadata(outcome),
        )
        for outcome in outcomes
    ]


def _metadata(outcome: Outcome) -> dict[str, Any]:
    meta: dict[str, Any] = {"summary": outcome.summary, **outcome.figures}
    if outcome.failing:
        meta["failing"] = MetadataValue.json(
            [f.as_json() for f in outcome.failing[:SHOWN_SEGMENTS]]
        )
        meta["failing_count"] = len(outcome.failing)
        meta["failing_segments"] = MetadataValue.text(
            ", ".join(str(f.segment) for f in outcome.failing[:SHOWN_SEGMENTS])
        )
    return meta
