"""Lip-sync for premium projects, run as an external program through Dagster Pipes.

A Wav2Lip-class model brings heavy and often conflicting dependencies (its own torch and CUDA
builds), so it lives in an environment or container of its own and speaks Dagster Pipes (the
contract is in ``dubbing_pipeline.external.retime_lipsync``). ``PipesSubprocessClient`` starts it
beside the run worker; ``PipesK8sClient`` runs it as a pod in a cluster. No lip-sync weights ship
in any package, so the default program is the shipped retime runner: the same path runs here.

The program's progress messages are handed to the stage as they arrive (the message reader's
handler is wrapped), not read back after it exits, so ``job_progress`` events are live.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from dagster import (
    AssetExecutionContext,
    ConfigurableResource,
    MetadataValue,
    PipesClientCompletedInvocation,
    PipesSubprocessClient,
    PipesTempFileMessageReader,
)
from pydantic import Field

from dubbing_pipeline.domain.errors import JobErrorType, JobProcessingError, classify
from dubbing_pipeline.engines.base import Progress
from dubbing_pipeline.external.contract import (
    ERROR,
    EXIT_CODE,
    EXIT_TIMEOUT,
    PROGRESS,
    error_type_of_exit,
)
from dubbing_pipeline.infra.settings import LipSyncSettings

RUNNER = "dubbing_pipeline.external.retime_lipsync"
_EXIT = re.compile(r"failed with code (-?\d+)")  # DagsterPipesExecutionError's message


class PipesLipSync(ConfigurableResource):
    """Runs a lip-sync program that speaks Dagster Pipes, locally or as a Kubernetes pod."""

    command: list[str] | None = Field(
        default=None,
        description="argv of the program; default: the retime runner with this Python "
        "(subprocess) or the image's `python` (k8s)",
    )
    checkpoint: str | None = Field(default=None, description="model weights, passed on")
    device: Literal["cpu", "cuda", "auto"] = "auto"
    options: dict[str, Any] = Field(default_factory=dict, description="the program's settings")
    env: dict[str, str] = Field(default_factory=dict)
    timeout_s: float = 3600.0
    kill_grace_s: float = Field(
        default=10.0, description="after the time limit's TERM, seconds until KILL"
    )
    launcher: Literal["subprocess", "k8s"] = "subprocess"
    image: str | None = Field(default=None, description="k8s: the program's image")
    namespace: str | None = Field(default=None, description="k8s: default: the current one")
    pod_spec: dict[str, Any] | None = Field(
        default=None, description="k8s: base pod spec (volumes, GPU limits, node selector)"
    )
    shared_dir: str | None = Field(
        default=None,
        description="a folder the run worker and the program both mount at this path (needed "
        "for k8s): inputs are copied there and the output read back from there",
    )

    def lipsync(
        self,
        context: AssetExecutionContext,
        video: Path,
        audio: Path,
        out: Path,
        progress: Progress,
    ) -> dict[str, MetadataValue]:
        """Run the program on ``video`` + ``audio`` into ``out``; return the metadata it reported.
        Any failure is a JobProcessingError classified by the program's exit (see the contract)."""
        if self.launcher == "k8s" and not (self.image and self.shared_dir):
            raise JobProcessingError(
                "launcher k8s needs image and shared_dir", JobErrorType.PERMANENT
            )
        listener = _Listener(progress)
        with self._exchanged(video, audio, out) as (video_in, audio_in, out_in):
            extras = {
                "video": str(video_in),
                "audio": str(audio_in),
                "out": str(out_in),
                "checkpoint": self.checkpoint,
                "device": self.device,
                "options": self.options,
            }
            invocation = self._run(context, listener, extras)
            if not out_in.exists():
                raise JobProcessingError(
                    "lip-sync program exited 0 but wrote no video", JobErrorType.PERMANENT
                )
        reported = invocation.get_materialize_result().metadata or {}
        metadata = {k: v for k, v in reported.items() if isinstance(v, MetadataValue)}
        return {**metadata, "launcher": MetadataValue.text(self.launcher)}

    def _run(
        self, context: AssetExecutionContext, listener: _Listener, extras: dict[str, Any]
    ) -> PipesClientCompletedInvocation:
        started = time.monotonic()
        try:
            return self._launch(context, listener, extras)
        except JobProcessingError:
            raise
        except FileNotFoundError as exc:  # Popen found no such program
            raise JobProcessingError(
                f"lip-sync program not found: {exc}", JobErrorType.PERMANENT
            ) from exc
        except Exception as exc:
            overran = time.monotonic() - started >= self.timeout_s
            raise self._failure(exc, listener.reported, overran) from exc

    def _argv(self, python: str) -> list[str]:
        return self.command or [python, "-m", RUNNER]

    def _launch(
        self, context: AssetExecutionContext, listener: _Listener, extras: dict[str, Any]
    ) -> PipesClientCompletedInvocation:
        if self.launcher == "k8s":
            return _pod_client(self.env, listener).run(
                context=context,
                extras=extras,
                image=self.image,
                command=self._argv("python"),
                namespace=self.namespace,
                base_pod_spec=self.pod_spec,
                pod_wait_timeout=self.timeout_s,
            )
        command = self._argv(sys.executable)
        if shutil.which("timeout"):  # coreutils: TERM, then KILL kill_grace_s later; exits 124
            grace = f"--kill-after={self.kill_grace_s:g}"
            command = ["timeout", grace, f"{self.timeout_s:g}", *command]
        else:
            context.log.warning("coreutils `timeout` not found: lip-sync runs without a time limit")
        client = PipesSubprocessClient(env=self.env, message_reader=_TempFileReader(listener))
        return client.run(context=context, extras=extras, command=command)

    @contextmanager
    def _exchanged(self, video: Path, audio: Path, out: Path) -> Iterator[tuple[Path, Path, Path]]:
        """The paths the program sees: the stage's own, or copies in ``shared_dir``."""
        if self.shared_dir is None:
            yield video, audio, out
            return
        with tempfile.TemporaryDirectory(prefix="lipsync-", dir=self.shared_dir) as tmp:
            folder = Path(tmp)
            video_in, audio_in = folder / f"video{video.suffix}", folder / f"audio{audio.suffix}"
            shutil.copyfile(video, video_in)
            shutil.copyfile(audio, audio_in)
            yield video_in, audio_in, folder / f"out{out.suffix}"
            shutil.move(folder / f"out{out.suffix}", out)

    def _failure(
        self, exc: Exception, reported: Mapping[str, Any], overran: bool = False
    ) -> JobProcessingError:
        """Classify a failed run by its exit code (from the launcher, or as the program reported
        it where the launcher hides it), else by the launcher's error."""
        text = str(exc).strip()
        match = _EXIT.search(text)
        code = int(match[1]) if match else reported.get(EXIT_CODE)
        if code in (-9, 128 + 9) and overran:  # `timeout` KILLed a program deaf to its TERM
            code = EXIT_TIMEOUT
        reason = reported.get(ERROR) or text[-600:]
        if code == EXIT_TIMEOUT and ERROR not in reported:
            reason = f"overran its {self.timeout_s:g} s limit"
        if isinstance(code, int):
            return JobProcessingError(
                f"lip-sync program exited {code}: {reason}", error_type_of_exit(code)
            )
        lowered = text.lower()
        if "timed out" in lowered:
            return JobProcessingError(f"lip-sync program: {reason}", JobErrorType.TIMEOUT)
        if "oomkilled" in lowered:
            return JobProcessingError(f"lip-sync program: {reason}", JobErrorType.RESOURCE)
        error = classify(exc)
        return JobProcessingError(f"lip-sync program: {error.message}", error.error_type)


