"""What plays under the dub, and when the original mix is lowered for it: pure rules, no ffmpeg.

Four methods (``BackgroundMethod``):

- ``stem``: the project supplies a music-and-effects stem; it plays as is.
- ``demucs``: the source's own mix with the voices taken out by Demucs; plays as is.
- ``duck``: the source's own mix, lowered only while dubbed speech plays (the offline default).
- ``none``: the dub alone.

Ducking follows the speech: the dub's, and the source's own (its transcript), so the original
voice stays down where a dubbed line ends before the line it replaces. Pauses shorter than
``min_gap_s`` stay ducked (the bed must not pump between two close lines), and the bed ramps down
``ramp_s`` *before* each line so the line starts over the lowered bed, and ramps back up over
``ramp_s`` after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

BackgroundMethod = Literal["stem", "demucs", "duck", "none"]
METHODS: tuple[str, ...] = get_args(BackgroundMethod)
DUCKED: frozenset[str] = frozenset({"duck"})  # the methods whose bed is lowered under the dub


@dataclass(frozen=True)
class Span:
    """A stretch of the timeline in seconds."""

    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


def method_of(name: str) -> BackgroundMethod:
    """A method by name; anything else is refused with the names that exist."""
    if name not in METHODS:
        raise ValueError(f"background {name!r}: choose one of {', '.join(METHODS)}")
    return name  # type: ignore[return-value]


def choose_method(
    default: str, project: str | None, override: str | None = None
) -> BackgroundMethod:
    """The run's override, else the project's choice, else the deployment's default."""
    return method_of(override or project or default)


def ducked_spans(
    speech: Sequence[Span], *, duration: float, min_gap_s: float, ramp_s: float
) -> list[Span]:
    """The stretches during which the bed is fully lowered: the speech regions, with pauses
    shorter than ``min_gap_s`` (or too short for a ramp down and up) bridged; clamped to the
    timeline so the first ramp may start before 0 (it is then already under way)."""
    bridge = max(min_gap_s, 2 * ramp_s)
    spans: list[Span] = []
    for region in sorted(speech, key=lambda s: s.start):
        start, end = max(0.0, region.start), min(duration, region.end)
        if end <= start:
            continue
        if spans and start - spans[-1].end < bridge:
            spans[-1] = Span(spans[-1].start, max(spans[-1].end, end))
        else:
            spans.append(Span(start, end))
    return spans


def gain_db_at(t: float, spans: Sequence[Span], *, duck_db: float, ramp_s: float) -> float:
    """The bed's gain in dB at ``t`` (0 between lines, ``-duck_db`` under one, linear in dB
    along the ramps): the reference the ffmpeg automation is checked against."""
    gain = 0.0
    for span in spans:
        if span.start - ramp_s <= t < span.start:
            gain = min(gain, -duck_db * (t - (span.start - ramp_s)) / ramp_s)
        elif span.start <= t <= span.end:
            return -duck_db
        elif span.end < t < span.end + ramp_s:
            gain = min(gain, -duck_db * (1 - (t - span.end) / ramp_s))
    return gain
