"""What a stage's output is checked for, without Dagster: each check measures one property and
gives an ``Outcome`` (passed, severity, the segments that failed and by how much). ``defs.checks``
turns outcomes into Dagster asset check results; the thresholds are the deployment's
(``infra.settings.CheckSettings``)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field

Severity = Literal["WARN", "ERROR"]
SHOWN_SEGMENTS = 20  # metadata names at most this many failing segments (and counts the rest)


class CheckThresholds(BaseModel):
    """Where each check draws its line; every field is ``DUBBING_CHECK_<FIELD>``."""

    language_min_probability: float = Field(
        0.5, ge=0, le=1, description="a detected language below this is not trusted either way"
    )
    low_confidence: float = Field(0.5, ge=0, le=1, description="a word below this is doubtful")
    low_confidence_share: float = Field(
        0.25, ge=0, le=1, description="WARN when more of the transcript's words are doubtful"
    )
    min_speech_coverage: float = Field(
        0.7, ge=0, le=1, description="WARN when segments cover less of the detected speech"
    )
    overlap_s: float = Field(0.05, ge=0, description="segments overlapping more are WARN")
    untranslated_share: float = Field(
        0.3, ge=0, le=1, description="ERROR when this share of a segment's words is source-only"
    )
    length_ratio_min: float = Field(0.4, gt=0, description="WARN: target/source characters")
    length_ratio_max: float = Field(2.5, gt=0, description="WARN: target/source characters")
    wer_warn: float = Field(0.5, ge=0, description="back-transcription WER per segment: WARN")
    wer_error: float = Field(
        0.95,
        ge=0,
        description="back-transcription WER per segment: ERROR (silence or noise is 1.0 or more; "
        "espeak-ng heard by Whisper base reaches 0.89 on good clips)",
    )
    min_wer_words: int = Field(
        4,
        ge=1,
        description="segments with fewer words are not judged on WER (too noisy: 'Hola y "
        "bienvenidos.' in espeak-ng was heard 'o a mi bienvenido', 1.33)",
    )
    max_cut_share: float = Field(
        0.25, ge=0, le=1, description="ERROR when the speed-up cap cut more of a clip"
    )
    silence_dbfs: float = Field(-45.0, description="a placed clip quieter (RMS) is silence: ERROR")
    clipped_share: float = Field(
        0.001, ge=0, le=1, description="WARN when more of a clip's samples are at full scale"
    )
    duration_tolerance_s: float = Field(
        0.1, ge=0, description="ERROR: the delivered video's duration vs the source's"
    )
    loudness_tolerance_lu: float = Field(
        1.0, ge=0, description="WARN: the dub track's integrated loudness vs the target"
    )


@dataclass(frozen=True)
class Failing:
    """One segment (or stream) that failed: its measured value and the limit it crossed."""

    segment: int | str
    value: float | str
    limit: float | str
    note: str = ""

    def describe(self) -> str:
        value = f"{self.value:.2f}" if isinstance(self.value, float) else self.value
        limit = f"{self.limit:.2f}" if isinstance(self.limit, float) else self.limit
        text = f"{self.segment}: {value} (limit {limit})"
        return f"{text} {self.note}".strip()

    def as_json(self) -> dict[str, object]:
        value = round(self.value, 3) if isinstance(self.value, float) else self.value
        limit = round(self.limit, 3) if isinstance(self.limit, float) else self.limit
        out: dict[str, object] = {"segment": self.segment, "value": value, "limit": limit}
        return out | ({"note": self.note} if self.note else {})


@dataclass(frozen=True)
class Outcome:
    """One check's verdict. ``severity`` is what a failure weighs: ERROR blocks the next
    automatic stage and sends the project to review; WARN is shown."""

    name: str
    passed: bool
    severity: Severity
    summary: str
    failing: list[Failing] = field(default_factory=list)
    figures: dict[str, float | int | str | bool] = field(default_factory=dict)

    @property
    def blocks(self) -> bool:
        return not self.passed and self.severity == "ERROR"

    def describe(self) -> str:
        """One line for an event or a log: the check, what failed and the first segments."""
        if self.passed:
            return f"{self.name}: ok"
        shown = "; ".join(f.describe() for f in self.failing[:5])
        more = f" (+{len(self.failing) - 5} more)" if len(self.failing) > 5 else ""
        return f"{self.name} {self.severity}: {self.summary}" + (
            f" [{shown}{more}]" if shown else ""
        )


def verdict(
    name: str,
    failing: Sequence[Failing],
    *,
    error: Iterable[Failing] = (),
    summary: str,
    figures: dict[str, float | int | str | bool] | None = None,
) -> Outcome:
    """An outcome from the failing items: ERROR if any is in ``error``, else WARN if any fails."""
    errors = list(error)
    return Outcome(
        name,
        passed=not failing and not errors,
        severity="ERROR" if errors else "WARN",
        summary=summary if (failing or errors) else "ok",
        failing=[*errors, *[f for f in failing if f not in errors]],
        figures=figures or {},
    )


def blocking_summary(outcomes: Iterable[Outcome]) -> str | None:
    """Why a stage was sent to review, in one message (None: nothing blocks)."""
    blocking = [o.describe() for o in outcomes if o.blocks]
    return "; ".join(blocking) if blocking else None


# -- words ----------------------------------------------------------------------------------

APOSTROPHES = "'\u2019"
_WORD = re.compile(rf"[^\W_]+(?:[{APOSTROPHES}][^\W_]+)*", re.UNICODE)


def words(text: str) -> list[str]:
    """Lower-case words without punctuation or accents: what the checks compare."""
    return [_plain(w) for w in _WORD.findall(text.lower())]


def _plain(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("\u2019", "'")


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, by word edit distance
    (jiwer's definition; jiwer is not installed here and this is eleven lines)."""
    ref, hyp = words(reference), words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i]
        for j, h in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1] / len(ref)
