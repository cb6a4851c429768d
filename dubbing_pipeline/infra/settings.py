"""The pipeline's settings: every environment variable the code location, its runs and the CLI
read, typed, in one place (pydantic-settings). Nothing else in the package reads the
environment. ``docs/configuration.md`` lists them; a test keeps the two in step.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dubbing_pipeline.domain.checks import CheckThresholds
from dubbing_pipeline.domain.stages import Stage

Device = Literal["auto", "cpu", "cuda"]
DEFAULT_GPU_STAGES = "STT,MT,TTS,LIP_SYNC"


class PipelineSettings(BaseSettings):
    """``DUBBING_<FIELD>`` for each field (``DUBBING_STT_MODEL`` sets ``stt_model``)."""

    model_config = SettingsConfigDict(env_prefix="DUBBING_", extra="ignore", env_ignore_empty=True)

    artifacts: str = Field("artifacts", description="artifact store: a folder or fsspec URL")
    redis_url: str | None = Field(None, description="Redis for the event stream (unset: none)")
    incoming_url: str | None = Field(None, description="where videos are dropped for ingestion")
    model_cache: Path = Field(
        Path.home() / ".cache" / "dubbing" / "models",
        description="where Whisper base's two packaged halves are joined once",
    )
    model_budget_mb: int = Field(
        2048, ge=0, description="memory a process keeps loaded models in between runs (LRU)"
    )
    code_location: str = Field(
        "dubbing_pipeline.definitions", description="the code location's module name"
    )

    stt_model: str = Field("base", description="base, tiny.en (packaged), a folder, a size name")
    stt_device: Device = "auto"
    mt: Literal["apertium", "transformers"] = "apertium"
    mt_model: str | None = Field(None, description="transformers MT: hub id or folder")
    mt_device: Device = "auto"
    mt_ctranslate2: str = Field("", description="a CTranslate2 conversion of the MT model")
    tts: Literal["espeak", "piper", "coqui"] = "espeak"
    tts_model: str | None = Field(None, description="Coqui: the model folder")
    tts_device: Device = "auto"
    tts_language: str | None = Field(None, description="Coqui VITS: the model's language")
    diarization: Literal["resemblyzer", "pyannote", "none"] = Field(
        "resemblyzer", description="who speaks when: resemblyzer (offline), pyannote or none"
    )
    diarization_model: str | None = Field(
        None, description="pyannote: a pipeline folder or a hub id in the Hugging Face cache"
    )
    diarization_device: Device = "auto"
    diarization_threshold: float | None = Field(
        None, gt=0, lt=2, description="resemblyzer: the cosine distance that splits speakers"
    )
    pyannote_token: str | None = Field(
        None, description="Hugging Face token for gated pyannote pipelines (filling the cache)"
    )

    background: Literal["stem", "demucs", "duck", "none"] = Field(
        "duck", description="what plays under the dub unless a project says"
    )

    gpu_stages: str = Field(DEFAULT_GPU_STAGES, description="stages whose runs ask for a GPU")
    retry_attempts: int = Field(3, ge=1, description="attempts per stage, in all")
    retry_delay_s: float = Field(5.0, ge=0, description="the first retry's wait")
    retry_stt_attempts: int | None = None
    retry_stt_delay_s: float | None = None
    retry_mt_attempts: int | None = None
    retry_mt_delay_s: float | None = None
    retry_tts_attempts: int | None = None
    retry_tts_delay_s: float | None = None
    retry_muxing_attempts: int | None = None
    retry_muxing_delay_s: float | None = None
    retry_lip_sync_attempts: int | None = None
    retry_lip_sync_delay_s: float | None = None
    pool_limit_stt: int = Field(1, ge=0, description="runs of a stage at once, when not paused")
    pool_limit_mt: int = Field(1, ge=0)
    pool_limit_tts: int = Field(1, ge=0)
    pool_limit_muxing: int = Field(1, ge=0)
    pool_limit_lip_sync: int = Field(1, ge=0)

    @field_validator(
        "mt_model",
        "tts_model",
        "tts_language",
        "redis_url",
        "incoming_url",
        "diarization_model",
        "pyannote_token",
    )
    @classmethod
    def _empty_is_unset(cls, value: str | None) -> str | None:
        return value or None

    def gpu_stage_set(self) -> frozenset[Stage]:
        names = [n.strip() for n in self.gpu_stages.split(",") if n.strip()]
        return frozenset(Stage.parse(n) for n in names if n.lower() != "none")

    def retry(self, stage: Stage) -> tuple[int, float]:
        """(attempts, first delay) of ``stage``: its own setting, else the common one."""
        attempts = getattr(self, f"retry_{stage.value.lower()}_attempts")
        delay = getattr(self, f"retry_{stage.value.lower()}_delay_s")
        return (
            self.retry_attempts if attempts is None else attempts,
            self.retry_delay_s if delay is None else delay,
        )

    def pool_limit(self, stage: Stage) -> int:
        return getattr(self, f"pool_limit_{stage.value.lower()}")


class LipSyncSettings(BaseSettings):
    """``DUBBING_LIPSYNC_<FIELD>``: any field of the lip-sync resource (``PipesLipSync``).
    COMMAND is a shell-quoted command line; OPTIONS, ENV and POD_SPEC are JSON."""

    model_config = SettingsConfigDict(
        env_prefix="DUBBING_LIPSYNC_", extra="ignore", env_ignore_empty=True
    )

    command: str | None = None
    checkpoint: str | None = None
    device: Device | None = None
    options: str | None = None
    env: str | None = None
    timeout_s: float | None = None
    launcher: Literal["subprocess", "k8s"] | None = None
    image: str | None = None
    namespace: str | None = None
    pod_spec: str | None = None
    shared_dir: str | None = None

    def fields(self) -> dict[str, Any]:
        """The resource's fields that were set, parsed."""
        out: dict[str, Any] = {}
        for name, value in self.model_dump(exclude_none=True).items():
            if name == "command":
                out[name] = shlex.split(value)
            elif name in ("options", "env", "pod_spec"):
                out[name] = json.loads(value)
            else:
                out[name] = value
        return out


