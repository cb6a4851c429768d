"""Speakers through the HTTP service in process: speaker edits and voice pins at review, pins and
speaker bounds at creation, and bad speaker input as a 400 that names the problem."""

from __future__ import annotations

from dubbing_pipeline.domain.segments import SegmentDoc
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.operations import reviews
from dubbing_pipeline.operations.projects import load_project
from tests.unit.api.conftest import Api


def test_a_reviewer_renames_merges_moves_and_pins_through_the_api(api: Api) -> None:
    alice = api.client("alice")
    project = api.project(voices={"S1": "m3"})
    doc = api.segments(project, Stage.STT, ["Hello.", "Hi.", "How are you?", "Fine."])
    speakers = ["S1", "S2", "S1", "S3"]
    doc = SegmentDoc(
        language=doc.language,
        duration=doc.duration,
        segments=[
            s.model_copy(update={"speaker": n}) for s, n in zip(doc.segments, speakers, strict=True)
        ],
    )
    api.store.write_text(
        reviews.segments_uri(api.store, project.id, Stage.STT), doc.model_dump_json()
    )
    base = f"/api/projects/{project.id}/review/transcript"

    body = {
        "speakers": {"rename": {"S1": "Host"}, "merge": {"S3": "S2"}, "move": {"2": "S2"}},
        "voices": {"S2": "f2"},
    }
    approved = alice.post(f"{base}/approve", json=body)
    assert approved.status_code == 200, approved.text
    assert [s["speaker"] for s in approved.json()["segments"]] == ["Host", "S2", "S2", "S2"]
    assert load_project(api.store, project.id).voices == {"Host": "m3", "S2": "f2"}
    decision = reviews.current_decision(api.store, project.id, Stage.STT)
    assert decision is not None and decision.speaker_edits is not None
    assert decision.speaker_edits.origin("Host") == "S1"

    for bad, problem in (
        ({"speakers": {"merge": {"S2": "S9"}}}, "S9"),
        ({"speakers": {"rename": {"S1": "S2"}}}, "new, unused name"),
        ({"speakers": {"move": {"42": "S1"}}}, "42"),
        ({"speakers": {"move": {"x": "S1"}}}, "move"),
        ({"speakers": {"split": {}}}, "split"),
    ):
        response = alice.post(f"{base}/approve", json=bad)
        assert response.status_code == 400, response.text
        assert problem in response.json()["error"]["message"]
    translation = f"/api/projects/{project.id}/review/translation"
    api.segments(project, Stage.MT, ["Hola."])
    refused = alice.post(f"{translation}/approve", json={"speakers": {"rename": {"S1": "A"}}})
    assert refused.status_code == 400 and "transcript" in refused.json()["error"]["message"]


def test_a_project_is_created_with_speaker_bounds_and_pins(api: Api) -> None:
    api.project()  # the upload the new project names
    alice = api.client("alice")
    body = {
        "videoUrl": "uploads/alice/sample.mp4",
        "sourceLanguage": "en",
        "targetLanguage": "es",
        "minSpeakers": 2,
        "maxSpeakers": 3,
        "voices": {"S1": "m1"},
    }
    created = alice.post("/api/projects", json=body)
    assert created.status_code == 201, created.text
    project = load_project(api.store, created.json()["project"]["id"])
    assert (project.min_speakers, project.max_speakers, project.voices) == (2, 3, {"S1": "m1"})
    crossed = alice.post("/api/projects", json=body | {"minSpeakers": 4})
    assert crossed.status_code == 400 and "max_speakers" in crossed.json()["error"]["message"]
