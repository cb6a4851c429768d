"""GET /ws: the caller's job events, live, from the Redis Stream every pipeline process writes.

One reader per API process (``EventHub``) follows the stream and hands each event, parsed and
serialised once, to the connections of its user and to operators' (admins see every user's
events). A connection that resumes (``?lastEventId=``) first reads what it missed from the stream
itself, then takes the live feed from where that left off: every event once, in order, and any
number of API instances deliver the same. (One reader per connection cost every connection a
Redis read and a parse per event: a core for 200 connections at 100 events/s.)

A client too slow to take an event within ``ws_send_timeout_s``, or ``FEED_LIMIT`` events behind,
is disconnected (close code 4408, with the id to resume from): the log is never dropped for it.
Redis unreachable or failing: every connection is closed with 1011 and the id to resume from;
a reconnect with ``lastEventId`` after Redis is back misses nothing. No or a bad token: an HTTP
401 at the handshake (the denial response extension; servers without it get close code 4401).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal, cast

import anyio
import redis.asyncio as aioredis
from redis.exceptions import RedisError
from starlette.websockets import WebSocket, WebSocketDisconnect

from dubbing_api.auth import WS_AUTH_ERROR, Principal
from dubbing_api.errors import error_response
from dubbing_api.services import services
from dubbing_pipeline.infra.events import STREAM, JobEvent, StreamEntries

BAD_REQUEST = 4400  # WebSocket close codes 4000-4999 are the application's
UNAUTHORIZED = 4401
TOO_SLOW = 4408
BLOCK_MS = 10_000
START_TIMEOUT_S = 10  # Redis must answer a new reader within this
FEED_LIMIT = 10_000  # events held for one connection before it counts as too slow
log = logging.getLogger(__name__)


def _position(stream_id: str) -> tuple[int, int]:
    """A stream id ("1718000000000-3", or "0") as something ordered."""
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


@dataclass(frozen=True)
class Delivery:
    """One event as every connection sends it."""

    stream_id: str
    position: tuple[int, int]
    user_id: str
    text: str

    @classmethod
    def parse(cls, stream_id: bytes, fields: dict[bytes, bytes]) -> Delivery | None:
        sid = stream_id.decode()
        try:
            event = JobEvent.model_validate_json(fields[b"event"])
        except (KeyError, ValueError) as exc:  # one bad entry must not stop the feed
            log.warning("skipping unreadable event %s: %s", sid, exc)
            return None
        payload = event.model_copy(update={"id": sid}).model_dump(mode="json")
        return cls(sid, _position(sid), event.userId, json.dumps(payload))


class TooFarBehind(Exception):
    pass


class EventsUnavailable(Exception):
    """Redis could not be read: the connection closes with 1011."""


class Feed:
    """A connection's share of the live stream, filled by the hub, never blocking it."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Delivery] = asyncio.Queue(FEED_LIMIT)
        self.overflowed = False
        self.failed = False  # the hub lost Redis: what is queued goes out, then 1011
        self.start = "0-0"  # the stream id after which the hub hands this feed every event
        self._wake = asyncio.Event()

    def push(self, delivery: Delivery) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(delivery)
        except asyncio.QueueFull:
            self.overflowed = True  # what is queued still goes out, then the connection closes
        self._wake.set()

    def fail(self) -> None:
        self.failed = True
        self._wake.set()

    async def next(self) -> Delivery:
        while True:
            if not self.queue.empty():
                return self.queue.get_nowait()
            if self.overflowed:
                raise TooFarBehind
            if self.failed:
                raise EventsUnavailable
            self._wake.clear()
            await self._wake.wait()


