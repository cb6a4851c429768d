"""Sources that would dub wrongly are refused before anyone works on them: a VALIDATION error
at STT (never retried, dead-lettered with the reason), not a dub that runs past its picture."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from dubbing_pipeline.domain.errors import JobErrorType, JobProcessingError
from dubbing_pipeline.infra import media


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def test_a_truncated_upload_is_refused(sample_video: Path, tmp_path: Path) -> None:
    """The first 40 % of a faststart MP4 still declares the whole duration (its index comes
    first): only decoding near the end shows that the picture and sound are missing."""
    whole = tmp_path / "faststart.mp4"
    _ffmpeg("-i", str(sample_video), "-c", "copy", "-movflags", "+faststart", str(whole))
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 4 // 10])
    assert media.probe(cut).duration == pytest.approx(media.probe(whole).duration, abs=0.1)
    media.validate_source_video(whole)
    with pytest.raises(JobProcessingError, match="cut short") as caught:
        media.validate_source_video(cut)
    assert caught.value.error_type is JobErrorType.VALIDATION


def test_a_picture_shorter_than_its_sound_is_refused(sample_video: Path, tmp_path: Path) -> None:
    short = tmp_path / "short-picture.mp4"
    _ffmpeg(
        "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=4",
        "-i", str(sample_video), "-map", "0:v", "-map", "1:a", "-c:v", "libx264",
        "-c:a", "copy", str(short),
    )  # fmt: skip
    with pytest.raises(JobProcessingError, match=r"video stream \(4.0 s\) is shorter than its"):
        media.validate_source_video(short)


def test_an_unreadable_file_is_named_without_the_hosts_folders(tmp_path: Path) -> None:
    """The message reaches job and dead letter bodies: it names the file, never where it lies."""
    garbage = tmp_path / "uploads" / "alice" / "notes.mp4"
    garbage.parent.mkdir(parents=True)
    garbage.write_text("meeting notes, not a video\n" * 20)
    with pytest.raises(JobProcessingError) as caught:
        media.probe(garbage)
    assert "notes.mp4: not a media file" in caught.value.message
    assert str(tmp_path) not in caught.value.message
