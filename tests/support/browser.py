"""A real headless Chromium (Debian's ``chromium``) driven by Playwright, for the workbench's
tests: Playwright's own browser download cannot be reached from these machines, so the test
launches the system binary. Screenshots of each step go to ``test-artifacts/workbench/``."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("DUBBING_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "workbench"
AXE = ROOT / "tests" / "workbench" / "vendor" / "axe.min.js"  # axe-core, vendored (MPL-2.0)


def chromium_path() -> str:
    found = os.environ.get("DUBBING_CHROMIUM") or shutil.which("chromium")
    if not found:
        pytest.skip("no chromium on PATH (scripts/setup dev installs Debian's)")
    return found


@contextmanager
def browser() -> Iterator[Any]:
    """One headless Chromium for a module's tests; each test opens its own context."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_path(),
            headless=True,
            # root in a container has no user namespaces for the sandbox; media plays unmuted
            args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
        )
        try:
            yield launched
        finally:
            launched.close()


class Shots:
    """Numbered screenshots of one test's steps, the evidence a person looks at."""

    def __init__(self, page: Any, name: str) -> None:
        self.page, self.folder, self.count = page, ARTIFACTS / name, 0
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)

    def __call__(self, step: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{step}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


def axe_violations(page: Any, impacts: tuple[str, ...] = ("serious", "critical")) -> list[str]:
    """axe-core's violations of the page as it is now, at the given impacts."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await window.axe.run(document)")
    return [
        f"{v['id']} ({v['impact']}): {v['help']}: "
        + "; ".join(n["target"][0] if n["target"] else "?" for n in v["nodes"][:3])
        for v in result["violations"]
        if v["impact"] in impacts
    ]
