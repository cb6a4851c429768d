"""The muxed_video checks, on the delivered file itself: its streams, tags and dispositions, its
video stream against the source's, its duration, and the dub track's integrated loudness."""

from __future__ import annotations

from pathlib import Path

from dagster import AssetCheckResult

from dubbing_pipeline.defs.checks.common import results, specs
from dubbing_pipeline.domain import languages
from dubbing_pipeline.domain.checks import CheckThresholds, Outcome
from dubbing_pipeline.domain.media_checks import (
    MUXED_CHECKS,
    duration_outcome,
    loudness_outcome,
    streams_outcome,
    video_outcome,
)
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.infra import audio_checks, media, mix

SPECS = specs(Stage.MUXING, MUXED_CHECKS)


def muxed_checks(
    delivered: Path,
    source: Path,
    *,
    target_language: str,
    source_language: str,
    original_track: bool,
    loudness_lufs: float | None,
    limits: CheckThresholds,
) -> tuple[list[Outcome], list[AssetCheckResult]]:
    facts = audio_checks.stream_facts(delivered)
    outcomes = [
        streams_outcome(
            facts.video,
            facts.audio,
            facts.subtitles,
            target=languages.alpha3(target_language),
            source=languages.alpha3(source_language),
            original=original_track,
        ),
        video_outcome(media.stream_md5(delivered, "v"), media.stream_md5(source, "v")),
        duration_outcome(facts.duration, media.probe(source).duration, limits),
    ]
    if facts.audio:
        measured = mix.measure(delivered, "a:0").integrated_lufs
        outcomes.append(loudness_outcome(measured, loudness_lufs, limits))
    else:
        outcomes.append(loudness_outcome(mix.SILENT_LUFS, loudness_lufs, limits))
    return outcomes, results(Stage.MUXING, outcomes)
