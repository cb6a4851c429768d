"""The deployment's engines and artifact store, chosen by environment, never by code changes.

Resource keys are what the stage assets ask for: ``store``, ``stt``, ``diarizer``, ``mt``, ``tts``,
``muxer``, ``mixer``, ``separator``, ``lipsync``. Engines load their models lazily, so building
these objects costs nothing; an engine whose optional extra is not installed is refused here, when
the definitions load, with the ``pip install`` that fixes it, not deep inside a run.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.util import find_spec
from typing import Any

from dubbing_pipeline.domain.languages import Capabilities
from dubbing_pipeline.engines.background import BackgroundMixer
from dubbing_pipeline.engines.diarization import NoDiarizer, ResemblyzerDiarizer
from dubbing_pipeline.engines.diarization_pyannote import PyannoteDiarizer
from dubbing_pipeline.engines.lipsync import PipesLipSync, lipsync_from_env
from dubbing_pipeline.engines.mt import ApertiumMT
from dubbing_pipeline.engines.mt_transformers import TransformersMT
from dubbing_pipeline.engines.mux import FfmpegMuxer
from dubbing_pipeline.engines.separation import DemucsSeparator
from dubbing_pipeline.engines.stt import FasterWhisperSTT
from dubbing_pipeline.engines.tts import EspeakTTS, PiperTTS
from dubbing_pipeline.engines.tts_coqui import CoquiTTS
from dubbing_pipeline.infra.events import EventPublisher
from dubbing_pipeline.infra.settings import (
    DemucsSettings,
    MixSettings,
    PipelineSettings,
    settings,
)
from dubbing_pipeline.infra.storage import ArtifactStore


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


def default_resources(config: PipelineSettings | None = None) -> dict[str, Any]:
    """The engines, store and event stream the environment names (``infra.settings``)."""
    config = config or settings()
    return {
        "store": ArtifactStore(base_url=config.artifacts),
        "stt": FasterWhisperSTT(model=config.stt_model, device=config.stt_device),
        "diarizer": diarizer_engine(config),
        "mt": mt_engine(config),
        "tts": tts_engine(config),
        "muxer": FfmpegMuxer(),
        **background_engines(config),
        "lipsync": lipsync_engine(),
        "events": EventPublisher(redis_url=config.redis_url),
    }


def diarizer_engine(
    config: PipelineSettings,
) -> ResemblyzerDiarizer | PyannoteDiarizer | NoDiarizer:
    """Resemblyzer (the offline default, ``[speakers]``), a pyannote pipeline from a folder or
    the Hugging Face cache (``[pyannote]``, its own environment), or none (everyone is S1)."""
    if config.diarization == "resemblyzer":
        require_extra("Resemblyzer diarization", "speakers", "resemblyzer", "torch", "sklearn")
        diarizer = ResemblyzerDiarizer(device=config.diarization_device)
        if config.diarization_threshold is not None:
            diarizer = ResemblyzerDiarizer(
                device=config.diarization_device, threshold=config.diarization_threshold
            )
        return diarizer
    if config.diarization == "pyannote":
        require_extra("pyannote diarization", "pyannote", "pyannote.audio", "torch", "torchaudio")
        if not config.diarization_model:
            raise ValueError(
                "DUBBING_DIARIZATION=pyannote needs DUBBING_DIARIZATION_MODEL: a pipeline folder "
                "or a hub id in the Hugging Face cache"
            )
        return PyannoteDiarizer(pipeline=config.diarization_model, device=config.diarization_device)
    return NoDiarizer()


def mt_engine(config: PipelineSettings) -> ApertiumMT | TransformersMT:
    """Apertium (the default) or transformers: a MarianMT / NLLB / M2M100 model (hub id or
    folder), or a CTranslate2 conversion of it."""
    if config.mt == "apertium":
        return ApertiumMT()
    if config.mt_ctranslate2:
        require_extra("transformers MT (CTranslate2)", "translate", "transformers")
    else:
        require_extra("transformers MT", "translate", "torch", "transformers", "sentencepiece")
    if config.mt_model:
        return TransformersMT(
            model=config.mt_model, device=config.mt_device, ctranslate2_model=config.mt_ctranslate2
        )
    return TransformersMT(device=config.mt_device, ctranslate2_model=config.mt_ctranslate2)


def tts_engine(config: PipelineSettings) -> EspeakTTS | PiperTTS | CoquiTTS:
    """espeak-ng (the default), Piper, or Coqui from a local model folder."""
    if config.tts == "espeak":
        return EspeakTTS()
    if config.tts == "piper":
        require_extra("Piper TTS", "piper", "piper")
        return PiperTTS()
    require_extra("Coqui TTS", "coqui", "TTS", "torch", "torchaudio")
    if not config.tts_model:
        raise ValueError("DUBBING_TTS=coqui needs DUBBING_TTS_MODEL: a local model folder")
    return CoquiTTS(
        model_path=config.tts_model, device=config.tts_device, language=config.tts_language
    )


def background_engines(config: PipelineSettings) -> dict[str, BackgroundMixer | DemucsSeparator]:
    """What plays under the dub unless a project says (``DUBBING_BACKGROUND``: duck, stem,
    demucs, none), the mix's other settings (``DUBBING_MIX_<FIELD>``) and Demucs's
    (``DUBBING_DEMUCS_<FIELD>``). A deployment whose default is demucs without the extra or the
    weights is refused here, naming what is missing."""
    mixer = BackgroundMixer(method=config.background, **MixSettings().fields())
    separator = DemucsSeparator(**DemucsSettings().fields())
    if mixer.method == "demucs":
        require_extra("The demucs background", "separate", "demucs", "torch")
        if reason := separator.unavailable():
            raise ValueError(f"DUBBING_BACKGROUND=demucs: {reason}")
    return {"mixer": mixer, "separator": separator}


def lipsync_engine() -> PipesLipSync:
    """``DUBBING_LIPSYNC_<FIELD>`` (see :func:`lipsync_from_env`); the k8s launcher needs
    dagster-k8s."""
    engine = lipsync_from_env()
    if engine.launcher == "k8s":
        require_extra("Lip-sync on Kubernetes (PipesK8sClient)", "k8s", "dagster_k8s")
    return engine


def engine_capabilities(resources: dict[str, Any]) -> Capabilities:
    """What the engines say they can do; what one cannot say (or fails to) is unknown."""

    def ask(question: Callable[[], Any]) -> Any:
        try:
            return question()
        except Exception:  # a tool missing here: the engine will say so when it runs
            return None

    return Capabilities(
        transcribes=ask(resources["stt"].languages),
        translates=ask(resources["mt"].pairs),
        speaks=ask(resources["tts"].languages),
    )
