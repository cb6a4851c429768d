"""The asset checks on real media through a real Dagster instance: each fails for its reason (a
Spanish video declared English, an English sentence left in a translation, a clip replaced by
silence or noise, a delivered file missing a track) and every check passes on a good dub."""

from __future__ import annotations

import subprocess
import wave
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from dagster import AssetCheckEvaluation, DagsterInstance, ExecuteInProcessResult

from dubbing_pipeline.cli.runner import stage_failure
from dubbing_pipeline.cli.sample import make_sample_video
from dubbing_pipeline.defs.checks.muxed_video import muxed_checks
from dubbing_pipeline.domain.projects import Project
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.engines.base import Progress
from dubbing_pipeline.engines.mt import ApertiumMT
from dubbing_pipeline.infra.settings import check_thresholds
from dubbing_pipeline.infra.storage import ArtifactStore
from dubbing_pipeline.operations import checks
from dubbing_pipeline.operations.instance_store import InstanceRunStore
from dubbing_pipeline.operations.projects import create_project
from tests.support.helpers import metadata

pytestmark = pytest.mark.integration

SPANISH = (
    "Hola y bienvenidos a nuestro pequeño vídeo sobre el tiempo.",
    "Hoy el cielo está azul y el sol brilla.",
    "Mañana lloverá en la ciudad, así que lleva un paraguas.",
    "A los niños les gusta jugar en el parque verde.",
)


def evaluations(result: ExecuteInProcessResult) -> dict[str, AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def failed(result: ExecuteInProcessResult) -> dict[str, AssetCheckEvaluation]:
    return {name: e for name, e in evaluations(result).items() if not e.passed}


def failing_segments(evaluation: AssetCheckEvaluation) -> list[Any]:
    return [f["segment"] for f in evaluation.metadata["failing"].value]  # type: ignore[union-attr]


def run_ok(run_stage: Callable[..., ExecuteInProcessResult], project: Project, stage: Stage):
    result = run_stage(project, stage)
    assert result.success, stage_failure(result)
    return result


def test_a_good_dub_passes_every_check(
    instance: DagsterInstance, new_project, run_stage, approve
) -> None:
    project = new_project()
    for stage in (Stage.STT, Stage.MT, Stage.TTS, Stage.MUXING):
        result = run_ok(run_stage, project, stage)
        found = evaluations(result)
        assert len(found) == 4, stage
        bad = {n: e.description for n, e in found.items() if not e.passed}
        assert not bad, (stage, bad)
        assert checks.held_back(instance, result.run_id) is None
        if stage.needs_review:
            approve(project, stage)
    assert "checks_blocking" not in metadata(result, Stage.MUXING)  # None: not recorded


def test_a_spanish_video_declared_english_fails_the_language_check(
    tmp_path: Path, runs: InstanceRunStore, store: ArtifactStore, run_stage
) -> None:
    video = make_sample_video(tmp_path / "spanish.mp4", SPANISH, language="es")
    project = create_project(
        store, runs, Project(video_uri=str(video), source_language="en", target_language="es")
    )[0]
    result = run_ok(run_stage, project, Stage.STT)
    language = evaluations(result)["language"]
    assert (language.passed, language.severity.value) == (False, "ERROR")
    assert language.metadata["heard"].value == "es"
    assert language.metadata["declared"].value == "en"
    assert "the speech is es" in (language.description or "")


class LeavesOneUntranslated(ApertiumMT):
    """Apertium, but one sentence comes back as its source: what an engine that gives up on a
    segment (or a model that copies its input) delivers."""

    def translate(
        self, texts: Sequence[str], source: str, target: str, progress: Progress
    ) -> list[str]:
        out = super().translate(texts, source, target, progress)
        return [texts[i] if i == 1 else t for i, t in enumerate(out)]


def test_a_translation_with_an_english_sentence_left_in_fails(
    new_project, run_stage, approve, resources: dict[str, Any]
) -> None:
    project = new_project()
    run_ok(run_stage, project, Stage.STT)
    approve(project, Stage.STT)
    resources["mt"] = LeavesOneUntranslated()
    result = run_ok(run_stage, project, Stage.MT)
    bad = failed(result)
    assert set(bad) == {"translated", "untranslated_words", "target_language"}, bad
    for evaluation in bad.values():
        assert evaluation.severity.value == "ERROR"
        assert 1 in failing_segments(evaluation), evaluation.description
    assert "translated ERROR" in metadata(result, Stage.MT)["checks_blocking"]


def _rewrite(clip: Path, make: Callable[[int], np.ndarray]) -> None:
    with wave.open(str(clip)) as w:
        params, frames = w.getparams(), w.getnframes()
    with wave.open(str(clip), "wb") as w:
        w.setparams(params)
        w.writeframes(make(frames).astype("<i2").tobytes())


def test_a_clip_replaced_by_silence_or_noise_fails_and_holds_the_project(
    instance: DagsterInstance, new_project, run_stage, approve, artifacts: Path
) -> None:
    project = new_project()
    for stage in (Stage.STT, Stage.MT):
        run_ok(run_stage, project, stage)
        approve(project, stage)
    good = run_ok(run_stage, project, Stage.TTS)
    assert not failed(good), {n: e.description for n, e in failed(good).items()}

    clips = sorted((artifacts / "projects" / project.id / "speech" / "clips").glob("*.wav"))
    rng = np.random.default_rng(7)
    _rewrite(clips[0], lambda n: np.zeros(n))
    _rewrite(clips[1], lambda n: rng.normal(0, 4000, n).clip(-32767, 32767))
    result = run_ok(run_stage, project, Stage.TTS)  # the cached clips are reused as they are
    bad = failed(result)
    (silent,) = failing_segments(bad["silence"])
    heard_wrong = failing_segments(bad["intelligibility"])
    assert silent in heard_wrong and len(heard_wrong) == 2, bad["intelligibility"].description
    assert bad["intelligibility"].severity.value == "ERROR"
    assert "clipping" not in bad and "fits_slot" not in bad
    reason = checks.held_back(instance, result.run_id)
    assert reason is not None and f"{silent}:" in reason


def test_a_delivered_file_missing_a_track_fails_the_streams_check(
    tmp_path: Path, new_project, run_stage, approve, sample_video: Path
) -> None:
    project = new_project()
    for stage in (Stage.STT, Stage.MT):
        run_ok(run_stage, project, stage)
        approve(project, stage)
    run_ok(run_stage, project, Stage.TTS)
    result = run_ok(run_stage, project, Stage.MUXING)
    assert not failed(result)
    delivered = Path(metadata(result, Stage.MUXING)["video_uri"])
    broken = tmp_path / f"broken{delivered.suffix}"
    drop = ["-map", "0", "-map", "-0:a:1", "-c", "copy"]  # the original audio track is lost
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(delivered), *drop, str(broken)], check=True)
    outcomes, _ = muxed_checks(
        broken,
        sample_video,
        target_language="es",
        source_language="en",
        original_track=True,
        loudness_lufs=-16.0,
        limits=check_thresholds(),
    )
    verdicts = {o.name: o for o in outcomes}
    assert (verdicts["streams"].passed, verdicts["streams"].severity) == (False, "ERROR")
    assert verdicts["streams"].failing[0].segment == "audio"
    assert all(verdicts[n].passed for n in ("video_unchanged", "duration", "loudness"))
