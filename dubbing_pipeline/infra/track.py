"""Rendering a track plan: each clip streamed from ffmpeg into the one output WAV, so an hour-long
track costs no more memory than a minute's."""

from __future__ import annotations

import wave
from collections.abc import Callable, Sequence
from pathlib import Path

from dubbing_pipeline.domain.timing import Placement, TrackPlan
from dubbing_pipeline.infra import media

SAMPLE_BYTES = 2  # the dub track is 16-bit mono
Listener = Callable[[Placement, bytes], None]


def render_track(
    plan: TrackPlan,
    clips: Sequence[Path],
    out: Path,
    progress: Callable[[float], None] = lambda _: None,
    listener: Listener | None = None,
) -> None:
    """Write the dub track: leading silence, then each clip fitted to exactly its slot, appended
    to the WAV chunk by chunk as ffmpeg produces it (no part files, no clip held in memory).
    A ``listener`` is given each clip as it plays in the track (its placed samples, the part
    that fits its slot) once written: the speech checks hear it while the next clips render."""
    with wave.open(str(out), "wb") as track:
        track.setnchannels(1)
        track.setsampwidth(SAMPLE_BYTES)
        track.setframerate(plan.sample_rate)
        _silence(track, plan.lead_samples)
        for i, (placement, clip) in enumerate(zip(plan.placements, clips, strict=True)):
            if placement.slot_samples == 0:
                if listener:
                    listener(placement, b"")
                continue  # a zero-length slot (two segments at one instant) is reported overflow
            pcm = media.fitted_pcm(
                clip,
                tempo=placement.tempo,
                samples=placement.slot_samples,
                fade_out=placement.overflow_samples > 0,
                rate=plan.sample_rate,
            )
            left = placement.slot_samples * SAMPLE_BYTES
            wanted = placement.placed_samples * SAMPLE_BYTES if listener else 0
            placed = bytearray()
            for chunk in pcm:
                written = chunk[:left]
                track.writeframesraw(written)
                if len(placed) < wanted:
                    placed += written[: wanted - len(placed)]
                left -= len(written)
            if listener:
                listener(placement, bytes(placed))
            # ffmpeg pads to the slot; this only guards the next clip's start to the sample
            _silence(track, left // SAMPLE_BYTES)
            progress((i + 1) / len(plan.placements))


def _silence(track: wave.Wave_write, samples: int) -> None:
    """Append ``samples`` of silence, a bounded block at a time."""
    block = bytes(media.CHUNK_BYTES)
    left = samples * SAMPLE_BYTES
    while left > 0:
        track.writeframesraw(block[:left])
        left -= min(left, len(block))
