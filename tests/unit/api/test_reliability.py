"""Nothing twice, nothing lost, in process: repeated and retried requests, Dagster or Redis
misbehaving, an object store instead of a folder, a broken manifest among good ones."""

from __future__ import annotations

import asyncio
import logging
import socket
import tempfile
import threading
import time
from pathlib import Path

import fsspec
import httpx
import pytest

from dubbing_api.app import create_app
from dubbing_api.settings import Settings
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.infra.storage import ArtifactStore
from dubbing_pipeline.operations.projects import manifest_uri
from tests.support.fake_dagster import FakeDagster
from tests.support.stack import token
from tests.unit.api.conftest import Api

VIDEO = b"\0" * 64


def _mt_runs(api: Api) -> int:
    return len([r for r in api.fake.runs if r.job_name == Stage.MT.job_name])


def test_the_same_approval_twice_or_thrice_starts_the_next_stage_once(api: Api) -> None:
    alice, root = api.client("alice"), api.client("root")
    project = api.project()
    api.segments(project, Stage.STT, ["Hello there.", "Goodbye."])
    path = f"/api/projects/{project.id}/review/transcript/approve"
    body = {"edits": {"1": "Bye."}}
    answers = [alice.post(path, json=body) for _ in range(3)] + [root.post(path, json=body)]
    assert {a.status_code for a in answers} == {200}
    assert _mt_runs(api) == 1
    decisions = [t for _, _, t in api.fake.observations if "review approved" in t]
    assert len(decisions) == 1  # recorded once too
    alice.post(path, json={"edits": {"1": "See you."}})  # new content: a new approval
    assert _mt_runs(api) == 2


def test_an_idempotency_key_replays_the_answer_and_refuses_another_request(api: Api) -> None:
    alice = api.client("alice")
    project = api.project()
    api.segments(project, Stage.STT, ["Hello there."])
    path = f"/api/projects/{project.id}/review/transcript/approve"
    key = {"Idempotency-Key": "click-1"}
    first = alice.post(path, json={}, headers=key)
    again = alice.post(path, json={}, headers=key)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()
    other = alice.post(path, json={"edits": {"0": "Hi."}}, headers=key)
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert _mt_runs(api) == 1


def test_a_create_retried_with_its_key_makes_one_project_and_one_transcription(api: Api) -> None:
    alice = api.client("alice")
    key = alice.post("/api/uploads", content=VIDEO).json()["key"]
    body = {"videoUrl": key, "targetLanguage": "es"}
    answers = [
        alice.post("/api/projects", json=body, headers={"Idempotency-Key": "k"}) for _ in "12"
    ]
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json()["project"]["id"] == answers[1].json()["project"]["id"]
    assert len(api.fake.runs) == 1
    # bob's identical key is his own: a project of his, nothing of alice's revealed
    bob = api.client("bob")
    bob_key = bob.post("/api/uploads", content=VIDEO).json()["key"]
    theirs = bob.post(
        "/api/projects",
        json={"videoUrl": bob_key, "targetLanguage": "es"},
        headers={"Idempotency-Key": "k"},
    )
    assert theirs.status_code == 201
    assert theirs.json()["project"]["id"] != answers[0].json()["project"]["id"]


def test_an_approval_while_dagster_is_down_changes_nothing(api: Api) -> None:
    alice = api.client("alice")
    project = api.project()
    api.segments(project, Stage.STT, ["Hello there."])
    base = f"/api/projects/{project.id}/review/transcript"
    api.fake.down = True
    answer = alice.post(f"{base}/approve", json={})
    assert answer.status_code == 503
    api.fake.down = False
    assert alice.get(base).json()["decision"] == "pending"  # nothing happened
    assert _mt_runs(api) == 0
    assert alice.post(f"{base}/approve", json={}).status_code == 200  # the retry does it
    assert _mt_runs(api) == 1


