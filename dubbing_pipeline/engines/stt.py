"""Speech-to-text with faster-whisper (CTranslate2): int8 on CPU, float16 and batches on GPU."""

from __future__ import annotations

import gc
import math
import os
import sys
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar

from dagster import ConfigurableResource
from pydantic import Field

from dubbing_pipeline.domain.background import Span
from dubbing_pipeline.domain.errors import (
    JobErrorType,
    JobProcessingError,
    classify,
    validation_error,
)
from dubbing_pipeline.domain.segments import Segment, Word
from dubbing_pipeline.domain.sentences import word_confidence
from dubbing_pipeline.engines.base import Progress, Transcription
from dubbing_pipeline.engines.models import whisper_model_path
from dubbing_pipeline.infra.media import probe, speech_windows
from dubbing_pipeline.infra.model_cache import folder_bytes, shared_cache

if TYPE_CHECKING:
    import numpy as np
    from faster_whisper import WhisperModel
    from faster_whisper.transcribe import TranscriptionInfo
    from faster_whisper.transcribe import Word as WhisperWord

Device = Literal["auto", "cpu", "cuda"]
T = TypeVar("T")

GPU_BATCH_SIZE = 16
SAMPLE_RATE = 16_000  # what faster-whisper decodes audio to
WINDOW_S = 30  # Whisper's input window: the batched pipeline's chunks without VAD
CT2_DEFAULT_THREADS = 4  # what CTranslate2 takes for cpu_threads=0 (faster-whisper's docs)


