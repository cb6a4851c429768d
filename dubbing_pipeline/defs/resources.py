"""The deployment's engines and artifact store, chosen by environment, never by code changes.

Resource keys are what the stage assets ask for: ``store``, ``stt``, ``diarizer``, ``mt``, ``tts``,
``muxer``, ``lipsync``. Engines load their models lazily, so building these objects costs nothing;
an engine whose optional extra is not installed is refused here, when the definitions load, with
the ``pip install`` that fixes it, not deep inside a run.
"""

from __future__ import annotations

import os
from importlib.util import find_spec
from typing import Any

from dubbing_pipeline.engines.diarization import NoDiarizer, ResemblyzerDiarizer
from dubbing_pipeline.engines.diarization_pyannote import PyannoteDiarizer
from dubbing_pipeline.engines.lipsync import PipesLipSync, lipsync_from_env
from dubbing_pipeline.engines.mt import ApertiumMT
from dubbing_pipeline.engines.mt_transformers import TransformersMT
from dubbing_pipeline.engines.mux import FfmpegMuxer
from dubbing_pipeline.engines.stt import FasterWhisperSTT
from dubbing_pipeline.engines.tts import EspeakTTS, PiperTTS
from dubbing_pipeline.engines.tts_coqui import CoquiTTS
from dubbing_pipeline.infra.events import EventPublisher
from dubbing_pipeline.infra.storage import ArtifactStore

MT_ENGINES = ("apertium", "transformers")
TTS_ENGINES = ("espeak", "piper", "coqui")
DIARIZATION_ENGINES = ("resemblyzer", "pyannote", "none")


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
    except ModuleNotFoundError:  # a dotted name whose parent package is missing
        return True
    except ValueError:  # in sys.modules as None: deliberately unavailable
        return True


def artifacts_url() -> str:
    return os.environ.get("DUBBING_ARTIFACTS", "artifacts")


def default_resources() -> dict[str, Any]:
    """``DUBBING_ARTIFACTS`` (folder or fsspec URL), ``DUBBING_STT_MODEL`` (base, tiny.en, a
    folder), ``DUBBING_STT_DEVICE`` (auto, cpu, cuda), ``DUBBING_REDIS_URL`` (the event stream;
    unset: no events); diarization, MT, TTS and lip-sync as in :func:`diarizer_engine`,
    :func:`mt_engine`, :func:`tts_engine` and :func:`lipsync_engine`."""
    return {
        "store": ArtifactStore(base_url=artifacts_url()),
        "stt": FasterWhisperSTT(
            model=os.environ.get("DUBBING_STT_MODEL", "base"),
            device=os.environ.get("DUBBING_STT_DEVICE", "auto"),  # type: ignore[arg-type]
        ),
        "diarizer": diarizer_engine(),
        "mt": mt_engine(),
        "tts": tts_engine(),
        "muxer": FfmpegMuxer(),
        "lipsync": lipsync_engine(),
        "events": EventPublisher(redis_url=os.environ.get("DUBBING_REDIS_URL") or None),
    }


def diarizer_engine() -> ResemblyzerDiarizer | PyannoteDiarizer | NoDiarizer:
    """``DUBBING_DIARIZATION``: resemblyzer (default, offline), pyannote (reads
    ``DUBBING_DIARIZATION_MODEL``, a pipeline folder or a cached hub id, and
    ``DUBBING_PYANNOTE_TOKEN``), or none (everyone is S1). ``DUBBING_DIARIZATION_DEVICE``: auto,
    cpu, cuda; ``DUBBING_DIARIZATION_THRESHOLD``: resemblyzer's distance threshold."""
    engine = os.environ.get("DUBBING_DIARIZATION", "resemblyzer")
    device = os.environ.get("DUBBING_DIARIZATION_DEVICE", "auto")
    if engine == "resemblyzer":
        require_extra("Resemblyzer diarization", "speakers", "resemblyzer", "torch", "sklearn")
        threshold = os.environ.get("DUBBING_DIARIZATION_THRESHOLD")
        return ResemblyzerDiarizer(
            device=device,  # type: ignore[arg-type]
            **({"threshold": float(threshold)} if threshold else {}),
        )
    if engine == "pyannote":
        require_extra("pyannote diarization", "pyannote", "pyannote.audio", "torch", "torchaudio")
        model = os.environ.get("DUBBING_DIARIZATION_MODEL")
        if not model:
            raise ValueError(
                "DUBBING_DIARIZATION=pyannote needs DUBBING_DIARIZATION_MODEL: a pipeline folder "
                "or a hub id in the Hugging Face cache"
            )
        return PyannoteDiarizer(pipeline=model, device=device)  # type: ignore[arg-type]
    if engine == "none":
        return NoDiarizer()
    raise ValueError(f"DUBBING_DIARIZATION={engine!r}: choose one of {list(DIARIZATION_ENGINES)}")


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


def lipsync_engine() -> PipesLipSync:
    """``DUBBING_LIPSYNC_<FIELD>`` (see :func:`lipsync_from_env`); the k8s launcher needs
    dagster-k8s."""
    engine = lipsync_from_env()
    if engine.launcher == "k8s":
        require_extra("Lip-sync on Kubernetes (PipesK8sClient)", "k8s", "dagster_k8s")
    return engine
