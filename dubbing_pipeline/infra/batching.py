"""Fewer calls into a slow shared service (Dagster's webserver answers GraphQL for every API
instance, and each query costs it milliseconds of Python whatever its size), for callers on many
threads.

- ``Batcher``: concurrent lookups by key go out together. While a call is out, new keys wait and
  leave together in the next; an idle service adds no delay.
- ``SharedCache``: one answer per key, shared for ``ttl_s`` (stats, lists); one caller computes
  it while the others wait for that answer. A failure is never cached.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _Slot(Generic[V]):
    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: V | None = None
        self.error: BaseException | None = None


class Batcher(Generic[K, V]):
    def __init__(self, fetch: Callable[[Sequence[K]], Mapping[K, V]], max_batch: int = 200) -> None:
        self.fetch, self.max_batch = fetch, max_batch
        self._cond = threading.Condition()
        self._pending: dict[K, _Slot[V]] = {}
        self._busy = False

    def get(self, key: K) -> V | None:
        """The value for ``key``, or None if ``fetch`` did not return it."""
        with self._cond:
            slot = self._pending.get(key) or self._pending.setdefault(key, _Slot())
        while not slot.done.is_set():
            with self._cond:
                if slot.done.is_set():
                    break
                if self._busy:  # a batch is out: wait for it, then maybe send the next
                    self._cond.wait(timeout=1.0)
                    continue
                self._busy = True
                keys = list(self._pending)[: self.max_batch]
                batch = {k: self._pending.pop(k) for k in keys}
            try:
                self._send(batch)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
        if slot.error is not None:
            raise slot.error
        return slot.value

    def _send(self, batch: dict[K, _Slot[V]]) -> None:
        try:
            found = self.fetch(list(batch))
        except Exception as exc:
            for slot in batch.values():
                slot.error = exc
                slot.done.set()
            return
        for key, slot in batch.items():
            slot.value = found.get(key)
            slot.done.set()


class SharedCache:
    def __init__(self, ttl_s: float, max_keys: int = 4096) -> None:
        self.ttl_s, self.max_keys = ttl_s, max_keys
        self._lock = threading.Lock()
        self._answers: dict[Hashable, tuple[float, object]] = {}
        self._computing: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, compute: Callable[[], V]) -> V:
        if self.ttl_s <= 0:
            return compute()
        with self._lock:
            lock = self._computing.setdefault(key, threading.Lock())
        with lock:  # one computes; the others wait and take its answer
            with self._lock:
                found = self._answers.get(key)
            if found is not None and time.monotonic() - found[0] <= self.ttl_s:
                return found[1]  # type: ignore[return-value]
            value = compute()
            with self._lock:
                if len(self._answers) >= self.max_keys:
                    self._answers.clear()
                self._answers[key] = (time.monotonic(), value)
            return value

    def clear(self) -> None:
        """Forget every answer (after a write this process made, so its next read shows it)."""
        with self._lock:
            self._answers.clear()
