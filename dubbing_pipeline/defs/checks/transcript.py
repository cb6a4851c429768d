"""The transcript's checks: the language heard (Whisper's own identification, run even when the
project declared its language), doubtful words, well-formed segments, and how much of the
detected speech the segments cover."""

from __future__ import annotations

from pathlib import Path

from dagster import AssetCheckResult

from dubbing_pipeline.defs.checks.common import results, specs
from dubbing_pipeline.domain import languages
from dubbing_pipeline.domain.checks import CheckThresholds, Outcome
from dubbing_pipeline.domain.segments import SegmentDoc
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.text_checks import TRANSCRIPT_CHECKS, transcript_outcomes
from dubbing_pipeline.engines.base import SpeechInspector, SpeechToText, Transcription

SPECS = specs(Stage.STT, TRANSCRIPT_CHECKS)


def transcript_checks(
    stt: SpeechToText,
    video: Path,
    doc: SegmentDoc,
    declared: str,
    result: Transcription,
    limits: CheckThresholds,
) -> tuple[list[Outcome], list[AssetCheckResult]]:
    """With ``declared`` auto, the engine's own detection is what was heard; with a declared
    language the engine was told it, so it listens again (one 30 s window)."""
    heard: tuple[str, float] | None = None
    speech = None
    if isinstance(stt, SpeechInspector):
        if declared == languages.AUTO and result.language_probability is not None:
            heard = (result.language, result.language_probability)
        else:
            heard = stt.identify_language(video)
        speech = stt.speech_spans(video)
    outcomes = transcript_outcomes(doc, declared, heard, speech, limits)
    return outcomes, results(Stage.STT, outcomes)
