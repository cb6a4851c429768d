"""The API's read batching and shared cache: fewer webserver calls, never a stale or leaked answer
past its bounds."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from dubbing_api.cache import Batcher, SharedCache

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the cache is asyncio's (tasks, futures), as uvicorn runs it


class Lookups:
    """A fetch that records each call's keys; ``fail`` makes the next call raise."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.fail = False

    async def __call__(self, keys: Sequence[str]) -> dict[str, int]:
        self.calls.append(list(keys))
        await asyncio.sleep(0.01)
        if self.fail:
            raise ConnectionError("webserver down")
        return {k: len(k) for k in keys if k != "missing"}


async def test_concurrent_lookups_leave_together_and_missing_keys_are_none() -> None:
    fetch = Lookups()
    batcher = Batcher(fetch)
    got = await asyncio.gather(*(batcher.get(k) for k in ["a", "bb", "a", "missing"]))
    assert got == [1, 2, 1, None]
    assert fetch.calls == [["a", "bb", "missing"]]  # one call, each key once


async def test_keys_asked_while_a_batch_is_out_wait_for_the_next_one() -> None:
    fetch = Lookups()
    batcher = Batcher(fetch, max_batch=2)
    first = asyncio.ensure_future(batcher.get_many(["a", "bb", "ccc"]))
    await asyncio.sleep(0)
    second = asyncio.ensure_future(batcher.get("dddd"))
    assert await first == [1, 2, 3] and await second == 4
    assert fetch.calls == [["a", "bb"], ["ccc", "dddd"]]


async def test_a_failed_batch_fails_every_caller_and_is_not_remembered() -> None:
    fetch = Lookups()
    batcher = Batcher(fetch)
    fetch.fail = True
    results = await asyncio.gather(batcher.get("a"), batcher.get("b"), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    fetch.fail = False
    assert await batcher.get("a") == 1


class Counter:
    def __init__(self) -> None:
        self.n = 0
        self.fail = False

    async def __call__(self) -> int:
        self.n += 1
        await asyncio.sleep(0.01)
        if self.fail:
            raise ConnectionError("webserver down")
        return self.n


async def test_one_computation_per_key_within_the_ttl() -> None:
    cache, count = SharedCache(ttl_s=60), Counter()
    assert await asyncio.gather(*(cache.get("stats", count) for _ in range(20))) == [1] * 20
    assert await cache.get("other", count) == 2  # keys do not share answers


async def test_an_old_answer_is_served_while_one_refresh_runs() -> None:
    cache, count = SharedCache(ttl_s=0.05, max_age_s=10), Counter()
    assert await cache.get("k", count) == 1
    await asyncio.sleep(0.06)
    assert await cache.get("k", count) == 1  # stale but within max_age: served, refresh started
    assert await cache.get("k", count) == 1  # the same refresh, not a second
    await asyncio.sleep(0.03)
    assert await cache.get("k", count) == 2 and count.n == 2


async def test_past_max_age_callers_wait_for_a_fresh_answer() -> None:
    cache, count = SharedCache(ttl_s=0.01, max_age_s=0.02), Counter()
    assert await cache.get("k", count) == 1
    await asyncio.sleep(0.05)
    assert await cache.get("k", count) == 2


async def test_clear_shows_a_write_at_once() -> None:
    cache, count = SharedCache(ttl_s=60), Counter()
    assert await cache.get("k", count) == 1
    cache.clear()
    assert await cache.get("k", count) == 2


async def test_a_failure_is_not_cached_and_drops_the_old_answer() -> None:
    cache, count = SharedCache(ttl_s=0.01, max_age_s=60), Counter()
    assert await cache.get("k", count) == 1
    await asyncio.sleep(0.02)
    count.fail = True
    assert await cache.get("k", count) == 1  # the refresh runs in the background and fails
    await asyncio.sleep(0.03)
    with pytest.raises(ConnectionError):
        await cache.get("k", count)  # the outage shows, not a minute-old answer
    count.fail = False
    assert await cache.get("k", count) == 4


async def test_ttl_zero_turns_the_cache_off() -> None:
    cache, count = SharedCache(ttl_s=0), Counter()
    assert [await cache.get("k", count) for _ in range(3)] == [1, 2, 3]
