"""Dagster through its GraphQL API only: every call has a timeout, and an unreachable or failing
webserver is a 503 with a clear message, never a hang."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from dubbing_api.cache import Batcher
from dubbing_api.errors import ApiError

RUN_FIELDS = "runId status tags { key value } creationTime startTime endTime"


@dataclass(frozen=True)
class Run:
    run_id: str
    status: str
    tags: dict[str, str]
    created: float
    started: float | None
    ended: float | None

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Run:
        return cls(
            run_id=data["runId"],
            status=data["status"],
            tags={t["key"]: t["value"] for t in data["tags"]},
            created=data["creationTime"],
            started=data.get("startTime"),
            ended=data.get("endTime"),
        )


def runs_filter(
    tags: Mapping[str, str],
    statuses: Sequence[str] | None = None,
    run_ids: Sequence[str] | None = None,
) -> dict[str, Any]:
    flt: dict[str, Any] = {"tags": [{"key": k, "value": v} for k, v in tags.items()]}
    if statuses:
        flt["statuses"] = list(statuses)
    if run_ids is not None:
        flt["runIds"] = list(run_ids)
    return flt


@dataclass(frozen=True)
class Overview:
    """What one request for queue stats reads: counts, some runs, pool limits."""

    counts: dict[str, int]
    runs: dict[str, list[Run]]
    pool_limits: dict[str, int | None]


class DagsterClient:
    def __init__(self, http: httpx.AsyncClient, url: str, code_location: str) -> None:
        self.http, self.url = http, url
        self.repository = {
            "repositoryLocationName": code_location,
            "repositoryName": "__repository__",
        }
        # Jobs read one by one (GET /api/jobs/{id}) under load go out as one query per batch.
        self._runs_by_id: Batcher[str, Run] = Batcher(self.runs_by_id)

    async def query(self, document: str, **variables: Any) -> dict[str, Any]:
        try:
            response = await self.http.post(
                self.url, json={"query": document, "variables": variables}
            )
        except httpx.TimeoutException as exc:
            raise ApiError(
                503, "dagster_unavailable", "Dagster's webserver did not answer in time"
            ) from exc
        except httpx.TransportError as exc:
            raise ApiError(
                503, "dagster_unavailable", f"Dagster's webserver is unreachable: {exc}"
            ) from exc
        if response.status_code >= 500:
            raise ApiError(
                503, "dagster_unavailable", f"Dagster's webserver answered {response.status_code}"
            )
        body = response.json()
        if body.get("errors"):
            raise ApiError(502, "dagster_error", body["errors"][0].get("message", "GraphQL error"))
        return body["data"]

    # -- runs -----------------------------------------------------------------------------------
    async def runs(
        self,
        tags: Mapping[str, str],
        statuses: Sequence[str] | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        run_ids: Sequence[str] | None = None,
    ) -> list[Run]:
        data = await self.query(
            f"""query($filter: RunsFilter, $limit: Int, $cursor: String) {{
              runsOrError(filter: $filter, limit: $limit, cursor: $cursor) {{
                __typename ... on Runs {{ results {{ {RUN_FIELDS} }} }}
                ... on PythonError {{ message }} }} }}""",
            filter=runs_filter(tags, statuses, run_ids),
            limit=limit,
            cursor=cursor,
        )
        return [Run.parse(r) for r in _ok(data["runsOrError"])["results"]]

    async def run(self, run_id: str) -> Run | None:
        return await self._runs_by_id.get(run_id)

    async def runs_by_id(self, run_ids: Sequence[str]) -> dict[str, Run]:
        """The runs that exist among ``run_ids``, in one query."""
        found = await self.runs({}, limit=len(run_ids), run_ids=run_ids)
        return {run.run_id: run for run in found}

    async def counts(self, filters: Mapping[str, dict[str, Any]]) -> dict[str, int]:
        """Run counts for many filters in one request (one alias each)."""
        return (await self.overview(counts=filters)).counts

    async def overview(
        self,
        counts: Mapping[str, dict[str, Any]] | None = None,
        runs: Mapping[str, tuple[dict[str, Any], int]] | None = None,
        pools: Sequence[str] = (),
    ) -> Overview:
        """Counts by filter, runs by (filter, limit) and pool limits, in one request: the
        webserver pays its overhead per request, not per field."""
        counts, runs = counts or {}, runs or {}
        params, fields, variables = [], [], {}
        for i, flt in enumerate(counts.values()):
            params.append(f"$c{i}: RunsFilter")
            fields.append(f"c{i}: runsOrError(filter: $c{i}) {{ ... on Runs {{ count }} }}")
            variables[f"c{i}"] = flt
        for i, (flt, limit) in enumerate(runs.values()):
            params += [f"$r{i}: RunsFilter", f"$l{i}: Int"]
            fields.append(
                f"r{i}: runsOrError(filter: $r{i}, limit: $l{i}) {{ __typename "
                f"... on Runs {{ results {{ {RUN_FIELDS} }} }} ... on PythonError {{ message }} }}"
            )
            variables |= {f"r{i}": flt, f"l{i}": limit}
        if pools:
            params += [f"$p{i}: String!" for i in range(len(pools))]
            limits = " ".join(
                f"p{i}: concurrencyLimit(concurrencyKey: $p{i}) {{ limit }}"
                for i in range(len(pools))
            )
            fields.append(f"instance {{ {limits} }}")
            variables |= {f"p{i}": pool for i, pool in enumerate(pools)}
        header = f"query({', '.join(params)})" if params else "query"
        data = await self.query(f"{header} {{ {' '.join(fields)} }}", **variables)
        instance = data.get("instance") or {}
        return Overview(
            counts={name: data[f"c{i}"]["count"] for i, name in enumerate(counts)},
            runs={
                name: [Run.parse(r) for r in _ok(data[f"r{i}"])["results"]]
                for i, name in enumerate(runs)
            },
            pool_limits={
                pool: (instance[f"p{i}"] or {}).get("limit") for i, pool in enumerate(pools)
            },
        )

    # -- launching ------------------------------------------------------------------------------
    async def launch(
        self, job_name: str, tags: Mapping[str, str], run_config: dict | None = None
    ) -> str:
        data = await self.query(
            """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
                __typename ... on LaunchRunSuccess { run { runId } }
                ... on PythonError { message } ... on Error { message } } }""",
            params={
                "selector": self.repository | {"jobName": job_name},
                "runConfigData": run_config or {},
                "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]},
            },
        )
        return _ok(data["launchRun"], "LaunchRunSuccess")["run"]["runId"]

    async def add_partition(self, partitions_def: str, key: str) -> None:
        data = await self.query(
            """mutation($repo: RepositorySelector!, $name: String!, $key: String!) {
              addDynamicPartition(
                repositorySelector: $repo, partitionsDefName: $name, partitionKey: $key
              ) {
                __typename ... on Error { message } } }""",
            repo=self.repository,
            name=partitions_def,
            key=key,
        )
        result = data["addDynamicPartition"]
        if result["__typename"] not in (
            "AddDynamicPartitionSuccess",
            "DuplicateDynamicPartitionError",
        ):
            raise ApiError(502, "dagster_error", result.get("message", result["__typename"]))

    async def observe(self, asset: str, partition: str, description: str) -> None:
        data = await self.query(
            """mutation($params: ReportRunlessAssetEventsParams!) {
              reportRunlessAssetEvents(eventParams: $params) {
                __typename ... on Error { message } } }""",
            params={
                "eventType": "ASSET_OBSERVATION",
                "assetKey": {"path": [asset]},
                "partitionKeys": [partition],
                "description": description,
            },
        )
        _ok(data["reportRunlessAssetEvents"], "ReportRunlessAssetEventsSuccess")

    # -- pools ----------------------------------------------------------------------------------
    async def set_pool_limit(self, pool: str, limit: int) -> None:
        await self.query(
            """mutation($k: String!, $n: Int!) {
              setConcurrencyLimit(concurrencyKey: $k, limit: $n) }""",
            k=pool,
            n=limit,
        )

    async def ping(self) -> None:
        await self.query("{ version }")


def _ok(result: dict[str, Any], expected: str | None = None) -> dict[str, Any]:
    if result.get("__typename") in ("PythonError",) or (
        expected and result["__typename"] != expected
    ):
        raise ApiError(502, "dagster_error", result.get("message") or result["__typename"])
    return result
