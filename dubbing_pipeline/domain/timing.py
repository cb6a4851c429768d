"""Placing dubbed clips on the source timeline: the part users of dubbing tools complain about.

Rules: every clip starts exactly where its source segment starts (to the sample); it may use the
time up to the next segment's start (its slot); it is sped up only as far as needed and never
beyond ``max_speedup``; what still does not fit is cut with a short fade and reported; the track
has exactly the source's length. Planning is pure arithmetic; ``infra.track`` renders the plan.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

DUB_SAMPLE_RATE = 48_000  # the dub track is 16-bit mono at this rate


@dataclass(frozen=True)
class Placement:
    segment_id: int
    start_sample: int
    slot_samples: int  # this segment's start up to the next segment's start (or the end)
    clip_samples: int  # length of the synthesised clip, at the dub sample rate
    tempo: float  # 1.0 = unchanged; never above the cap

    @property
    def fitted_samples(self) -> int:
        # The slack keeps float error (clip / (clip / slot)) from reporting one sample of overflow.
        return math.ceil(self.clip_samples / self.tempo - 1e-6)

    @property
    def overflow_samples(self) -> int:
        """Speech that did not fit even at the capped speed-up (cut, and reported)."""
        return max(0, self.fitted_samples - self.slot_samples)

    @property
    def placed_samples(self) -> int:
        """What of the fitted clip plays in the track: the rest is cut at its slot's end."""
        return min(self.fitted_samples, self.slot_samples)


@dataclass(frozen=True)
class TrackPlan:
    sample_rate: int
    total_samples: int
    placements: list[Placement]
    max_speedup: float

    @property
    def lead_samples(self) -> int:
        return self.placements[0].start_sample if self.placements else self.total_samples

    @property
    def max_tempo(self) -> float:
        return max((p.tempo for p in self.placements), default=1.0)

    @property
    def overflowing(self) -> list[Placement]:
        return [p for p in self.placements if p.overflow_samples > 0]

    def summary(self) -> dict[str, float | int]:
        return {
            "max_speedup_applied": round(self.max_tempo, 3),
            "speedup_cap": self.max_speedup,
            "segments_sped_up": sum(p.tempo > 1.0 for p in self.placements),
            "segments_over_cap": len(self.overflowing),
            "overflow_seconds": round(
                sum(p.overflow_samples for p in self.placements) / self.sample_rate, 3
            ),
        }


def plan_track(
    starts: Sequence[tuple[int, float]],
    clip_seconds: Sequence[float],
    duration: float,
    *,
    max_speedup: float = 1.25,
    sample_rate: int = DUB_SAMPLE_RATE,
) -> TrackPlan:
    """Plan where each (segment_id, start_seconds) clip goes and how much it is sped up."""
    if max_speedup < 1.0:
        raise ValueError("max_speedup must be >= 1.0")
    total = round(duration * sample_rate)
    bounds = [min(total, max(0, round(start * sample_rate))) for _, start in starts]
    if bounds != sorted(bounds):
        raise ValueError("segments must be in time order")
    placements = []
    for i, ((segment_id, _), clip) in enumerate(zip(starts, clip_seconds, strict=True)):
        slot = (bounds[i + 1] if i + 1 < len(bounds) else total) - bounds[i]
        clip_samples = round(clip * sample_rate)
        needed = clip_samples / slot if slot > 0 else math.inf
        tempo = min(max_speedup, max(1.0, needed))
        placements.append(Placement(segment_id, bounds[i], slot, clip_samples, tempo))
    return TrackPlan(sample_rate, total, placements, max_speedup)
