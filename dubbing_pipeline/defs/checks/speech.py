"""The speech checks: the dub track heard back by the deployment's STT engine (word error rate per
segment against the approved text), clips cut by the speed-up cap, silence where a clip should
speak, clipping.

Back-transcription hears each placed clip once, while the track renders (``infra/hearing.py``):
the clips as they play in the track are gathered into 60 s chunks that the STT engine hears on
a worker thread, and each word heard is given to the clip it falls in. What was heard is kept by
the clip's sound (``heard.json``), so a re-run after one edited segment hears only that segment
again, and a repeated line is heard once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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
    intelligibility_outcome,
    silence_outcome,
)
from dubbing_pipeline.domain.segments import Segment
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.timing import Placement, TrackPlan
from dubbing_pipeline.engines.base import BackTranscriber, SpeechToText, no_progress
from dubbing_pipeline.infra import audio_checks
from dubbing_pipeline.infra.hearing import Hearing, Words, hearing

if TYPE_CHECKING:  # the stage asset passes its run; its module imports this one
    from dubbing_pipeline.defs.assets.common import StageRun

SPECS = specs(Stage.TTS, SPEECH_CHECKS)


class Listener:
    """What the speech checks take from the track as it renders (``render_track``'s listener):
    each clip's level, and the clip itself for the hearing (None: the STT engine does not know
    the language), so the track is never read back."""

    def __init__(self, hearing: Hearing | None) -> None:
        self.hearing = hearing
        self.levels: list[audio_checks.Level] = []

    def add(self, placement: Placement, pcm: bytes) -> None:
        self.levels.append(audio_checks.level(placement.segment_id, pcm))
        if self.hearing:
            self.hearing.add(placement, pcm)


@contextmanager
def listening(run: StageRun, stt: SpeechToText, language: str, rate: int) -> Iterator[Listener]:
    """The checks' listener, started before the track renders so that the hearing hears each
    clip as it is written."""
    known = stt.languages()
    if known is not None and language not in known:
        yield Listener(None)
        return
    cache_uri = run.uri(artifacts.HEARD)
    cache: dict[str, str] = {}
    if run.store.exists(cache_uri):
        cache = json.loads(run.store.read_text(cache_uri))
    with hearing(lambda wav: _hear(stt, wav, language), rate, cache) as heard:
        yield Listener(heard)


def speech_checks(
    run: StageRun,
    listener: Listener,
    plan: TrackPlan,
    spoken: Sequence[Segment],
    language: str,
    limits: CheckThresholds,
) -> tuple[list[Outcome], list[AssetCheckResult], dict[str, float | int]]:
    """The checks' outcomes, their Dagster results, and the back-transcription's figures."""
    outcomes = []
    figures: dict[str, float | int] = {}
    if listener.hearing is None:
        outcomes.append(
            Outcome("intelligibility", True, "ERROR", f"the STT engine does not know {language}")
        )
    else:
        with run.engine():
            heard = listener.hearing.finish()
        if heard.pieces:
            run.store.write_text(run.uri(artifacts.HEARD), json.dumps(heard.by_sound))
        outcomes.append(
            intelligibility_outcome({s.id: s.text for s in spoken}, heard.texts, limits)
        )
        figures = {
            "back_transcription_seconds": round(heard.seconds, 3),
            "back_transcription_wait_s": round(heard.waited_s, 3),
            "back_transcribed_clips": heard.pieces,
            "back_transcribed_audio_s": round(heard.audio_s, 2),
        }
    fits = [Fit(p.segment_id, p.fitted_samples, p.overflow_samples) for p in plan.placements]
    outcomes += [
        fit_outcome(fits, plan.sample_rate, limits),
        silence_outcome({lv.segment_id: lv.rms_dbfs for lv in listener.levels}, limits),
        clipping_outcome({lv.segment_id: lv.clipped_share for lv in listener.levels}, limits),
    ]
    return outcomes, results(Stage.TTS, outcomes), figures


def _hear(stt: SpeechToText, wav: Path, language: str) -> Words:
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
