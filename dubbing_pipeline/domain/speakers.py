"""Who speaks when: a diarizer's turns laid onto the recognised words, and the reviewer's speaker
edits (rename, merge, move a segment).

A diarizer's labels mean nothing to a person and change from run to run, so speakers are named
``S1..Sn`` in the order they first speak in the transcript. Where two turns overlap, the words go
to the dominant speaker (the one whose turn is longer), and the overlap is counted.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import groupby, pairwise

from pydantic import BaseModel, ConfigDict, Field

from dubbing_pipeline.domain.errors import validation_error
from dubbing_pipeline.domain.segments import Segment, Word

_NAME = re.compile(r"^[\w][\w .'-]{0,39}$")  # letters of any script, digits, a few separators
NO_SPACE_SCRIPTS = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\u0e00-\u0e7f]")


@dataclass(frozen=True)
class Turn:
    """A stretch of time one speaker talks, labelled as the diarizer labels it."""

    start: float
    end: float
    speaker: str

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Diarization:
    """A diarizer's answer: turns in time order, possibly overlapping, and how it was made."""

    turns: list[Turn]
    engine: dict[str, str | int | float | bool] = field(default_factory=dict)


@dataclass(frozen=True)
class Attribution:
    """The transcript with speakers, and the figures the STT stage reports about them."""

    segments: list[Segment]
    speakers: list[str]
    overlap_s: float
    overlaps: int
    words_in_overlap: int


def resolve_overlaps(turns: Iterable[Turn]) -> tuple[list[Turn], float, int]:
    """Turns that never overlap: where two overlap, the dominant speaker (the longer turn) keeps
    the time. Returns them, the overlapped seconds and the number of overlapping stretches."""
    ordered = sorted((t for t in turns if t.end > t.start), key=lambda t: (t.start, t.end))
    cuts = sorted({x for t in ordered for x in (t.start, t.end)})
    pieces: list[Turn] = []
    overlap_s, overlaps, inside = 0.0, 0, False
    live: list[Turn] = []
    upcoming = iter(ordered)
    following = next(upcoming, None)
    for a, b in pairwise(cuts):  # a sweep: turns enter at their start
        while following is not None and following.start <= a:
            live.append(following)
            following = next(upcoming, None)
        live = [t for t in live if t.end >= b]
        if not live:
            inside = False
            continue
        if len({t.speaker for t in live}) > 1:
            overlap_s += b - a
            overlaps += not inside
            inside = True
        else:
            inside = False
        dominant = max(live, key=lambda t: (t.seconds, -t.start))
        pieces.append(Turn(a, b, dominant.speaker))
    merged = [
        Turn(run[0].start, run[-1].end, speaker)
        for speaker, group in groupby(pieces, key=lambda t: t.speaker)
        for run in _contiguous(list(group))
    ]
    return merged, round(overlap_s, 3), overlaps


def attribute(segments: Sequence[Segment], diarization: Diarization) -> Attribution:
    """Each word (and each segment without words) gets the speaker it overlaps most; segments are
    split where the speaker changes; speakers are renamed S1..Sn by first appearance."""
    raw = diarization.turns
    turns, overlap_s, overlaps = resolve_overlaps(raw)
    contested = list(_overlapping_spans(raw))
    if not turns:
        named = [s.model_copy(update={"speaker": "S1"}) for s in segments]
        return Attribution(_renumbered(named), ["S1"] if named else [], overlap_s, overlaps, 0)
    starts = [t.start for t in turns]
    labelled: list[Segment] = []
    in_overlap = 0
    for segment in segments:
        if segment.words:
            words = [
                w.model_copy(update={"speaker": _speaker_of(w, turns, starts)})
                for w in segment.words
            ]
            in_overlap += sum(any(_overlap(w, a, b) > 0 for a, b in contested) for w in words)
            labelled.append(segment.model_copy(update={"words": words}))
        else:
            speaker = _speaker_of(segment, turns, starts)
            labelled.append(segment.model_copy(update={"speaker": speaker}))
    split = split_at_speaker_changes(labelled)
    names = _first_appearance(split)
    renamed = [_renamed(s, names) for s in split]
    return Attribution(_renumbered(renamed), list(names.values()), overlap_s, overlaps, in_overlap)


def split_at_speaker_changes(segments: Sequence[Segment]) -> list[Segment]:
    """Segments that never span a speaker change: a segment whose words change speaker becomes
    one segment per run of words, each saying its words and timed by them. A segment's speaker
    is its words' speaker. Ids are kept for unsplit segments; renumber afterwards."""
    out: list[Segment] = []
    for segment in segments:
        if not segment.words or all(w.speaker is None for w in segment.words):
            out.append(segment)
            continue
        runs = [list(g) for _, g in groupby(segment.words, key=lambda w: w.speaker)]
        if len(runs) == 1:
            out.append(segment.model_copy(update={"speaker": runs[0][0].speaker or "S1"}))
            continue
        joiner = "" if NO_SPACE_SCRIPTS.search(segment.text) else " "
        for i, words in enumerate(runs):
            out.append(
                segment.model_copy(
                    update={
                        "start": segment.start if i == 0 else words[0].start,
                        "end": segment.end if i == len(runs) - 1 else words[-1].end,
                        "text": joiner.join(w.text for w in words),
                        "speaker": words[0].speaker or "S1",
                        "confidence": words_confidence(words, segment.confidence),
                        "words": words,
                    }
                )
            )
    return out


def words_confidence(words: Sequence[Word], fallback: float | None = None) -> float | None:
    """The geometric mean of the words' probabilities (how STT scores a segment)."""
    probabilities = [w.probability for w in words if w.probability is not None]
    if not probabilities:
        return fallback
    mean_log = sum(math.log(max(p, 1e-6)) for p in probabilities) / len(probabilities)
    return round(min(1.0, math.exp(mean_log)), 4)