def test_an_approval_whose_launch_timed_out_is_safe_to_retry(api: Api) -> None:
    """A stalled webserver: the launch may have gone through. The answer says a retry is safe,
    and the retry starts nothing twice."""
    alice = api.client("alice")
    project = api.project()
    api.segments(project, Stage.STT, ["Hello there."])
    base = f"/api/projects/{project.id}/review/transcript"
    api.fake.stall = {"launchRun"}  # Dagster launches it, but never says so
    first = alice.post(f"{base}/approve", json={})
    assert first.status_code == 503 and "retrying it is safe" in first.json()["error"]["message"]
    api.fake.stall = set()
    assert alice.post(f"{base}/approve", json={}).status_code == 200
    assert _mt_runs(api) == 1


def test_an_artifact_in_an_object_store_downloads_whole(tmp_path: Path) -> None:
    """The file is copied from the store for the response and removed once it is sent (it was
    removed before it was sent: a 500)."""
    api = _api(tmp_path, FakeDagster(), artifacts=f"memory://dubbing-{tmp_path.name}")
    project = api.project()
    video = api.store.artifact_uri(project.id, Stage.MUXING, "dubbed.mp4")
    api.store.write_bytes(video, b"video bytes")
    copies = set(Path(tempfile.gettempdir()).glob("dubbing-*.mp4"))
    response = api.client("alice").get(f"/api/projects/{project.id}/artifacts/video")
    assert response.status_code == 200 and response.content == b"video bytes"
    assert set(Path(tempfile.gettempdir()).glob("dubbing-*.mp4")) == copies  # cleaned up
    ranged = api.client("alice").get(
        f"/api/projects/{project.id}/artifacts/video", headers={"Range": "bytes=0-4"}
    )
    assert ranged.status_code == 206 and ranged.content == b"video"
    api.close()


def test_one_unreadable_manifest_does_not_fail_the_list(api: Api) -> None:
    alice = api.client("alice")
    good, broken = api.project(), api.project()
    api.run(good, Stage.STT)
    api.run(broken, Stage.STT)
    api.store.write_text(manifest_uri(api.store, broken.id), "{not json")
    listed = alice.get("/api/projects")
    assert listed.status_code == 200, listed.text
    assert [p["id"] for p in listed.json()["projects"]] == [good.id]


