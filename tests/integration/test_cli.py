"""The ``dubbing`` command as a user runs it: a subprocess on a fresh DAGSTER_HOME."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dubbing_pipeline.infra import media

pytestmark = pytest.mark.integration
DUBBING = str(Path(sys.executable).parent / "dubbing")


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = os.environ | {
        "DAGSTER_HOME": str(tmp_path / "home"),
        "DUBBING_ARTIFACTS": str(tmp_path / "artifacts"),
        "DUBBING_STT_MODEL": "tiny.en",
        "COLUMNS": "200",
    }
    return subprocess.run(
        [DUBBING, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600
    )


def test_dub_stops_at_review_then_approve_and_resume_finish(
    tmp_path: Path, sample_video: Path
) -> None:
    first = _run(
        tmp_path, "dub", str(sample_video), "--from", "en", "--to", "es", "--project", "cli-demo"
    )
    assert first.returncode == 0, first.stderr
    assert "transcript awaits review: dubbing approve cli-demo transcript" in first.stdout
    assert not list(tmp_path.glob("artifacts/projects/cli-demo/translation/*"))

    edit = _run(tmp_path, "approve", "cli-demo", "transcript", "--edit", "0=Hello, friends.")
    assert edit.returncode == 0 and "1 edits" in edit.stdout, edit.stderr
    done = _run(tmp_path, "resume", "cli-demo", "--approve-all")
    assert done.returncode == 0, done.stderr
    for stage in ("MT", "TTS", "MUXING"):
        assert stage in done.stdout
    assert "LIP_SYNC" not in done.stdout  # standard tier
    video = tmp_path / "artifacts/projects/cli-demo/muxed_video/dubbed.mp4"
    assert f"dubbed video  {video}" in done.stdout
    assert media.probe(video).subtitle_streams == 2


def test_dub_reports_a_bad_input_and_exits_non_zero(tmp_path: Path) -> None:
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    result = _run(tmp_path, "dub", str(bad), "--to", "es", "--approve-all")
    assert result.returncode == 1
    assert "STT failed [VALIDATION]" in result.stdout and "not a media file" in result.stdout
