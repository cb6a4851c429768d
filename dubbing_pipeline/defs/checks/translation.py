"""The translation's checks: every segment translated, no source-language words left, lengths
within bounds, the text in the target language."""

from __future__ import annotations

from dagster import AssetCheckResult

from dubbing_pipeline.defs.checks.common import results, specs
from dubbing_pipeline.domain.checks import CheckThresholds, Outcome
from dubbing_pipeline.domain.segments import SegmentDoc
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.text_checks import (
    TRANSLATION_CHECKS,
    LanguageId,
    translation_outcomes,
)
from dubbing_pipeline.infra import language_id

SPECS = specs(Stage.MT, TRANSLATION_CHECKS)


def translation_checks(
    source: SegmentDoc, target: SegmentDoc, limits: CheckThresholds
) -> tuple[list[Outcome], list[AssetCheckResult]]:
    identify = LanguageId(language_id.languages(), language_id.detect)
    outcomes = translation_outcomes(source, target, limits, identify)
    return outcomes, results(Stage.MT, outcomes)
