"""The transcript's and the translation's checks: pure functions of the segments and what the
stage measured (the language heard, the speech found), each an ``Outcome``."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from itertools import pairwise

from dubbing_pipeline.domain import function_words, languages
from dubbing_pipeline.domain.background import Span
from dubbing_pipeline.domain.checks import CheckThresholds, Failing, Outcome, verdict, words
from dubbing_pipeline.domain.segments import Segment, SegmentDoc

TRANSCRIPT_CHECKS = {
    "language": "The language heard matches the project's source language (or is trusted when "
    "the project says auto). ERROR: the transcript is of another language than declared.",
    "confidence": "The share of words the recogniser was unsure of (probability under the "
    "threshold). WARN: the segments with the most doubtful words are named.",
    "segments": "No empty segment (ERROR) and no two segments overlapping (WARN).",
    "speech_coverage": "How much of the speech a voice activity detector found in the source "
    "the segments cover. WARN: speech left out of the transcript (gaps named).",
}
TRANSLATION_CHECKS = {
    "translated": "Every segment was translated: none is the source text again, unless it is "
    "only names or numbers. ERROR: the untranslated segments.",
    "untranslated_words": "Words left in the source language (function words of the source "
    "that the target does not have). ERROR: a segment mostly in the source language.",
    "length_ratio": "Each segment's length against its source (characters): far shorter is a "
    "sign of truncation, far longer of hallucination. WARN.",
    "target_language": "The translated text is in the target language, by a language "
    "identifier (py3langid, 114 languages). ERROR: segments detected as the source language.",
}


@dataclass(frozen=True)
class LanguageId:
    """A text language identifier (``infra.language_id``): the languages it knows, and a text's
    language or None where it cannot say."""

    known: Collection[str]
    detect: Callable[[str], str | None]


def transcript_outcomes(
    doc: SegmentDoc,
    declared: str,
    heard: tuple[str, float] | None,
    speech: Sequence[Span] | None,
    limits: CheckThresholds,
) -> list[Outcome]:
    """``declared`` is the project's source language (or auto); ``heard`` is what a language
    identifier found in the audio (language, probability); ``speech`` the detected speech."""
    return [
        language_outcome(doc.language, declared, heard, limits),
        confidence_outcome(doc.segments, limits),
        segments_outcome(doc.segments, limits),
        coverage_outcome(doc.segments, speech, limits),
    ]


def language_outcome(
    transcribed: str,
    declared: str,
    heard: tuple[str, float] | None,
    limits: CheckThresholds,
) -> Outcome:
    figures: dict[str, float | int | str | bool] = {
        "declared": declared,
        "transcribed": transcribed,
    }
    if heard is None:
        return Outcome("language", True, "ERROR", "no language identifier: not judged", [], figures)
    language, probability = heard
    figures |= {"heard": language, "probability": round(probability, 3)}
    expected = transcribed if declared == languages.AUTO else languages.base(declared)
    trusted = probability >= limits.language_min_probability
    if declared == languages.AUTO:
        failing = (
            [] if trusted else [Failing("audio", probability, limits.language_min_probability)]
        )
        return verdict(
            "language",
            failing,
            summary=f"detected {language} with low probability {probability:.2f}",
            figures=figures,
        )
    wrong = trusted and language != expected
    return verdict(
        "language",
        [],
        error=[Failing("audio", language, expected, f"(p={probability:.2f})")] if wrong else [],
        summary=f"the speech is {language} (p={probability:.2f}) but the project says {expected}",
        figures=figures,
    )


def confidence_outcome(segments: Sequence[Segment], limits: CheckThresholds) -> Outcome:
    doubtful: list[Failing] = []
    total = low = 0
    for s in segments:
        probabilities = [w.probability for w in s.words or [] if w.probability is not None]
        if not probabilities and s.confidence is not None:
            probabilities = [s.confidence] * max(1, len(s.text.split()))
        below = sum(p < limits.low_confidence for p in probabilities)
        total, low = total + len(probabilities), low + below
        if probabilities and below / len(probabilities) > limits.low_confidence_share:
            doubtful.append(Failing(s.id, below / len(probabilities), limits.low_confidence_share))
    share = low / total if total else 0.0
    failing = doubtful if share > limits.low_confidence_share else []
    return verdict(
        "confidence",
        failing,
        summary=f"{share:.0%} of the words are below {limits.low_confidence:.2f} confidence",
        figures={"low_confidence_share": round(share, 3), "words": total},
    )


def segments_outcome(segments: Sequence[Segment], limits: CheckThresholds) -> Outcome:
    empty = [Failing(s.id, "empty", "text") for s in segments if not words(s.text)]
    overlapping = [
        Failing(b.id, a.end - b.start, limits.overlap_s, f"(overlaps segment {a.id})")
        for a, b in pairwise(segments)
        if a.end - b.start > limits.overlap_s
    ]
    return verdict(
        "segments",
        overlapping,
        error=empty,
        summary=f"{len(empty)} empty, {len(overlapping)} overlapping segment(s)",
        figures={"segments": len(segments)},
    )


def coverage_outcome(
    segments: Sequence[Segment], speech: Sequence[Span] | None, limits: CheckThresholds
) -> Outcome:
    if speech is None:
        return Outcome("speech_coverage", True, "WARN", "no speech detector: not judged")
    spoken = sum(s.end - s.start for s in speech)
    covered = sum(min(span.end - span.start, _overlap(span, segments)) for span in speech)
    share = covered / spoken if spoken else 1.0
    gaps = [
        Failing(f"{span.start:.1f}-{span.end:.1f}s", span.end - span.start, 0.0, "(not covered)")
        for span in speech
        if span.end - span.start >= 1.0 and _overlap(span, segments) == 0.0
    ]
    failing = gaps or [Failing("all", share, limits.min_speech_coverage)]
    return verdict(
        "speech_coverage",
        failing if share < limits.min_speech_coverage else [],
        summary=f"the segments cover {share:.0%} of the detected speech",
        figures={"speech_s": round(spoken, 2), "covered_s": round(covered, 2)},
    )


def _overlap(span: Span, segments: Sequence[Segment]) -> float:
    return sum(max(0.0, min(span.end, s.end) - max(span.start, s.start)) for s in segments)


# -- translation ----------------------------------------------------------------------------


def translation_outcomes(
    source: SegmentDoc, target: SegmentDoc, limits: CheckThresholds, identify: LanguageId
) -> list[Outcome]:
    pairs = list(zip(source.segments, target.segments, strict=True))
    return [
        translated_outcome(pairs),
        untranslated_words_outcome(pairs, source.language, target.language, limits),
        length_ratio_outcome(pairs, limits),
        target_language_outcome(target, source.language, identify),
    ]


def _names_or_numbers(text: str) -> bool:
    """A segment that is only names or numbers ("Paris.", "1984", "Anna Karenina") may stay."""
    tokens = text.replace(",", " ").replace(".", " ").split()
    return all(t[:1].isupper() or any(c.isdigit() for c in t) for t in tokens)


def translated_outcome(pairs: Sequence[tuple[Segment, Segment]]) -> Outcome:
    same = [
        Failing(t.id, "identical", "translated", f"({t.text[:60]!r})")
        for s, t in pairs
        if words(s.text) == words(t.text) and words(s.text) and not _names_or_numbers(s.text)
    ]
    return verdict(
        "translated",
        [],
        error=same,
        summary=f"{len(same)} segment(s) are their source text again",
        figures={"segments": len(pairs)},
    )


def untranslated_words_outcome(
    pairs: Sequence[tuple[Segment, Segment]], source: str, target: str, limits: CheckThresholds
) -> Outcome:
    known = {source, target} <= function_words.KNOWN
    warn: list[Failing] = []
    error: list[Failing] = []
    left = 0
    for _, t in pairs if known else []:
        tokens = words(t.text)
        kept = function_words.only_in(source, target, tokens)
        left += len(kept)
        if not kept:
            continue
        share = len(kept) / len(tokens)
        item = Failing(t.id, share, limits.untranslated_share, f"({' '.join(kept[:6])})")
        (error if share >= limits.untranslated_share and len(kept) >= 2 else warn).append(item)
    return verdict(
        "untranslated_words",
        warn,
        error=error,
        summary=f"{left} {source} word(s) left in the {target} text",
        figures={"judged": known, "words_left": left},
    )


def length_ratio_outcome(
    pairs: Sequence[tuple[Segment, Segment]], limits: CheckThresholds
) -> Outcome:
    failing = []
    for s, t in pairs:
        if len(s.text) < 10:
            continue  # "Yes." -> "Sí." says nothing
        ratio = len(t.text) / len(s.text)
        if ratio < limits.length_ratio_min:
            failing.append(Failing(t.id, ratio, limits.length_ratio_min, "(too short)"))
        elif ratio > limits.length_ratio_max:
            failing.append(Failing(t.id, ratio, limits.length_ratio_max, "(too long)"))
    return verdict(
        "length_ratio",
        failing,
        summary=f"{len(failing)} segment(s) outside the length bounds",
        figures={"segments": len(pairs)},
    )


def target_language_outcome(target: SegmentDoc, source: str, identify: LanguageId) -> Outcome:
    expected = target.language
    if expected not in identify.known:
        return Outcome(
            "target_language", True, "ERROR", f"{expected}: not judged (unknown to the identifier)"
        )
    whole = identify.detect(" ".join(s.text for s in target.segments))
    wrong = [
        Failing(s.id, found, expected, f"({s.text[:60]!r})")
        for s in target.segments
        if (found := identify.detect(s.text)) is not None and found != expected
    ]
    if whole is not None and whole != expected:
        wrong.insert(0, Failing("all", whole, expected))
    # A segment in the source language is an error; one merely looking like a neighbour
    # language (es/pt share words) is shown.
    errors = [f for f in wrong if f.value == source or f.segment == "all"]
    return verdict(
        "target_language",
        wrong,
        error=errors,
        summary=f"{len(wrong)} segment(s) not detected as {expected}",
        figures={"detected": whole or "unknown"},
    )
