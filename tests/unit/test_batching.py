"""Read batching and the shared cache under many threads: fewer webserver calls, never a stale
or failed answer past its bounds."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from dubbing_pipeline.infra.batching import Batcher, SharedCache


class Lookups:
    """A fetch that records each call's keys; ``fail`` makes calls raise; ``gate`` holds them."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.fail = False
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, keys: Sequence[str]) -> dict[str, int]:
        self.calls.append(list(keys))
        self.gate.wait(5)
        if self.fail:
            raise ConnectionError("webserver down")
        return {k: len(k) for k in keys if k != "missing"}


def test_lookups_that_arrive_while_one_is_out_leave_together() -> None:
    fetch = Lookups()
    batcher = Batcher(fetch)
    fetch.gate.clear()
    with ThreadPoolExecutor(8) as pool:
        first = pool.submit(batcher.get, "a")
        while not fetch.calls:
            time.sleep(0.001)
        rest = [pool.submit(batcher.get, k) for k in ["bb", "ccc", "bb", "missing"]]
        time.sleep(0.05)  # all four are waiting behind the first call
        fetch.gate.set()
        assert first.result() == 1
        assert [f.result() for f in rest] == [2, 3, 2, None]
    assert fetch.calls[0] == ["a"]
    assert sorted(fetch.calls[1]) == ["bb", "ccc", "missing"]  # one call, each key once
    assert len(fetch.calls) == 2


def test_a_failed_batch_fails_its_callers_and_is_not_remembered() -> None:
    fetch = Lookups()
    batcher = Batcher(fetch)
    fetch.fail = True
    with pytest.raises(ConnectionError):
        batcher.get("a")
    fetch.fail = False
    assert batcher.get("a") == 1


def test_batches_are_bounded() -> None:
    fetch = Lookups()
    batcher = Batcher(fetch, max_batch=2)
    fetch.gate.clear()
    with ThreadPoolExecutor(8) as pool:
        first = pool.submit(batcher.get, "x")
        while not fetch.calls:
            time.sleep(0.001)
        rest = [pool.submit(batcher.get, k) for k in ["a", "bb", "ccc", "dddd", "eeeee"]]
        time.sleep(0.05)
        fetch.gate.set()
        assert [f.result() for f in [first, *rest]] == [1, 1, 2, 3, 4, 5]
    assert all(len(call) <= 2 for call in fetch.calls)


def test_the_cache_computes_once_for_concurrent_callers_and_expires() -> None:
    calls: list[int] = []
    gate = threading.Event()

    def compute() -> int:
        calls.append(1)
        gate.wait(5)
        return len(calls)

    cache = SharedCache(ttl_s=0.2)
    with ThreadPoolExecutor(8) as pool:
        results = [pool.submit(cache.get, "k", compute) for _ in range(8)]
        time.sleep(0.05)
        gate.set()
        assert {r.result() for r in results} == {1}
    assert len(calls) == 1
    time.sleep(0.25)
    assert cache.get("k", compute) == 2  # past its ttl: computed again


def test_a_failure_is_not_cached_and_clear_forgets() -> None:
    cache = SharedCache(ttl_s=60)

    def broken() -> int:
        raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        cache.get("k", broken)
    assert cache.get("k", lambda: 1) == 1
    assert cache.get("k", lambda: 2) == 1
    cache.clear()
    assert cache.get("k", lambda: 3) == 3
    assert SharedCache(ttl_s=0).get("k", lambda: 4) == 4  # no cache at all
