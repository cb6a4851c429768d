"""Machine translation with Apertium: rule-based, offline, called as a separate (GPL) program."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from dagster import ConfigurableResource

from dubbing_pipeline.domain import languages
from dubbing_pipeline.domain.errors import validation_error
from dubbing_pipeline.engines._process import run_tool
from dubbing_pipeline.engines.base import Progress


class ApertiumMT(ConfigurableResource):
    """Apertium modes such as ``eng-spa``; one line per segment keeps the alignment exact."""

    binary: str = "apertium"
    batch_lines: int = 200
    timeout_s: float = 600

    def mode(self, source: str, target: str) -> str:
        return f"{languages.alpha3(source)}-{languages.alpha3(target)}"

    def check_pair(self, source: str, target: str) -> None:
        mode = self.mode(source, target)
        installed = _installed_modes(self.binary)
        if mode not in installed:
            raise validation_error(
                f"unsupported language pair {source}->{target}: Apertium has no mode {mode!r} "
                f"(installed: {', '.join(sorted(installed)) or 'none'}; "
                f"Debian package apertium-{mode} may provide it)"
            )

    def pairs(self) -> list[tuple[str, str]]:
        """The installed modes as language pairs ('eng-spa' -> ('en', 'es'))."""
        found = set()
        for mode in _installed_modes(self.binary):
            source, _, target = mode.partition("-")
            if languages.is_valid(source) and languages.is_valid(target):
                found.add((languages.base(source), languages.base(target)))
        return sorted(found)

    def translate(
        self, texts: Sequence[str], source: str, target: str, progress: Progress
    ) -> list[str]:
        self.check_pair(source, target)
        mode = self.mode(source, target)
        lines = [" ".join(t.split()) for t in texts]  # a newline inside a text would shift lines
        out: list[str] = []
        for i in range(0, len(lines), self.batch_lines):
            batch = lines[i : i + self.batch_lines]
            result = run_tool(
                [self.binary, "-u", mode], stdin="\n".join(batch) + "\n", timeout_s=self.timeout_s
            ).split("\n")
            out.extend(line.strip() for line in result[: len(batch)])
            progress(min(1.0, (i + len(batch)) / len(lines)))
        if len(out) != len(lines):
            raise validation_error(f"Apertium returned {len(out)} lines for {len(lines)} segments")
        return out


@lru_cache(maxsize=4)
def _installed_modes(binary: str) -> frozenset[str]:
    return frozenset(run_tool([binary, "-l"]).split())
