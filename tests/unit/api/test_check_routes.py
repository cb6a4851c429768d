"""Check results in the project and job bodies, read through GraphQL check executions (the fake
validates every document against the installed dagster-graphql schema)."""

from __future__ import annotations

import json
import time

from dubbing_pipeline.domain.stages import Stage
from tests.unit.api.conftest import Api


def _execution(run_id: str, check: str, passed: bool, failing: list | None = None) -> dict:
    entries = [{"label": "summary", "__typename": "TextMetadataEntry"}]
    if failing:
        entries.append(
            {
                "label": "failing",
                "__typename": "JsonMetadataEntry",
                "jsonString": json.dumps(failing),
            }
        )
    return {
        "runId": run_id,
        "evaluation": {
            "checkName": check,
            "success": passed,
            "severity": "WARN" if passed else "ERROR",
            "description": f"{check}: ok" if passed else f"{check} ERROR: 1 segment(s) [2: 1.00]",
            "timestamp": time.time(),
            "metadataEntries": entries,
        },
    }


def test_project_and_job_bodies_carry_the_checks(api: Api) -> None:
    alice = api.client("alice")
    project = api.project()
    api.run(project, Stage.STT)
    run_id = api.run(project, Stage.TTS)
    failing = [{"segment": 2, "value": 1.0, "limit": 0.8}]
    api.fake.check_executions[("speech", "intelligibility", project.id)] = [
        _execution(run_id, "intelligibility", False, failing)
    ]
    api.fake.check_executions[("speech", "silence", project.id)] = [
        _execution(run_id, "silence", True)
    ]
    body = alice.get(f"/api/projects/{project.id}").json()
    by_name = {c["check"]: c for c in body["checks"]}
    assert set(by_name) == {"intelligibility", "silence"}
    heard = by_name["intelligibility"]
    assert (heard["stage"], heard["blocking"], heard["failing"]) == ("TTS", True, failing)
    assert heard["jobId"] == run_id and body["reviewReason"].startswith("checks failed: ")
    assert by_name["silence"]["passed"] and not by_name["silence"]["blocking"]

    job = alice.get(f"/api/jobs/{run_id}").json()
    assert {c["check"] for c in job["checks"]} == {"intelligibility", "silence"}
    listed = alice.get(f"/api/jobs/project/{project.id}").json()["jobs"]
    assert {c["check"] for c in listed[0]["checks"]} == {"intelligibility", "silence"}
    assert alice.get("/api/projects").json()["projects"][0]["checks"] is None
