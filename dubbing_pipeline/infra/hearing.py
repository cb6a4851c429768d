"""Back-transcription while the track renders: each placed clip, as the renderer writes it, is
trimmed of its padding, resampled to 16 kHz and gathered with the clips before it; every ``CHUNK_S``
gathered goes to one worker thread that runs the recogniser on it while the renderer fits the
next clips. Rendering waits on ffmpeg and the recogniser on its own native
threads, so the two overlap and the stage waits only for the last chunk.

What is heard is the track's own samples, bit for bit, so a clip the speed-up cap cut is heard
cut. A clip whose sound was heard before (a repeated line, or an earlier run: ``known``) is not
heard again.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
import wave
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dubbing_pipeline.domain.media_checks import heard_by_piece
from dubbing_pipeline.domain.timing import Placement

BACK_RATE = 16_000  # what speech recognisers take
GAP_S = 0.6  # silence between two gathered clips: a clear pause
# Gathered audio per recogniser call: two Whisper windows. Chunks that fit one window were heard
# worse (mean WER 0.28-0.31 against 0.25 on the 40 Spanish clips of ``bench.checks``).
CHUNK_S = 60.0
TRAILING_FLOOR = 64  # samples quieter than this (-54 dBFS) at a clip's end are its padding

Words = list[tuple[float, float, str]]  # (start, end, text) as the recogniser heard them
Recogniser = Callable[[Path], Words]


@dataclass
class Heard:
    """What the hearing found: words per segment, and what it cost."""

    texts: dict[int, str]  # by segment id
    by_sound: dict[str, str]  # every clip's words by its sound's hash, the ones known before too
    seconds: float  # in the recogniser, on the worker thread
    waited_s: float  # the stage's wait for the last chunks once the track was written
    pieces: int  # clips heard in this run
    audio_s: float  # seconds of audio the recogniser heard


@dataclass
class _Chunk:
    samples: list[np.ndarray] = field(default_factory=list)
    spans: list[tuple[str, float, float]] = field(default_factory=list)  # (hash, start, end)
    at_s: float = GAP_S  # where the next clip would start


class Hearing:
    """Hears clips handed to ``add`` in the background; ``finish`` waits and gives the words."""

    def __init__(
        self, recognise: Recogniser, rate: int, folder: Path, known: dict[str, str]
    ) -> None:
        self._recognise = recognise
        self._rate = rate
        self._folder = folder
        self._by_sound = dict(known)
        self._queued: set[str] = set()
        self._sound_of: dict[int, str] = {}
        self._chunk = _Chunk()
        self._futures: list[Future[tuple[dict[str, str], float]]] = []
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hearing")
        self._audio_s = 0.0

    def add(self, placement: Placement, pcm: bytes) -> None:
        """One placed clip as it plays in the track (16-bit mono): ``render_track``'s listener."""
        samples = np.frombuffer(pcm, dtype="<i2")
        loud = np.nonzero(np.abs(samples) > TRAILING_FLOOR)[0]
        samples = samples[: loud[-1] + 1] if loud.size else samples[:0]
        digest = hashlib.sha256(samples.tobytes()).hexdigest()[:24]
        self._sound_of[placement.segment_id] = digest
        if not samples.size or digest in self._by_sound or digest in self._queued:
            return
        self._queued.add(digest)
        resampled = resample(samples, self._rate)
        seconds = resampled.size / BACK_RATE
        if self._chunk.spans and self._chunk.at_s + seconds + GAP_S > CHUNK_S:
            self._submit()
        chunk = self._chunk
        chunk.samples.append(resampled)
        chunk.spans.append((digest, chunk.at_s, chunk.at_s + seconds))
        chunk.at_s += seconds + GAP_S
        self._audio_s += seconds

    def finish(self) -> Heard:
        """Hear what is left, wait for every chunk, and give each segment its clip's words."""
        started = time.perf_counter()
        self._submit()
        seconds = 0.0
        for future in self._futures:
            words, spent = future.result()
            self._by_sound |= words
            seconds += spent
        texts = {sid: self._by_sound.get(sound, "") for sid, sound in self._sound_of.items()}
        waited = time.perf_counter() - started
        return Heard(texts, self._by_sound, seconds, waited, len(self._queued), self._audio_s)

    def close(self) -> None:
        self._worker.shutdown(wait=True, cancel_futures=True)

    def _submit(self) -> None:
        chunk, self._chunk = self._chunk, _Chunk()
        if chunk.spans:
            self._futures.append(self._worker.submit(self._hear, chunk, len(self._futures)))

    def _hear(self, chunk: _Chunk, number: int) -> tuple[dict[str, str], float]:
        wav = self._folder / f"chunk-{number}.wav"
        gap = np.zeros(round(GAP_S * BACK_RATE), dtype="<i2")
        with wave.open(str(wav), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(BACK_RATE)
            out.writeframesraw(gap.tobytes())
            for samples in chunk.samples:
                out.writeframesraw(samples.tobytes() + gap.tobytes())
        started = time.perf_counter()
        words = self._recognise(wav)
        spent = time.perf_counter() - started
        wav.unlink()
        return heard_by_piece(chunk.spans, words, GAP_S), spent


@contextmanager
def hearing(recognise: Recogniser, rate: int, known: dict[str, str]) -> Iterator[Hearing]:
    """A ``Hearing`` of a track at ``rate`` with a scratch folder for its chunks, its worker
    stopped on the way out."""
    with tempfile.TemporaryDirectory(prefix="dub-heard-") as tmp:
        heard = Hearing(recognise, rate, Path(tmp), known)
        try:
            yield heard
        finally:
            heard.close()


def resample(samples: np.ndarray, rate: int) -> np.ndarray:
    """To 16 kHz by averaging (48 kHz: groups of three, a box filter good enough for speech
    recognition), else by linear interpolation."""
    if rate == BACK_RATE:
        return samples
    if rate % BACK_RATE == 0:
        step = rate // BACK_RATE
        usable = samples[: samples.size // step * step].astype(np.float32)
        return usable.reshape(-1, step).mean(axis=1).astype("<i2")
    times = np.arange(0, samples.size / rate, 1 / BACK_RATE)
    return np.interp(times * rate, np.arange(samples.size), samples).astype("<i2")
