"""The API under fuzzing (schemathesis from /openapi.json), and Dagster backfills driven through
GraphQL and seen through the API."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
import schemathesis
from dagster import DagsterInstance
from hypothesis import HealthCheck, given, settings

from dubbing_pipeline.domain.projects import Project
from dubbing_pipeline.infra.storage import ArtifactStore
from dubbing_pipeline.operations.instance_store import InstanceRunStore
from dubbing_pipeline.operations.projects import create_project
from tests.support.daemon import wait_until
from tests.support.stack import Stack, token

pytestmark = pytest.mark.integration


def test_no_input_makes_a_server_error(stack: Stack) -> None:
    """Schemathesis cases from /openapi.json, a dozen for every operation (a few hundred in
    all): whatever they send, the answer is never a 5xx. (Schemathesis's pytest plugin does not
    run on pytest 9, so Hypothesis drives each operation's strategy directly.)"""
    schema = schemathesis.openapi.from_url(f"{stack.api}/openapi.json")
    headers = {"Authorization": f"Bearer {token('root')}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    calls = 0

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def no_server_error(case) -> None:
            nonlocal calls
            calls += 1
            response = case.call(base_url=stack.api, headers=headers)
            assert response.status_code < 500, (case.method, case.formatted_path, response.text)

        no_server_error()
    assert calls >= 200


def test_a_backfill_runs_the_stage_once_per_project(
    stack: Stack, sample_video: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Re-running a stage for many projects is a Dagster backfill over their partitions,
    launched through GraphQL like the UI does."""
    home = Path(stack.env["DAGSTER_HOME"])
    for name in ("DAGSTER_PG_USERNAME", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_HOST", "DAGSTER_PG_DB"):
        if name in stack.env:  # the Postgres pass: this process opens the same instance
            monkeypatch.setenv(name, stack.env[name])
    store = ArtifactStore(base_url=stack.env["DUBBING_ARTIFACTS"])
    with DagsterInstance.from_config(str(home)) as instance:
        projects = [
            create_project(
                store,
                InstanceRunStore(instance),
                Project(
                    video_uri=str(sample_video),
                    user_id="alice",
                    source_language="en",
                    target_language="es",
                    driven_by="caller",
                ),
            )[0]
            for _ in range(2)
        ]
    ids = [p.id for p in projects]
    answer = httpx.post(
        stack.env["DAGSTER_GRAPHQL_URL"],
        timeout=30,
        json={
            "query": """mutation($params: LaunchBackfillParams!) {
            launchPartitionBackfill(backfillParams: $params) {
              __typename ... on LaunchBackfillSuccess { backfillId }
              ... on Error { message } } }""",
            "variables": {
                "params": {"assetSelection": [{"path": ["transcript"]}], "partitionNames": ids}
            },
        },
    ).json()
    assert answer["data"]["launchPartitionBackfill"]["__typename"] == "LaunchBackfillSuccess", (
        answer
    )
    alice = stack.client("alice")

    def finished() -> list[dict] | None:
        jobs = [alice.get(f"/api/jobs/project/{p}").json()["jobs"] for p in ids]
        done = all(len(j) == 1 and j[0]["status"] == "completed" for j in jobs)
        return jobs if done else None

    jobs = wait_until(finished, 600, "the backfill")
    assert [j[0]["stage"] for j in jobs] == ["STT"] * 2  # tagged by the stage itself
    time.sleep(5)
    assert all(len(alice.get(f"/api/jobs/project/{p}").json()["jobs"]) == 1 for p in ids)
