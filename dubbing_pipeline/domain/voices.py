"""Speaker reference clips for voice cloning: each speaker's clearest source speech, cut once.

A cloning engine (XTTS) hears the same reference for every segment of a speaker, so a speaker keeps
one voice across the whole video. The reference is made from the approved transcript: that
speaker's segments, best recognised first (a confident transcript means clean speech), each long
enough to carry a voice, none overlapping another speaker, merged to about 6-12 s.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from dubbing_pipeline.domain.errors import validation_error
from dubbing_pipeline.domain.segments import Segment


@dataclass(frozen=True)
class VoiceReference:
    """A speaker's reference clip: a mono WAV at the rate the engine asked for."""

    speaker: str
    path: Path
    seconds: float
    sha256: str


@dataclass(frozen=True)
class Span:
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class ReferenceRules:
    min_segment_s: float = 1.0  # shorter segments are fillers or fragments, rarely a clean voice
    target_s: float = 8.0  # stop adding segments once this much speech is chosen
    max_s: float = 12.0  # XTTS gains little from more; a longer segment is cut to this


def select_spans(
    segments: Sequence[Segment], speaker: str, rules: ReferenceRules = ReferenceRules()
) -> list[Span]:
    """The parts of the source to cut for ``speaker``, in time order; [] if they never speak."""
    own = [s for s in segments if s.speaker == speaker and s.text.strip() and s.end > s.start]
    others = [s for s in segments if s.speaker != speaker]
    clean = [s for s in own if not any(_overlaps(s, o) for o in others)] or own
    long_enough = [s for s in clean if s.end - s.start >= rules.min_segment_s] or clean
    ranked = sorted(
        long_enough,
        key=lambda s: (s.confidence if s.confidence is not None else 0.0, s.end - s.start),
        reverse=True,
    )
    chosen: list[Span] = []
    total = 0.0
    for segment in ranked:
        if total >= rules.target_s:
            break
        length = segment.end - segment.start
        if total + length > rules.max_s:
            if chosen:
                continue  # a later, shorter segment may still fit
            length = rules.max_s
        chosen.append(Span(segment.start, round(segment.start + length, 3)))
        total += length
    return sorted(chosen, key=lambda span: span.start)


def reference_name(speaker: str, spans: Sequence[Span], sample_rate: int, source: str) -> str:
    """A file name that changes whenever what would be cut changes (the artifact cache key)."""
    recipe = "\n".join([source, str(sample_rate), *(f"{s.start:.3f}-{s.end:.3f}" for s in spans)])
    slug = re.sub(r"[^A-Za-z0-9_-]+", "_", speaker)[:40] or "speaker"
    return f"{slug}-{hashlib.sha256(recipe.encode()).hexdigest()[:16]}.wav"


def _overlaps(a: Segment, b: Segment) -> bool:
    return a.start < b.end and b.start < a.end


@dataclass(frozen=True)
class PaletteVoice:
    """One of an engine's fixed voices, with the median pitch it speaks at where known."""

    name: str
    pitch_hz: float | None = None


@dataclass(frozen=True)
class VoiceChoice:
    """The voice a speaker gets, and why: their pitch, or a pin."""

    speaker: str
    voice: str
    pitch_hz: float | None
    pinned: bool

    def describe(self) -> dict[str, str | float | bool | None]:
        return {"voice": self.voice, "source_pitch_hz": self.pitch_hz, "pinned": self.pinned}


def assign_voices(
    pitches: Mapping[str, float | None],
    palette: Sequence[PaletteVoice],
    pins: Mapping[str, str] | None = None,
) -> dict[str, VoiceChoice]:
    """A distinct voice per speaker, fitting their pitch: speakers go from the lowest median F0
    up, each taking the free palette voice nearest its pitch (on a log scale) above the voice the
    speaker below it took, so a lower source voice always gets a lower dub voice. Pinned speakers
    keep their pin (an unknown voice name is a VALIDATION error naming the choices); speakers
    with no measurable pitch come last, in name order. More speakers than voices reuse voices.
    The same pitches give the same voices: re-runs and renames keep every clip."""
    pins = dict(pins or {})
    names = [v.name for v in palette]
    if unknown := sorted({v for s, v in pins.items() if s in pitches and v not in names}):
        raise validation_error(f"no voice {unknown} in this engine's voices {names}")
    chosen = {s: VoiceChoice(s, pins[s], pitches[s], pinned=True) for s in pitches if s in pins}
    free = [i for i, v in enumerate(palette) if v.name not in {c.voice for c in chosen.values()}]
    free = free or list(range(len(palette)))
    known = [v.pitch_hz for v in palette if v.pitch_hz]
    middle = math.exp(sum(map(math.log, known)) / len(known)) if known else None
    order = sorted(
        (s for s in pitches if s not in chosen),
        key=lambda s: (pitches[s] is None, pitches[s] or 0.0, s),
    )
    floor = -1
    for speaker in order:
        if not free:
            free = list(range(len(palette)))  # more speakers than voices: reuse
            floor = -1
        pitch = pitches[speaker] or middle
        above = [i for i in free if i > floor] or free
        best = min(above, key=lambda i: _distance(palette[i], pitch, i - floor))
        chosen[speaker] = VoiceChoice(speaker, palette[best].name, pitches[speaker], pinned=False)
        free.remove(best)
        floor = best
    return chosen


def _distance(voice: PaletteVoice, pitch: float | None, steps: int) -> float:
    """How far a voice is from a pitch; without pitches, how many palette steps away."""
    if voice.pitch_hz and pitch:
        return abs(math.log(voice.pitch_hz / pitch))
    return float(steps)
