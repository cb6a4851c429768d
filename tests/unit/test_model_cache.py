"""The per-process model cache: least recently used models go first past the byte budget."""

from __future__ import annotations

import threading

from dubbing_pipeline.infra.model_cache import ModelCache, folder_bytes


def test_the_least_recently_used_model_goes_first_past_the_budget() -> None:
    cache = ModelCache(budget_bytes=100)
    loads: list[str] = []

    def get(name: str, size: int) -> str:
        return cache.get(name, lambda: loads.append(name) or name.upper(), lambda _: size)

    assert get("whisper", 60) == "WHISPER" and get("encoder", 30) == "ENCODER"
    assert get("whisper", 60) == "WHISPER"  # held: not loaded again, now the most recent
    assert get("xtts", 40) == "XTTS"  # 130 > 100: the encoder (least recent) goes
    assert [e.key for e in cache.entries()] == ["whisper", "xtts"]
    assert cache.held_bytes() == 100
    get("encoder", 30)
    assert loads == ["whisper", "encoder", "xtts", "encoder"]


def test_a_model_larger_than_the_budget_is_used_not_kept() -> None:
    cache = ModelCache(budget_bytes=10)
    assert cache.get("huge", lambda: "model", lambda _: 11) == "model"
    assert cache.entries() == []


def test_release_drops_what_matches_and_one_caller_loads_for_all() -> None:
    cache = ModelCache(budget_bytes=1000)
    calls = []
    barrier = threading.Barrier(4)

    def load() -> str:
        calls.append(1)
        return "m"

    def worker() -> None:
        barrier.wait()
        cache.get(("whisper", "cpu"), load, lambda _: 1)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    cache.get(("whisper", "cuda"), lambda: "g", lambda _: 1)
    assert cache.release(lambda key: key[1] == "cuda") == 1  # type: ignore[index]
    assert cache.keys() == [("whisper", "cpu")]


def test_folder_bytes_sums_the_files(tmp_path) -> None:
    (tmp_path / "a.bin").write_bytes(b"x" * 10)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.bin").write_bytes(b"x" * 5)
    assert folder_bytes(tmp_path) == 15 and folder_bytes(tmp_path / "missing") == 0
