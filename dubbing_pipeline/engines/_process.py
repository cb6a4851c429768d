"""Running the GPL engines (Apertium, espeak-ng) as separate processes, with errors classified."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

from dubbing_pipeline.domain.errors import JobErrorType, JobProcessingError


def run_tool(args: Sequence[str], *, stdin: str | None = None, timeout_s: float = 600) -> str:
    """Run a command-line engine; a missing binary is PERMANENT, a non-zero exit carries stderr."""
    try:
        done = subprocess.run(
            list(args), input=stdin, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except FileNotFoundError as exc:
        raise JobProcessingError(
            f"{args[0]} is not installed (apt-get install {args[0]})", JobErrorType.PERMANENT
        ) from exc
    if done.returncode != 0:
        raise JobProcessingError(
            f"{args[0]} exited {done.returncode}: {done.stderr.strip()[-500:]}",
            JobErrorType.PERMANENT,
        )
    return done.stdout
