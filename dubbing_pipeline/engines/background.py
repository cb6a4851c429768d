"""What plays under the dub, at what level, and whether the original track is kept: the resource
the MUXING stage mixes with, chosen per deployment (``DUBBING_BACKGROUND``, ``DUBBING_MIX_*``)
and overridden per project (its manifest) or per run (run config).

The mix runs in ffmpeg (``infra.mix``); this decides its settings and turns its measurement into
the loudness gain: the constant that brings the mix to ``loudness_lufs`` (EBU R128 integrated),
as ``loudnorm``'s linear mode would, applied where the track is encoded, with a peak limiter at
``peak_db`` behind it for the few peaks the gain would push over.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dagster import ConfigurableResource
from pydantic import Field, field_validator

from dubbing_pipeline.domain.background import (
    BackgroundMethod,
    Span,
    choose_method,
    ducked_spans,
    method_of,
)
from dubbing_pipeline.infra import media, mix
from dubbing_pipeline.infra.mix import Bed, Ducking, Loudness

LOUDNESS_SLACK_LU = 0.1
# A shortfall through the limiter up to this is made up in one step, as if the limiter were not
# there (it never overshoots: the limiter only takes loudness off, so at most (1 - slope) x 1 LU
# is left); a larger one is measured once more and made up along the measured slope.
ONE_STEP_LU = 1.0
# Longer mixes are measured through the limiter on a quarter of their length (``mix.measure``'s
# sample): what it takes off is a property of the material's peaks, the same all along a dub. A
# sample louder or quieter than the whole shifts the result by that much (0.1 LU on the bench's
# mix); the delivered file's loudness check measures the truth.
SAMPLED_ABOVE_S = 120.0


@dataclass(frozen=True)
class MixedDub:
    """The dub track to deliver: a file, and the gain and ceiling it is encoded with."""

    path: Path
    gain_db: float
    limit_db: float | None
    figures: dict[str, Any] = field(default_factory=dict)


class BackgroundMixer(ConfigurableResource):
    """The deployment's defaults for the dub's mix."""

    method: str = Field(default="duck", description="stem, demucs, duck or none")
    duck_db: float = Field(default=18.0, ge=0.0, le=60.0, description="How far the bed is lowered")
    ramp_s: float = Field(default=0.25, gt=0.0, le=5.0, description="Each ramp down or up")
    min_gap_s: float = Field(default=1.0, ge=0.0, description="Shorter pauses stay ducked")
    centre_cancel: bool = Field(
        default=False, description="Stereo beds: also take out the centre (voices) under the dub"
    )
    loudness_lufs: float | None = Field(
        default=-16.0, ge=-70.0, le=-5.0, description="Integrated loudness target; None: as mixed"
    )
    peak_db: float = Field(default=-1.0, ge=-24.0, le=0.0, description="Peak ceiling (dBFS)")
    original_track: bool = Field(default=True, description="Keep the source audio as a track")
    stem_tolerance_s: float = Field(default=0.1, gt=0.0, description="Stem vs video length")

    @field_validator("method")
    @classmethod
    def _known(cls, value: str) -> str:
        return method_of(value)

    def choose(self, project: str | None, override: str | None = None) -> BackgroundMethod:
        return choose_method(self.method, project, override)

    def keeps_original(self, *choices: bool | None) -> bool:
        """The first explicit choice (run config, then project), else the deployment's."""
        return next((c for c in choices if c is not None), self.original_track)

    def mix(
        self,
        dub: Path,
        bed: Bed | None,
        work: Path,
        source_speech: Sequence[Span] = (),
        dub_speech: Sequence[Span] | None = None,
    ) -> MixedDub:
        """Mix the dub over ``bed`` into ``work`` (the dub alone needs no mix: only measured).
        A ducked bed is lowered wherever the dub speaks (``dub_speech``, where TTS placed its
        clips; found in the track when not given) and wherever the source's own voice does
        (``source_speech``, the transcript's segments), so the original voice never comes back
        up where a dubbed line is shorter than the line it replaces."""
        figures: dict[str, Any] = {}
        frames, rate = media.wav_samples(dub)
        seconds = frames / rate
        if bed is None:
            path = dub
            loudness = mix.measure(dub) if self.loudness_lufs is not None else None
        else:
            ducking = None
            if bed.ducked:
                spoken = mix.speech_regions(dub) if dub_speech is None else dub_speech
                ducking = self._ducking(seconds, [*spoken, *source_speech])
                figures |= {
                    "duck_db": self.duck_db,
                    "ducked_lines": len(ducking.spans),
                    "ducked_seconds": round(sum(s.seconds for s in ducking.spans), 2),
                    "centre_cancel": ducking.centre_cancel,
                }
            path = work / "dub_mix.wav"
            loudness = mix.mix(dub, bed, path, ducking=ducking, script=work / "ducking.cmd")
        return self._normalised(path, loudness, figures, seconds)

    def _ducking(self, seconds: float, speech: Sequence[Span]) -> Ducking:
        spans = ducked_spans(speech, duration=seconds, min_gap_s=self.min_gap_s, ramp_s=self.ramp_s)
        return Ducking(spans, self.duck_db, self.ramp_s, self.centre_cancel)

    def _normalised(
        self, path: Path, loudness: Loudness | None, figures: dict[str, Any], seconds: float
    ) -> MixedDub:
        """The gain to the target. Where it would push peaks over the ceiling, the limiter
        takes a little loudness off: that shortfall is measured through gain and limiter and
        made up. The delivered loudness is measured on the muxed file, by its loudness check."""
        if loudness is None:  # no target and nothing mixed: the dub as TTS made it
            return MixedDub(path, 0.0, None, figures)
        target = self.loudness_lufs
        gain = 0.0 if target is None else loudness.gain_to(target)
        limited = loudness.peak_dbfs + gain > self.peak_db
        limit = self.peak_db if limited else None
        if limited and target is not None:
            gain = self._through_limiter(path, gain, target, seconds > SAMPLED_ABOVE_S)
        figures |= {
            "loudness_target_lufs": target,
            "mix_loudness_lufs": loudness.integrated_lufs,  # measured, before the gain
            "loudness_gain_db": round(gain, 2),
            "peak_limited": limited,
        }
        return MixedDub(path, round(gain, 2), limit, figures)

    def _through_limiter(self, path: Path, gain: float, target: float, sampled: bool) -> float:
        """The gain that brings the limited mix to ``target``: one step if the limiter took
        little, else a second measurement and a step along the slope the two give."""

        def through(gain_db: float) -> float:
            measured = mix.measure(path, gain_db=gain_db, limit_db=self.peak_db, sampled=sampled)
            return measured.integrated_lufs

        first = through(gain)
        short = target - first
        if abs(short) <= LOUDNESS_SLACK_LU:
            return gain
        if short <= ONE_STEP_LU:
            return gain + short
        second = through(gain + short)
        slope = min(1.0, max(0.2, (second - first) / short))
        return gain + short + (target - second) / slope
