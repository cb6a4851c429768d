"""The protocols the stage assets depend on, so deployments swap engines by configuration only."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from dubbing_pipeline.domain.segments import Segment
from dubbing_pipeline.domain.voices import VoiceReference

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
    engine: dict[str, str | int | bool] = field(default_factory=dict)  # how it was made


@dataclass(frozen=True)
class SubtitleTrack:
    path: Path
    language: str
    title: str


@runtime_checkable
class SpeechToText(Protocol):
    def languages(self) -> list[str] | None:
        """The source languages it recognises (None: any it may be given)."""
        ...

    def transcribe(self, media: Path, language: str | None, progress: Progress) -> Transcription:
        """Segments with start/end/text/confidence; ``language=None`` means detect it."""
        ...


@runtime_checkable
class Translator(Protocol):
    def check_pair(self, source: str, target: str) -> None:
        """Raise a VALIDATION JobProcessingError naming the pair if it is not supported."""
        ...

    def pairs(self) -> list[tuple[str, str]] | None:
        """The (source, target) pairs it translates (None: not known in advance)."""
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

    @property
    def reference_sample_rate(self) -> int | None:
        """The rate at which the engine wants a speaker reference clip (voice cloning); None
        for engines with fixed voices, so no reference is cut for them."""
        ...

    def check_language(self, language: str) -> None: ...

    def languages(self) -> list[str] | None:
        """The languages it speaks (None: not known in advance)."""
        ...

    def synthesize(
        self, text: str, language: str, out: Path, voice: VoiceReference | None = None
    ) -> None:
        """Write one mono WAV clip for ``text``, in the voice of ``voice`` if the engine clones."""
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
