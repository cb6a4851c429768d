"""How each segment's clip was fitted into its slot, as a reviewer sees it after TTS (written
per segment to ``timing.json``; the stage's metadata has only the totals). Apart from
``timing`` so that ``timing`` stays free of pydantic: ``infra.media`` imports it, and the
lip-sync program that imports ``infra.media`` must run with nothing of Dagster or pydantic."""

from __future__ import annotations

from pydantic import BaseModel

from dubbing_pipeline.domain.timing import TrackPlan


class SegmentFit(BaseModel):
    """How one segment's clip was fitted into its slot: what a reviewer looks at after TTS
    (written per segment to ``timing.json``; the stage's metadata has the totals)."""

    segment_id: int
    tempo: float
    at_cap: bool  # sped up as far as the cap allows
    overflow_seconds: float  # cut because it did not fit even at the cap
    # Where the fitted clip plays in the dub track (None in a timing.json from before they were
    # recorded): what MUXING ducks the background under, with no need to search the track.
    start_s: float | None = None
    placed_s: float | None = None


class TrackFits(BaseModel):
    speedup_cap: float
    segments: list[SegmentFit]


def track_fits(plan: TrackPlan) -> TrackFits:
    """Each placement's tempo, whether it hit the speed-up cap, and what was cut."""
    segments = [
        SegmentFit(
            segment_id=p.segment_id,
            tempo=round(p.tempo, 3),
            at_cap=p.tempo >= plan.max_speedup and p.clip_samples > p.slot_samples,
            overflow_seconds=round(p.overflow_samples / plan.sample_rate, 3),
            start_s=round(p.start_sample / plan.sample_rate, 3),
            placed_s=round(p.placed_samples / plan.sample_rate, 3),
        )
        for p in plan.placements
    ]
    return TrackFits(speedup_cap=plan.max_speedup, segments=segments)
