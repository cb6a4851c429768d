"""Speech-to-text with faster-whisper (CTranslate2), int8 on CPU, float16 on GPU."""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import Literal

from dagster import ConfigurableResource
from pydantic import Field

from dubbing_pipeline.engines.base import Progress, Transcription
from dubbing_pipeline.engines.models import whisper_model_path
from dubbing_pipeline.segments import Segment

Device = Literal["auto", "cpu", "cuda"]


class FasterWhisperSTT(ConfigurableResource):
    """faster-whisper. ``model`` is 'base' (packaged, multilingual), 'tiny.en' (packaged, English),
    a local CTranslate2 folder, or a size name/hub id where the deployment can download."""

    model: str = "base"
    device: Device = "auto"
    compute_type: str = Field(default="auto", description="auto: float16 on cuda, int8 on cpu")
    beam_size: int = 5
    vad_filter: bool = True
    cpu_threads: int = 0

    def transcribe(self, media: Path, language: str | None, progress: Progress) -> Transcription:
        model = _load_model(whisper_model_path(self.model), *self._placement(), self.cpu_threads)
        segments, info = model.transcribe(
            str(media),
            language=language,
            beam_size=self.beam_size,
            vad_filter=self.vad_filter,
            condition_on_previous_text=False,
        )
        out: list[Segment] = []
        for seg in segments:  # a generator: decoding happens while we iterate
            text = seg.text.strip()
            if text:
                out.append(
                    Segment(
                        id=len(out),
                        start=round(seg.start, 3),
                        end=round(seg.end, 3),
                        text=text,
                        confidence=round(min(1.0, math.exp(seg.avg_logprob)), 4),
                    )
                )
            progress(min(1.0, seg.end / info.duration) if info.duration else 1.0)
        return Transcription(info.language, info.language_probability, info.duration, out)

    def _placement(self) -> tuple[str, str]:
        device = self.device
        if device == "auto":
            import ctranslate2

            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        compute = self.compute_type
        if compute == "auto":
            compute = "float16" if device == "cuda" else "int8"
        return device, compute


@lru_cache(maxsize=2)
def _load_model(path: str, device: str, compute_type: str, cpu_threads: int):
    """Models load once per process: the first stage pays, retries and later segments don't."""
    from faster_whisper import WhisperModel

    return WhisperModel(path, device=device, compute_type=compute_type, cpu_threads=cpu_threads)
