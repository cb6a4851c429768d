"""Loaded models kept by a process between runs, within a memory budget.

A warm run worker serves many runs: a model loaded for one (Whisper, the speaker encoder) should
serve the next without loading again, but a process that keeps everything it ever loaded grows
without bound. ``ModelCache`` keeps models by key and, past ``budget_bytes``, drops the least
recently used first (a model larger than the whole budget is used and not kept). What is held is
readable (``entries``, ``held_bytes``) so runs can report it.
"""

from __future__ import annotations

import gc
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

V = TypeVar("V")


@dataclass(frozen=True)
class Entry:
    key: Hashable
    bytes: int


class ModelCache:
    def __init__(self, budget_bytes: int) -> None:
        self.budget_bytes = budget_bytes
        self._lock = threading.RLock()
        self._held: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._loading: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, load: Callable[[], V], size: Callable[[V], int]) -> V:
        """The model under ``key``, loaded once (one caller loads, others wait for it)."""
        with self._lock:
            if key in self._held:
                self._held.move_to_end(key)
                return self._held[key][0]
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:
            with self._lock:
                if key in self._held:
                    self._held.move_to_end(key)
                    return self._held[key][0]
            value = load()
            nbytes = max(0, int(size(value)))
            with self._lock:
                self._loading.pop(key, None)
                if nbytes <= self.budget_bytes:
                    self._held[key] = (value, nbytes)
                    self._evict()
            return value

    def release(self, matches: Callable[[Hashable], bool] = lambda _: True) -> int:
        """Drop the models whose key ``matches``; returns how many."""
        with self._lock:
            dropped = [k for k in self._held if matches(k)]
            for key in dropped:
                del self._held[key]
        if dropped:
            gc.collect()
        return len(dropped)

    def keys(self) -> list[Hashable]:
        with self._lock:
            return list(self._held)

    def entries(self) -> list[Entry]:
        """What is held, least recently used first."""
        with self._lock:
            return [Entry(k, n) for k, (_, n) in self._held.items()]

    def held_bytes(self) -> int:
        with self._lock:
            return sum(n for _, n in self._held.values())

    def _evict(self) -> None:
        while self._held and sum(n for _, n in self._held.values()) > self.budget_bytes:
            self._held.popitem(last=False)


def folder_bytes(path: str | Path) -> int:
    """Size of a model's files on disk: what a loaded model holds, roughly (int8 holds less)."""
    root = Path(path)
    if root.is_file():
        return root.stat().st_size
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if root.exists() else 0


_shared: ModelCache | None = None
_shared_lock = threading.Lock()


def shared_cache() -> ModelCache:
    """The process's one cache, its budget from ``DUBBING_MODEL_BUDGET_MB``."""
    global _shared
    with _shared_lock:
        if _shared is None:
            from dubbing_pipeline.infra.settings import settings

            _shared = ModelCache(settings().model_budget_mb * 2**20)
        return _shared
