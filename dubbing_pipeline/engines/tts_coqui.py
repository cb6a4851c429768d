"""Coqui TTS (package ``coqui-tts``) from a local model folder: XTTS v2, which clones each
speaker's voice from a reference clip of their own source speech, and single-speaker VITS models.

coqui-tts needs torch 2.9.1 + torchaudio 2.9 (torchcodec < 0.10, transformers < 5.24), which cannot
share an environment with the main one's torch 2.13 (DESIGN.md section 10): deploy it in its own
environment. TTS and torch are imported only inside functions, so this module imports anywhere and a
missing package is a classified error, not an import failure of the code location.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from dagster import ConfigurableResource
from pydantic import Field

from dubbing_pipeline.domain import languages
from dubbing_pipeline.domain.errors import JobErrorType, JobProcessingError, validation_error
from dubbing_pipeline.domain.voices import VoiceReference

Kind = Literal["auto", "xtts", "vits"]
Device = Literal["auto", "cpu", "cuda"]

INSTALL_HINT = (
    "Coqui TTS needs the optional extra in an environment of its own: pip install 'dubbing[coqui]' "
    "there, with torch==2.9.1 and torchaudio==2.9.* (torchaudio 2.11 does not load beside torch "
    "2.13, the main environment's)"
)
CHECKPOINTS = ("model.pth", "model_file.pth", "best_model.pth", "checkpoint.pth")
XTTS_REFERENCE_RATE = 22_050  # the rate XTTS computes its conditioning at


class CoquiTTS(ConfigurableResource):
    """Coqui XTTS v2 (voice cloning) or a single-speaker VITS model from ``model_path``."""

    model_path: str = Field(
        description="Local folder with config.json and the checkpoint (XTTS: model.pth and "
        "vocab.json; VITS: model.pth or model_file.pth). Nothing is downloaded."
    )
    kind: Kind = Field(default="auto", description="auto: the 'model' field of config.json")
    device: Device = "auto"
    language: str | None = Field(
        default=None,
        description="VITS: the language its voice speaks (default: config's phoneme_language)",
    )
    seed: int = Field(default=0, description="Sampling seed; a clip is reproducible from its text")

    @property
    def voice_id(self) -> str:
        """The model folder, its config and checkpoint size, and the seed. The clip cache key
        adds each speaker's reference hash (assets/speech.py)."""
        folder = Path(self.model_path)
        config = (folder / "config.json").read_bytes() if (folder / "config.json").exists() else b""
        checkpoint = _checkpoint(folder)
        size = checkpoint.stat().st_size if checkpoint else 0
        fingerprint = hashlib.sha256(config + str(size).encode()).hexdigest()[:12]
        return f"coqui-{self._kind()}:{folder.name}:{fingerprint}:seed{self.seed}"

    @property
    def reference_sample_rate(self) -> int | None:
        if self._kind() != "xtts":
            return None  # single-speaker VITS has one voice: references would be ignored
        return int(
            _config(self.model_path).get("audio", {}).get("sample_rate", XTTS_REFERENCE_RATE)
        )

    def languages(self) -> None:
        return None  # the model's languages are known once it is loaded

    def check_language(self, language: str) -> None:
        if importlib.util.find_spec("TTS") is None:  # fail before any work is done
            raise JobProcessingError(INSTALL_HINT, JobErrorType.PERMANENT)
        if self._kind() == "xtts":
            _xtts_language(language, _config(self.model_path).get("languages", []))
            return
        spoken = self.language or _config(self.model_path).get("phoneme_language")
        if not spoken:
            raise JobProcessingError(
                f"VITS model {self.model_path} does not say which language it speaks: set the "
                "engine's `language`",
                JobErrorType.PERMANENT,
            )
        if languages.base(spoken) != languages.base(language):
            raise validation_error(f"VITS model speaks {spoken}, not {language}")

    def synthesize(
        self, text: str, language: str, out: Path, voice: VoiceReference | None = None
    ) -> None:
        """One clip; XTTS speaks in ``voice``'s voice, VITS in its own and ignores ``voice``."""
        loaded = self.loaded()
        if loaded.kind != "xtts":
            voice = None  # one voice: the clip must not depend on a reference it ignores
        with _resource_errors():
            import torch

            torch.manual_seed(_seed(self.seed, text, voice))
            with torch.inference_mode():
                if loaded.kind == "xtts":
                    samples = _xtts_speak(loaded, text, language, voice)
                else:
                    samples = loaded.model.synthesize(text=text)["wav"]
        _write_wav(out, samples, loaded.sample_rate)

    def loaded(self) -> LoadedModel:
        """The model, loaded once per process and kept with its per-speaker conditioning."""
        return _load(str(Path(self.model_path).resolve()), self._kind(), self._device())

    def _kind(self) -> Literal["xtts", "vits"]:
        if self.kind != "auto":
            return self.kind
        name = str(_config(self.model_path).get("model", "")).lower()
        if name not in ("xtts", "vits"):
            raise JobProcessingError(
                f"Coqui model {name!r} in {self.model_path} is not supported: xtts or vits",
                JobErrorType.PERMANENT,
            )
        return name  # type: ignore[return-value]

    def _device(self) -> str:
        if self.device != "auto":
            return self.device
        try:
            import torch
        except ImportError as exc:
            raise JobProcessingError(INSTALL_HINT, JobErrorType.PERMANENT) from exc
        return "cuda" if torch.cuda.is_available() else "cpu"


