"""Demucs (MIT): the source's music and effects without its voices, for the ``demucs`` background.

An optional extra (``pip install 'dubbing[separate]'``: demucs, torch 2.13.0). No Demucs weights
ship in any package, and nothing is downloaded here: the weights come from a folder
(``repo``: Demucs's own layout, ``<name>.yaml`` plus its models' ``.th`` files) or from the
HuggingFace cache where ``demucs`` itself would have put them. Missing weights are an error that
names the files.

The source is streamed: ffmpeg decodes it to float PCM at the model's rate, Demucs separates one
``chunk_s`` window at a time (``apply_model`` splits it further into the model's segments), the
windows overlap by ``overlap_s`` and are cross-faded, and ffmpeg writes the result as it comes. An
hour costs the memory of one window.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Literal

import ffmpeg
import numpy as np
from dagster import ConfigurableResource

from dubbing_pipeline.domain.errors import JobErrorType, JobProcessingError
from dubbing_pipeline.engines.base import Progress, no_progress
from dubbing_pipeline.infra import media

VOICES = "vocals"  # the Demucs source that is left out
HF_NAMESPACE = "adefossez"  # where demucs publishes its models on the HuggingFace hub


class DemucsSeparator(ConfigurableResource):
    """Separates a media file's first audio track into what is not voice, with Demucs."""

    model: str = "htdemucs"
    repo: str | None = None  # a folder of Demucs weights; None: the HuggingFace cache
    hf_cache: str | None = None  # that cache's folder; None: HuggingFace's default
    device: Literal["auto", "cpu", "cuda"] = "auto"
    chunk_s: float = 60.0
    overlap_s: float = 2.0
    threads: int = 0  # torch CPU threads; 0: torch's default

    @property
    def model_id(self) -> str:
        """Names the weights: part of the cache key of a separated background."""
        return f"demucs:{self.model}@{self.repo or 'hf-cache'}"

    def unavailable(self) -> str | None:
        """Why this deployment cannot separate, in words: the extra or the weights missing."""
        absent = [m for m in ("demucs", "torch") if find_spec(m) is None]
        if absent:
            return (
                f"Demucs needs the optional extra: pip install 'dubbing[separate]' "
                f"(not importable here: {', '.join(absent)})"
            )
        return _missing(self.model, self.repo, self.hf_cache)

    def separate(self, source: Path, out: Path, progress: Progress = no_progress) -> dict[str, Any]:
        """Write ``out`` (FLAC, the model's rate and channels): the source minus its voices."""
        import torch
        from demucs.apply import apply_model

        if self.threads:
            torch.set_num_threads(self.threads)
        model, device = _load(self.model, self.repo, self.hf_cache, self.device)
        if VOICES not in model.sources:
            raise JobProcessingError(
                f"Demucs model {self.model!r} separates {model.sources}, no {VOICES!r}",
                JobErrorType.PERMANENT,
            )
        keep = [i for i, name in enumerate(model.sources) if name != VOICES]
        rate, channels = model.samplerate, model.audio_channels
        total_s = media.probe(source).duration

        def background(window: np.ndarray) -> np.ndarray:
            mix = torch.from_numpy(window.T.copy())[None]  # (1, channels, samples)
            with torch.inference_mode():
                sources = apply_model(model, mix, shifts=0, split=True, device=device)
            return sources[0, keep].sum(dim=0).cpu().numpy().T  # (samples, channels)

        decoded = ffmpeg.input(str(source))["a:0"].output(
            "pipe:", f="f32le", acodec="pcm_f32le", ac=channels, ar=rate
        )
        encoder = ffmpeg.input("pipe:", f="f32le", ac=channels, ar=rate).output(
            str(out), acodec="flac", sample_fmt="s32"
        )
        windows = 0
        with media.feeding(encoder) as sink:
            for done, block in crossfaded(
                _frames(media.stream(decoded), channels),
                background,
                window=round(self.chunk_s * rate),
                overlap=round(self.overlap_s * rate),
            ):
                sink(block.astype("<f4").tobytes())
                windows += 1
                if total_s > 0:
                    progress(min(1.0, done / rate / total_s))
        return {"separation_model": self.model_id, "separation_windows": windows}


