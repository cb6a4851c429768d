"""What the workbench reads beyond the seed's fields: the source video (to watch while
reviewing, and the original audio), the recogniser's words with their confidence, and how TTS
fitted each translated segment (sped up to the cap, cut)."""

from __future__ import annotations

from dubbing_pipeline.domain import artifacts
from dubbing_pipeline.domain.fits import track_fits
from dubbing_pipeline.domain.segments import Segment, SegmentDoc, Word
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.timing import plan_track
from dubbing_pipeline.operations import reviews
from tests.unit.api.conftest import Api


def test_the_source_video_is_served_to_its_owner_only(api: Api) -> None:
    project = api.project()
    source = api.client("alice").get(f"/api/projects/{project.id}/artifacts/source")
    assert source.status_code == 200 and source.headers["content-type"] == "video/mp4"
    assert source.content == b"\0" * 16
    assert api.client("bob").get(f"/api/projects/{project.id}/artifacts/source").status_code == 404
    assert api.client("alice").get(f"/api/projects/{project.id}").json()["originalTrack"] is None
    kept = api.project(original_track=False)
    assert api.client("alice").get(f"/api/projects/{kept.id}").json()["originalTrack"] is False


def test_transcript_segments_carry_their_words_and_confidence(api: Api) -> None:
    project = api.project()
    words = [
        Word(start=0.0, end=0.4, text=" Hello", probability=0.97, speaker="S1"),
        Word(start=0.5, end=0.9, text=" wrold", probability=0.31, speaker="S1"),
    ]
    doc = SegmentDoc(
        language="en",
        duration=2.0,
        segments=[Segment(id=0, start=0.0, end=1.0, text=" Hello wrold", words=words)],
    )
    api.store.write_text(
        reviews.segments_uri(api.store, project.id, Stage.STT), doc.model_dump_json()
    )
    (segment,) = (
        api.client("alice").get(f"/api/projects/{project.id}/review/transcript").json()["segments"]
    )
    assert [(w["text"], w["probability"]) for w in segment["words"]] == [
        (" Hello", 0.97),
        (" wrold", 0.31),
    ]
    assert segment["tempo"] is None and segment["overflowSeconds"] is None


def test_translation_segments_say_how_tts_fitted_them(api: Api) -> None:
    project = api.project()
    api.segments(project, Stage.MT, ["Hola.", "Una frase muy larga.", "Adiós."])
    review = f"/api/projects/{project.id}/review/translation"
    assert {s["tempo"] for s in api.client("alice").get(review).json()["segments"]} == {None}
    # slots of 10 s; clips of 5 s (fits), 14 s (needs 1.4x: capped at 1.25, then 1.2 s cut), 11 s
    plan = plan_track([(0, 0.0), (1, 10.0), (2, 20.0)], [5.0, 14.0, 11.0], 30.0, max_speedup=1.25)
    timing = api.store.artifact_uri(project.id, Stage.TTS, artifacts.TIMING)
    api.store.write_text(timing, track_fits(plan).model_dump_json())
    segments = api.client("alice").get(review).json()["segments"]
    assert [(s["tempo"], s["atCap"]) for s in segments] == [
        (1.0, False),
        (1.25, True),
        (1.1, False),
    ]
    assert [s["overflowSeconds"] for s in segments] == [0.0, 1.2, 0.0]