def lipsync_from_env() -> PipesLipSync:
    """``DUBBING_LIPSYNC_<FIELD>`` sets any field of PipesLipSync (``infra.settings``)."""
    return PipesLipSync(**LipSyncSettings().fields())


class _Listener:
    """Hears the program's custom messages as they arrive: progress goes to the stage at once,
    a failure report is kept for classifying the exit."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.reported: dict[str, Any] = {}

    def __call__(self, payload: Any) -> None:
        if not isinstance(payload, dict):
            return
        if EXIT_CODE in payload:
            self.reported = payload
        if isinstance(payload.get(PROGRESS), int | float):
            self.progress(float(payload[PROGRESS]))


class _ListeningHandler:
    """Dagster's message handler with a listener in front: every message still reaches Dagster
    (logs, materialisations, custom messages); custom ones are also heard live."""

    def __init__(self, handler: Any, listener: Callable[[Any], None]) -> None:
        self._handler = handler
        self._listener = listener

    def handle_message(self, message: Mapping[str, Any]) -> None:
        if message.get("method") == "report_custom_message":
            self._listener((message.get("params") or {}).get("payload"))
        self._handler.handle_message(message)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handler, name)


class _Listening:
    """Mixin for a Pipes message reader: its handler is wrapped in a ``_ListeningHandler``.
    A mixin, not a wrapper, because PipesK8sClient checks its reader's class."""

    def __init__(self, listener: Callable[[Any], None], *args: Any, **kwargs: Any) -> None:
        self._listener = listener
        super().__init__(*args, **kwargs)

    @contextmanager
    def read_messages(self, handler: Any) -> Iterator[Any]:
        wrapped = _ListeningHandler(handler, self._listener)
        with super().read_messages(wrapped) as params:  # type: ignore[misc]
            yield params


class _TempFileReader(_Listening, PipesTempFileMessageReader):
    pass


def _pod_client(env: Mapping[str, str], listener: _Listener) -> Any:
    """A PipesK8sClient whose pod-log reader hears progress; dagster-k8s is imported only here."""
    try:
        from dagster_k8s import PipesK8sClient, PipesK8sPodLogsMessageReader
    except ImportError as exc:
        raise JobProcessingError(
            "launcher k8s needs dagster-k8s: pip install 'dubbing[k8s]'", JobErrorType.PERMANENT
        ) from exc

    class PodLogsReader(_Listening, PipesK8sPodLogsMessageReader):
        pass

    return PipesK8sClient(env=dict(env), message_reader=PodLogsReader(listener))