class EventHub:
    """The process's one reader of the stream, running while anyone is connected."""

    def __init__(self, redis_url: str) -> None:
        # Longer than the blocking read, so a quiet stream is not a timeout.
        self.client = aioredis.Redis.from_url(redis_url, socket_timeout=BLOCK_MS / 1000 + 20)
        self._feeds: dict[str | None, set[Feed]] = {}  # by user id; None: operators (all)
        self._reader: asyncio.Task[None] | None = None
        self._started = asyncio.Event()
        self._last = "0-0"  # the reader's place in the stream
        self._ready = False  # the reader's last call to Redis succeeded

    @asynccontextmanager
    async def subscribe(self, caller: Principal) -> AsyncIterator[Feed]:
        """A feed of the caller's events read from the stream from now on."""
        feed, key = Feed(), None if caller.is_admin else caller.user_id
        self._feeds.setdefault(key, set()).add(feed)
        try:
            if self._reader is None or self._reader.done():
                self._started = asyncio.Event()
                self._reader = asyncio.create_task(self._follow(self._started))
            # Once the reader's starting point is fixed, nothing can fall between it and a catch-up.
            try:
                await asyncio.wait_for(self._started.wait(), START_TIMEOUT_S)
            except TimeoutError:
                raise EventsUnavailable from None
            if not self._ready:  # Redis is away: say so now, not after a timeout
                raise EventsUnavailable
            feed.start = self._last
            yield feed
        finally:
            self._feeds[key].discard(feed)
            if not self._feeds[key]:
                del self._feeds[key]
            if not self._feeds and self._reader is not None:
                self._reader.cancel()
                self._reader = None

    async def since(self, after: str) -> AsyncIterator[Delivery]:
        """Every event after stream id ``after`` up to the newest, read by the caller itself."""
        while True:
            try:
                answer = cast(StreamEntries, await self.client.xread({STREAM: after}, count=500))
            except (RedisError, OSError) as exc:
                raise EventsUnavailable from exc
            if not answer:
                return
            for _, entries in answer:
                for stream_id, fields in entries:
                    after = stream_id.decode()
                    if delivery := Delivery.parse(stream_id, fields):
                        yield delivery

    async def aclose(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        await self.client.aclose()

    async def _follow(self, started: asyncio.Event) -> None:
        last: str | None = None
        while True:
            try:
                if last is None:
                    newest = cast(
                        list[tuple[bytes, Any]], await self.client.xrevrange(STREAM, count=1)
                    )
                    last = newest[0][0].decode() if newest else "0-0"
                    self._last, self._ready = last, True
                    started.set()
                elif not self._ready:  # back from an error: ready once Redis answers
                    await self.client.ping()
                    self._ready = True
                answer = cast(
                    StreamEntries,
                    await self.client.xread({STREAM: last}, count=500, block=BLOCK_MS),
                )
            except (RedisError, OSError) as exc:
                # Connected clients are told (1011) and resume by id; a starting reader waits
                # here until Redis answers. Its place is kept: nothing is lost while Redis is away.
                log.warning("reading %s failed, retrying in 1 s: %s", STREAM, exc)
                self._ready = False
                started.set()  # a subscriber waiting for the start hears it at once
                for feeds in self._feeds.values():
                    for feed in feeds:
                        feed.fail()
                await asyncio.sleep(1)
                continue
            for _, entries in answer:
                for stream_id, fields in entries:
                    last = self._last = stream_id.decode()
                    if delivery := Delivery.parse(stream_id, fields):
                        for key in (delivery.user_id, None):
                            for feed in self._feeds.get(key, ()):
                                feed.push(delivery)


async def events_endpoint(websocket: WebSocket) -> None:
    caller = websocket.user
    if not isinstance(caller, Principal):
        reason = (
            websocket.scope.get(WS_AUTH_ERROR) or "a token is required (?token= or Authorization)"
        )
        await _deny(websocket, reason)
        return
    hub: EventHub = websocket.app.state.event_hub
    last = websocket.query_params.get("lastEventId") or "$"
    if last != "$" and not re.fullmatch(r"\d+(-\d+)?", last):
        await _close(
            websocket, BAD_REQUEST, "lastEventId must be a stream id such as 1718000000000-0"
        )
        return
    position = Position(last)
    ended: Ended = "left"  # stays so when the client leaves first
    try:
        # Subscribed before the handshake ends: a client that connects, then acts, sees it all.
        async with hub.subscribe(caller) as feed, anyio.create_task_group() as tasks:
            if last == "$":  # new events only: those after the hub's place, which resumes here
                position.last = feed.start
            await websocket.accept()
            tasks.start_soon(_until_disconnect, websocket, tasks.cancel_scope)
            ended = await _relay(websocket, hub, feed, caller, position, last != "$")
            tasks.cancel_scope.cancel()
    except EventsUnavailable:
        ended = "unavailable"
    except WebSocketDisconnect:
        return
    resume = f"reconnect with lastEventId={position.last}"  # "$" only if Redis never answered
    if ended == "unavailable":
        await _close(
            websocket,
            1011,
            f"events unavailable; {resume}" if position.last != "$" else "events unavailable",
        )
    elif ended == "slow":
        await websocket.close(TOO_SLOW, f"too slow; {resume}")


Ended = Literal["slow", "unavailable", "left"]


@dataclass
class Position:
    """The last event a connection sent (``$``: none yet, only new ones)."""

    last: str


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    """Close, accepted or not (a close before the handshake is an HTTP 403: accept first)."""
    try:
        if websocket.application_state.name == "CONNECTING":
            await websocket.accept()
        await websocket.close(code, reason)
    except (RuntimeError, WebSocketDisconnect):
        pass  # the client is gone already


async def _deny(websocket: WebSocket, reason: str) -> None:
    """An HTTP 401 at the handshake, as for any other route."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(error_response(401, "unauthorized", reason))
    else:
        await websocket.close(UNAUTHORIZED, reason)


async def _relay(
    websocket: WebSocket,
    hub: EventHub,
    feed: Feed,
    caller: Principal,
    position: Position,
    catch_up: bool,
) -> Ended:
    """Send what was missed since ``position`` (if ``catch_up``), then the live feed, keeping
    ``position``, until the client is too slow, leaves, or Redis fails."""
    timeout = services(websocket).settings.ws_send_timeout_s
    sent = _position(position.last)
    try:
        if catch_up:
            async for delivery in hub.since(position.last):
                if caller.owns(delivery.user_id):
                    await _send(websocket, delivery, timeout)
                    position.last, sent = delivery.stream_id, delivery.position
        while True:
            delivery = await feed.next()
            if delivery.position > sent:  # the catch-up may have sent it already
                await _send(websocket, delivery, timeout)
                position.last, sent = delivery.stream_id, delivery.position
    except (TimeoutError, TooFarBehind):
        return "slow"
    except EventsUnavailable:
        return "unavailable"
    except WebSocketDisconnect:
        return "left"


async def _send(websocket: WebSocket, delivery: Delivery, timeout: float) -> None:
    with anyio.fail_after(timeout):
        await websocket.send_text(delivery.text)


async def _until_disconnect(websocket: WebSocket, scope: anyio.CancelScope) -> None:
    try:
        while True:
            await websocket.receive_text()
    except WebSocketDisconnect:
        scope.cancel()
