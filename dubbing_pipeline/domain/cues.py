"""Subtitle cues: each segment (a sentence) shown in pieces a viewer can read.

Segments are whole sentences, which can be longer than a subtitle should be. Only the subtitle
writer splits them, never the dub: a cue has at most ``MAX_LINES`` lines of at most
``line_chars(language)`` characters (42 for Latin scripts, 16 for CJK, as broadcasters' style
guides set them). A longer sentence becomes several consecutive cues, each cut after punctuation
where it can and of balanced length; they are timed by the words' timings where the segment has
them, else in proportion to their characters. Lines inside a cue are balanced too.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Protocol

from dubbing_pipeline.domain import languages

MAX_LINES = 2
LINE_CHARS = 42
CJK_LINE_CHARS = 16
PUNCTUATION = frozenset(",.;:!?\u2026\u3001\u3002\uff0c\uff01\uff1f\uff1b\uff1a")
CLOSERS = "\"')]}\u201d\u2019\u00bb"


class Word(Protocol):
    """A timed word (``segments.Word``): what a cue boundary is placed at."""

    @property
    def start(self) -> float: ...
    @property
    def text(self) -> str: ...


class Segment(Protocol):
    """What a cue is cut from (``segments.Segment``, whose writers use this module)."""

    @property
    def start(self) -> float: ...
    @property
    def end(self) -> float: ...
    @property
    def text(self) -> str: ...
    @property
    def words(self) -> Sequence[Word] | None: ...


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str  # lines joined with "\n"


def line_chars(language: str) -> int:
    return CJK_LINE_CHARS if languages.base(language) in languages.NO_SPACES else LINE_CHARS


def segment_cues(segment: Segment, language: str) -> list[Cue]:
    """The cues that show ``segment``: one if it fits, else consecutive ones covering its time."""
    width = line_chars(language)
    lines = [line.strip() for line in segment.text.splitlines() if line.strip()]
    if not lines:
        return []
    if len(lines) <= MAX_LINES and all(len(line) <= width for line in lines):
        return [Cue(segment.start, segment.end, "\n".join(lines))]  # fits as written
    joiner = "" if languages.base(language) in languages.NO_SPACES else " "
    tokens, words = _tokens(segment, joiner)
    chunks = _chunks(tokens, joiner, width)
    times = _times(segment, chunks, words, joiner)
    return [
        Cue(start, end, "\n".join(_lines(joiner.join(chunk), joiner, width)))
        for chunk, (start, end) in zip(chunks, times, strict=True)
    ]


def _tokens(segment: Segment, joiner: str) -> tuple[list[str], Sequence[Word] | None]:
    """The units a cue may break between: the timed words where the segment has them, else its
    words (characters, for scripts without spaces)."""
    if segment.words:
        return [w.text for w in segment.words], segment.words
    text = " ".join(segment.text.split())
    return (list(text.replace(" ", "")) if joiner == "" else text.split()), None


def _fits(tokens: Sequence[str], joiner: str, width: int) -> bool:
    return len(_wrap(joiner.join(tokens), joiner, width)) <= MAX_LINES


def _wrap(text: str, joiner: str, width: int) -> list[str]:
    if joiner != "":
        return textwrap.wrap(text, width, break_long_words=False) or [""]
    lines: list[str] = []  # no spaces: any character may start a line, but no punctuation
    for char in text:
        if lines and (len(lines[-1]) < width or char in PUNCTUATION or char in CLOSERS):
            lines[-1] += char
        else:
            lines.append(char)
    return lines or [""]


def _chunks(tokens: list[str], joiner: str, width: int) -> list[list[str]]:
    """Consecutive runs of tokens that each fit a cue: as few as can be, of balanced length, each
    cut after punctuation where one is near the balanced place."""
    if _fits(tokens, joiner, width) or len(tokens) == 1:
        return [tokens]
    total = len(joiner.join(tokens))
    target = total / math.ceil(total / (width * MAX_LINES * 0.9))  # balanced cue length
    fitting = [k for k in range(1, len(tokens)) if _fits(tokens[:k], joiner, width)] or [1]

    def score(k: int) -> float:
        off_target = abs(len(joiner.join(tokens[:k])) - target) / target
        return off_target - (0.3 if tokens[k - 1].rstrip(CLOSERS)[-1:] in PUNCTUATION else 0)

    k = min(fitting, key=score)
    return [tokens[:k], *_chunks(tokens[k:], joiner, width)]


def _lines(text: str, joiner: str, width: int) -> list[str]:
    """The cue's text in as few lines as it needs, of balanced length (the narrowest wrap that
    still needs no more lines)."""
    lines = _wrap(text, joiner, width)
    for narrower in range(width - 1, 0, -1):
        wrapped = _wrap(text, joiner, narrower)
        if len(wrapped) > len(lines):
            break
        lines = wrapped
    return lines


def _times(
    segment: Segment, chunks: list[list[str]], words: Sequence[Word] | None, joiner: str
) -> list[tuple[float, float]]:
    """(start, end) of each chunk's cue: consecutive, from the segment's start to its end; each
    boundary at the next chunk's first word where words are timed, else placed in proportion to
    the characters shown."""
    bounds = [segment.start]
    if words is not None:
        index = 0
        for chunk in chunks[:-1]:
            index += len(chunk)
            bounds.append(min(segment.end, max(bounds[-1], words[index].start)))
    else:
        sizes = [len(joiner.join(chunk)) for chunk in chunks]
        total, done = sum(sizes), 0
        for size in sizes[:-1]:
            done += size
            bounds.append(segment.start + (segment.end - segment.start) * done / total)
    bounds.append(segment.end)
    return [(round(a, 3), round(b, 3)) for a, b in pairwise(bounds)]
