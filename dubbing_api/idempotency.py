"""``Idempotency-Key`` on every POST that creates or launches, as payment APIs do: the first
request with a key runs and its answer is kept for a day; a repeat with the same key and the same
request gets that answer again (``Idempotent-Replayed: true``) and changes nothing; the same key
with another request is a 422. Answers are kept in the artifact store, beside everything else
the service keeps, so every API instance sees them. The operations are idempotent themselves
(an approval of what is approved, a retry of what is retried), so two requests in flight at once
with one key still do the work once."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Header
from pydantic import BaseModel
from starlette.responses import JSONResponse

from dubbing_api.errors import ApiError
from dubbing_pipeline.domain import artifacts
from dubbing_pipeline.infra.storage import ArtifactStore

TTL_S = 24 * 3600
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Makes a retried request safe: the same key with the same request gets the "
        "first answer again, and nothing is done twice.",
    ),
]


class Record(BaseModel):
    fingerprint: str
    status: int
    body: Any
    at: float


class IdempotencyStore:
    def __init__(self, store: ArtifactStore) -> None:
        self.store = store

    def _uri(self, user_id: str, key: str) -> str:
        digest = hashlib.sha256(key.encode()).hexdigest()
        return self.store.uri(artifacts.idempotency_record(user_id, digest))

    def get(self, user_id: str, key: str) -> Record | None:
        uri = self._uri(user_id, key)
        if not self.store.exists(uri):
            return None
        record = Record.model_validate_json(self.store.read_text(uri))
        return record if time.time() - record.at < TTL_S else None

    def put(self, user_id: str, key: str, record: Record) -> None:
        self.store.write_text(self._uri(user_id, key), record.model_dump_json())


def fingerprint(method: str, path: str, payload: Any) -> str:
    text = json.dumps([method, path, payload], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def once(
    records: IdempotencyStore,
    user_id: str,
    key: str | None,
    request_fingerprint: str,
    status: int,
    produce: Callable[[], BaseModel],
) -> JSONResponse:
    """``produce()``'s answer, or the kept answer to the same request with the same key."""
    if key is not None and (kept := records.get(user_id, key)) is not None:
        if kept.fingerprint != request_fingerprint:
            raise ApiError(
                422, "idempotency_key_reused", "this Idempotency-Key was used with another request"
            )
        return JSONResponse(kept.body, kept.status, headers={"Idempotent-Replayed": "true"})
    body = produce().model_dump(mode="json", by_alias=True)
    if key is not None:
        records.put(
            user_id,
            key,
            Record(fingerprint=request_fingerprint, status=status, body=body, at=time.time()),
        )
    return JSONResponse(body, status)


def derived_id(user_id: str, key: str, prefix: str) -> str:
    """An object id that one user's key always gives (a retried create makes no second one)."""
    digest = hashlib.sha256("\0".join((user_id, key)).encode()).hexdigest()
    return f"{prefix}{digest[:12]}"
