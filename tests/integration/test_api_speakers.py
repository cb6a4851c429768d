"""Speakers through the API on the real system (daemon, webserver, API on loopback): a voice pin at
creation, then a rename and a merge at review changing the next dub with only the clips whose
voice changed synthesised again (counted in the store's clip cache)."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from tests.support import real_speech
from tests.support.event_tap import EventTap
from tests.support.helpers import stream_md5
from tests.support.stack import Stack

pytestmark = pytest.mark.integration
# The interview's host speaks through Piper, whose voice varies from run to run: some runs the
# Spanish overflows the speed-up cap enough for the fits_slot check to hold the project (its own
# tests are in test_checks). Speakers are this module's subject, so the check lets it through.
STACK_ENV = {"DUBBING_CHECK_MAX_CUT_SHARE": "1"}


def review(alice: httpx.Client, project: str, stage: str, body: dict) -> dict:
    response = alice.post(f"/api/projects/{project}/review/{stage}/approve", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_rename_and_a_merge_through_the_api_change_only_the_affected_clips(
    stack: Stack, tmp_path: Path
) -> None:
    video, _ = real_speech.interview(tmp_path)
    shutil.copy(video, stack.root / "artifacts" / "uploads" / "alice" / "interview.mp4")
    alice = stack.client("alice")
    tap = EventTap(stack, "alice")
    body = {
        "videoUrl": "uploads/alice/interview.mp4",
        "sourceLanguage": "en",
        "targetLanguage": "es",
        "maxSpeakers": 3,
        "voices": {"S1": "m3"},
    }
    created = alice.post("/api/projects", json=body)
    assert created.status_code == 201, created.text
    project = created.json()["project"]["id"]
    clips = stack.root / "artifacts" / "projects" / project / "speech" / "clips"
    dubbed = stack.root / "artifacts" / "projects" / project / "muxed_video" / "dubbed.mp4"

    def count(kind: str, stage: str) -> int:
        return sum(
            (e["type"], e["stage"], e["projectId"]) == (kind, stage, project) for e in tap.events
        )

    def dub_with(speakers: dict | None, passes: int) -> set[str]:
        tap.wait_for(lambda _: count("stage_ready_for_review", "STT") >= 1)
        review(alice, project, "transcript", {"speakers": speakers} if speakers else {})
        tap.wait_for(lambda _: count("stage_ready_for_review", "MT") >= passes)
        review(alice, project, "translation", {})
        tap.wait_for(lambda _: count("job_completed", "MUXING") >= passes, timeout=400)
        return {p.name for p in clips.iterdir()}

    first = dub_with(None, 1)
    segments = alice.get(f"/api/projects/{project}/review/transcript").json()["segments"]
    assert {s["speaker"] for s in segments} == {"S1", "S2"}
    before = stream_md5(dubbed, "a:0")

    guest_lines = {s["id"] for s in segments if s["speaker"] == "S2"}
    # Both edit kinds in one review (each one's clip accounting alone is in test_diarization)
    edited = dub_with({"rename": {"S1": "Host"}, "merge": {"S2": "S1"}}, 2)
    made = edited - first
    transcript = alice.get(f"/api/projects/{project}/review/transcript").json()["segments"]
    translation = alice.get(f"/api/projects/{project}/review/translation").json()["segments"]
    assert {s["speaker"] for s in transcript} == {s["speaker"] for s in translation} == {"Host"}
    assert 0 < len(made) <= len(guest_lines)  # the guest's lines, now in the host's voice
    assert stream_md5(dubbed, "a:0") != before

    bad = alice.post(
        f"/api/projects/{project}/review/transcript/approve",
        json={"speakers": {"merge": {"S2": "S9"}}},
    )
    assert bad.status_code == 400 and "S9" in bad.json()["error"]["message"]
    tap.close()
