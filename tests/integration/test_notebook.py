"""The example notebook runs top to bottom and leaves a dubbed video behind."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from dubbing_pipeline.infra import media

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "dub_a_video.ipynb"


@pytest.mark.integration
def test_dub_a_video_notebook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The kernel is a subprocess: it inherits this environment and runs in tmp_path.
    monkeypatch.setenv("DUBBING_ARTIFACTS", str(tmp_path))
    monkeypatch.setenv("DUBBING_STT_MODEL", "tiny.en")
    monkeypatch.delenv("DUBBING_NOTEBOOK_VIDEO", raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    # Not saved: a last cell that tells which environment the kernel runs in.
    nb.cells.append(nbformat.v4.new_code_cell("import sys\nprint(sys.prefix, end='')"))

    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()

    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]
    errors = [out for out in outputs if out.output_type == "error"]
    assert not errors, [f"{e.ename}: {e.evalue}" for e in errors]
    assert nb.cells[-1].outputs[0].text == sys.prefix  # this venv, not a system kernel

    videos = list(tmp_path.glob("projects/*/muxed_video/dubbed.*"))
    assert len(videos) == 1, videos
    printed = "".join(out.get("text", "") for out in outputs if out.output_type == "stream")
    assert f"dubbed video: {videos[0].resolve()}" in printed

    info = media.probe(videos[0])
    streams = [s["codec_type"] for s in info.raw["streams"]]
    assert info.has_video
    # the dub and the original audio, two subtitle tracks, the picture
    assert sorted(streams) == ["audio", "audio", "subtitle", "subtitle", "video"]
