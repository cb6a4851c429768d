"""The deployment's engines and artifact store, chosen by environment, never by code changes.

Resource keys are what the stage assets ask for: ``store``, ``stt``, ``mt``, ``tts``, ``muxer``,
``mixer``, ``separator``, ``lipsync``. Engines load their models lazily, so building these
objects costs nothing; an engine whose optional extra is not installed is refused here, when the
definitions load, with the ``pip install`` that fixes it, not deep inside a run.
"""

from __future__ import annotations

import os
from importlib.util import find_spec
from typing import Any

from dubbing_pipeline.domain.background import METHODS
from dubbing_pipeline.engines.background import BackgroundMixer
from dubbing_pipeline.engines.lipsync import PipesLipSync, lipsync_from_env
from dubbing_pipeline.engines.mt import ApertiumMT
from dubbing_pipeline.engines.mt_transformers import TransformersMT
from dubbing_pipeline.engines.mux import FfmpegMuxer
from dubbing_pipeline.engines.separation import DemucsSeparator
from dubbing_pipeline.engines.stt import FasterWhisperSTT
from dubbing_pipeline.engines.tts import EspeakTTS, PiperTTS
from dubbing_pipeline.engines.tts_coqui import CoquiTTS
from dubbing_pipeline.infra.events import EventPublisher
from dubbing_pipeline.infra.storage import ArtifactStore

MT_ENGINES = ("apertium", "transformers")
TTS_ENGINES = ("espeak", "piper", "coqui")


class MissingExtraError(ValueError):
    """An engine is configured whose optional dependencies are not installed."""


def require_extra(engine: str, extra: str, *modules: str) -> None:
    """Raise MissingExtraError naming ``pip install 'dubbing[extra]'`` if a module is absent."""
    missing = [m for m in modules if _absent(m)]
    if missing:
        raise MissingExtraError(
            f"{engine} needs the optional extra: pip install 'dubbing[{extra}]' "
            f"(not importable here: {', '.join(missing)})"
        )


def _absent(module: str) -> bool:
    try:
        return find_spec(module) is None  # finds without importing: torch stays unloaded
    except ValueError:  # in sys.modules as None: deliberately unavailable
        return True


def artifacts_url() -> str:
    return os.environ.get("DUBBING_ARTIFACTS", "artifacts")


def default_resources() -> dict[str, Any]:
    """``DUBBING_ARTIFACTS`` (folder or fsspec URL), ``DUBBING_STT_MODEL`` (base, tiny.en, a
    folder), ``DUBBING_STT_DEVICE`` (auto, cpu, cuda), ``DUBBING_REDIS_URL`` (the event stream;
    unset: no events); MT, TTS and lip-sync as in :func:`mt_engine`, :func:`tts_engine` and
    :func:`lipsync_engine`."""
    return {
        "store": ArtifactStore(base_url=artifacts_url()),
        "stt": FasterWhisperSTT(
            model=os.environ.get("DUBBING_STT_MODEL", "base"),
            device=os.environ.get("DUBBING_STT_DEVICE", "auto"),  # type: ignore[arg-type]
        ),
        "mt": mt_engine(),
        "tts": tts_engine(),
        "muxer": FfmpegMuxer(),
        **background_engines(),
        "lipsync": lipsync_engine(),
        "events": EventPublisher(redis_url=os.environ.get("DUBBING_REDIS_URL") or None),
    }


def mt_engine() -> ApertiumMT | TransformersMT:
    """``DUBBING_MT``: apertium (default) or transformers, which reads ``DUBBING_MT_MODEL`` (hub id
    or folder of a MarianMT / NLLB / M2M100 model), ``DUBBING_MT_DEVICE`` (auto, cpu, cuda) and
    ``DUBBING_MT_CTRANSLATE2`` (a CTranslate2 conversion of that model, to run it instead)."""
    mt = os.environ.get("DUBBING_MT", "apertium")
    if mt == "apertium":
        return ApertiumMT()
    if mt == "transformers":
        ctranslate2 = os.environ.get("DUBBING_MT_CTRANSLATE2", "")
        if ctranslate2:
            require_extra("transformers MT (CTranslate2)", "translate", "transformers")
        else:
            require_extra("transformers MT", "translate", "torch", "transformers", "sentencepiece")
        model = os.environ.get("DUBBING_MT_MODEL")
        return TransformersMT(
            **({"model": model} if model else {}),
            device=os.environ.get("DUBBING_MT_DEVICE", "auto"),  # type: ignore[arg-type]
            ctranslate2_model=ctranslate2,
        )
    raise ValueError(f"DUBBING_MT={mt!r}: choose one of {list(MT_ENGINES)}")