class MixSettings(BaseSettings):
    """``DUBBING_MIX_<FIELD>``: any field of what plays under the dub (``BackgroundMixer``);
    ``LOUDNESS_LUFS=off`` leaves the dub's loudness as mixed."""

    model_config = SettingsConfigDict(
        env_prefix="DUBBING_MIX_", extra="ignore", env_ignore_empty=True
    )

    duck_db: float | None = None
    ramp_s: float | None = None
    min_gap_s: float | None = None
    centre_cancel: bool | None = None
    loudness_lufs: float | Literal["off"] | None = None
    peak_db: float | None = None
    original_track: bool | None = None
    stem_tolerance_s: float | None = None

    def fields(self) -> dict[str, Any]:
        """The resource's fields that were set (``off`` is no loudness target)."""
        out = self.model_dump(exclude_none=True)
        if out.get("loudness_lufs") == "off":
            out["loudness_lufs"] = None
        return out


class DemucsSettings(BaseSettings):
    """``DUBBING_DEMUCS_<FIELD>``: any field of the Demucs separator (``DemucsSeparator``)."""

    model_config = SettingsConfigDict(
        env_prefix="DUBBING_DEMUCS_", extra="ignore", env_ignore_empty=True
    )

    model: str | None = None
    repo: str | None = None
    hf_cache: str | None = None
    device: Device | None = None
    chunk_s: float | None = None
    overlap_s: float | None = None
    threads: int | None = None

    def fields(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class CheckSettings(BaseSettings, CheckThresholds):
    """``DUBBING_CHECK_<FIELD>``: where each asset check draws its line, per deployment (every
    field of ``domain.checks.CheckThresholds``)."""

    model_config = SettingsConfigDict(
        env_prefix="DUBBING_CHECK_", extra="ignore", env_ignore_empty=True
    )


def check_thresholds() -> CheckThresholds:
    """The checks' thresholds as the environment gives them now (read by each stage run)."""
    return CheckThresholds(**CheckSettings().model_dump())


def settings() -> PipelineSettings:
    """The settings as the environment gives them now (cheap: read when resources are built)."""
    return PipelineSettings()


def pool_limit(stage: Stage) -> int:
    return settings().pool_limit(stage)
