"""What every benchmark shares: percentiles, the machine it ran on, and the report it prints
last (and writes as JSON with ``--json PATH``)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def percentiles(values: Sequence[float], points: Sequence[int] = (50, 95, 99)) -> dict[str, float]:
    """``{"p50": ..., "p95": ...}`` of ``values`` (inclusive method: no extrapolation)."""
    if not values:
        return {f"p{p}": float("nan") for p in points}
    if len(values) == 1:
        return {f"p{p}": float(values[0]) for p in points}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {f"p{p}": cuts[p - 1] for p in points}


def machine() -> str:
    cpus = os.cpu_count() or 0
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    python = platform.python_version()
    return f"{platform.machine()}, {cpus} cores, {memory_gib:.0f} GiB, Python {python}"


@dataclass
class Report:
    """Figures of one benchmark run; ``print`` puts them last on stdout as ``name: value``."""

    bench: str
    figures: dict[str, Any] = field(default_factory=dict)
    targets: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, value: Any, target: str | None = None) -> None:
        self.figures[name] = round(value, 4) if isinstance(value, float) else value
        if target:
            self.targets[name] = target

    def emit(self, json_path: Path | None) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        print(f"== {self.bench} ({stamp}, {machine()})")
        for name, value in self.figures.items():
            target = f"   (target {self.targets[name]})" if name in self.targets else ""
            print(f"{name}: {value}{target}")
        if json_path:
            payload = {"bench": self.bench, "at": stamp, "machine": machine()}
            payload |= {"figures": self.figures, "targets": self.targets}
            json_path.write_text(json.dumps(payload, indent=2))


def arguments(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    return parser
