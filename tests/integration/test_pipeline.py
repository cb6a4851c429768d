"""The five stages through a real Dagster instance on real media with the offline engines."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance
from faster_whisper import WhisperModel

from dubbing_pipeline.cli.runner import stage_failure
from dubbing_pipeline.cli.sample import make_sample_video
from dubbing_pipeline.domain import review
from dubbing_pipeline.domain.segments import Segment, SegmentDoc
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.engines.models import whisper_model_path
from dubbing_pipeline.infra import media
from tests.support.helpers import metadata, stream_md5

pytestmark = pytest.mark.integration


def test_premium_project_is_dubbed_end_to_end(
    instance: DagsterInstance, new_project, run_stage, approve, sample_video: Path
) -> None:
    project = new_project(premium=True)
    figures = {}
    for stage in Stage:
        result = run_stage(project, stage)
        assert result.success, stage_failure(result)
        figures[stage] = metadata(result, stage)
        if stage.needs_review:
            approve(project, stage)

    stt = figures[Stage.STT]
    assert stt["segments"] >= 4 and 0 < stt["mean_confidence"] <= 1
    assert stt["language"] == "en" and abs(stt["duration_s"] - 20) < 1
    assert figures[Stage.TTS]["max_speedup_applied"] <= 1.25
    assert figures[Stage.LIP_SYNC]["engine"] == "ffmpeg-retime"
    assert "no lip-sync model" in figures[Stage.LIP_SYNC]["note"]

    source = media.probe(sample_video)
    for key in (figures[Stage.MUXING]["video_uri"], figures[Stage.LIP_SYNC]["video_uri"]):
        dubbed_path = Path(key)
        dubbed = media.probe(dubbed_path)
        streams = dubbed.raw["streams"]
        videos = [s for s in streams if s["codec_type"] == "video"]
        audios = [s for s in streams if s["codec_type"] == "audio"]
        subtitles = [s for s in streams if s["codec_type"] == "subtitle"]
        assert len(videos) == 1 and stream_md5(dubbed_path, "v") == stream_md5(sample_video, "v")
        # The dub (default track) and the original audio (second track), each tagged.
        assert [(a["tags"]["language"], a["disposition"]["default"]) for a in audios] == [
            ("spa", 1),
            ("eng", 0),
        ]
        assert abs(float(audios[0]["duration"]) - source.duration) <= 0.05
        assert sorted(s["tags"]["language"] for s in subtitles) == ["eng", "spa"]

    whisper = WhisperModel(whisper_model_path("base"), device="cpu", compute_type="int8")
    _, info = whisper.transcribe(figures[Stage.MUXING]["video_uri"])
    assert info.language == "es", info.all_language_probs[:3]

    assert project.id in instance.get_materialized_partitions(AssetKey(Stage.LIP_SYNC.asset_name))
    observations = instance.fetch_observations(AssetKey(Stage.MT.asset_name), limit=5).records
    assert review.parse_description(observations[0].asset_observation.description)[0] == "approved"


def test_editing_one_segment_resynthesises_only_that_segment(
    new_project, run_stage, approve
) -> None:
    project = new_project()
    for stage in (Stage.STT, Stage.MT):
        assert run_stage(project, stage).success
        approve(project, stage)
    first = metadata(run_stage(project, Stage.TTS), Stage.TTS)
    assert first["clips_reused"] == 0

    approve(project, Stage.MT, edits={1: "Mañana hará mucho sol en toda la ciudad."})
    second = metadata(run_stage(project, Stage.TTS), Stage.TTS)
    assert (second["clips_synthesized"], second["clips_reused"]) == (1, first["segments"] - 1)


def test_standard_project_has_no_lipsync_materialization(
    instance: DagsterInstance, new_project, run_stage
) -> None:
    project = new_project(premium=False)
    result = run_stage(project, Stage.LIP_SYNC)
    assert result.success
    assert result.asset_materializations_for_node(Stage.LIP_SYNC.asset_name) == []
    assert project.id not in instance.get_materialized_partitions(
        AssetKey(Stage.LIP_SYNC.asset_name)
    )


def _assert_permanent_after_one_attempt(result, needle: str) -> None:
    assert not result.success
    error_type, message = stage_failure(result)
    assert error_type == "VALIDATION" and needle in message, message
    retries = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY]
    assert retries == []


@pytest.mark.parametrize(
    ("make_input", "needle"),
    [
        (lambda p: p.write_text("this is not a video\n" * 50), "not a media file"),
        (lambda p: p.write_bytes(b""), "file is empty"),
        (lambda p: make_sample_video(p, ["No sound here."], with_audio=False), "no audio track"),
        (lambda p: None, "does not exist"),
    ],
    ids=["not-a-video", "empty-file", "no-audio-track", "missing-file"],
)
def test_bad_source_fails_permanently_without_retries(
    tmp_path: Path, new_project, run_stage, make_input, needle: str
) -> None:
    path = tmp_path / "input.mp4"
    make_input(path)
    result = run_stage(new_project(video_uri=str(path)), Stage.STT)
    _assert_permanent_after_one_attempt(result, needle)


def test_unsupported_language_pair_fails_permanently(
    store, new_project, run_stage, approve
) -> None:
    project = new_project(target_language="de")
    doc = SegmentDoc(
        language="en", duration=3, segments=[Segment(id=0, start=0, end=2, text="Hi.")]
    )
    store.write_text(
        store.artifact_uri(project.id, Stage.STT, "segments.json"), doc.model_dump_json()
    )
    approve(project, Stage.STT)
    result = run_stage(project, Stage.MT)
    _assert_permanent_after_one_attempt(result, "unsupported language pair en->de")
