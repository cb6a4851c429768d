"""Fewer calls into Dagster's webserver under load: one process answers GraphQL for every API
instance, and each query costs it milliseconds of Python whatever its size.

- ``Batcher``: concurrent lookups by key go out together. While ``max_in_flight`` calls are out,
  new keys wait and leave together in the next; an idle service adds no delay.
- ``SharedCache``: one answer per key, shared by every request for ``ttl_s`` (stats, lists). An
  older answer is still served while a single request refreshes it in the background, up to
  ``max_age_s``; past that, callers wait for a fresh one. A failure is never cached, and it drops
  the old answer, so an outage shows at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Batcher(Generic[K, V]):
    def __init__(
        self,
        fetch: Callable[[Sequence[K]], Awaitable[Mapping[K, V]]],
        max_batch: int = 200,
        max_in_flight: int = 1,
    ) -> None:
        self.fetch, self.max_batch, self.max_in_flight = fetch, max_batch, max_in_flight
        self._pending: dict[K, asyncio.Future[V | None]] = {}
        self._in_flight: set[asyncio.Task[None]] = set()
        self._scheduled = False

    async def get(self, key: K) -> V | None:
        """The value for ``key``, or None if ``fetch`` did not return it."""
        return (await self.get_many([key]))[0]

    async def get_many(self, keys: Sequence[K]) -> list[V | None]:
        futures = [self._future(key) for key in keys]
        self._schedule()
        # Shielded: one caller's cancellation is not the others'.
        return list(await asyncio.shield(asyncio.gather(*futures)))

    def _future(self, key: K) -> asyncio.Future[V | None]:
        future = self._pending.get(key)
        if future is None:
            future = self._pending[key] = asyncio.get_running_loop().create_future()
        return future

    def _schedule(self) -> None:
        # On the next turn of the loop, so the keys asked for in this one leave together.
        if self._pending and len(self._in_flight) < self.max_in_flight and not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._send)

    def _send(self) -> None:
        self._scheduled = False
        if not self._pending or len(self._in_flight) >= self.max_in_flight:
            return
        keys = list(self._pending)[: self.max_batch]
        task = asyncio.create_task(self._fetch({key: self._pending.pop(key) for key in keys}))
        self._in_flight.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._schedule()

    async def _fetch(self, batch: dict[K, asyncio.Future[V | None]]) -> None:
        try:
            found = await self.fetch(list(batch))
        except Exception as exc:
            for future in batch.values():
                if not future.done():
                    future.set_exception(exc)
            return
        for key, future in batch.items():
            if not future.done():
                future.set_result(found.get(key))


@dataclass
class _Entry:
    task: asyncio.Task[Any]
    at: float  # when it was asked for (monotonic): the answer's age counts from there
    generation: int


class SharedCache:
    def __init__(self, ttl_s: float, max_age_s: float | None = None, max_keys: int = 4096) -> None:
        self.ttl_s, self.max_keys = ttl_s, max_keys
        self.max_age_s = 3 * ttl_s if max_age_s is None else max_age_s
        self._entries: dict[Hashable, _Entry] = {}
        self._refreshing: dict[Hashable, _Entry] = {}
        self._generation = 0

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[V]]) -> V:
        if self.ttl_s <= 0:
            return await compute()
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is None or (entry.task.done() and now - entry.at > self.max_age_s):
            entry = self._entries[key] = self._start(key, compute, now)
        elif entry.task.done() and now - entry.at > self.ttl_s and key not in self._refreshing:
            self._refreshing[key] = self._start(key, compute, now)
        return await asyncio.shield(entry.task)

    def clear(self) -> None:
        """Forget every answer, and any refresh in flight (after a write this instance made,
        e.g. pausing a queue, so its next read shows the write)."""
        self._entries.clear()
        self._refreshing.clear()
        self._generation += 1

    def _start(self, key: Hashable, compute: Callable[[], Awaitable[Any]], now: float) -> _Entry:
        if len(self._entries) >= self.max_keys:
            self._prune(now)
        entry = _Entry(asyncio.ensure_future(compute()), now, self._generation)
        entry.task.add_done_callback(lambda _: self._settle(key, entry))
        return entry

    def _settle(self, key: Hashable, entry: _Entry) -> None:
        if self._refreshing.get(key) is entry:
            del self._refreshing[key]
        if entry.generation != self._generation:
            return
        current = self._entries.get(key)
        if entry.task.cancelled() or entry.task.exception() is not None:
            if current is not None and (current is entry or current.task.done()):
                del self._entries[key]  # the old answer goes too: an outage shows at once
        elif current is None or (current.task.done() and current.at < entry.at):
            self._entries[key] = entry

    def _prune(self, now: float) -> None:
        for key in [k for k, e in self._entries.items() if now - e.at > self.max_age_s]:
            del self._entries[key]
        while len(self._entries) >= self.max_keys:
            del self._entries[next(iter(self._entries))]
