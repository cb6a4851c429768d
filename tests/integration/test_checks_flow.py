"""Checks in the running system: a blocking check stops the next stage and sends the project to
review (the WebSocket event says why), its results are in Dagster's GraphQL (the UI's
``assetChecksOrError`` and check executions per partition) and in the API's project and job
bodies; fixing the segment in review and approving lets the project go on."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dubbing_pipeline.domain.media_checks import SPEECH_CHECKS
from tests.integration.test_api import _create
from tests.support.event_tap import EventTap
from tests.support.stack import Stack, running_stack

pytestmark = pytest.mark.integration

# Far longer than its slot even at the 1.25x cap: a reviewer's paste gone wrong.
TOO_LONG = (
    "Hola y bienvenidos a nuestro pequeño vídeo sobre el tiempo, en el que vamos a hablar "
    "durante mucho rato de las nubes, de la lluvia, del viento, del sol y de la nieve que cae "
    "en las montañas del norte cuando llega el invierno y los días se hacen más cortos."
)


@pytest.fixture(scope="module")
def base_stack(tmp_path_factory: pytest.TempPathFactory, sample_video: Path) -> Iterator[Stack]:
    """The system with Whisper base (multilingual: it can hear the Spanish dub back)."""
    root = tmp_path_factory.mktemp("checks-stack")
    with running_stack(root, DUBBING_STT_MODEL="base") as running:
        uploads = root / "artifacts" / "uploads" / "alice"
        uploads.mkdir(parents=True)
        shutil.copy(sample_video, uploads / "sample.mp4")
        yield running


def _graphql(stack: Stack, query: str, **variables: object) -> dict:
    url = f"http://127.0.0.1:{stack.graphql_port}/graphql"
    answer = httpx.post(url, json={"query": query, "variables": variables}, timeout=30).json()
    assert not answer.get("errors"), answer["errors"]
    return answer["data"]


@pytest.mark.timeout(2700)  # a whole project twice through TTS with Whisper base, on a busy machine
def test_a_blocking_check_holds_the_project_until_the_segment_is_fixed(
    base_stack: Stack,
) -> None:
    stack, alice = base_stack, base_stack.client("alice")
    tap = EventTap(stack, "alice")
    project = _create(stack, "alice")["project"]["id"]

    def ready(stage: str) -> dict:
        return tap.wait_for(
            lambda e: (
                (e["type"], e["stage"], e["projectId"])
                == ("stage_ready_for_review", stage, project)
            ),
            timeout=1500,  # a busy 2-core machine
        )

    ready("STT")
    assert alice.post(f"/api/projects/{project}/review/transcript/approve", json={}).is_success
    ready("MT")
    first = alice.get(f"/api/projects/{project}/review/translation").json()["segments"][0]["id"]
    edits = {"edits": {str(first): TOO_LONG}}
    assert alice.post(f"/api/projects/{project}/review/translation/approve", json=edits).is_success

    held = ready("TTS")  # not a review stage: the checks sent it there
    assert held["message"].startswith("checks failed: fits_slot ERROR"), held["message"]
    assert f"[{first}: " in held["message"]
    time.sleep(6)  # sensor ticks: nothing may start after a held stage
    stages = [j["stage"] for j in alice.get(f"/api/jobs/project/{project}").json()["jobs"]]
    assert "MUXING" not in stages

    body = alice.get(f"/api/projects/{project}").json()
    assert body["reviewReason"] and "fits_slot" in body["reviewReason"]
    fits = next(c for c in body["checks"] if (c["stage"], c["check"]) == ("TTS", "fits_slot"))
    assert (fits["passed"], fits["severity"], fits["blocking"]) == (False, "ERROR", True)
    assert fits["failing"][0]["segment"] == first and fits["failing"][0]["value"] > 0.25
    transcript = [c for c in body["checks"] if c["stage"] == "STT"]
    assert len(transcript) == 4 and all(c["passed"] for c in transcript)
    tts_job = alice.get(f"/api/jobs/project/{project}/current").json()
    assert tts_job["stage"] == "TTS"
    assert {c["check"] for c in tts_job["checks"]} == set(SPEECH_CHECKS)
    assert {c["jobId"] for c in tts_job["checks"]} == {tts_job["id"]}

    # What the Dagster UI shows for the asset and this partition.
    nodes = _graphql(
        stack,
        """query($keys: [AssetKeyInput!]) { assetNodes(assetKeys: $keys) {
          assetChecksOrError { __typename ... on AssetChecks { checks { name blocking
            description } } } } }""",
        keys=[{"path": ["speech"]}],
    )["assetNodes"]
    declared = nodes[0]["assetChecksOrError"]["checks"]
    assert {c["name"] for c in declared} == set(SPEECH_CHECKS)
    executions = _graphql(
        stack,
        """query($partition: String) { assetCheckExecutions(assetKey: {path: ["speech"]},
          checkName: "fits_slot", partition: $partition, limit: 5) { runId
          evaluation { success severity partition } } }""",
        partition=project,
    )["assetCheckExecutions"]
    assert executions[0]["runId"] == tts_job["id"]
    assert executions[0]["evaluation"] == {
        "success": False,
        "severity": "ERROR",
        "partition": project,
    }

    # The reviewer shortens the segment and approves: TTS again, then MUXING on its own.
    fixed = {"edits": {str(first): "Hola y bienvenidos."}}
    assert alice.post(f"/api/projects/{project}/review/translation/approve", json=fixed).is_success
    tap.wait_for(
        lambda e: e["type"] == "project_completed" and e["projectId"] == project, timeout=1500
    )
    body = alice.get(f"/api/projects/{project}").json()
    assert body["reviewReason"] is None
    assert not any(c["blocking"] for c in body["checks"]), body["checks"]
    tap.close()
