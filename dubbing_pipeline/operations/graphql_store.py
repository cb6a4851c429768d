"""``RunStore`` over Dagster's GraphQL API (dagster-webserver): how the HTTP service reaches
Dagster. Every call has a timeout; an unreachable, failing or slow webserver is
``RunStoreUnavailable`` (``maybe_done`` when a write timed out), never a hang."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.infra.batching import Batcher
from dubbing_pipeline.operations.checks import CheckResult
from dubbing_pipeline.operations.runs import (
    Launch,
    Overview,
    Run,
    RunQuery,
    RunStoreError,
    RunStoreUnavailable,
)

RUN_FIELDS = "runId status tags { key value } creationTime startTime endTime"
CHECK_EXECUTION_FIELDS = """runId evaluation { checkName success severity description timestamp
  metadataEntries { label __typename ... on JsonMetadataEntry { jsonString } } }"""


class GraphQLRunStore:
    def __init__(self, http: httpx.Client, url: str, code_location: str) -> None:
        self.http, self.url = http, url
        self.repository = {
            "repositoryLocationName": code_location,
            "repositoryName": "__repository__",
        }
        # Jobs read one by one under load (GET /api/jobs/{id}) go out as one query per batch.
        self._by_id: Batcher[str, Run] = Batcher(self._runs_by_id)

    def query(self, document: str, *, write: bool = False, **variables: Any) -> dict[str, Any]:
        try:
            response = self.http.post(self.url, json={"query": document, "variables": variables})
        except httpx.TimeoutException as exc:
            raise RunStoreUnavailable(
                "Dagster's webserver did not answer in time", maybe_done=write
            ) from exc
        except httpx.TransportError as exc:
            raise RunStoreUnavailable(f"Dagster's webserver is unreachable: {exc}") from exc
        if response.status_code >= 500:
            raise RunStoreUnavailable(f"Dagster's webserver answered {response.status_code}")
        body = response.json()
        if body.get("errors"):
            raise RunStoreError(body["errors"][0].get("message", "GraphQL error"))
        return body["data"]

    # -- runs -------------------------------------------------------------------------------
    def runs(
        self, query: RunQuery, limit: int | None = None, cursor: str | None = None
    ) -> list[Run]:
        data = self.query(
            f"""query($filter: RunsFilter, $limit: Int, $cursor: String) {{
              runsOrError(filter: $filter, limit: $limit, cursor: $cursor) {{
                __typename ... on Runs {{ results {{ {RUN_FIELDS} }} }}
                ... on PythonError {{ message }} }} }}""",
            filter=_filter(query),
            limit=limit,
            cursor=cursor,
        )
        return [_run(r) for r in _ok(data["runsOrError"])["results"]]

    def run(self, run_id: str) -> Run | None:
        return self._by_id.get(run_id)

    def _runs_by_id(self, run_ids: Sequence[str]) -> dict[str, Run]:
        found = self.runs(RunQuery(run_ids=list(run_ids)), limit=len(run_ids))
        return {run.run_id: run for run in found}

    def overview(
        self,
        counts: Mapping[str, RunQuery] | None = None,
        runs: Mapping[str, tuple[RunQuery, int]] | None = None,
        pools: Sequence[str] = (),
    ) -> Overview:
        """One request: the webserver pays its overhead per request, not per field."""
        counts, runs = counts or {}, runs or {}
        params: list[str] = []
        fields: list[str] = []
        variables: dict[str, Any] = {}
        for i, query in enumerate(counts.values()):
            params.append(f"$c{i}: RunsFilter")
            fields.append(f"c{i}: runsOrError(filter: $c{i}) {{ ... on Runs {{ count }} }}")
            variables[f"c{i}"] = _filter(query)
        for i, (query, limit) in enumerate(runs.values()):
            params += [f"$r{i}: RunsFilter", f"$l{i}: Int"]
            fields.append(
                f"r{i}: runsOrError(filter: $r{i}, limit: $l{i}) {{ __typename "
                f"... on Runs {{ results {{ {RUN_FIELDS} }} }} ... on PythonError {{ message }} }}"
            )
            variables |= {f"r{i}": _filter(query), f"l{i}": limit}
        if pools:
            params += [f"$p{i}: String!" for i in range(len(pools))]
            limits = " ".join(
                f"p{i}: concurrencyLimit(concurrencyKey: $p{i}) {{ limit }}"
                for i in range(len(pools))
            )
            fields.append(f"instance {{ {limits} }}")
            variables |= {f"p{i}": pool for i, pool in enumerate(pools)}
        header = f"query({', '.join(params)})" if params else "query"
        data = self.query(f"{header} {{ {' '.join(fields)} }}", **variables)
        instance = data.get("instance") or {}
        return Overview(
            counts={name: data[f"c{i}"]["count"] for i, name in enumerate(counts)},
            runs={
                name: [_run(r) for r in _ok(data[f"r{i}"])["results"]]
                for i, name in enumerate(runs)
            },
            pool_limits={
                pool: (instance[f"p{i}"] or {}).get("limit") for i, pool in enumerate(pools)
            },
        )

    # -- writes -----------------------------------------------------------------------------
    def launch(self, launch: Launch) -> str:
        data = self.query(
            """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
                __typename ... on LaunchRunSuccess { run { runId } }
                ... on PythonError { message } ... on Error { message } } }""",
            write=True,
            params={
                "selector": self.repository | {"jobName": launch.job_name},
                "runConfigData": dict(launch.run_config),
                "executionMetadata": {
                    "tags": [{"key": k, "value": v} for k, v in launch.all_tags.items()]
                },
            },
        )
        return _ok(data["launchRun"], "LaunchRunSuccess")["run"]["runId"]

    def add_partition(self, partitions_def: str, key: str) -> None:
        data = self.query(
            """mutation($repo: RepositorySelector!, $name: String!, $key: String!) {
              addDynamicPartition(
                repositorySelector: $repo, partitionsDefName: $name, partitionKey: $key
              ) { __typename ... on Error { message } } }""",
            write=True,
            repo=self.repository,
            name=partitions_def,
            key=key,
        )
        result = data["addDynamicPartition"]
        if result["__typename"] not in (
            "AddDynamicPartitionSuccess",
            "DuplicateDynamicPartitionError",
        ):
            raise RunStoreError(result.get("message", result["__typename"]))

    def remove_partition(self, partitions_def: str, key: str) -> None:
        data = self.query(
            """mutation($repo: RepositorySelector!, $name: String!, $keys: [String!]!) {
              deleteDynamicPartitions(
                repositorySelector: $repo, partitionsDefName: $name, partitionKeys: $keys
              ) { __typename ... on Error { message } } }""",
            write=True,
            repo=self.repository,
            name=partitions_def,
            keys=[key],
        )
        _ok(data["deleteDynamicPartitions"], "DeleteDynamicPartitionsSuccess")

    def observe(self, asset: str, partition: str, description: str) -> None:
        data = self.query(
            """mutation($params: ReportRunlessAssetEventsParams!) {
              reportRunlessAssetEvents(eventParams: $params) {
                __typename ... on Error { message } } }""",
            write=True,
            params={
                "eventType": "ASSET_OBSERVATION",
                "assetKey": {"path": [asset]},
                "partitionKeys": [partition],
                "description": description,
            },
        )
        _ok(data["reportRunlessAssetEvents"], "ReportRunlessAssetEventsSuccess")

    def observations(self, asset: str, partition: str, limit: int = 20) -> list[str]:
        data = self.query(
            """query($key: AssetKeyInput!, $partition: String!, $limit: Int) {
              assetOrError(assetKey: $key) { __typename ... on Asset {
                assetObservations(partitions: [$partition], limit: $limit) { description } } } }""",
            key={"path": [asset]},
            partition=partition,
            limit=limit,
        )
        found = data["assetOrError"]
        if found["__typename"] != "Asset":
            return []
        return [o["description"] or "" for o in found["assetObservations"]]

    def asset_metadata(self, asset: str) -> dict[str, Any]:
        data = self.query(
            """query($keys: [AssetKeyInput!]) { assetNodes(assetKeys: $keys) {
                metadataEntries { label __typename ... on JsonMetadataEntry { jsonString }
                  ... on TextMetadataEntry { text } } } }""",
            keys=[{"path": [asset]}],
        )
        found: dict[str, Any] = {}
        for node in data["assetNodes"]:
            for entry in node["metadataEntries"]:
                if entry["__typename"] == "JsonMetadataEntry":
                    found[entry["label"]] = json.loads(entry["jsonString"])
                elif entry["__typename"] == "TextMetadataEntry":
                    found[entry["label"]] = entry["text"]
        return found

    def set_pool_limit(self, pool: str, limit: int) -> None:
        self.query(
            """mutation($k: String!, $n: Int!) {
              setConcurrencyLimit(concurrencyKey: $k, limit: $n) }""",
            write=True,
            k=pool,
            n=limit,
        )

    def delete_run(self, run_id: str) -> None:
        data = self.query(
            """mutation($id: String!) { deleteRun(runId: $id) { __typename
                ... on PythonError { message } ... on RunNotFoundError { message } } }""",
            write=True,
            id=run_id,
        )
        _ok(data["deleteRun"], "DeletePipelineRunSuccess")

    def latest_materialization_run(self, asset: str, partition: str) -> str | None:
        data = self.query(
            """query($key: AssetKeyInput!, $partition: String!) {
              assetOrError(assetKey: $key) { __typename ... on Asset {
                assetMaterializations(partitions: [$partition], limit: 1) { runId } } } }""",
            key={"path": [asset]},
            partition=partition,
        )
        found = data["assetOrError"]
        events = found.get("assetMaterializations") or [] if found["__typename"] == "Asset" else []
        return events[0]["runId"] if events else None

    def check_results(
        self, partition: str, checks: Sequence[tuple[str, str]], limit: int = 1
    ) -> list[CheckResult]:
        """The latest ``limit`` executions of each (asset, check) on the partition, newest
        first, in one request (``assetCheckExecutions`` per check, aliased)."""
        if not checks:
            return []
        params = ["$partition: String", "$limit: Int!"]
        fields: list[str] = []
        variables: dict[str, Any] = {"partition": partition, "limit": limit}
        for i, (asset, name) in enumerate(checks):
            params += [f"$a{i}: AssetKeyInput!", f"$n{i}: String!"]
            fields.append(
                f"e{i}: assetCheckExecutions(assetKey: $a{i}, checkName: $n{i}, "
                f"partition: $partition, limit: $limit) {{ {CHECK_EXECUTION_FIELDS} }}"
            )
            variables |= {f"a{i}": {"path": [asset]}, f"n{i}": name}
        data = self.query(f"query({', '.join(params)}) {{ {' '.join(fields)} }}", **variables)
        found = []
        for i, (asset, _) in enumerate(checks):
            for execution in data[f"e{i}"]:
                if result := _check_result(asset, execution):
                    found.append(result)
        return found

    def ping(self) -> None:
        self.query("{ version }")


def _filter(query: RunQuery) -> dict[str, Any]:
    tags = []
    for key, value in query.tags.items():
        if isinstance(value, str):
            tags.append({"key": key, "value": value})
        else:  # GraphQL's tag filter takes one value per key: the caller filters the rest
            raise ValueError(f"GraphQL filters take one value per tag, not {key}={value!r}")
    flt: dict[str, Any] = {"tags": tags}
    if query.statuses:
        flt["statuses"] = list(query.statuses)
    if query.run_ids is not None:
        flt["runIds"] = list(query.run_ids)
    return flt


def _run(data: Mapping[str, Any]) -> Run:
    return Run(
        run_id=data["runId"],
        status=data["status"],
        tags={t["key"]: t["value"] for t in data["tags"]},
        created=data["creationTime"],
        started=data.get("startTime"),
        ended=data.get("endTime"),
    )


def _ok(result: dict[str, Any], expected: str | None = None) -> dict[str, Any]:
    if result.get("__typename") == "PythonError" or (expected and result["__typename"] != expected):
        raise RunStoreError(result.get("message") or result["__typename"])
    return result


def _check_result(asset: str, execution: Mapping[str, Any]) -> CheckResult | None:
    """An execution that has its evaluation (not one still running or skipped)."""
    evaluation = execution.get("evaluation")
    if not evaluation:
        return None
    entries = {e["label"]: e for e in evaluation["metadataEntries"]}
    failing = entries.get("failing", {}).get("jsonString")
    severity = "ERROR" if evaluation["severity"] == "ERROR" else "WARN"
    return CheckResult(
        stage=Stage.parse(asset),
        check=evaluation["checkName"],
        passed=evaluation["success"],
        severity=severity,
        blocking=not evaluation["success"] and severity == "ERROR",
        description=evaluation.get("description"),
        failing=json.loads(failing) if failing else [],
        job_id=execution["runId"],
        checked_at=datetime.fromtimestamp(evaluation["timestamp"], UTC),
    )
