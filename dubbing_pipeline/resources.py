"""The deployment's engines and artifact store, chosen by environment, never by code changes.

Resource keys are what the stage assets ask for: ``store``, ``stt``, ``mt``, ``tts``, ``muxer``,
``lipsync``. Engines load their models lazily, so building these objects costs nothing.
"""

from __future__ import annotations

import os
from typing import Any

from dubbing_pipeline.engines.lipsync import RetimeLipSync
from dubbing_pipeline.engines.mt import ApertiumMT
from dubbing_pipeline.engines.mux import FfmpegMuxer
from dubbing_pipeline.engines.stt import FasterWhisperSTT
from dubbing_pipeline.engines.tts import EspeakTTS, PiperTTS
from dubbing_pipeline.events import EventPublisher
from dubbing_pipeline.storage import ArtifactStore

TTS_ENGINES = {"espeak": EspeakTTS, "piper": PiperTTS}


def artifacts_url() -> str:
    return os.environ.get("DUBBING_ARTIFACTS", "artifacts")


def default_resources() -> dict[str, Any]:
    """``DUBBING_ARTIFACTS`` (folder or fsspec URL), ``DUBBING_STT_MODEL`` (base, tiny.en, a
    folder), ``DUBBING_STT_DEVICE`` (auto, cpu, cuda), ``DUBBING_TTS`` (espeak, piper),
    ``DUBBING_REDIS_URL`` (the event stream; unset: no events)."""
    tts = os.environ.get("DUBBING_TTS", "espeak")
    if tts not in TTS_ENGINES:
        raise ValueError(f"DUBBING_TTS={tts!r}: choose one of {sorted(TTS_ENGINES)}")
    return {
        "store": ArtifactStore(base_url=artifacts_url()),
        "stt": FasterWhisperSTT(
            model=os.environ.get("DUBBING_STT_MODEL", "base"),
            device=os.environ.get("DUBBING_STT_DEVICE", "auto"),  # type: ignore[arg-type]
        ),
        "mt": ApertiumMT(),
        "tts": TTS_ENGINES[tts](),
        "muxer": FfmpegMuxer(),
        "lipsync": RetimeLipSync(),
        "events": EventPublisher(redis_url=os.environ.get("DUBBING_REDIS_URL") or None),
    }