class FasterWhisperSTT(ConfigurableResource):
    """faster-whisper. ``model`` is 'base' (packaged, multilingual), 'tiny.en' (packaged, English),
    a local CTranslate2 folder, or a size name/hub id where the deployment can download."""

    model: str = "base"
    device: Device = "auto"
    compute_type: str = Field(default="auto", description="auto: float16 on cuda, int8 on cpu")
    batch_size: int = Field(
        default=0,
        ge=0,
        description=f"> 1: the batched pipeline; 0: {GPU_BATCH_SIZE} on cuda, sequential on cpu",
    )
    beam_size: int = 5
    vad_filter: bool = True
    word_timestamps: bool = True
    cpu_threads: int = Field(default=0, description="0: CTranslate2's default (4)")
    hear_threads: int = Field(
        default=0,
        ge=0,
        description="CPU threads of the speech checks' hearing, which runs beside the track's "
        "rendering: 0 leaves ffmpeg a core (the transcription's threads, at most the cores, "
        "less one; at least one)",
    )
    window_s: float = Field(
        default=300.0,
        ge=5,
        description="Audio decoded and transcribed at a time, cut at a quiet moment: memory "
        "stays flat on long videos; the language is detected in the first window.",
    )
    keep_on_gpu: bool = Field(
        default=False,
        description="Keep the model on the GPU after transcribing; by default its memory goes "
        "back for the stages after STT.",
    )

    def languages(self) -> list[str] | None:
        """English-only models ('tiny.en') know English; multilingual ones any Whisper language."""
        return ["en"] if self.model.endswith(".en") else None

    def transcribe(self, media: Path, language: str | None, progress: Progress) -> Transcription:
        """Decode and transcribe the audio a window at a time (``window_s``), so memory stays flat
        however long the video: an hour decoded at once, with its features, took ~4 GB."""
        device, compute_type = resolve_placement(self.device, self.compute_type)
        batch_size = self.batch_size or (GPU_BATCH_SIZE if device == "cuda" else 1)
        total = probe(media).duration
        segments: list[Segment] = []
        first: TranscriptionInfo | None = None
        windows = speech_windows(
            media, rate=SAMPLE_RATE, window_s=self.window_s, search_s=min(20, self.window_s / 4)
        )  # each cut at the quietest moment of the window's last quarter (at most 20 s)
        try:
            model = _load_model(
                whisper_model_path(self.model), device, compute_type, self.cpu_threads
            )
            for offset, audio in windows:
                start, span = offset / SAMPLE_RATE, audio.size / SAMPLE_RATE

                def seen(fraction: float, start: float = start, span: float = span) -> None:
                    progress(min(1.0, (start + fraction * span) / total) if total else 1.0)

                said = language or (first.language if first else None)  # detected once
                (info, found), batch_size = smaller_batch_on_oom(
                    partial(self._decode, model, audio, said, progress=seen),
                    batch_size,
                )
                first = first or info
                segments += [
                    _placed(s, len(segments) + i, start, total) for i, s in enumerate(found)
                ]
        finally:
            windows.close()  # an error mid-video stops its ffmpeg now, not at garbage collection
            if device == "cuda" and not self.keep_on_gpu:
                release_models("cuda")
        if first is None:
            raise validation_error(f"{media.name} has no audio to transcribe")
        progress(1.0)
        return Transcription(
            first.language,
            round(float(first.language_probability), 4),
            total,
            segments,
            engine={
                "model": self.model,
                "device": device,
                "compute_type": compute_type,
                "batch_size": batch_size,
                "vad_filter": self.vad_filter,
                "window_s": self.window_s,
            },
        )

    def identify_language(self, media: Path) -> tuple[str, float] | None:
        """Whisper's own language identification on the first speech of ``media`` (its first
        window), run whatever language the project declared: the transcript's language check.
        One encoder pass over 30 s, on the model ``transcribe`` already loaded. An English-only
        model cannot tell languages apart: None."""
        if self.languages() is not None:
            return None
        device, compute_type = resolve_placement(self.device, self.compute_type)
        model = _load_model(whisper_model_path(self.model), device, compute_type, self.cpu_threads)
        windows = speech_windows(media, rate=SAMPLE_RATE, window_s=min(self.window_s, 120))
        try:
            _, audio = next(windows)
        except StopIteration:
            raise validation_error(f"{media.name} has no audio to identify") from None
        finally:
            windows.close()
        language, probability, _ = model.detect_language(audio, vad_filter=self.vad_filter)
        return language, round(float(probability), 4)

    def hear(self, media: Path, language: str) -> list[tuple[float, float, str]]:
        """Each word heard in ``media`` with its timing: the speech checks' back-transcription
        of the dub's clips. Greedy decoding without voice activity detection (the input is known
        speech, gathered by the check), one pass over the whole file: a check, not a transcript,
        so it pays for one beam, not five."""
        device, compute_type = resolve_placement(self.device, self.compute_type)
        threads = self.cpu_threads if device == "cuda" else self._hearing_threads()
        model = _load_model(whisper_model_path(self.model), device, compute_type, threads)
        found, _ = model.transcribe(
            str(media),
            language=language,
            beam_size=1,
            vad_filter=False,
            word_timestamps=True,
            condition_on_previous_text=False,
        )
        heard = []
        for segment in found:
            for word in segment.words or []:
                if word.word.strip():
                    heard.append((float(word.start), float(word.end), word.word.strip()))
        return heard

    def _hearing_threads(self) -> int:
        """On a CPU, hearing the dub while ffmpeg renders it on every core oversubscribed them:
        measured on 2 cores, the hearing took 2.4x its time alone and the stage was slower than
        rendering and hearing one after the other. So it leaves a core (its own model instance,
        the same weights, kept by the model cache like the transcription's)."""
        if self.hear_threads:
            return self.hear_threads
        cores = os.cpu_count() or 1
        return max(1, min(self.cpu_threads or CT2_DEFAULT_THREADS, cores) - 1)

    def speech_spans(self, media: Path) -> list[Span]:
        """Where there is speech, by the Silero voice activity detector faster-whisper ships
        (what its ``vad_filter`` uses), a window at a time so memory stays flat."""
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        spans: list[Span] = []
        windows = speech_windows(media, rate=SAMPLE_RATE, window_s=self.window_s)
        try:
            for offset, audio in windows:
                for found in get_speech_timestamps(audio, VadOptions()):
                    start, end = ((offset + found[k]) / SAMPLE_RATE for k in ("start", "end"))
                    spans.append(Span(round(start, 3), round(end, 3)))
        finally:
            windows.close()
        return spans

    def _decode(
        self,
        model: WhisperModel,
        audio: np.ndarray,
        language: str | None,
        batch_size: int,
        *,
        progress: Progress,
    ) -> tuple[TranscriptionInfo, list[Segment]]:
        """One pass over the audio, sequential or batched; segments come out as they decode."""
        from faster_whisper import BatchedInferencePipeline

        options = {
            "language": language,
            "beam_size": self.beam_size,
            "vad_filter": self.vad_filter,
            "word_timestamps": self.word_timestamps,
            "condition_on_previous_text": False,  # no runaway repetition across segments
        }
        if batch_size > 1:
            pipeline = BatchedInferencePipeline(model)
            found, info = pipeline.transcribe(
                audio,
                batch_size=batch_size,
                without_timestamps=False,  # sentence-level segments, not one per 30 s chunk
                clip_timestamps=None if self.vad_filter else _windows(len(audio)),
                **options,
            )
        else:
            found, info = model.transcribe(audio, **options)
        out: list[Segment] = []
        for seg in found:  # a generator: decoding happens while we iterate
            text = seg.text.strip()
            if text:
                out.append(_segment(len(out), seg.start, seg.end, text, seg.avg_logprob, seg.words))
            progress(min(1.0, float(seg.end) / info.duration) if info.duration else 1.0)
        progress(1.0)  # trailing silence has no segment to report it
        return info, out


