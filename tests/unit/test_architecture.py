"""The architecture holds by test, not by habit: the import-linter contracts in pyproject.toml
(layers, a Dagster-free domain, the HTTP service never touching the instance) and no import
cycle anywhere in the two packages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]


def test_the_import_contracts_are_kept() -> None:
    lint = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout[-3000:]
    assert "0 broken" in lint.stdout


def test_no_module_imports_itself_through_others() -> None:
    graph = grimp.build_graph("dubbing_pipeline", "dubbing_api", cache_dir=None)
    modules = sorted(graph.modules)
    index = {m: i for i, m in enumerate(modules)}
    edges = {m: sorted(graph.find_modules_directly_imported_by(m) & set(modules)) for m in modules}
    cycles: list[list[str]] = []
    state = dict.fromkeys(modules, 0)  # 0 new, 1 on the path, 2 done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in edges[module]:
            if state[target] == 1:
                cycles.append([*path[path.index(target) :], target])
            elif state[target] == 0:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(modules, key=index.__getitem__):
        if state[module] == 0:
            visit(module)
    # A package's __init__ importing its own modules is not a cycle of the architecture.
    real = [c for c in cycles if not any(m == c[0].rsplit(".", 1)[0] for m in c[1:])]
    assert not real, "\n".join(" -> ".join(c) for c in real)


def test_the_http_service_needs_no_engine() -> None:
    """What `pip install dubbing[api]` brings is enough for the service: nothing it imports,
    directly or through the pipeline's modules, is an engine, a model package or a Dagster
    server."""
    graph = grimp.build_graph(
        "dubbing_pipeline", "dubbing_api", include_external_packages=True, cache_dir=None
    )
    reached = set()
    for module in (m for m in graph.modules if m.startswith("dubbing_api")):
        reached |= graph.find_upstream_modules(module)
    external = {m.split(".")[0] for m in reached} - {"dubbing_pipeline", "dubbing_api"}
    pipeline_only = {
        "faster_whisper",
        "ctranslate2",
        "torch",
        "transformers",
        "dagster_graphql",
        "dagster_webserver",
        "rich",
        "piper",
        "TTS",
    }
    assert not external & pipeline_only, sorted(external & pipeline_only)
    assert {"fastapi", "dagster", "redis", "httpx"} <= external
