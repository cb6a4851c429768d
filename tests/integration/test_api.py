"""The API over HTTP and WebSocket against the real system on loopback: dagster-daemon,
dagster-webserver (GraphQL), Redis, and the API under uvicorn."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from dubbing_pipeline.infra import media
from dubbing_pipeline.infra.events import EventPublisher, JobEvent
from tests.support.daemon import wait_until
from tests.support.event_tap import EventTap
from tests.support.mixes import audio_streams, decoded, gains_db, tone
from tests.support.stack import MAX_UPLOAD, REDIS_URL, Stack

pytestmark = pytest.mark.integration


def _create(stack: Stack, user: str, video: str = "sample.mp4", **extra: Any) -> dict:
    body = {"videoUrl": f"uploads/{user}/{video}", "sourceLanguage": "en", "targetLanguage": "es"}
    body |= extra
    response = stack.client(user).post("/api/projects", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_a_project_end_to_end_over_http_and_websocket(stack: Stack, sample_video: Path) -> None:
    alice = stack.client("alice")
    tap = EventTap(stack, "alice")
    # A music-and-effects stem uploaded beside the video plays under the dub.
    stem = tone(stack.root / "stem.wav", media.probe(sample_video).duration, channels=1)
    key = alice.post("/api/uploads?filename=stem.wav", content=stem.read_bytes()).json()["key"]
    created = _create(stack, "alice", backgroundUrl=key)
    project = created["project"]["id"]
    assert created["project"]["userId"] == "alice" and created["jobId"]
    assert (created["project"]["background"], created["project"]["backgroundUrl"]) == ("stem", key)

    for stage, review_path in (("STT", "transcript"), ("MT", "translation")):
        tap.wait_for(
            lambda e, s=stage: (
                (e["type"], e["stage"], e["projectId"]) == ("stage_ready_for_review", s, project)
            )
        )
        review = alice.get(f"/api/projects/{project}/review/{review_path}")
        assert review.status_code == 200, review.text
        review = review.json()
        assert review["decision"] == "pending" and review["segments"]
        edits = {str(review["segments"][0]["id"]): "Hola a todos."} if stage == "MT" else {}
        approved = alice.post(
            f"/api/projects/{project}/review/{review_path}/approve", json={"edits": edits}
        )
        assert approved.status_code == 200, approved.text
        assert approved.json()["decision"] == "approved"

    tap.wait_for(lambda e: e["type"] == "project_completed" and e["projectId"] == project)
    types = {e["type"] for e in tap.events if e["projectId"] == project}
    assert types == {
        "job_created",
        "job_started",
        "job_progress",
        "job_completed",
        "stage_ready_for_review",
        "project_completed",
    }
    assert all(e["id"] and e["timestamp"] and e["userId"] == "alice" for e in tap.events)

    video = alice.get(f"/api/projects/{project}/artifacts/video")
    assert video.status_code == 200 and video.headers["accept-ranges"] == "bytes"
    part = alice.get(f"/api/projects/{project}/artifacts/video", headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and part.content == video.content[:100]
    vtt = alice.get(f"/api/projects/{project}/artifacts/subtitles.vtt")
    assert vtt.text.startswith("WEBVTT") and "Hola a todos." in vtt.text
    dubbed = stack.root / "dubbed.mp4"
    dubbed.write_bytes(video.content)
    assert media.probe(dubbed).subtitle_streams == 2
    assert [a["tags"]["language"] for a in audio_streams(dubbed)] == ["spa", "eng"]
    dub = stack.root / f"artifacts/projects/{project}/speech/dub_track.wav"
    levels = gains_db(decoded(dubbed), {"dub": decoded(dub), "stem": decoded(stem)}, (0, 60))
    assert levels["stem"] - levels["dub"] > -6  # the stem is in the mix beside the dub

    jobs = alice.get(f"/api/jobs/project/{project}").json()["jobs"]
    assert sorted(j["stage"] for j in jobs) == ["MT", "MUXING", "STT", "TTS"]
    assert {j["status"] for j in jobs} == {"completed"} and {j["progress"] for j in jobs} == {100}
    current = alice.get(f"/api/jobs/project/{project}/current").json()
    assert current["stage"] == "MUXING" and current["id"] == jobs[0]["id"]
    job = alice.get(f"/api/jobs/{jobs[0]['id']}").json()
    assert job["projectId"] == project and job["userId"] == "alice"
    assert alice.get(f"/api/projects/{project}").json()["stages"] == {
        "STT": "completed",
        "MT": "completed",
        "TTS": "completed",
        "MUXING": "completed",
    }
    assert [p["id"] for p in alice.get("/api/projects").json()["projects"]] == [project]
    tap.close()


def test_other_users_get_404_and_roles_are_enforced(stack: Stack) -> None:
    project = _create(stack, "alice")["project"]["id"]
    job = stack.client("alice").get(f"/api/jobs/project/{project}/current").json()["id"]
    bob, anonymous = stack.client("bob"), stack.client(None)
    for method, path in [
        ("GET", f"/api/jobs/{job}"),
        ("GET", f"/api/jobs/project/{project}"),
        ("GET", f"/api/jobs/project/{project}/current"),
        ("POST", f"/api/jobs/{job}/retry"),
        ("POST", f"/api/queue/dead-letter/{job}/retry"),
        ("GET", f"/api/projects/{project}"),
        ("GET", f"/api/projects/{project}/review/transcript"),
        ("POST", f"/api/projects/{project}/review/transcript/approve"),
        ("POST", f"/api/projects/{project}/review/transcript/reject"),
        ("GET", f"/api/projects/{project}/artifacts/video"),
    ]:
        body = {"reason": "x"} if path.endswith("reject") else None
        response = bob.request(method, path, json=body)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"]["code"] == "not_found"
        assert anonymous.request(method, path).status_code == 401
    assert [j["userId"] for j in bob.get("/api/queue/STT/jobs").json()["jobs"]] == []
    assert bob.get("/api/projects").json()["projects"] == []
    for method, path in [
        ("GET", "/api/queue/stats"),
        ("GET", "/api/queue/stats/STT"),
        ("POST", "/api/queue/STT/pause"),
        ("POST", "/api/queue/STT/resume"),
        ("POST", "/api/queue/STT/clean"),
    ]:
        assert bob.request(method, path).json()["error"]["code"] == "forbidden"
    progress = bob.put(f"/api/jobs/{job}/progress", json={"progress": 50})
    assert progress.status_code == 403
    assert stack.client("bad").get("/api/projects").status_code == 401


def test_bad_input_is_a_clear_4xx(stack: Stack) -> None:
    alice = stack.client("alice")
    cases = [
        (alice.get("/api/queue/NOPE/jobs"), 404, "queue 'NOPE'"),
        (alice.get("/api/queue/STT/jobs?status=sleeping"), 400, "status"),
        (alice.get("/api/queue/STT/jobs?limit=0"), 400, "limit"),
        (
            alice.post("/api/projects", json={"videoUrl": "uploads/alice/sample.mp4"}),
            400,
            "targetLanguage",
        ),
        (
            alice.post("/api/projects", json={"videoUrl": "/etc/passwd", "targetLanguage": "es"}),
            400,
            "videoUrl",
        ),
        (
            alice.post("/api/projects", json={"videoUrl": "nope.mp4", "targetLanguage": "es"}),
            400,
            "not an upload of yours",
        ),
        (
            alice.post(
                "/api/projects",
                json={
                    "videoUrl": "uploads/alice/sample.mp4",
                    "targetLanguage": "xx-not-a-language",
                },
            ),
            400,
            "targetLanguage",
        ),
        (
            alice.post(
                "/api/projects", content=b"{not json", headers={"content-type": "application/json"}
            ),
            400,
            "not valid JSON",
        ),
        (alice.get("/api/jobs/does-not-exist"), 404, "job does-not-exist"),
        (alice.get("/api/nowhere"), 404, "Not Found"),
    ]
    video = {"videoUrl": "uploads/alice/sample.mp4", "targetLanguage": "es"}
    for mix, needle in (
        ({"backgroundUrl": "uploads/bob/sample.mp4"}, "backgroundUrl: not an upload of yours"),
        ({"backgroundUrl": "s3://elsewhere/stem.wav"}, "backgroundUrl: this deployment takes"),
        ({"background": "stem"}, "backgroundUrl: background 'stem' needs the stem"),
        ({"background": "karaoke"}, "background"),
        ({"background": "duck", "backgroundUrl": "uploads/alice/sample.mp4"}, "only used with"),
    ):
        cases.append((alice.post("/api/projects", json=video | mix), 400, needle))
    for response, status, needle in cases:
        assert response.status_code == status, response.text
        assert needle in response.json()["error"]["message"], response.text


def test_upload_limits_and_streaming(stack: Stack, sample_video: Path) -> None:
    alice = stack.client("alice")
    query = "targetLanguage=es&sourceLanguage=en&filename=clip.mp4"
    created = alice.post(f"/api/projects/upload?{query}", content=sample_video.read_bytes())
    assert created.status_code == 201, created.text
    assert created.json()["project"]["videoUrl"].startswith("uploads/alice/")
    empty = alice.post(f"/api/projects/upload?{query}", content=b"")
    assert empty.status_code == 400
    too_big = b"\0" * (MAX_UPLOAD + 1)
    declared = alice.post(f"/api/projects/upload?{query}", content=too_big)
    assert declared.status_code == 413
    assert declared.json()["error"]["code"] == "payload_too_large"
    chunks = (too_big[i : i + 65536] for i in range(0, len(too_big), 65536))
    streamed = alice.post(f"/api/projects/upload?{query}", content=chunks)  # no Content-Length
    assert streamed.status_code == 413


def test_queue_admin_endpoints_and_dead_letter(stack: Stack) -> None:
    root, alice = stack.client("root"), stack.client("alice")
    assert root.post("/api/queue/TTS/pause").json() == {"queue": "TTS", "isPaused": True}
    stats = root.get("/api/queue/stats/TTS").json()
    assert stats["isPaused"] and set(stats) >= {
        "waiting",
        "active",
        "completed",
        "failed",
        "delayed",
        "paused",
    }
    assert root.post("/api/queue/TTS/resume").json() == {"queue": "TTS", "isPaused": False}
    assert [q["queue"] for q in root.get("/api/queue/stats").json()["queues"]] == [
        "STT",
        "MT",
        "TTS",
        "MUXING",
        "LIP_SYNC",
    ]

    bad = _create(stack, "alice", video="notes.mp4")
    job = bad["jobId"]
    entry = wait_until(
        lambda: next(
            (
                e
                for e in alice.get("/api/queue/dead-letter/jobs").json()["jobs"]
                if e["jobId"] == job
            ),
            None,
        ),
        300,  # behind the module's earlier STT runs on a busy machine
        "the dead letter entry",
    )
    assert (entry["errorType"], entry["attempts"], entry["stage"]) == ("VALIDATION", 1, "STT")
    assert "not a media file" in entry["message"]
    assert alice.get("/api/queue/dead-letter/stats").json()["byErrorType"]["VALIDATION"] >= 1
    assert stack.client("bob").get("/api/queue/dead-letter/jobs").json()["jobs"] == []
    failed = alice.get(f"/api/jobs/{job}").json()
    assert failed["status"] == "failed" and failed["errorType"] == "VALIDATION"

    retried = alice.post(f"/api/queue/dead-letter/{job}/retry")
    assert retried.status_code == 202, retried.text
    again = alice.post(f"/api/jobs/{job}/retry")
    assert again.status_code == 409 and "already retried" in again.json()["error"]["message"]
    project = bad["project"]["id"]
    wait_until(
        lambda: len(alice.get(f"/api/jobs/project/{project}").json()["jobs"]) == 2,
        60,
        "the retry job",
    )
    finished = alice.get(f"/api/jobs/project/{project}/current").json()
    assert alice.post(f"/api/jobs/{finished['id']}/retry").status_code in (409,)

    clean = root.post("/api/queue/STT/clean", json={"completedKeepLast": 100})
    assert clean.status_code == 202 and clean.json()["jobId"]
    metrics = stack.client(None).get("/metrics").text
    assert 'dubbing_queue_jobs{queue="STT",state="completed"}' in metrics
    assert "dubbing_dead_letter_jobs" in metrics


def test_progress_put_by_a_worker(stack: Stack) -> None:
    worker = stack.client("worker")
    assert worker.put("/api/jobs/nope/progress", json={"progress": 5}).status_code == 404
    assert worker.put("/api/jobs/nope/progress", json={"progress": 101}).status_code == 400
    project = _create(stack, "alice")["project"]["id"]
    alice = stack.client("alice")

    def finished() -> dict | None:
        job = alice.get(f"/api/jobs/project/{project}/current").json()
        return job if job["status"] in ("completed", "failed") else None

    done = wait_until(finished, 120, "STT to finish")
    answer = worker.put(f"/api/jobs/{done['id']}/progress", json={"progress": 50})
    assert answer.status_code == 409 and "not running" in answer.json()["error"]["message"]


def test_reconnect_replays_missed_events_and_every_instance_delivers(stack: Stack) -> None:
    second = stack.start_api() if len(stack.api_ports) < 2 else stack.api_ports[1]
    publisher = EventPublisher(redis_url=REDIS_URL)

    def publish(n: int, user: str = "alice") -> list[str]:
        return [
            publisher.publish(
                JobEvent(
                    type="job_progress",
                    projectId="p-replay",
                    userId=user,
                    jobId="j",
                    stage="TTS",
                    progress=i,
                )
            )
            for i in range(n)
        ]

    first_ids = publish(3)
    taps = [
        EventTap(stack, "alice", last_id=first_ids[0]),
        EventTap(stack, "alice", last_id=first_ids[0], port=second),
    ]
    later = publish(2) + publish(1, user="bob")
    for tap in taps:
        tap.wait_for(lambda e: e["id"] == later[1], timeout=10)
        time.sleep(0.5)
        replayed = [e["id"] for e in tap.events if e["projectId"] == "p-replay"]
        assert replayed == [*first_ids[1:], *later[:2]]  # in order, no duplicates, no bob
        tap.close()


def test_webserver_down_is_503_then_recovers(stack: Stack) -> None:
    alice = stack.client("alice")
    stack.stop_webserver()
    down = alice.get("/api/queue/STT/jobs")  # the client's own timeout would fail a hang
    assert down.status_code == 503 and down.json()["error"]["code"] == "dagster_unavailable"
    assert alice.get("/healthz").status_code == 503
    stack.start_webserver()
    assert alice.get("/api/queue/STT/jobs").status_code == 200
    assert alice.get("/healthz").json()["status"] == "ok"


def test_a_caller_names_only_files_of_their_own(stack: Stack, sample_video: Path) -> None:
    """Sources are confined to the caller's upload area; another user's file, a project's output,
    a folder and a missing key get one and the same answer; no response shows a host path."""
    alice, bob = stack.client("alice"), stack.client("bob")
    uploaded = alice.post("/api/uploads?filename=mine.mp4", content=sample_video.read_bytes())
    assert uploaded.status_code == 201, uploaded.text
    key = uploaded.json()["key"]
    assert key.startswith("uploads/alice/") and key.endswith("-mine.mp4")
    mine = _create(stack, "alice", video=key.removeprefix("uploads/alice/"))["project"]
    assert mine["videoUrl"] == key
    project = mine["id"]
    wait_until(
        lambda: (
            alice.get(f"/api/jobs/project/{project}/current").json()["status"]
            in ("completed", "failed")
        ),
        120,
        "STT to finish",
    )

    def refused(video_url: str) -> str:
        answer = bob.post("/api/projects", json={"videoUrl": video_url, "targetLanguage": "es"})
        assert answer.status_code == 400, answer.text
        return answer.json()["error"]["message"]

    others = [
        key,  # alice's upload
        "uploads/alice/sample.mp4",
        f"projects/{project}/project.json",  # alice's manifest
        f"projects/{project}/transcript/segments.json",
        "uploads/bob",  # a folder
        "uploads/bob/missing.mp4",
        "uploads/bob/../alice/sample.mp4",
        f"{stack.root}/artifacts/uploads/alice/sample.mp4",
        "s3://bucket/video.mp4",
    ]
    answers = {refused(v) for v in others[:-1]}
    assert len(answers) == 1, answers  # existing and missing look the same
    assert "object-storage" in refused(others[-1])
    chosen = bob.post(
        "/api/projects",
        json={"videoUrl": "uploads/bob/sample.mp4", "targetLanguage": "es", "id": project},
    )
    assert chosen.status_code == 400 and "id" in chosen.json()["error"]["message"]
    texts = [
        alice.get(f"/api/projects/{project}").text,
        alice.get("/api/projects").text,
        alice.get(f"/api/jobs/project/{project}").text,
        alice.get("/api/queue/dead-letter/jobs").text,
        bob.post("/api/projects", json={"videoUrl": "nope", "targetLanguage": "es"}).text,
    ]
    assert not [t for t in texts if str(stack.root) in t]


def test_ws_without_a_good_token_is_a_401_at_the_handshake(stack: Stack) -> None:
    """As every other route answers (uvicorn sends the denial response Starlette hands it)."""
    base = f"ws://127.0.0.1:{stack.api_ports[0]}/ws"
    for url in (base, f"{base}?token=not-a-token"):
        with pytest.raises(InvalidStatus) as refused:
            connect(url)
        assert refused.value.response.status_code == 401, url
        assert json.loads(refused.value.response.body)["error"]["code"] == "unauthorized"
