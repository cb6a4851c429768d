"""The protocols the stage assets depend on, so deployments swap engines by configuration only."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from dubbing_pipeline.segments import Segment

Progress = Callable[[float], None]
"""Called by engines with the fraction done (0.0-1.0) as they work."""


def no_progress(_: float) -> None:
    return None


@dataclass(frozen=True)
class Transcription:
    language: str
    language_probability: float | None
    duration: float
    segments: list[Segment]


@dataclass(frozen=True)
class SubtitleTrack:
    path: Path
    language: str
    title: str


@dataclass(frozen=True)
class LipSyncReport:
    engine: str
    model: str | None
    note: str
    retime_factor: float


@runtime_checkable
class SpeechToText(Protocol):
    def transcribe(self, media: Path, language: str | None, progress: Progress) -> Transcription:
        """Segments with start/end/text/confidence; ``language=None`` means detect it."""
        ...


@runtime_checkable
class Translator(Protocol):
    def check_pair(self, source: str, target: str) -> None:
        """Raise a VALIDATION JobProcessingError naming the pair if it is not supported."""
        ...

    def translate(
        self, texts: Sequence[str], source: str, target: str, progress: Progress
    ) -> list[str]: ...


@runtime_checkable
class SpeechSynthesizer(Protocol):
    @property
    def voice_id(self) -> str:
        """Identifies engine + voice + settings; part of the clip cache key."""
        ...

    def check_language(self, language: str) -> None: ...

    def synthesize(self, text: str, language: str, out: Path) -> None:
        """Write one mono WAV clip for ``text``."""
        ...


@runtime_checkable
class Muxer(Protocol):
    def mux(
        self,
        video: Path,
        audio: Path,
        audio_language: str,
        subtitles: Sequence[SubtitleTrack],
        out: Path,
    ) -> None: ...


@runtime_checkable
class LipSyncer(Protocol):
    def lipsync(self, video: Path, audio: Path, out: Path, progress: Progress) -> LipSyncReport: ...