def tts_engine() -> EspeakTTS | PiperTTS | CoquiTTS:
    """``DUBBING_TTS``: espeak (default), piper, or coqui, which reads ``DUBBING_TTS_MODEL`` (a
    local Coqui model folder, required), ``DUBBING_TTS_DEVICE`` and ``DUBBING_TTS_LANGUAGE``."""
    tts = os.environ.get("DUBBING_TTS", "espeak")
    if tts == "espeak":
        return EspeakTTS()
    if tts == "piper":
        require_extra("Piper TTS", "piper", "piper")
        return PiperTTS()
    if tts == "coqui":
        require_extra("Coqui TTS", "coqui", "TTS", "torch", "torchaudio")
        model = os.environ.get("DUBBING_TTS_MODEL")
        if not model:
            raise ValueError("DUBBING_TTS=coqui needs DUBBING_TTS_MODEL: a local model folder")
        return CoquiTTS(
            model_path=model,
            device=os.environ.get("DUBBING_TTS_DEVICE", "auto"),  # type: ignore[arg-type]
            language=os.environ.get("DUBBING_TTS_LANGUAGE") or None,
        )
    raise ValueError(f"DUBBING_TTS={tts!r}: choose one of {list(TTS_ENGINES)}")


def background_engines() -> dict[str, BackgroundMixer | DemucsSeparator]:
    """``DUBBING_BACKGROUND``: what plays under the dub unless a project says otherwise (duck,
    the default; stem, demucs, none); ``DUBBING_MIX_<FIELD>`` any other field of
    BackgroundMixer (``DUCK_DB``, ``LOUDNESS_LUFS`` or ``off``, ``ORIGINAL_TRACK`` ...);
    ``DUBBING_DEMUCS_<FIELD>`` any field of DemucsSeparator (``MODEL``, ``REPO``, ``DEVICE``).
    A deployment whose default is demucs without the extra or the weights is refused here."""
    fields = _fields_from_env(BackgroundMixer, "DUBBING_MIX_")
    method = os.environ.get("DUBBING_BACKGROUND")
    if method and method not in METHODS:
        raise ValueError(f"DUBBING_BACKGROUND={method!r}: choose one of {list(METHODS)}")
    mixer = BackgroundMixer(**fields | ({"method": method} if method else {}))
    separator = DemucsSeparator(**_fields_from_env(DemucsSeparator, "DUBBING_DEMUCS_"))
    if mixer.method == "demucs":
        require_extra("The demucs background", "separate", "demucs", "torch")
        if reason := separator.unavailable():
            raise ValueError(f"DUBBING_BACKGROUND=demucs: {reason}")
    return {"mixer": mixer, "separator": separator}


def _fields_from_env(resource: type, prefix: str) -> dict[str, str | None]:
    """``<PREFIX><FIELD>`` for each field of a resource, as text for pydantic to convert; an
    empty value, ``off`` or ``none`` is None (a setting switched off)."""
    fields: dict[str, str | None] = {}
    for name in resource.model_fields:
        value = os.environ.get(f"{prefix}{name.upper()}")
        if value is not None:
            fields[name] = None if value.strip().lower() in ("", "off", "none") else value
    return fields


def lipsync_engine() -> PipesLipSync:
    """``DUBBING_LIPSYNC_<FIELD>`` (see :func:`lipsync_from_env`); the k8s launcher needs
    dagster-k8s."""
    engine = lipsync_from_env()
    if engine.launcher == "k8s":
        require_extra("Lip-sync on Kubernetes (PipesK8sClient)", "k8s", "dagster_k8s")
    return engine