def resolve_placement(device: str, compute_type: str) -> tuple[str, str]:
    """'auto' means a GPU when CTranslate2 sees one; compute 'auto' means float16 on a GPU that
    supports it (else int8_float32) and int8 on CPU, the fastest types that keep accuracy."""
    import ctranslate2

    gpus = ctranslate2.get_cuda_device_count()
    if device == "auto":
        device = "cuda" if gpus > 0 else "cpu"
    elif device == "cuda" and gpus == 0:
        raise JobProcessingError(
            "STT device 'cuda' was asked for but CTranslate2 sees no CUDA device",
            JobErrorType.PERMANENT,
        )
    if compute_type == "auto":
        if device == "cuda":
            supported = ctranslate2.get_supported_compute_types("cuda")
            compute_type = "float16" if "float16" in supported else "int8_float32"
        else:
            compute_type = "int8"
    return device, compute_type


def smaller_batch_on_oom(attempt: Callable[[int], T], batch_size: int) -> tuple[T, int]:
    """``attempt(batch_size)``; out of memory, free what is cached and try once at half the batch.
    Out of memory again, or with no smaller batch to try, it is a RESOURCE error: a later retry
    may find the GPU less busy. Returns the result and the batch size that produced it."""
    if batch_size > 1:
        try:
            return attempt(batch_size), batch_size
        except Exception as exc:  # CTranslate2: RuntimeError("CUDA failed ... out of memory")
            if not _out_of_memory(exc):
                raise
            _free_cached_memory()
            batch_size //= 2
    try:
        return attempt(batch_size), batch_size
    except Exception as exc:
        if not _out_of_memory(exc):
            raise
        _free_cached_memory()
        raise JobProcessingError(
            f"out of memory transcribing at batch size {batch_size}: {exc}", JobErrorType.RESOURCE
        ) from exc


def _out_of_memory(exc: Exception) -> bool:
    return classify(exc).error_type is JobErrorType.RESOURCE


WHISPER = "whisper"  # the first part of every Whisper model's key in the shared cache


def _load_model(path: str, device: str, compute_type: str, cpu_threads: int) -> WhisperModel:
    """Models load once per process and stay while the model budget allows (a warm run worker
    keeps them between runs): the first stage pays, retries and later runs don't."""

    def load() -> WhisperModel:
        from faster_whisper import WhisperModel

        return WhisperModel(path, device=device, compute_type=compute_type, cpu_threads=cpu_threads)

    key = (WHISPER, path, device, compute_type, cpu_threads)
    return shared_cache().get(key, load, lambda _: folder_bytes(path))


def cached_models() -> list[tuple[str, str, str, int]]:
    """(path, device, compute_type, cpu_threads) of each model this process holds."""
    held = shared_cache().keys()
    return [key[1:] for key in held if _is_whisper(key)]  # type: ignore[index]


def release_models(device: str | None = None) -> int:
    """Drop the cached models (those on ``device``, or all) and give their memory back: on a GPU
    the next stage needs it more than STT needs a warm model. Returns how many were dropped."""
    dropped = shared_cache().release(
        lambda key: _is_whisper(key) and (device is None or key[2] == device)  # type: ignore[index]
    )
    if dropped:
        _free_cached_memory()
    return dropped


def _is_whisper(key: object) -> bool:
    return isinstance(key, tuple) and bool(key) and key[0] == WHISPER


def _free_cached_memory() -> None:
    """Collect unreachable models, then let torch (if another engine loaded it) return the GPU
    memory its allocator caches."""
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def _windows(samples: int) -> list[dict[str, float]]:
    """Whisper-sized windows over the whole audio: the batched pipeline's chunks without VAD."""
    seconds = samples / SAMPLE_RATE
    starts = range(0, math.ceil(seconds), WINDOW_S)
    return [{"start": s, "end": min(s + WINDOW_S, seconds)} for s in starts]


def _placed(segment: Segment, index: int, shift: float, end: float) -> Segment:
    """A window's segment on the whole file's timeline (ids renumbered), never past its end."""

    def at(seconds: float) -> float:
        return round(min(seconds + shift, end), 3)

    words = [
        w.model_copy(update={"start": at(w.start), "end": at(w.end)}) for w in segment.words or []
    ]
    return segment.model_copy(
        update={
            "id": index,
            "start": at(segment.start),
            "end": at(segment.end),
            "words": words or None,
        }
    )


def _segment(
    index: int,
    start: float,
    end: float,
    text: str,
    avg_logprob: float,
    words: Sequence[WhisperWord] | None,
) -> Segment:
    """A segment; its confidence is the geometric mean of its words' probabilities when there are
    words (faster-whisper's avg_logprob is shared by every segment of a 30 s window), else
    exp(avg_logprob)."""
    timed = [
        Word(
            start=round(float(w.start), 3),
            end=round(float(w.end), 3),
            text=w.word.strip(),
            probability=round(min(1.0, max(0.0, float(w.probability))), 4),
        )
        for w in words or []
        if w.word.strip()
    ]
    confidence = word_confidence(timed)
    if confidence is None:
        confidence = round(min(1.0, math.exp(avg_logprob)), 4)
    return Segment(
        id=index,
        start=round(float(start), 3),
        end=round(float(end), 3),
        text=text,
        confidence=confidence,
        words=timed or None,
    )
