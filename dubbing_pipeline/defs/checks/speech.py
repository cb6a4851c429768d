"""The speech checks: the dub track heard back by the deployment's STT engine (word error rate per
segment against the approved text), clips cut by the speed-up cap, silence where a clip should
speak, clipping.

Back-transcription hears each placed clip once: the clips, trimmed and resampled, go one after
another (0.6 s apart) into one file that the STT engine transcribes in a single pass, and each
word heard is given to the clip it falls in. What was heard is kept by the clip's sound
(``heard.json``), so a re-run after one edited segment hears only that segment again, and a
repeated line is heard once.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dagster import AssetCheckResult

from dubbing_pipeline.defs.checks.common import results, specs
from dubbing_pipeline.domain import artifacts
from dubbing_pipeline.domain.checks import CheckThresholds, Outcome
from dubbing_pipeline.domain.media_checks import (
    SPEECH_CHECKS,
    Fit,
    clipping_outcome,
    fit_outcome,
    heard_by_piece,
    intelligibility_outcome,
    silence_outcome,
)
from dubbing_pipeline.domain.segments import Segment
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.timing import TrackPlan
from dubbing_pipeline.engines.base import BackTranscriber, SpeechToText, no_progress
from dubbing_pipeline.infra import audio_checks

if TYPE_CHECKING:  # the stage asset passes its run; its module imports this one
    from dubbing_pipeline.defs.assets.common import StageRun

SPECS = specs(Stage.TTS, SPEECH_CHECKS)


@dataclass
class Heard:
    texts: dict[int, str]  # by segment id
    seconds: float  # spent in the STT engine
    pieces: int  # clips heard in this run (the rest were heard before)
    audio_s: float  # seconds of audio the engine heard


def speech_checks(
    run: StageRun,
    stt: SpeechToText,
    dub_track: Path,
    plan: TrackPlan,
    spoken: Sequence[Segment],
    language: str,
    limits: CheckThresholds,
) -> tuple[list[Outcome], list[AssetCheckResult], dict[str, float | int]]:
    placed = [
        audio_checks.Placed(p.segment_id, p.start_sample, p.placed_samples) for p in plan.placements
    ]
    levels = audio_checks.levels(dub_track, placed)
    outcomes = []
    heard = back_transcribe(run, stt, dub_track, placed, language)
    if heard is None:
        outcomes.append(
            Outcome("intelligibility", True, "ERROR", f"the STT engine does not know {language}")
        )
    else:
        outcomes.append(
            intelligibility_outcome({s.id: s.text for s in spoken}, heard.texts, limits)
        )
    fits = [Fit(p.segment_id, p.fitted_samples, p.overflow_samples) for p in plan.placements]
    outcomes += [
        fit_outcome(fits, plan.sample_rate, limits),
        silence_outcome({lv.segment_id: lv.rms_dbfs for lv in levels}, limits),
        clipping_outcome({lv.segment_id: lv.clipped_share for lv in levels}, limits),
    ]
    figures: dict[str, float | int] = {}
    if heard is not None:
        figures = {
            "back_transcription_seconds": round(heard.seconds, 3),
            "back_transcribed_clips": heard.pieces,
            "back_transcribed_audio_s": round(heard.audio_s, 2),
        }
    return outcomes, results(Stage.TTS, outcomes), figures


def back_transcribe(
    run: StageRun,
    stt: SpeechToText,
    dub_track: Path,
    placed: Sequence[audio_checks.Placed],
    language: str,
) -> Heard | None:
    """What the STT engine hears of each placed clip (None: it does not know the language)."""
    known = stt.languages()
    if known is not None and language not in known:
        return None
    cache_uri = run.uri(artifacts.HEARD)
    cache: dict[str, str] = {}
    if run.store.exists(cache_uri):
        cache = json.loads(run.store.read_text(cache_uri))
    seconds, audio_s = 0.0, 0.0
    with tempfile.TemporaryDirectory(prefix="dub-heard-") as tmp:
        wav = Path(tmp) / "heard.wav"
        pieces = audio_checks.gather(dub_track, placed, wav, skip=frozenset(cache))
        new = [(p.sha256, p.start_s, p.end_s) for p in pieces if p.end_s > p.start_s]
        if new:
            started = time.perf_counter()
            with run.engine():
                items = _hear(stt, wav, language)
            seconds = time.perf_counter() - started
            audio_s = sum(end - start for _, start, end in new)
            cache |= heard_by_piece(new, items, audio_checks.GAP_S)
            run.store.write_text(cache_uri, json.dumps(cache))
    texts = {p.segment_id: cache.get(p.sha256, "") for p in pieces}
    return Heard(texts, seconds, len(new), audio_s)


def _hear(stt: SpeechToText, wav: Path, language: str) -> list[tuple[float, float, str]]:
    """The words heard, timed: the engine's quick pass where it has one (greedy, no voice
    activity detection: on the gathered clips it heard every clip where its full transcription
    dropped some), else its transcription's words (or segments, untimed engines)."""
    if isinstance(stt, BackTranscriber):
        return stt.hear(wav, language)
    result = stt.transcribe(wav, language, no_progress)
    return [
        (w.start, w.end, w.text)
        for s in result.segments
        for w in (s.words or [s])  # type: ignore[list-item]
    ]