@dataclass
class LoadedModel:
    kind: str
    model: Any
    config: Any
    sample_rate: int
    conditioning: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    """XTTS: (GPT latents, speaker embedding) by reference sha256, computed once per speaker."""


@lru_cache(maxsize=2)
def _load(model_path: str, kind: str, device: str) -> LoadedModel:
    """Load once per process: retries and later segments reuse the model and its voices."""
    try:
        from TTS.config import load_config
        from TTS.tts.models import setup_model
    except (ImportError, OSError) as exc:  # OSError: torchaudio's library beside another torch
        raise JobProcessingError(f"{INSTALL_HINT} ({exc})", JobErrorType.PERMANENT) from exc
    folder = Path(model_path)
    config = load_config(str(folder / "config.json"))
    with _resource_errors():
        model = setup_model(config)
        if kind == "xtts":
            model.load_checkpoint(config, checkpoint_dir=str(folder), eval=True)
        else:
            checkpoint = _checkpoint(folder)
            if checkpoint is None:
                raise JobProcessingError(
                    f"no checkpoint ({', '.join(CHECKPOINTS)}) in {folder}", JobErrorType.PERMANENT
                )
            model.load_checkpoint(config, str(checkpoint), eval=True)
        model.to(device)
    audio = config.audio
    rate = audio.get("output_sample_rate") or audio["sample_rate"]
    return LoadedModel(kind=kind, model=model, config=config, sample_rate=int(rate))


def _xtts_speak(loaded: LoadedModel, text: str, language: str, voice: VoiceReference | None) -> Any:
    if voice is None:
        raise validation_error("XTTS clones a voice: it needs the speaker's reference clip")
    config = loaded.config
    if voice.sha256 not in loaded.conditioning:
        loaded.conditioning[voice.sha256] = loaded.model.get_conditioning_latents(
            audio_path=str(voice.path),
            max_ref_length=config.max_ref_len,
            gpt_cond_len=config.gpt_cond_len,
            gpt_cond_chunk_len=config.gpt_cond_chunk_len,
            sound_norm_refs=config.sound_norm_refs,
            load_sr=config.audio.sample_rate,
        )
    latents, speaker = loaded.conditioning[voice.sha256]
    return loaded.model.inference(
        text,
        _xtts_language(language, config.languages),
        latents,
        speaker,
        temperature=config.temperature,
        length_penalty=config.length_penalty,
        repetition_penalty=config.repetition_penalty,
        top_k=config.top_k,
        top_p=config.top_p,
    )["wav"]


def _xtts_language(language: str, supported: list[str]) -> str:
    """XTTS's code for ``language`` ('zh' is 'zh-cn' there), or a VALIDATION error."""
    code = "zh-cn" if languages.base(language) == "zh" else languages.base(language)
    if code not in supported:
        raise validation_error(f"XTTS does not speak {language!r} (it speaks {supported})")
    return code


@lru_cache(maxsize=8)
def _config(model_path: str) -> dict[str, Any]:
    """config.json as plain JSON: the kind, languages and rates, without importing TTS."""
    path = Path(model_path) / "config.json"
    if not path.is_file():
        raise JobProcessingError(f"no config.json in Coqui model folder {model_path}")
    return json.loads(path.read_text())


def _checkpoint(folder: Path) -> Path | None:
    return next((folder / n for n in CHECKPOINTS if (folder / n).is_file()), None)


def _seed(base: int, text: str, voice: VoiceReference | None) -> int:
    """The same text in the same voice gives the same clip, whatever ran before it."""
    key = f"{base}\n{voice.sha256 if voice else ''}\n{text}"
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16)


@contextmanager
def _resource_errors() -> Iterator[None]:
    """A full GPU is a RESOURCE error (retried later), not a failed job."""
    try:
        yield
    except RuntimeError as exc:  # torch.cuda.OutOfMemoryError is a RuntimeError
        if "out of memory" in str(exc).lower():
            raise JobProcessingError(f"GPU out of memory: {exc}", JobErrorType.RESOURCE) from exc
        raise


def _write_wav(out: Path, samples: Any, rate: int) -> None:
    """Float samples in [-1, 1] as a mono 16-bit WAV."""
    import numpy as np

    pcm = (np.clip(np.asarray(samples, dtype=np.float32).reshape(-1), -1.0, 1.0) * 32767).astype(
        "<i2"
    )
    with wave.open(str(out), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm.tobytes())
