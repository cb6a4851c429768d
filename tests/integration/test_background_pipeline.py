"""What plays under the dub, end to end: ``dubbing dub`` on the defaults over a video of speech over
a music bed, then each background method by run config and by the CLI, measured on the delivered
file's decoded audio (least squares against the known dub, voice and bed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance

from dubbing_pipeline.cli.runner import materialize_stage, stage_failure
from dubbing_pipeline.defs.resources import default_resources
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.infra import media
from dubbing_pipeline.operations.projects import load_project
from tests.support.helpers import metadata, stream_md5
from tests.support.mixes import (
    Source,
    audio_streams,
    decoded,
    gains_db,
    integrated_lufs,
    spans,
    speech_over_music,
    tone,
)

pytestmark = pytest.mark.integration
DUBBING = str(Path(sys.executable).parent / "dubbing")
PROJECT = "music"
TARGET_LUFS, DUCK_DB, RAMP_S = -16.0, 18.0, 0.25  # the deployment defaults


@dataclass(frozen=True)
class Dubbed:
    root: Path
    source: Source

    @property
    def dub_track(self) -> Path:
        return self.root / f"artifacts/projects/{PROJECT}/speech/dub_track.wav"


def _cli(root: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    env = (
        os.environ
        | extra
        | {
            "DAGSTER_HOME": str(root / "home"),
            "DUBBING_ARTIFACTS": str(root / "artifacts"),
            "DUBBING_STT_MODEL": "tiny.en",
            "COLUMNS": "200",
        }
    )
    return subprocess.run(
        [DUBBING, *args], env=env, cwd=root, capture_output=True, text=True, timeout=900
    )


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Source:
    return speech_over_music(tmp_path_factory.mktemp("music"))


@pytest.fixture(scope="module")
def dubbed(source: Source, tmp_path_factory: pytest.TempPathFactory) -> Dubbed:
    """``dubbing dub`` as a user runs it, on the deployment's defaults."""
    root = tmp_path_factory.mktemp("dubbed")
    args = ("dub", str(source.video), "--from", "en", "--to", "es", "--approve-all")
    done = _cli(root, *args, "--project", PROJECT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "background=duck" in done.stdout
    return Dubbed(root, source)


@pytest.fixture
def rerun(dubbed: Dubbed, demucs_weights: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Materialise MUXING again for the CLI's project with a run config, as the Dagster UI or
    a backfill would (the tiny Demucs model configured for this deployment)."""
    env = {
        "DAGSTER_HOME": str(dubbed.root / "home"),
        "DUBBING_ARTIFACTS": str(dubbed.root / "artifacts"),
        "DUBBING_DEMUCS_REPO": str(demucs_weights / "repo"),
        "DUBBING_DEMUCS_MODEL": "tiny",
        "DUBBING_DEMUCS_THREADS": "1",
        "DUBBING_DEMUCS_CHUNK_S": "10",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    resources = default_resources()
    project = load_project(resources["store"], PROJECT)
    with DagsterInstance.get() as instance:

        def run(**config: Any):
            run_config = {"ops": {Stage.MUXING.asset_name: {"config": config}}}
            return materialize_stage(
                project, Stage.MUXING, instance=instance, resources=resources, run_config=run_config
            )

        yield run


def _levels(video: Path, dubbed: Dubbed, gain_db: float) -> dict[str, list[dict[str, float]]]:
    """Each part's level in the delivered dub track, in dB relative to the loudness gain,
    under each dubbed line and in each pause between lines (ramps left out)."""
    mixed = decoded(video, "a:0")
    dub, voice = decoded(dubbed.dub_track), decoded(dubbed.source.voice)
    parts = {"dub": dub, "voice": voice, "bed": decoded(dubbed.source.bed)}
    n = min(len(dub), len(voice))
    anyone = np.abs(dub[:n]) + np.abs(voice[:n])  # a pause: neither the dub nor the voice
    levels: dict[str, list[dict[str, float]]] = {"lines": [], "pauses": []}
    # Clear of the ramps (and of the transcript's looser timing, which the ducking follows too)
    for kind, signal, quiet, margin in (
        ("lines", dub, False, RAMP_S + 0.1),
        ("pauses", anyone, True, RAMP_S + 0.25),
    ):
        for start, end in spans(signal, quiet=quiet, shortest_s=1.0):
            if end - start < 2 * margin + 0.3:
                continue
            use = parts if kind == "lines" else {"bed": parts["bed"], "voice": parts["voice"]}
            found = gains_db(mixed, use, (start + margin, end - margin))
            levels[kind].append({k: round(v - gain_db, 2) for k, v in found.items()})
    assert levels["lines"] and levels["pauses"], "the test video needs lines and long pauses"
    return levels


def _muxing_figures(root: Path) -> dict[str, Any]:
    """The latest MUXING materialisation's metadata in the instance the CLI used."""
    with DagsterInstance.from_config(str(root / "home")) as instance:
        event = instance.get_latest_materialization_event(AssetKey(Stage.MUXING.asset_name))
        assert event is not None and event.asset_materialization is not None
        return {k: v.value for k, v in event.asset_materialization.metadata.items()}


def test_the_default_dub_keeps_the_music_under_it_and_the_original_track(
    dubbed: Dubbed,
) -> None:
    figures = _muxing_figures(dubbed.root)
    video = Path(figures["video_uri"])
    assert figures["background"] == "duck" and figures["original_track"] == "en"

    # Two audio tracks: the dub (default, Spanish) and the original (English), and the video
    # stream bit for bit the source's; the original audio is the source's, copied.
    audio = audio_streams(video)
    assert [(a["tags"]["language"], a["disposition"]["default"]) for a in audio] == [
        ("spa", 1),
        ("eng", 0),
    ]
    assert [a["tags"]["handler_name"] for a in audio] == ["Dubbed", "Original"]
    assert stream_md5(video, "v") == stream_md5(dubbed.source.video, "v")
    assert stream_md5(video, "a:1") == stream_md5(dubbed.source.video, "a:0")
    assert abs(float(audio[0]["duration"]) - dubbed.source.duration) <= 0.05

    # Loudness of the delivered dub track, measured on the file.
    delivered = integrated_lufs(video, "a:0")
    print(f"dub track {delivered} LUFS (target {TARGET_LUFS}), metadata {figures}")
    assert delivered == pytest.approx(TARGET_LUFS, abs=1.0)
    assert figures["loudness_lufs"] == pytest.approx(delivered, abs=0.5)

    # Once the loudness gain is taken out: the bed as in the source between lines, lowered by
    # the duck under them, and the original voice far below the dub.
    levels = _levels(video, dubbed, figures["loudness_gain_db"])
    print("levels (dB):", levels)
    for pause in levels["pauses"]:
        assert pause["bed"] == pytest.approx(0.0, abs=1.0)
    for line in levels["lines"]:
        assert line["bed"] == pytest.approx(-DUCK_DB, abs=2.0)
        assert line["voice"] <= -15.0


def test_run_config_chooses_what_plays_under_the_dub(dubbed: Dubbed, rerun) -> None:
    stem = str(dubbed.source.bed)  # the bed itself stands for a music-and-effects stem
    for config, bed_db in (
        ({"background": "none"}, None),
        ({"background": "stem", "background_url": stem}, 0.0),
    ):
        result = rerun(**config)
        assert result.success, stage_failure(result)
        figures = metadata(result, Stage.MUXING)
        assert figures["background"] == config["background"] and figures["audio_tracks"] == 2
        video = Path(figures["video_uri"])
        assert integrated_lufs(video, "a:0") == pytest.approx(TARGET_LUFS, abs=1.0)
        levels = _levels(video, dubbed, figures["loudness_gain_db"])
        print(config["background"], "levels (dB):", levels)
        for level in levels["lines"] + levels["pauses"]:
            assert level["voice"] <= -30.0  # never the original voice
            if bed_db is not None:  # a stem plays as is, under the lines too
                assert level["bed"] == pytest.approx(bed_db, abs=1.0)
        if bed_db is None:  # the dub alone: silence between the lines, no bed under them
            assert all(level["bed"] <= -60.0 for level in levels["pauses"])
            assert all(level["bed"] <= -20.0 for level in levels["lines"])

    first = rerun(background="demucs")
    assert first.success, stage_failure(first)
    figures = metadata(first, Stage.MUXING)
    assert figures["background"] == "demucs" and figures["audio_tracks"] == 2
    separated = list(dubbed.root.glob(f"artifacts/projects/{PROJECT}/muxed_video/background/*"))
    assert len(separated) == 1 and media.probe(separated[0]).duration == pytest.approx(
        dubbed.source.duration, abs=0.05
    )
    made = separated[0].stat().st_mtime_ns
    again = rerun(background="demucs", original_track=False)  # the separation is reused
    assert again.success, stage_failure(again)
    assert separated[0].stat().st_mtime_ns == made
    assert metadata(again, Stage.MUXING)["audio_tracks"] == 1


def test_a_bad_stem_is_a_validation_error_that_names_it(
    dubbed: Dubbed, rerun, tmp_path: Path
) -> None:
    short = tone(tmp_path / "short.wav", 5.0)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(dubbed.source.bed.read_bytes()[: 48_000 * 8 * 3])  # cut mid-file
    for stem, needle in (
        (short, "background stem short.wav is 5.00 s long but the video is 25."),
        (corrupt, "background stem: corrupt.wav: corrupt audio"),
    ):
        result = rerun(background="stem", background_url=str(stem))
        assert not result.success
        error_type, message = stage_failure(result)
        assert error_type == "VALIDATION" and needle in message, message
        retried = DagsterEventType.STEP_UP_FOR_RETRY
        assert not [e for e in result.all_events if e.event_type == retried]


def test_the_cli_takes_a_stem_and_drops_the_original_track(source: Source, tmp_path: Path) -> None:
    short = tone(tmp_path / "short.wav", 5.0)
    refused = _cli(
        tmp_path, "dub", str(source.video), "--to", "es", "--background-stem", str(short)
    )
    assert refused.returncode != 0
    assert "VALIDATION: background stem short.wav is 5.00 s long" in refused.stderr
    assert not (tmp_path / "artifacts" / "projects").exists()  # refused before any work

    args = ("dub", str(source.video), "--from", "en", "--to", "es", "--approve-all")
    done = _cli(tmp_path, *args, "--background-stem", str(source.bed), "--no-original-track")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "background=stem" in done.stdout
    figures = _muxing_figures(tmp_path)
    video = Path(figures["video_uri"])
    assert figures["background"] == "stem" and figures["background_uri"] == str(source.bed)
    assert [a["tags"]["language"] for a in audio_streams(video)] == ["spa"]
    dub = next(tmp_path.glob("artifacts/projects/*/speech/dub_track.wav"))
    mixed, bed = decoded(video), decoded(source.bed)
    for start, end in spans(decoded(dub), quiet=True, shortest_s=1.5):  # the stem as it is
        found = gains_db(mixed, {"bed": bed}, (start + 0.3, end - 0.3))
        assert found["bed"] - figures["loudness_gain_db"] == pytest.approx(0.0, abs=1.0)


def test_the_cli_records_the_choices_and_refuses_what_cannot_run(
    source: Source, tmp_path: Path
) -> None:
    """``submit`` only writes the manifest (the daemon would run it): the choices are there."""
    args = ("submit", str(source.video), "--to", "es", "--project", "choices")
    done = _cli(tmp_path, *args, "--background", "none", "--no-original-track")
    assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path / "artifacts/projects/choices/project.json").read_text())
    assert (manifest["background"], manifest["original_track"]) == ("none", False)
    nowhere = {"DUBBING_DEMUCS_HF_CACHE": str(tmp_path), "DUBBING_DEMUCS_REPO": ""}  # no weights
    args = ("submit", str(source.video), "--to", "es", "--background", "demucs")
    refused = _cli(tmp_path, *args, **nowhere)
    assert refused.returncode != 0
    assert "background 'demucs' is not available here: Demucs model 'htdemucs'" in refused.stderr