class SpeakerEdits(BaseModel):
    """A reviewer's corrections of who speaks. Every name refers to the reviewed transcript's
    speakers; renames apply last, so ``merge={"S3": "S1"}, rename={"S1": "Ana"}`` gives Ana all of
    S1's and S3's segments."""

    model_config = ConfigDict(extra="forbid")

    rename: dict[str, str] = Field(default_factory=dict, description="New name by speaker.")
    merge: dict[str, str] = Field(
        default_factory=dict, description="Speaker -> the speaker it is merged into."
    )
    move: dict[int, str] = Field(
        default_factory=dict, description="Segment id -> the speaker who says it."
    )

    def __bool__(self) -> bool:
        return bool(self.rename or self.merge or self.move)

    def origin(self, name: str) -> str:
        """The reviewed transcript's name of the speaker now called ``name``."""
        return next((old for old, new in self.rename.items() if new == name), name)


def apply_speaker_edits(segments: Sequence[Segment], edits: SpeakerEdits) -> list[Segment]:
    """The segments with the reviewer's speaker edits; bad edits are VALIDATION errors naming
    what is wrong (an unknown speaker or segment, a chain of merges, a rename onto a speaker)."""
    known = {s.speaker for s in segments}
    ids = {s.id for s in segments}
    for name in [*edits.rename.values(), *edits.merge.values(), *edits.move.values()]:
        _check_name(name)
    unknown = sorted((set(edits.rename) | set(edits.merge)) - known)
    if unknown:
        raise validation_error(
            f"no speaker {unknown} in the transcript (speakers: {sorted(known)})"
        )
    if missing := sorted(set(edits.move) - ids):
        raise validation_error(f"no segment with id {missing} in the transcript")
    if bad := sorted(t for t in edits.merge.values() if t not in known or t in edits.merge):
        raise validation_error(f"cannot merge into {bad}: not a speaker that stays")
    if any(target == source for source, target in edits.merge.items()):
        raise validation_error("a speaker cannot be merged into itself")
    renamed = set(edits.rename.values())
    if len(renamed) != len(edits.rename) or renamed & (known - set(edits.rename)):
        raise validation_error("a rename must give a new, unused name (to join two, merge them)")
    if set(edits.rename) & set(edits.merge):
        raise validation_error("a merged speaker disappears: rename the one it is merged into")

    def speaker(segment: Segment) -> str:
        name = edits.move.get(segment.id, segment.speaker)
        name = edits.merge.get(name, name)
        return edits.rename.get(name, name)

    return [_relabelled(s, speaker(s)) for s in segments]


def speakers_in_order(segments: Iterable[Segment]) -> list[str]:
    """Distinct speakers in order of first appearance."""
    return list(dict.fromkeys(s.speaker for s in segments))


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise validation_error(
            f"speaker name {name!r}: 1-40 letters, digits, spaces or . ' - (starting with a "
            "letter or digit)"
        )


def _relabelled(segment: Segment, speaker: str) -> Segment:
    if speaker == segment.speaker:
        return segment
    words = [w.model_copy(update={"speaker": speaker}) for w in segment.words or []]
    return segment.model_copy(update={"speaker": speaker, "words": words or segment.words})


def _speaker_of(span: Word | Segment, turns: Sequence[Turn], starts: Sequence[float]) -> str:
    """The turn ``span`` overlaps most; with no overlap (speech the diarizer missed) the nearest.
    ``turns`` never overlap and are in time order, so only the turns around ``span`` count."""
    last = bisect_left(starts, span.end)  # the turns starting before it ends
    first = last
    while first > 0 and turns[first - 1].end > span.start:
        first -= 1
    near = turns[max(0, first - 1) : last + 1]
    best = max(near, key=lambda t: _overlap(span, t.start, t.end))
    if _overlap(span, best.start, best.end) > 0:
        return best.speaker
    middle = (span.start + span.end) / 2
    return min(near, key=lambda t: max(t.start - middle, middle - t.end, 0.0)).speaker


def _overlap(span: Word | Segment, start: float, end: float) -> float:
    return min(span.end, end) - max(span.start, start)


def _overlapping_spans(turns: Sequence[Turn]) -> Iterable[tuple[float, float]]:
    ordered = sorted(turns, key=lambda t: t.start)
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            if b.start >= a.end:
                break
            if a.speaker != b.speaker:
                yield b.start, min(a.end, b.end)


def _contiguous(turns: list[Turn]) -> Iterable[list[Turn]]:
    """Runs of turns that touch (a gap splits a run)."""
    run: list[Turn] = []
    for turn in turns:
        if run and turn.start > run[-1].end + 1e-9:
            yield run
            run = []
        run.append(turn)
    if run:
        yield run


def _first_appearance(segments: Sequence[Segment]) -> dict[str, str]:
    """Diarizer label -> S1..Sn in the order each first speaks."""
    order = speakers_in_order(segments)
    return {label: f"S{i}" for i, label in enumerate(order, start=1)}


def _renamed(segment: Segment, names: dict[str, str]) -> Segment:
    words = [
        w.model_copy(update={"speaker": names.get(w.speaker, w.speaker) if w.speaker else None})
        for w in segment.words or []
    ]
    return segment.model_copy(
        update={"speaker": names.get(segment.speaker, segment.speaker), "words": words or None}
    )


def _renumbered(segments: Sequence[Segment]) -> list[Segment]:
    return [s.model_copy(update={"id": i}) for i, s in enumerate(segments)]