@pytest.fixture
def silent_redis() -> str:
    """A Redis that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    threading.Thread(
        target=lambda: [held.append(server.accept()[0]) for _ in range(16)], daemon=True
    ).start()
    return f"redis://127.0.0.1:{server.getsockname()[1]}/0"


def test_a_silent_redis_degrades_job_reads_and_stalls_no_other_request(
    tmp_path: Path, silent_redis: str
) -> None:
    """Progress is unknown, the job is still there; requests that need no Redis answer at once
    while another waits on it (the synchronous client once blocked the whole event loop)."""
    fake = FakeDagster()
    api = _api(tmp_path, fake, redis_url=silent_redis)
    project = api.project()
    job = api.run(project, Stage.STT, status="STARTED")

    async def both() -> tuple[float, float, httpx.Response]:
        transport = httpx.ASGITransport(app=api.app)
        headers = {"Authorization": f"Bearer {token('alice')}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://t", headers=headers
        ) as c:
            started = time.perf_counter()

            async def timed(path: str) -> tuple[float, httpx.Response]:
                response = await c.get(path)
                return time.perf_counter() - started, response

            (slow_s, slow), (fast_s, _) = await asyncio.gather(
                timed(f"/api/jobs/{job}"), timed(f"/api/projects/{project.id}")
            )
            return slow_s, fast_s, slow

    slow_s, fast_s, slow = asyncio.run(both())
    assert slow.status_code == 200 and slow.json()["progress"] is None
    assert fast_s < slow_s  # answered while the Redis read was still waiting
    api.close()


def _api(tmp_path: Path, fake: FakeDagster, **settings: object) -> Api:
    import hashlib
    import json

    from tests.support.stack import TOKENS

    tokens = {
        hashlib.sha256(token(u).encode()).hexdigest(): {"user": u, "role": r}
        for u, r in TOKENS.items()
    }
    (tmp_path / "tokens.json").write_text(json.dumps(tokens))
    defaults = {
        "graphql_url": "http://dagster.test/graphql",
        "artifacts": str(tmp_path / "artifacts"),
        "api_tokens": str(tmp_path / "tokens.json"),
        "redis_timeout_s": 1.0,
    }
    config = Settings(**(defaults | settings))  # type: ignore[arg-type]
    app = create_app(config, transport=fake.transport())
    return Api(app, fake, ArtifactStore(base_url=config.artifacts), set())


def test_a_project_the_engines_cannot_dub_is_refused_when_created(api: Api) -> None:
    """The code location publishes what its engines can do (the transcript asset's metadata);
    a pair they cannot dub is a 400 naming it, before anyone reviews a transcript."""
    api.fake.asset_metadata["transcript"] = {
        "dubbing/capabilities": {
            "transcribes": None,
            "translates": [["en", "es"], ["es", "en"]],
            "speaks": ["en", "es", "de"],
        }
    }
    alice = api.client("alice")
    key = alice.post("/api/uploads", content=VIDEO).json()["key"]

    def create(source: str, target: str) -> tuple[int, str]:
        answer = alice.post(
            "/api/projects",
            json={"videoUrl": key, "sourceLanguage": source, "targetLanguage": target},
        )
        return answer.status_code, answer.json().get("error", {}).get("message", "")

    assert create("en", "de") == (
        400,
        "targetLanguage: en->de is not a pair translated here ['en->es', 'es->en']",
    )
    assert create("en", "en")[1] == "targetLanguage: en is the source language already"
    assert create("auto", "de")[0] == 400
    assert create("en", "es")[0] == 201 and create("auto", "es")[0] == 201
    assert len(api.fake.runs) == 2  # only the two it can dub started


def test_object_storage_urls_are_read_before_a_project_depends_on_them(tmp_path: Path) -> None:
    bucket = f"memory://sources-{tmp_path.name}"
    api = _api(tmp_path, FakeDagster(), api_source_urls=(bucket, "gs://media/"))
    fs, root = fsspec.url_to_fs(bucket)
    fs.pipe(f"{root}/clip.mp4", VIDEO)
    fs.mkdir(f"{root}/folder")
    alice = api.client("alice")

    def create(url: str) -> tuple[int, str]:
        answer = alice.post("/api/projects", json={"videoUrl": url, "targetLanguage": "es"})
        return answer.status_code, answer.json().get("error", {}).get("message", "")

    assert create(f"{bucket}/clip.mp4")[0] == 201
    assert create(f"{bucket}/missing.mp4") == (400, f"videoUrl: no object at {bucket}/missing.mp4")
    assert create(f"{bucket}/folder")[1].endswith("is a folder, not a file")
    status, message = create("gs://media/clip.mp4")  # gcsfs is not installed here
    assert status == 400 and "cannot read this scheme" in message and "gcsfs" in message
    assert create("s3://elsewhere/clip.mp4")[1].startswith("videoUrl: object-storage URLs must")
    api.close()


def test_ws_refuses_a_missing_or_bad_token_with_a_401(api: Api) -> None:
    """As the README says: the handshake is answered with an HTTP 401, not a bare close."""
    from starlette.testclient import WebSocketDenialResponse

    for client in (api.client(None), api.client("nobody")):
        with pytest.raises(WebSocketDenialResponse) as refused, client.websocket_connect("/ws"):
            pass
        assert refused.value.status_code == 401
        assert refused.value.json()["error"]["code"] == "unauthorized"


def test_ws_with_redis_away_closes_with_1011_and_where_to_resume(tmp_path: Path) -> None:
    from starlette.websockets import WebSocketDisconnect

    from tests.support.stack import free_port

    api = _api(tmp_path, FakeDagster(), redis_url=f"redis://127.0.0.1:{free_port()}/0")
    client = api.client("alice")
    with (
        client.websocket_connect("/ws?lastEventId=1700000000000-0") as ws,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        ws.receive_text()
    assert closed.value.code == 1011
    assert "lastEventId=1700000000000-0" in closed.value.reason
    api.close()


def test_a_websocket_client_that_leaves_ends_its_connection_cleanly(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    """An ordinary disconnect, while the server waits for the next event, raises nothing."""
    with api.client("alice").websocket_connect(f"/ws?token={token('alice')}") as ws:
        ws.close()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
