"""Timed segments, the unit every stage and every reviewer works on, and their subtitle forms."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import srt
import webvtt
from pydantic import BaseModel, Field, model_validator

from dubbing_pipeline.domain.cues import Cue, segment_cues


class Word(BaseModel):
    """One recognised word and when it is spoken: what finer cues and lip-sync align to."""

    start: float = Field(ge=0)
    end: float = Field(ge=0)
    text: str
    probability: float | None = Field(default=None, ge=0, le=1)
    speaker: str | None = Field(
        default=None,
        description="Who says it, where diarization ran; a segment never spans a change.",
        exclude_if=lambda speaker: speaker is None,  # words without speakers keep their hash
    )


class Segment(BaseModel):
    id: int
    start: float = Field(ge=0)
    end: float = Field(ge=0)
    text: str
    confidence: float | None = Field(default=None, ge=0, le=1)
    speaker: str = "S1"
    source_text: str | None = Field(
        default=None, description="For translated segments: the approved text it came from."
    )
    words: list[Word] | None = Field(
        default=None,
        description="Word timings from STT, while they still spell the text.",
        exclude_if=lambda words: words is None,  # documents without words keep their hash
    )

    @model_validator(mode="after")
    def _ordered(self) -> Segment:
        if self.end < self.start:
            raise ValueError(f"segment {self.id} ends ({self.end}) before it starts ({self.start})")
        return self

    @model_validator(mode="after")
    def _no_stale_words(self) -> Segment:
        """Timings of words the text no longer says would mislead whatever aligns to them: a
        reviewer's edit or a translation replaces the text, so such words are dropped on load."""
        if self.words is not None and _letters("".join(w.text for w in self.words)) != _letters(
            self.text
        ):
            self.words = None
        return self

    def with_text(self, text: str, **changes: object) -> Segment:
        """The same segment saying ``text``: its word timings no longer apply."""
        return self.model_copy(update={"text": text, "words": None, **changes})


class SegmentDoc(BaseModel):
    """The segments JSON a stage writes: language, media duration and the segments in order."""

    language: str
    duration: float = Field(ge=0)
    segments: list[Segment]

    @model_validator(mode="after")
    def _sorted_unique(self) -> SegmentDoc:
        ids = [s.id for s in self.segments]
        if len(ids) != len(set(ids)):
            raise ValueError("segment ids must be unique")
        starts = [s.start for s in self.segments]
        if starts != sorted(starts):
            raise ValueError("segments must be in time order")
        return self

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()

    @property
    def mean_confidence(self) -> float | None:
        values = [s.confidence for s in self.segments if s.confidence is not None]
        return round(sum(values) / len(values), 4) if values else None

    def with_texts(self, language: str, texts: list[str]) -> SegmentDoc:
        """The same timing with new texts (a translation), remembering the source text."""
        segments = [
            s.with_text(t, source_text=s.text, confidence=None)
            for s, t in zip(self.segments, texts, strict=True)
        ]
        return SegmentDoc(language=language, duration=self.duration, segments=segments)


def to_srt(doc: SegmentDoc) -> str:
    return srt.compose(
        srt.Subtitle(
            index=i, start=timedelta(seconds=c.start), end=timedelta(seconds=c.end), content=c.text
        )
        for i, c in enumerate(display_cues(doc), start=1)
    )


def to_vtt(doc: SegmentDoc) -> str:
    captions = [
        webvtt.Caption(_vtt_time(c.start), _vtt_time(c.end), c.text) for c in display_cues(doc)
    ]
    return webvtt.WebVTT(captions=captions).content


def display_cues(doc: SegmentDoc) -> list[Cue]:
    """The cues both formats show: each segment split for display length (``domain.cues``), only
    here; the segments themselves, and so the dub, stay whole sentences."""
    return [
        Cue(cue.start, cue.end, text)
        for segment in doc.segments
        for cue in segment_cues(segment, doc.language)
        if (text := _cue_text(cue.text))
    ]


def _cue_text(text: str) -> str:
    """A cue's text as both formats accept it: no blank lines, no '-->' (the timing arrow)."""
    lines = (line.strip().replace("-->", "→") for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _letters(text: str) -> str:
    """Text without whitespace: how words and their segment compare in any script."""
    return "".join(text.split())


def _vtt_time(seconds: float) -> str:
    return srt.timedelta_to_srt_timestamp(timedelta(seconds=seconds)).replace(",", ".")
