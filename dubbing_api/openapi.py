"""/openapi.json, generated from the routes' declared operations and pydantic models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from starlette.routing import BaseRoute

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}


def openapi_schema(routes: list[BaseRoute], title: str, version: str) -> dict[str, Any]:
    schemas: dict[str, Any] = {"Error": ERROR}
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        op = getattr(route, "operation", None)
        if op is None:
            continue
        operation: dict[str, Any] = {
            "operationId": route.name,  # type: ignore[attr-defined]
            "summary": op.summary,
            "parameters": _path_parameters(op.path) + _query_parameters(op.query, schemas),
            "responses": _responses(op, schemas),
        }
        if op.roles is not None:
            operation["security"] = [{"bearer": []}]
            operation["description"] = f"Roles: {', '.join(op.roles)}."
        if op.body is not None:
            operation["requestBody"] = {
                "required": False,
                "content": {"application/json": {"schema": _ref(op.body, schemas)}},
            }
        paths.setdefault(op.path, {})[op.method.lower()] = operation
    return {
        "openapi": "3.0.3",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _ref(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, str]:
    schema = model.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
    for name, definition in schema.pop("$defs", {}).items():
        schemas[name] = definition
    schemas[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _path_parameters(path: str) -> list[dict[str, Any]]:
    names = [part[1:-1].split(":")[0] for part in path.split("/") if part.startswith("{")]
    return [
        {"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in names
    ]


def _query_parameters(model: type[BaseModel] | None, schemas: dict[str, Any]) -> list[dict]:
    if model is None:
        return []
    schema = model.model_json_schema(by_alias=True)
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema["properties"].items()
    ]


def _responses(op: Any, schemas: dict[str, Any]) -> dict[str, Any]:
    error = {
        "description": "error",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    ok: dict[str, Any] = {"description": "success"}
    if op.response is not None:
        ok["content"] = {"application/json": {"schema": _ref(op.response, schemas)}}
    elif op.content_type != "application/json":
        ok["content"] = {op.content_type: {"schema": {"type": "string", "format": "binary"}}}
    responses = {str(op.status): ok, "400": error, "404": error, "503": error}
    if op.roles is not None:
        responses |= {"401": error, "403": error}
    return responses
