"""Dagster's GraphQL API in process, for the HTTP service's route tests: every document the
service sends is validated against the real schema of the installed dagster-graphql, then
answered from a small in-memory run store. Set ``down`` and every request fails to connect."""

from __future__ import annotations

import itertools
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from graphql import (
    FieldNode,
    GraphQLSchema,
    OperationDefinitionNode,
    build_schema,
    parse,
    print_schema,
    validate,
)

_schema: GraphQLSchema | None = None


def dagster_schema() -> GraphQLSchema:
    """The installed dagster-graphql schema (built once per process: it takes seconds)."""
    global _schema
    if _schema is None:
        from dagster_graphql.schema import create_schema

        _schema = build_schema(print_schema(create_schema().graphql_schema))
    return _schema


@dataclass
class FakeRun:
    run_id: str
    job_name: str
    status: str
    tags: dict[str, str]
    created: float
    started: float | None = None
    ended: float | None = None

    def as_graphql(self) -> dict[str, Any]:
        return {
            "runId": self.run_id,
            "status": self.status,
            "tags": [{"key": k, "value": v} for k, v in self.tags.items()],
            "creationTime": self.created,
            "startTime": self.started,
            "endTime": self.ended,
        }


@dataclass
class FakeDagster:
    runs: list[FakeRun] = field(default_factory=list)
    partitions: set[str] = field(default_factory=set)
    observations: list[tuple[str, str, str]] = field(default_factory=list)  # asset, key, text
    materializations: dict[tuple[str, str], str] = field(default_factory=dict)
    pool_limits: dict[str, int] = field(default_factory=dict)
    asset_metadata: dict[str, dict[str, Any]] = field(default_factory=dict)  # JSON entries
    # (asset, check, partition) -> executions as GraphQL answers them, newest first
    check_executions: dict[tuple[str, str, str], list[dict[str, Any]]] = field(default_factory=dict)
    down: bool = False
    stall: set[str] = field(default_factory=set)  # fields done, then never answered (a timeout)
    requests: int = 0
    _clock: itertools.count = field(default_factory=lambda: itertools.count(1))

    # -- test helpers -----------------------------------------------------------------------
    def add_run(self, job_name: str, tags: dict[str, str], status: str = "QUEUED") -> FakeRun:
        run = FakeRun(str(uuid.uuid4()), job_name, status, dict(tags), time.time())
        self.runs.insert(0, run)
        return run

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    # -- the endpoint -----------------------------------------------------------------------
    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        self.requests += 1
        body = json.loads(request.content)
        document = parse(body["query"])
        errors = validate(dagster_schema(), document)
        assert not errors, f"not valid against Dagster's schema: {errors}"
        variables = self._variables = body.get("variables") or {}
        (operation,) = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        data = {}
        for node in operation.selection_set.selections:
            assert isinstance(node, FieldNode)
            name = node.alias.value if node.alias else node.name.value
            data[name] = self._field(node, _arguments(node, variables))
            if node.name.value in self.stall:
                raise httpx.ReadTimeout("the webserver stalled", request=request)
        return httpx.Response(200, json={"data": data})

    def _field(self, node: FieldNode, args: dict[str, Any]) -> Any:
        name = node.name.value
        if name == "version":
            return "1.13.27"
        if name == "runsOrError":
            found = self._find(args.get("filter") or {})
            if args.get("cursor"):
                ids = [r.run_id for r in found]
                found = found[ids.index(args["cursor"]) + 1 :] if args["cursor"] in ids else []
            count = len(found)
            if args.get("limit"):
                found = found[: args["limit"]]
            return {
                "__typename": "Runs",
                "count": count,
                "results": [r.as_graphql() for r in found],
            }
        if name == "instance":
            limits = {}
            for sub in node.selection_set.selections:  # type: ignore[union-attr]
                alias = sub.alias.value if sub.alias else sub.name.value
                key = _arguments(sub, self._variables)["concurrencyKey"]
                limits[alias] = {"limit": self.pool_limits.get(key)}
            return limits
        if name == "launchRun":
            params = args["executionParams"]
            tags = {t["key"]: t["value"] for t in params["executionMetadata"]["tags"]}
            run = self.add_run(params["selector"]["jobName"], tags)
            return {"__typename": "LaunchRunSuccess", "run": {"runId": run.run_id}}
        if name == "addDynamicPartition":
            key = args["partitionKey"]
            typename = "DuplicateDynamicPartitionError" if key in self.partitions else None
            self.partitions.add(key)
            return {"__typename": typename or "AddDynamicPartitionSuccess"}
        if name == "deleteDynamicPartitions":
            self.partitions -= set(args["partitionKeys"])
            return {"__typename": "DeleteDynamicPartitionsSuccess"}
        if name == "reportRunlessAssetEvents":
            params = args["eventParams"]
            for key in params["partitionKeys"]:
                self.observations.append(
                    ("/".join(params["assetKey"]["path"]), key, params["description"])
                )
            return {"__typename": "ReportRunlessAssetEventsSuccess"}
        if name == "assetOrError":
            asset = "/".join(args["assetKey"]["path"])
            return {"__typename": "Asset", **self._asset(node, asset)}
        if name == "assetNodes":
            keys = ["/".join(k["path"]) for k in args.get("assetKeys") or []]
            return [
                {
                    "metadataEntries": [
                        {
                            "label": label,
                            "__typename": "JsonMetadataEntry",
                            "jsonString": json.dumps(v),
                        }
                        for label, v in self.asset_metadata.get(key, {}).items()
                    ]
                }
                for key in keys
            ]
        if name == "assetCheckExecutions":
            key = ("/".join(args["assetKey"]["path"]), args["checkName"], args.get("partition"))
            return self.check_executions.get(key, [])[: args["limit"]]  # type: ignore[index]
        if name == "setConcurrencyLimit":
            self.pool_limits[args["concurrencyKey"]] = args["limit"]
            return True
        if name == "deleteRun":
            self.runs = [r for r in self.runs if r.run_id != args["runId"]]
            return {"__typename": "DeletePipelineRunSuccess"}
        raise AssertionError(f"the fake does not answer {name}")

    def _asset(self, node: FieldNode, asset: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        fragments = [f for f in node.selection_set.selections if f.selection_set]  # type: ignore[union-attr]
        for fragment in fragments:
            for sub in fragment.selection_set.selections:  # type: ignore[union-attr]
                args = _arguments(sub, self._variables)
                (partition,) = args["partitions"]
                if sub.name.value == "assetObservations":
                    texts = [t for a, p, t in self.observations if (a, p) == (asset, partition)]
                    out["assetObservations"] = [{"description": t} for t in reversed(texts)]
                else:
                    run_id = self.materializations.get((asset, partition))
                    out["assetMaterializations"] = [{"runId": run_id}] if run_id else []
        return out

    def _find(self, flt: dict[str, Any]) -> list[FakeRun]:
        tags = {t["key"]: t["value"] for t in flt.get("tags") or []}
        return [
            r
            for r in self.runs
            if all(r.tags.get(k) == v for k, v in tags.items())
            and (not flt.get("statuses") or r.status in flt["statuses"])
            and (flt.get("runIds") is None or r.run_id in flt["runIds"])
        ]

    _variables: dict[str, Any] = field(default_factory=dict)


def _arguments(node: FieldNode, variables: dict[str, Any]) -> dict[str, Any]:
    """A field's arguments with variables substituted (literals are not used by the service)."""
    from graphql import value_from_ast_untyped

    return {arg.name.value: value_from_ast_untyped(arg.value, variables) for arg in node.arguments}
