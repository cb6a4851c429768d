"""GET /ws: the caller's job events, live, from the Redis Stream every pipeline process writes.

Each connection reads the stream itself from the id it last saw (``?lastEventId=``), so a client
that reconnects gets what it missed, in order, without duplicates; any number of API instances
deliver the same. A client too slow to take an event within ``ws_send_timeout_s`` is
disconnected: the log is never dropped, it can reconnect and resume.
"""

from __future__ import annotations

import json

import anyio
import redis.asyncio as aioredis
from starlette.websockets import WebSocket, WebSocketDisconnect

from dubbing_api.auth import Principal
from dubbing_api.services import services
from dubbing_pipeline.events import STREAM, JobEvent

UNAUTHORIZED = 4401  # WebSocket close codes 4000-4999 are the application's
TOO_SLOW = 4408
BLOCK_MS = 10_000


async def events_endpoint(websocket: WebSocket) -> None:
    caller = websocket.user
    if not isinstance(caller, Principal):
        await websocket.close(UNAUTHORIZED, "a token is required (?token= or Authorization)")
        return
    await websocket.accept()
    svc = services(websocket)
    last = websocket.query_params.get("lastEventId") or "$"
    # Longer than the blocking read below, so a quiet stream is not a timeout.
    client = aioredis.Redis.from_url(svc.settings.redis_url, socket_timeout=BLOCK_MS / 1000 + 20)
    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_until_disconnect, websocket, tasks.cancel_scope)
            while True:
                answer = await client.xread({STREAM: last}, count=200, block=BLOCK_MS)
                for _, entries in answer:
                    for stream_id, fields in entries:
                        last = stream_id.decode()
                        event = JobEvent.model_validate_json(fields[b"event"])
                        if caller.owns(event.userId):
                            payload = event.model_copy(update={"id": last}).model_dump(mode="json")
                            with anyio.fail_after(svc.settings.ws_send_timeout_s):
                                await websocket.send_text(json.dumps(payload))
    except TimeoutError:
        await websocket.close(TOO_SLOW, f"too slow; reconnect with lastEventId={last}")
    except WebSocketDisconnect:
        pass
    finally:
        await client.aclose()


async def _until_disconnect(websocket: WebSocket, scope: anyio.CancelScope) -> None:
    try:
        while True:
            await websocket.receive_text()
    except WebSocketDisconnect:
        scope.cancel()
