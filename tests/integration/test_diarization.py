"""Who speaks when, on real recorded speech, through the real stages: speakers found and
attributed (the figure is printed), a fitting dub voice per speaker measured on the dubbed audio,
and review edits that re-synthesise only the clips whose voice changed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from dagster import ExecuteInProcessResult

from dubbing_pipeline.domain import artifacts
from dubbing_pipeline.domain.projects import Project
from dubbing_pipeline.domain.speakers import SpeakerEdits, Turn
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.voices import Span
from dubbing_pipeline.engines.diarization import ResemblyzerDiarizer
from dubbing_pipeline.infra import pitch
from dubbing_pipeline.infra.storage import ArtifactStore
from dubbing_pipeline.operations import reviews
from tests.support import real_speech
from tests.support.helpers import metadata

pytestmark = pytest.mark.integration

RunStage = Callable[..., ExecuteInProcessResult]


@pytest.fixture(scope="module")
def interview(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Turn]]:
    return real_speech.interview(tmp_path_factory.mktemp("interview"))


def word_spans(store: ArtifactStore, project: Project) -> list[tuple[float, float, str]]:
    doc = reviews.load_segments(store, project.id, Stage.STT)
    return [(w.start, w.end, w.speaker or s.speaker) for s in doc.segments for w in s.words or []]


def test_an_interview_of_two_clearly_different_voices_is_split_between_them(
    interview: tuple[Path, list[Turn]],
    new_project: Callable[..., Project],
    run_stage: RunStage,
    store: ArtifactStore,
) -> None:
    video, truth = interview
    assert len(truth) >= 6
    project = new_project(video_uri=str(video))
    meta = metadata(run_stage(project, Stage.STT), Stage.STT)
    share, mapping = real_speech.attributed_share(truth, word_spans(store, project))
    print(f"\ninterview: {meta['speakers']} speakers, {share:.1%} of word time right {mapping}")
    assert meta["speakers"] == 2 and meta["diarization_engine"] == "resemblyzer"
    assert share >= 0.90
    assert meta["diarization_seconds"] > 0 and meta["overlaps"] == 0
    doc = reviews.load_segments(store, project.id, Stage.STT)
    assert mapping == {"S1": "host", "S2": "guest"}  # named in order of first appearance
    assert all({w.speaker for w in s.words or []} <= {s.speaker} for s in doc.segments)


def test_one_real_voice_is_one_speaker(
    tmp_path: Path, sample_video: Path, interview: tuple[Path, list[Turn]]
) -> None:
    video, truth = real_speech.one_voice(tmp_path)
    diarizer = ResemblyzerDiarizer()
    found = diarizer.diarize(video, lambda f: None)
    print(f"\none real voice: {len({t.speaker for t in found.turns})} speaker(s)")
    assert len({t.speaker for t in found.turns}) == 1
    assert sum(t.seconds for t in found.turns) >= 0.8 * sum(t.seconds for t in truth)
    assert len({t.speaker for t in diarizer.diarize(sample_video, lambda f: None).turns}) == 1
    bounded = diarizer.diarize(interview[0], lambda f: None, max_speakers=1)
    assert len({t.speaker for t in bounded.turns}) == 1


def test_two_real_women_of_similar_pitch_need_min_speakers(tmp_path: Path) -> None:
    """Two real telephone voices a few Hz apart: the default threshold keeps them together (the
    encoder hears them closer than one of them to herself), min_speakers=2 separates them."""
    video, truth = real_speech.two_women(tmp_path)
    diarizer = ResemblyzerDiarizer()
    found = diarizer.diarize(video, lambda f: None, min_speakers=2)
    share, _ = real_speech.attributed_share(
        truth, [(t.start, t.end, t.speaker) for t in found.turns]
    )
    default = diarizer.diarize(video, lambda f: None)
    print(
        f"\ntwo real women: default {len({t.speaker for t in default.turns})} speaker(s); "
        f"min_speakers=2: {share:.1%} of speech time right"
    )
    assert len({t.speaker for t in found.turns}) == 2
    assert share >= 0.70


def dub_pitch(store: ArtifactStore, project: Project) -> dict[str, float | None]:
    """Median F0 of each speaker's dubbed speech, measured on the dub track in their slots."""
    doc = reviews.approved_segments(store, project.id, Stage.MT)
    track = Path(store.uri(artifacts.stage_file(project.id, Stage.TTS, artifacts.DUB_TRACK)))
    spoken = [s for s in doc.segments if s.text.strip()]
    ends = [s.start for s in spoken[1:]] + [doc.duration]
    spans: dict[str, list[Span]] = {}
    for segment, end in zip(spoken, ends, strict=True):
        spans.setdefault(segment.speaker, []).append(Span(segment.start, end))
    return {s: pitch.median_f0(pitch.spans_audio(track, found)) for s, found in spans.items()}


def dub(run_stage: RunStage, store: ArtifactStore, project: Project, **speakers: dict) -> dict:
    edits = SpeakerEdits(**speakers) if speakers else None
    reviews.approve(store, project.id, Stage.STT, reviewer="t", speakers=edits)
    run_stage(project, Stage.MT)
    reviews.approve(store, project.id, Stage.MT, reviewer="t")
    return metadata(run_stage(project, Stage.TTS), Stage.TTS)


def test_each_speaker_gets_a_fitting_voice_and_review_edits_resynthesise_only_theirs(
    interview: tuple[Path, list[Turn]],
    new_project: Callable[..., Project],
    run_stage: RunStage,
    store: ArtifactStore,
) -> None:
    video, truth = interview
    project = new_project(video_uri=str(video))
    run_stage(project, Stage.STT)
    meta = dub(run_stage, store, project)
    voices = {s: v["voice"] for s, v in meta["speaker_voices"].items()}
    assert len(voices) == 2 and len(set(voices.values())) == 2

    source = {
        who: pitch.median_f0(
            pitch.spans_audio(video, [Span(t.start, t.end) for t in truth if t.speaker == who])
        )
        for who in ("host", "guest")
    }
    _, mapping = real_speech.attributed_share(truth, word_spans(store, project))
    dubbed = dub_pitch(store, project)
    heard = {mapping[s]: f0 for s, f0 in dubbed.items()}
    print(f"\nsource F0 {source}, dub F0 {heard}, voices {voices}")
    assert source["host"] < source["guest"]
    assert heard["host"] < heard["guest"]  # the lower source voice got the lower dub voice

    clips = {s: v for s, v in meta.items() if s in ("segments", "clips_synthesized")}
    renamed = dub(run_stage, store, project, rename={"S2": "Ana"})
    assert renamed["clips_synthesized"] == 0  # the same voice: every clip is reused
    assert renamed["speaker_voices"]["Ana"]["voice"] == voices["S2"]

    doc = reviews.load_segments(store, project.id, Stage.STT)
    moved = sum(s.speaker == "S2" and bool(s.text.strip()) for s in doc.segments)
    merged = dub(run_stage, store, project, merge={"S2": "S1"})
    assert set(merged["speaker_voices"]) == {"S1"}
    assert merged["speaker_voices"]["S1"]["voice"] == voices["S1"]
    assert merged["clips_synthesized"] == moved  # only the merged speaker's lines
    assert merged["clips_reused"] == clips["segments"] - moved
