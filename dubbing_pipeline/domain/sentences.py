"""Sentence segments: the engine's word-timed speech regrouped so that each segment is a sentence.

Whisper cuts its segments by its own timing, not by sentences: "...how much there might be
prudently in his power" / "to do for them." (0.84 s). MT then translates fragments, subtitles
break mid-sentence and TTS crams a 0.3 s slot. So, after recognition and before review, the words
are regrouped by these rules, in this order:

1. a segment never spans a speaker change (the words' ``speaker`` where diarization ran, else
   their segment's), nor a pause longer than ``max_pause_s``;
2. it ends after a word that ends a sentence (``. ? ! …``, the CJK full stop ``。``, full-width
   ! and ?, closing quotes allowed after), except a known abbreviation or an initial ("Mr.",
   "J."); a Spanish ``¿`` or ``¡`` opens a new one unless the word before ends a clause
   ("Si vienes, ¿me llamas?");
3. consecutive sentences of one speaker share a segment while it stays within ``join_seconds``
   (they share their pauses: the dub gets slack a lone short sentence does not have);
4. a sentence over ``max_seconds`` or ``max_words`` splits where a full stop was probably left
   out (a capital after an unpunctuated word), else at clause punctuation (``, ; : —``, ``、``,
   the full-width comma), else at the longest pause; into pieces of at least three words where
   it can, the most balanced such split first, until every piece fits.

Word timings place every boundary. Segments without word timings (an engine that has none) are
kept as the engine made them.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from pydantic import BaseModel, Field

from dubbing_pipeline.domain import languages
from dubbing_pipeline.domain.segments import Segment, Word

# . ? ! and the ellipsis; CJK full stop, full-width ! ? and full stop, halfwidth ideographic full
# stop; Arabic question mark and full stop; Devanagari danda and double danda.
SENTENCE_ENDS = frozenset(".?!\u2026\u3002\uff01\uff1f\uff0e\uff61\u061f\u06d4\u0964\u0965")
# , ; : em and en dash; ideographic comma, full-width comma, semicolon and colon; Arabic comma and
# semicolon.
CLAUSE_ENDS = frozenset(",;:\u2014\u2013\u3001\uff0c\uff1b\uff1a\u060c\u061b")
# Closing quotes and brackets that may follow a sentence's end, Latin and CJK.
CLOSERS = "\"')]}\u201d\u2019\u00bb\u203a\u300d\u300f\u3011\uff09"
OPENERS = frozenset("¿¡")
MIN_PIECE_WORDS = 3  # a cap split leaves no fragment shorter than this where it can
PAUSE_RESOLUTION_S = 0.1  # gaps closer than this are the same pause (timing noise)
# Words ending in '.' that do not end a sentence, lower case, by language.
ABBREVIATIONS = {
    "en": {"mr.", "mrs.", "ms.", "dr.", "prof.", "st.", "vs.", "mt.", "jr.", "sr.", "no."},
    "es": {"sr.", "sra.", "srta.", "dr.", "dra.", "ud.", "uds.", "lic.", "prof.", "núm."},
    "fr": {"m.", "mme.", "mlle.", "dr.", "pr.", "st.", "ste."},
    "de": {"hr.", "fr.", "dr.", "prof.", "nr.", "bzw.", "ca.", "vgl."},
    "it": {"sig.", "dott.", "prof.", "ing."},
    "pt": {"sr.", "sra.", "dr.", "dra.", "prof."},
}
DOTTED = re.compile(r"^(?:\w\.)+$")  # initials and dotted abbreviations: "J.", "e.g.", "U.S."


class SentenceRules(BaseModel):
    """How speech is cut into segments (the STT stage's run config extends this)."""

    regroup: bool = Field(
        default=True, description="Regroup the words into sentences; False keeps the engine's"
    )
    max_pause_s: float = Field(
        default=1.5, gt=0, description="A pause longer than this always ends a segment"
    )
    max_seconds: float = Field(
        default=15.0, gt=0, description="Longer sentences split at a clause or the longest pause"
    )
    max_words: int = Field(default=40, ge=1, description="Sentences with more words split too")
    join_seconds: float = Field(
        default=6.0,
        ge=0,
        description="Consecutive sentences of one speaker share a segment while it stays this "
        "short: they share their pauses, which gives the dub slack (0: a sentence a segment)",
    )


@dataclass(frozen=True)
class Regrouped:
    segments: list[Segment]
    cap_splits: int  # boundaries placed only because a sentence was over the cap

    def figures(self, engine_segments: Sequence[Segment]) -> dict[str, int]:
        """What an auditor compares: the engine's segments against the sentences made of them."""
        return {
            "engine_segments": len(engine_segments),
            "sentence_segments": len(self.segments),
            "cap_splits": self.cap_splits,
            "segments_without_words": sum(not s.words for s in engine_segments),
        }


@dataclass(frozen=True)
class _Timed:
    """A word with the speaker it counts for."""

    word: Word
    speaker: str


def sentence_segments(
    segments: Sequence[Segment], language: str, rules: SentenceRules | None = None
) -> Regrouped:
    """The segments regrouped into sentences by the module's rules, ids renumbered from 0."""
    rules = rules or SentenceRules()
    if not rules.regroup:
        return Regrouped(_renumbered(list(segments)), 0)
    language = languages.base(language)
    out: list[Segment] = []
    run: list[_Timed] = []
    splits = 0
    for segment in [*segments, None]:
        if segment is not None and segment.words:
            run += [_Timed(w, w.speaker or segment.speaker) for w in segment.words]
            continue
        for line in _joined(_sentences(run, language, rules.max_pause_s), rules):
            pieces = _fit(line, rules)
            splits += len(pieces) - 1
            out += [_segment(piece, language) for piece in pieces]
        run = []
        if segment is not None:  # no word timings: kept as the engine made it
            out.append(segment)
    return Regrouped(_renumbered(out), splits)


def word_confidence(words: Sequence[Word]) -> float | None:
    """The geometric mean of the words' probabilities: a segment is as sure as its words."""
    probabilities = [w.probability for w in words if w.probability is not None]
    if not probabilities:
        return None
    logprob = sum(math.log(max(p, 1e-6)) for p in probabilities) / len(probabilities)
    return round(min(1.0, math.exp(logprob)), 4)


def ends_sentence(text: str, language: str) -> bool:
    core = text.rstrip(CLOSERS)
    if not core or core[-1] not in SENTENCE_ENDS:
        return False
    if core[-1] != ".":
        return True
    lowered = core.lower()
    if lowered in ABBREVIATIONS.get(language, ()) or (DOTTED.match(core) and len(core) <= 4):
        return False  # "Mr.", "J.", "e.g."; a longer dotted run ("U.S.A.") may end one
    return not (language == "de" and core[:-1].isdigit())  # "am 3. Mai": an ordinal


def ends_clause(text: str) -> bool:
    core = text.rstrip(CLOSERS)
    return bool(core) and core[-1] in CLAUSE_ENDS


def _sentences(words: list[_Timed], language: str, max_pause_s: float) -> list[list[_Timed]]:
    sentences: list[list[_Timed]] = []
    current: list[_Timed] = []
    for i, timed in enumerate(words):
        if current and _boundary_before(words, i, language, max_pause_s):
            sentences.append(current)
            current = []
        current.append(timed)
    return [*sentences, current] if current else sentences


def _boundary_before(words: list[_Timed], i: int, language: str, max_pause_s: float) -> bool:
    before, word = words[i - 1], words[i]
    return (
        before.speaker != word.speaker
        or word.word.start - before.word.end > max_pause_s
        or ends_sentence(before.word.text, language)
        or (word.word.text[:1] in OPENERS and not ends_clause(before.word.text))
    )


def _joined(sentences: list[list[_Timed]], rules: SentenceRules) -> list[list[_Timed]]:
    """Consecutive whole sentences of one speaker, with no long pause between them, together
    while they stay within ``join_seconds`` (and the caps)."""
    limit = min(rules.join_seconds, rules.max_seconds)
    lines: list[list[_Timed]] = []
    for sentence in sentences:
        line = lines[-1] if lines else None
        if (
            line is not None
            and line[-1].speaker == sentence[0].speaker
            and sentence[0].word.start - line[-1].word.end <= rules.max_pause_s
            and sentence[-1].word.end - line[0].word.start <= limit
            and len(line) + len(sentence) <= rules.max_words
        ):
            line += sentence
        else:
            lines.append(list(sentence))
    return lines


def _fit(piece: list[_Timed], rules: SentenceRules) -> list[list[_Timed]]:
    """The piece, or its halves split at the best place, until each is within the cap."""
    if len(piece) == 1 or (len(piece) <= rules.max_words and _seconds(piece) <= rules.max_seconds):
        return [piece]  # one word over the cap (a long hum) cannot be split
    k = _split_point(piece)
    return _fit(piece[:k], rules) + _fit(piece[k:], rules)


def _split_point(piece: list[_Timed]) -> int:
    """Where an over-long sentence splits: at a probable unmarked sentence start, else after
    clause punctuation (the most balanced such place), else at the longest pause (the most
    balanced of equal ones); never leaving a piece under MIN_PIECE_WORDS where another place
    exists."""
    n = len(piece)
    places = [k for k in range(1, n) if min(k, n - k) >= MIN_PIECE_WORDS] or list(range(1, n))

    def imbalance(k: int) -> float:
        return abs(_seconds(piece[:k]) - _seconds(piece[k:]))

    pauses = _pauses([t.word for t in piece])

    def pause(k: int) -> int:
        return round(pauses[k] / PAUSE_RESOLUTION_S)

    for marked in (_unmarked_sentence_start, _after_clause):
        found = [k for k in places if marked(piece[k - 1].word.text, piece[k].word.text)]
        if found:
            return min(found, key=lambda k: (imbalance(k), -pause(k)))
    return max(places, key=lambda k: (pause(k), -imbalance(k)))


def _pauses(words: list[Word]) -> list[float]:
    """The pause before each word (none before the first). Whisper's word timings seldom show a
    gap: a pause is folded into the start of the word after it, which then lasts longer than its
    letters need. So a pause is the gap plus that excess, at the piece's median pace per letter.
    (On a real reading, the pauses at the text's commas came out at 0.4-0.6 s this way and the
    gaps between them at 0.0.)"""
    pace = statistics.median((w.end - w.start) / _letters(w.text) for w in words)
    return [0.0] + [
        max(0.0, b.start - a.end) + max(0.0, b.end - b.start - pace * _letters(b.text))
        for a, b in pairwise(words)
    ]


def _letters(text: str) -> int:
    return max(1, sum(c.isalnum() for c in text))


def _unmarked_sentence_start(before: str, word: str) -> bool:
    """A capital after a word with no punctuation at all: a full stop the engine left out
    (Whisper often drops it where its own segment ends). Too weak to end a sentence by itself:
    Whisper also capitalises whatever starts its segments, mid-sentence or not."""
    core = before.rstrip(CLOSERS)
    return bool(core) and core[-1].isalnum() and word[:1].isupper() and word.split("'")[0] != "I"


def _after_clause(before: str, _: str) -> bool:
    return ends_clause(before)


def _seconds(piece: list[_Timed]) -> float:
    return max(0.0, piece[-1].word.end - piece[0].word.start)


def _segment(piece: list[_Timed], language: str) -> Segment:
    words = [t.word for t in piece]
    joiner = "" if language in languages.NO_SPACES else " "
    return Segment(
        id=0,  # renumbered with the rest
        start=words[0].start,
        end=max(words[0].start, max(w.end for w in words)),
        text=joiner.join(w.text for w in words),
        confidence=word_confidence(words),
        speaker=piece[0].speaker,
        words=words,
    )


def _renumbered(segments: list[Segment]) -> list[Segment]:
    """Ids in order from 0; a start never before the previous one (word timings can jitter
    across the engine's own segments), so the document stays in time order."""
    out: list[Segment] = []
    for i, segment in enumerate(segments):
        start = max(segment.start, out[-1].start) if out else segment.start
        out.append(
            segment.model_copy(update={"id": i, "start": start, "end": max(segment.end, start)})
        )
    return out
