"""The protocols the stage assets depend on, so deployments swap engines by configuration only."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from dubbing_pipeline.domain.segments import Segment
from dubbing_pipeline.domain.speakers import Diarization
from dubbing_pipeline.domain.voices import PaletteVoice, VoiceReference

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
    engine: dict[str, str | int | float | bool] = field(default_factory=dict)  # how it was made


@dataclass(frozen=True)
class SubtitleTrack:
    path: Path
    language: str
    title: str


@dataclass(frozen=True)
class AudioTrack:
    """An audio track of the delivered video: a stream of a file, its language and name, whether
    players pick it first, and the gain and peak ceiling it is encoded with (loudness)."""

    path: Path
    language: str
    title: str
    default: bool = False
    stream: str = "a:0"
    gain_db: float = 0.0
    limit_db: float | None = None  # a peak limiter at this ceiling (dBFS) after the gain

    @property
    def as_is(self) -> bool:
        """Nothing to change: the stream can be copied if the container takes its codec."""
        return self.gain_db == 0.0 and self.limit_db is None


@runtime_checkable
class SpeechToText(Protocol):
    def languages(self) -> list[str] | None:
        """The source languages it recognises (None: any it may be given)."""
        ...

    def transcribe(self, media: Path, language: str | None, progress: Progress) -> Transcription:
        """Segments with start/end/text/confidence; ``language=None`` means detect it."""
        ...


@runtime_checkable
class Diarizer(Protocol):
    @property
    def name(self) -> str:
        """The engine's name in metadata: resemblyzer, pyannote, none."""
        ...

    def diarize(
        self,
        media: Path,
        progress: Progress,
        min_speakers: int | None = None,
        max_speakers: int | None = None,
    ) -> Diarization:
        """Who speaks when: turns (which may overlap) labelled by the engine; [] for none."""
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
class FixedVoices(Protocol):
    """A synthesiser with several fixed voices (espeak-ng variants, a multi-speaker Piper model):
    each speaker gets one of them. Cloning engines (XTTS) get references instead."""

    def palette(self, language: str) -> list[PaletteVoice]:
        """The voices a speaker can get, lowest pitch first where pitches are known."""
        ...

    def synthesize_as(self, voice: str, text: str, language: str, out: Path) -> None:
        """Write one mono WAV clip for ``text`` in the palette voice named ``voice``."""
        ...


@runtime_checkable
class Separator(Protocol):
    def unavailable(self) -> str | None:
        """Why this deployment cannot separate (an extra or weights missing), in words."""
        ...

    @property
    def model_id(self) -> str:
        """Names the model: part of the cache key of what it separated."""
        ...

    def separate(self, source: Path, out: Path, progress: Progress) -> dict[str, Any]:
        """Write ``out``: the source's audio without its voices (music and effects)."""
        ...


@runtime_checkable
class Muxer(Protocol):
    def suffix_for(self, video_codec: str | None) -> str:
        """The container (``.mp4``, ``.mkv``) the source's video stream can be copied into."""
        ...

    def mux(
        self,
        video: Path,
        audio: Sequence[AudioTrack],
        subtitles: Sequence[SubtitleTrack],
        out: Path,
    ) -> None:
        """The source's video stream copied bit for bit, the audio tracks in order (the first is
        the default), then the subtitle tracks."""
        ...
