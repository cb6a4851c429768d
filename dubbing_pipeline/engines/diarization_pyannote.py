"""Who speaks when, in production: a pyannote.audio pipeline from a local folder or the Hugging
Face cache, never downloaded at run time.

pyannote.audio needs torch and torchaudio of one release (torchaudio has no build for the main
environment's torch 2.13), so it lives in an environment of its own, like Coqui (``[pyannote]``).
No pyannote weights ship in any package: a deployment puts the pipeline (config.yaml and the
models it names) in a folder, or fills the Hugging Face cache once with its token
(``DUBBING_PYANNOTE_TOKEN``) on a machine that can reach the hub.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from dagster import ConfigurableResource
from pydantic import Field

from dubbing_pipeline.domain.errors import JobErrorType, JobProcessingError
from dubbing_pipeline.domain.speakers import Diarization, Turn
from dubbing_pipeline.engines.base import Progress
from dubbing_pipeline.infra.settings import settings

TOKEN_VARIABLE = "DUBBING_PYANNOTE_TOKEN"
INSTALL_HINT = (
    "pyannote diarization needs the optional extra in an environment of its own: pip install "
    "'dubbing[pyannote]' there (torch and torchaudio of one release; torchaudio has no build for "
    "the main environment's torch 2.13)"
)


class PyannoteDiarizer(ConfigurableResource):
    """A pyannote.audio speaker-diarization pipeline (e.g. speaker-diarization-community-1)."""

    pipeline: str = Field(
        description="A local folder with the pipeline's config.yaml, or a hub id already in the "
        "Hugging Face cache (HF_HOME). Nothing is downloaded at run time."
    )
    device: Literal["auto", "cpu", "cuda"] = "auto"

    @property
    def name(self) -> str:
        return "pyannote"

    def diarize(
        self,
        media: Path,
        progress: Progress,
        min_speakers: int | None = None,
        max_speakers: int | None = None,
    ) -> Diarization:
        pipeline = load_pipeline(self.pipeline, self.device)
        bounds = {"min_speakers": min_speakers, "max_speakers": max_speakers}
        output = pipeline(str(media), **{k: v for k, v in bounds.items() if v})
        progress(1.0)
        return Diarization(
            turns_from_annotation(output),
            engine={"engine": self.name, "pipeline": self.pipeline},
        )


def turns_from_annotation(output: Any) -> list[Turn]:
    """Our turns from what a pyannote pipeline returns: an ``Annotation`` (pyannote.audio 3) or
    an output whose ``speaker_diarization`` is one (4.x); overlapping tracks stay overlapping."""
    annotation = getattr(output, "speaker_diarization", output)
    tracks: Iterable[tuple[Any, Any, Any]] = annotation.itertracks(yield_label=True)
    turns = [
        Turn(round(float(s.start), 3), round(float(s.end), 3), str(label))
        for s, _, label in tracks
        if s.end > s.start
    ]
    return sorted(turns, key=lambda t: (t.start, t.end))


_pipelines: dict[tuple[str, str], Any] = {}
_lock = threading.Lock()


def load_pipeline(source: str, device: str = "auto") -> Any:
    """The pipeline, loaded once per process. A missing extra, folder or cache entry is a
    PERMANENT error that says what to install or where the weights must be."""
    key = (source, device)
    with _lock:
        if key in _pipelines:
            return _pipelines[key]
        folder = Path(source).expanduser()
        local = folder.is_dir() or source.startswith((".", "/", "~"))
        if local and not (folder / "config.yaml").is_file():
            raise JobProcessingError(
                f"pyannote pipeline folder {source} has no config.yaml: put the pipeline there "
                f"(its config.yaml and the models it names)",
                JobErrorType.PERMANENT,
            )
        try:
            from pyannote.audio import Pipeline
        except ImportError as exc:
            raise JobProcessingError(INSTALL_HINT, JobErrorType.PERMANENT) from exc
        try:
            pipeline = Pipeline.from_pretrained(
                str(folder) if local else source, token=settings().pyannote_token
            )
        except Exception as exc:
            raise JobProcessingError(
                f"pyannote pipeline {source!r} could not be loaded offline ({exc}); fill the "
                f"Hugging Face cache once where the hub is reachable (with {TOKEN_VARIABLE}), "
                "or point DUBBING_DIARIZATION_MODEL at a local folder",
                JobErrorType.PERMANENT,
            ) from exc
        if pipeline is None:  # pyannote returns None when the hub refuses (a gated model)
            raise JobProcessingError(
                f"pyannote pipeline {source!r} is not available offline: accept its conditions "
                f"and set {TOKEN_VARIABLE} where the hub is reachable, then copy it here",
                JobErrorType.PERMANENT,
            )
        if device != "cpu":
            import torch

            if device == "cuda" or torch.cuda.is_available():
                pipeline.to(torch.device("cuda"))
        _pipelines[key] = pipeline
        return pipeline
