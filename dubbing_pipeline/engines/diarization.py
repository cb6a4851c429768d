"""Who speaks when, offline: Resemblyzer's packaged speaker encoder over the detected speech,
clustered with scikit-learn; and ``none`` for deployments that want one voice.

Speech regions come from the Silero VAD that faster-whisper ships. Each region is cut into pieces
of at most ``piece_s``; each piece gets a 256-d voice embedding (Resemblyzer's encoder, whose
weights are inside its PyPI wheel, Apache-2.0). Pieces are clustered by cosine distance with
average linkage and a distance threshold, so the number of speakers is found, not given (a
project can bound it). Audio is decoded a window at a time, as STT does: only embeddings (1 KB a
piece) are kept, so memory stays flat however long the video.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from dagster import ConfigurableResource
from pydantic import Field

from dubbing_pipeline.domain.errors import JobErrorType, JobProcessingError
from dubbing_pipeline.domain.speakers import Diarization, Turn
from dubbing_pipeline.engines.base import Progress
from dubbing_pipeline.infra.media import probe, speech_windows
from dubbing_pipeline.infra.model_cache import shared_cache

if TYPE_CHECKING:
    from resemblyzer import VoiceEncoder

SAMPLE_RATE = 16_000  # Resemblyzer's and Silero's rate
Device = Literal["auto", "cpu", "cuda"]


@dataclass(frozen=True)
class Piece:
    """A stretch of one speech region and its voice embedding."""

    start: float
    end: float
    embedding: np.ndarray

    @property
    def seconds(self) -> float:
        return self.end - self.start


class ResemblyzerDiarizer(ConfigurableResource):
    """Speaker embeddings (Resemblyzer) over Silero speech regions, clustered (scikit-learn)."""

    device: Device = "auto"
    threshold: float = Field(
        default=0.40,
        gt=0,
        lt=2,
        description="Cosine distance below which two voices are one speaker (average linkage). "
        "Tuned on real recorded speech (README, Speakers).",
    )
    piece_s: float = Field(default=2.0, ge=1.0, description="Longest stretch one embedding covers")
    min_piece_s: float = Field(
        default=0.8,
        ge=0.2,
        description="Shorter pieces carry too little voice to found a speaker: they join the "
        "nearest speaker after clustering.",
    )
    min_speaker_s: float = Field(
        default=2.0, ge=0, description="A cluster with less speech joins its nearest neighbour."
    )
    window_s: float = Field(default=300.0, ge=10, description="Audio decoded at a time.")
    max_clustered: int = Field(
        default=2000,
        ge=10,
        description="Pieces clustered at most (evenly spread); the rest join the nearest "
        "speaker, so clustering memory stays bounded on long videos.",
    )
    batch_size: int = Field(default=32, ge=1)
    threads: int = Field(
        default=1,
        ge=1,
        description="torch threads while embedding: the encoder's small matrices gain little "
        "from more, and on a busy machine an OpenMP team that waits for cores ran 25x slower.",
    )

    @property
    def name(self) -> str:
        return "resemblyzer"

    def diarize(
        self,
        media: Path,
        progress: Progress,
        min_speakers: int | None = None,
        max_speakers: int | None = None,
    ) -> Diarization:
        encoder = _encoder(_device(self.device))
        with _torch_threads(self.threads):
            return self._diarize(encoder, media, progress, min_speakers, max_speakers)

    def _diarize(
        self,
        encoder: VoiceEncoder,
        media: Path,
        progress: Progress,
        min_speakers: int | None,
        max_speakers: int | None,
    ) -> Diarization:
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        total = probe(media).duration
        options = VadOptions(min_silence_duration_ms=250, speech_pad_ms=60)
        pieces: list[Piece] = []
        windows = speech_windows(media, rate=SAMPLE_RATE, window_s=self.window_s, search_s=10.0)
        try:
            for offset, audio in windows:
                regions = get_speech_timestamps(audio, options, sampling_rate=SAMPLE_RATE)
                spans = [
                    (r["start"], r["end"])
                    for r in regions
                    if r["end"] - r["start"] > SAMPLE_RATE // 10
                ]
                pieces += self._embed(encoder, audio, spans, offset)
                if total:
                    progress(min(1.0, (offset + audio.size) / SAMPLE_RATE / total))
        finally:
            windows.close()
        labels = cluster(
            pieces,
            threshold=self.threshold,
            min_piece_s=self.min_piece_s,
            min_speaker_s=self.min_speaker_s,
            min_speakers=min_speakers,
            max_speakers=max_speakers,
            max_clustered=self.max_clustered,
        )
        turns = [
            Turn(p.start, p.end, f"spk{label}") for p, label in zip(pieces, labels, strict=True)
        ]
        progress(1.0)
        return Diarization(
            merge_touching(turns),
            engine={
                "engine": self.name,
                "threshold": self.threshold,
                "pieces": len(pieces),
                "speech_s": round(float(sum(p.seconds for p in pieces)), 2),
            },
        )

    def _embed(
        self,
        encoder: VoiceEncoder,
        audio: np.ndarray,
        spans: Sequence[tuple[int, int]],
        offset: int,
    ) -> list[Piece]:
        """Cut each speech region into equal pieces of at most ``piece_s`` and embed them in
        batches; a piece's mel frames are padded to the longest of its batch."""
        import torch
        from resemblyzer.audio import normalize_volume, wav_to_mel_spectrogram

        cuts: list[tuple[int, int]] = []
        longest = round(self.piece_s * SAMPLE_RATE)
        for start, end in spans:
            count = -(-(end - start) // longest)  # ceil
            edges = np.linspace(start, end, count + 1).round().astype(int)
            cuts += list(itertools.pairwise(edges))
        pieces: list[Piece] = []
        for first in range(0, len(cuts), self.batch_size):
            batch = cuts[first : first + self.batch_size]
            mels = [
                wav_to_mel_spectrogram(normalize_volume(audio[a:b], -30, increase_only=True))
                for a, b in batch
            ]
            frames = max(m.shape[0] for m in mels)
            padded = np.stack([np.pad(m, ((0, frames - m.shape[0]), (0, 0))) for m in mels])
            with torch.inference_mode():
                embedded = encoder(torch.from_numpy(padded).to(encoder.device)).cpu().numpy()
            pieces += [
                Piece((offset + a) / SAMPLE_RATE, (offset + b) / SAMPLE_RATE, e)
                for (a, b), e in zip(batch, embedded, strict=True)
            ]
        return pieces


class NoDiarizer(ConfigurableResource):
    """No diarization: every segment is S1 (one voice for the whole dub)."""

    @property
    def name(self) -> str:
        return "none"

    def diarize(
        self,
        media: Path,
        progress: Progress,
        min_speakers: int | None = None,
        max_speakers: int | None = None,
    ) -> Diarization:
        progress(1.0)
        return Diarization([], engine={"engine": self.name})


def cluster(
    pieces: Sequence[Piece],
    *,
    threshold: float,
    min_piece_s: float = 0.8,
    min_speaker_s: float = 2.0,
    min_speakers: int | None = None,
    max_speakers: int | None = None,
    max_clustered: int = 2000,
) -> list[int]:
    """A speaker label per piece: agglomerative clustering (cosine, average linkage) of the
    pieces long enough to carry a voice, cut at ``threshold`` unless that gives fewer than
    ``min_speakers`` or more than ``max_speakers``; then clusters with less than
    ``min_speaker_s`` of speech join the nearest one, and every other piece the nearest
    speaker. Labels are 0..k-1 in order of first appearance."""
    if not pieces:
        return []
    embeddings = np.stack([p.embedding for p in pieces])
    seconds = np.array([p.seconds for p in pieces])
    founding = np.flatnonzero(seconds >= min_piece_s)
    if founding.size == 0:
        founding = np.arange(len(pieces))
    if founding.size > max_clustered:  # evenly spread over the video, deterministic
        founding = founding[np.linspace(0, founding.size - 1, max_clustered).round().astype(int)]
    labels = _agglomerate(embeddings[founding], threshold, min_speakers, max_speakers)
    centroids = _centroids(embeddings[founding], labels)
    weight = np.bincount(labels, weights=seconds[founding], minlength=len(centroids))
    floor = min_speakers or 1
    while len(centroids) > floor and weight.min() < min_speaker_s:
        small = int(weight.argmin())
        keep = [i for i in range(len(centroids)) if i != small]
        nearest = keep[int(np.argmax(centroids[keep] @ centroids[small]))]
        labels = np.where(labels == small, nearest, labels)
        labels = np.unique(labels, return_inverse=True)[1]
        centroids = _centroids(embeddings[founding], labels)
        weight = np.bincount(labels, weights=seconds[founding], minlength=len(centroids))
    every = np.argmax(_normalised(embeddings) @ centroids.T, axis=1)
    every[founding] = labels
    order = list(dict.fromkeys(every.tolist()))
    return [order.index(label) for label in every.tolist()]


def merge_touching(turns: Sequence[Turn], gap_s: float = 0.3) -> list[Turn]:
    """Consecutive turns of one speaker with at most ``gap_s`` between them become one."""
    merged: list[Turn] = []
    for turn in turns:
        last = merged[-1] if merged else None
        if last and last.speaker == turn.speaker and turn.start - last.end <= gap_s:
            merged[-1] = Turn(last.start, turn.end, turn.speaker)
        else:
            merged.append(turn)
    return merged


def _agglomerate(
    embeddings: np.ndarray, threshold: float, min_speakers: int | None, max_speakers: int | None
) -> np.ndarray:
    from sklearn.cluster import AgglomerativeClustering

    if len(embeddings) < 2:
        return np.zeros(len(embeddings), dtype=int)
    found = AgglomerativeClustering(
        n_clusters=None, distance_threshold=threshold, metric="cosine", linkage="average"
    ).fit_predict(embeddings)
    count = int(found.max()) + 1
    wanted = max(count, min_speakers or 1)
    wanted = min(wanted, max_speakers or wanted, len(embeddings))
    if wanted == count:
        return found
    return AgglomerativeClustering(
        n_clusters=wanted, metric="cosine", linkage="average"
    ).fit_predict(embeddings)


def _centroids(embeddings: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return _normalised(
        np.stack([embeddings[labels == k].mean(axis=0) for k in range(labels.max() + 1)])
    )


def _normalised(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-9)


def _device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise JobProcessingError(
            "diarization device 'cuda' was asked for but torch sees no CUDA device",
            JobErrorType.PERMANENT,
        )
    return device


@contextmanager
def _torch_threads(count: int) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _encoder(device: str) -> VoiceEncoder:
    """The packaged encoder, loaded once per process (17 MB, ~0.5 s), kept while the model
    budget allows."""

    def load() -> VoiceEncoder:
        from resemblyzer import VoiceEncoder

        return VoiceEncoder(device, verbose=False)

    def size(encoder: VoiceEncoder) -> int:
        return sum(p.numel() * p.element_size() for p in encoder.parameters())

    return shared_cache().get(("resemblyzer", device), load, size)
