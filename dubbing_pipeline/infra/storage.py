"""The artifact store: every stage's files under ``projects/<project>/<stage>/``.

A local folder on the embedded default, any fsspec URL (s3://, gs://) in production. ffmpeg and the
engines need real files, so ``reading``/``writing`` hand out local paths and move bytes only when
the store is remote.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import fsspec
from dagster import ConfigurableResource
from fsspec.implementations.local import LocalFileSystem
from pydantic import Field

from dubbing_pipeline.domain import artifacts
from dubbing_pipeline.domain.stages import Stage


class ArtifactStore(ConfigurableResource):
    """Artifacts keyed ``projects/<project>/<stage>/<name>`` under ``base_url``."""

    base_url: str = Field(
        default="artifacts",
        description="Local folder or fsspec URL (s3://bucket/prefix) that holds all artifacts.",
    )

    # -- addressing ---------------------------------------------------------------------------
    def uri(self, *parts: str) -> str:
        """The URI of a key (``projects/p-1/project.json``, or its parts)."""
        base = self.base_url.rstrip("/")
        if "://" not in base:
            base = str(Path(base).expanduser().resolve())
        return "/".join([base, *parts])

    def artifact_uri(self, project_id: str, stage: Stage, name: str) -> str:
        """A stage's file, named as ``domain.artifacts`` names it."""
        return self.uri(artifacts.stage_file(project_id, stage, name))

    def key_of(self, uri: str) -> str:
        """The store key of ``uri`` (``projects/p-1/...``), or ``uri`` itself if it lies outside
        the store: what a caller may see, never a path on this host."""
        base = self.uri() + "/"
        return uri[len(base) :] if uri.startswith(base) else uri

    def scrub(self, text: str) -> str:
        """``text`` with the store's own location replaced by nothing: messages that name an
        artifact show its key, not the host's folders or the bucket's prefix."""
        return text.replace(self.uri() + "/", "")

    def is_file(self, uri: str) -> bool:
        """An object (not a folder, not missing) at ``uri``."""
        return self._fs.isfile(uri)

    @property
    def _fs(self) -> fsspec.AbstractFileSystem:
        fs, _ = fsspec.url_to_fs(self.uri())
        return fs

    # -- bytes --------------------------------------------------------------------------------
    def exists(self, uri: str) -> bool:
        return self._fs.exists(uri)

    def delete(self, uri: str) -> None:
        self._fs.rm_file(uri)

    def read_bytes(self, uri: str) -> bytes:
        with fsspec.open(uri, "rb") as f:
            return f.read()

    def read_text(self, uri: str) -> str:
        return self.read_bytes(uri).decode("utf-8")

    def write_bytes(self, uri: str, data: bytes) -> str:
        with self.writing(uri) as path:
            path.write_bytes(data)
        return uri

    def write_text(self, uri: str, text: str) -> str:
        return self.write_bytes(uri, text.encode("utf-8"))

    # -- local paths for tools that need files ------------------------------------------------
    @contextmanager
    def reading(self, uri: str) -> Iterator[Path]:
        """A local path with the artifact's bytes (the file itself when the store is local)."""
        fs, path = fsspec.url_to_fs(uri)
        if isinstance(fs, LocalFileSystem):
            yield Path(path)
            return
        with tempfile.TemporaryDirectory(prefix="dubbing-") as tmp:
            local = Path(tmp) / Path(path).name
            fs.get(path, str(local))
            yield local

    @contextmanager
    def writing(self, uri: str) -> Iterator[Path]:
        """A local path to write to; published atomically to ``uri`` only if the block succeeds."""
        suffix = "".join(Path(fsspec.url_to_fs(uri)[1]).suffixes)
        with tempfile.TemporaryDirectory(prefix="dubbing-") as tmp:
            local = Path(tmp) / f"out{suffix}"
            yield local
            self.publish(local, uri)

    def publish(self, local: Path, uri: str) -> None:
        """Move the finished file ``local`` to ``uri``: a rename on a local store (atomic), an
        upload elsewhere."""
        fs, path = fsspec.url_to_fs(uri)
        if isinstance(fs, LocalFileSystem):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            staged = f"{path}.partial-{os.getpid()}"
            shutil.move(local, staged)
            os.replace(staged, path)
        else:
            fs.put(str(local), path)

    def local_file(self, uri: str) -> tuple[Path, bool]:
        """A local path with the artifact's bytes that outlives this call, and whether it is a
        temporary copy the caller must delete (for responses sent after the handler returns)."""
        fs, path = fsspec.url_to_fs(uri)
        if isinstance(fs, LocalFileSystem):
            return Path(path), False
        handle, local = tempfile.mkstemp(prefix="dubbing-", suffix=Path(path).suffix)
        os.close(handle)
        fs.get(path, local)
        return Path(local), True