def crossfaded(
    frames: Iterator[np.ndarray],
    process,
    *,
    window: int,
    overlap: int,
) -> Iterator[tuple[int, np.ndarray]]:
    """Run ``process`` over windows of ``window + overlap`` frames that overlap by ``overlap``
    and yield the output in order, each overlap cross-faded linearly (``(frames done, block)``).
    The output has exactly as many frames as the input."""
    if window <= overlap:
        raise ValueError("a window must be longer than its overlap")
    blocks: list[np.ndarray] = []  # the input not yet processed, joined only when needed
    held = 0
    tail: np.ndarray | None = None  # the previous window's processed overlap
    done = 0
    source = iter(frames)
    exhausted = False
    while True:
        while not exhausted and held < window + overlap:
            block = next(source, None)
            if block is None:
                exhausted = True
            elif len(block):
                blocks.append(block)
                held += len(block)
        if held == 0:
            break
        pending = np.concatenate(blocks)
        result = process(pending[: window + overlap])
        if tail is not None:
            n = min(len(tail), len(result))
            fade = np.linspace(0.0, 1.0, n, endpoint=False, dtype=np.float32)[:, None]
            result[:n] = tail[:n] * (1 - fade) + result[:n] * fade
        if exhausted and held <= window + overlap:
            yield done + len(result), result
            break
        out, tail = result[:window], result[window:]
        blocks, held = [pending[window:]], held - window
        done += len(out)
        yield done, out


def _frames(chunks: Iterator[bytes], channels: int) -> Iterator[np.ndarray]:
    """Interleaved float32 PCM as (frames, channels) arrays, whole frames only."""
    pending = b""
    width = 4 * channels
    for chunk in chunks:
        pending += chunk
        whole = len(pending) // width * width
        if whole:
            yield np.frombuffer(pending[:whole], dtype="<f4").reshape(-1, channels)
            pending = pending[whole:]


def _hf_files(name: str) -> tuple[str, str]:
    """(HuggingFace repo id, bag file) of a Demucs model name, as ``demucs.hf`` names them."""
    from demucs.hf import hf_repo_name

    namespace, _, short = name.rpartition("/")
    return f"{namespace or HF_NAMESPACE}/{hf_repo_name(short)}", f"{short}.yaml"


def _missing(name: str, repo: str | None, cache: str | None) -> str | None:
    import yaml

    if repo is not None:
        folder = Path(repo)
        if not folder.is_dir():
            return f"Demucs weights folder {repo} does not exist"
        bag = folder / f"{name}.yaml"
        signatures = yaml.safe_load(bag.read_text())["models"] if bag.exists() else [name]
        absent = [s for s in signatures if not any(folder.glob(f"{s}*.th"))]
        if absent:
            wanted = [f"{s}-*.th" for s in absent]
            return (
                f"Demucs model {name!r} is not in {repo}: it needs "
                f"{'' if bag.exists() else f'{name}.yaml (a bag) or '}{', '.join(wanted)}"
            )
        return None
    from huggingface_hub import try_to_load_from_cache

    repo_id, bag_file = _hf_files(name)
    cached = try_to_load_from_cache(repo_id, bag_file, cache_dir=cache)
    if not isinstance(cached, str):
        return (
            f"Demucs model {name!r} is not in the HuggingFace cache: it needs {repo_id} "
            f"({bag_file} and its .safetensors files), or set DUBBING_DEMUCS_REPO to a folder "
            f"with {name}.yaml and its .th files. No Demucs weights ship in any package."
        )
    with open(cached) as file:
        signatures = yaml.safe_load(file)["models"]
    absent = [
        f"{s}.safetensors"
        for s in signatures
        if not isinstance(try_to_load_from_cache(repo_id, f"{s}.safetensors", cache_dir=cache), str)
    ]
    return f"Demucs model {name!r}: {repo_id} lacks {', '.join(absent)}" if absent else None


@lru_cache(maxsize=2)
def _load(name: str, repo: str | None, cache: str | None, device: str) -> tuple[Any, str]:
    """The model (or bag of models) on its device, loaded once per process."""
    import torch
    import yaml
    from demucs.apply import BagOfModels

    missing = _missing(name, repo, cache)
    if missing:
        raise JobProcessingError(missing, JobErrorType.PERMANENT)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if repo is not None:
        from demucs.pretrained import get_model

        model = get_model(name, repo=Path(repo))
    else:
        from demucs.hf import load_safetensors_model
        from huggingface_hub import try_to_load_from_cache

        repo_id, bag_file = _hf_files(name)
        with open(str(try_to_load_from_cache(repo_id, bag_file, cache_dir=cache))) as file:
            bag = yaml.safe_load(file)
        models = [
            load_safetensors_model(
                str(try_to_load_from_cache(repo_id, f"{s}.safetensors", cache_dir=cache))
            )
            for s in bag["models"]
        ]
        model = BagOfModels(models, bag.get("weights"), bag.get("segment"))
    model.eval()
    return model.to(device), device
