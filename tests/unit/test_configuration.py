"""The README's configuration table lists exactly the settings that exist: the fields of the
two settings classes, the variables the instance profiles read, and Dagster's own."""

from __future__ import annotations

import re
from pathlib import Path

from dubbing_api.settings import Settings as ApiSettings
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.infra.settings import (
    CheckSettings,
    DemucsSettings,
    LipSyncSettings,
    MixSettings,
    PipelineSettings,
)

ROOT = Path(__file__).resolve().parents[2]
DAGSTERS_OWN = {"DAGSTER_HOME"}


def _documented() -> set[str]:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for row in (line for line in table.splitlines() if line.startswith("| `")):
        for name in re.findall(r"`([A-Z][A-Z0-9_<>]+)`", row.split("|")[1]):
            if "<STAGE>" in name:
                names |= {name.replace("<STAGE>", s.value) for s in Stage}
            elif "<FIELD>" in name:
                fields = re.findall(r"`([A-Z_]+)`", row.split("|")[3])
                names |= {name.replace("<FIELD>", f) for f in fields}
            else:
                names.add(name)
    return names


def _read_by_code() -> set[str]:
    names = {f"DUBBING_{field.upper()}" for field in PipelineSettings.model_fields} | {
        f"DUBBING_LIPSYNC_{field.upper()}" for field in LipSyncSettings.model_fields
    }
    names |= {f"DUBBING_MIX_{field.upper()}" for field in MixSettings.model_fields}
    names |= {f"DUBBING_DEMUCS_{field.upper()}" for field in DemucsSettings.model_fields}
    names |= {f"DUBBING_CHECK_{field.upper()}" for field in CheckSettings.model_fields}
    for field, info in ApiSettings.model_fields.items():
        alias = info.validation_alias
        names |= set(alias.choices) if alias else {f"DUBBING_{field.upper()}"}  # type: ignore[union-attr]
    for config in [ROOT / "dagster.yaml", *ROOT.glob("profiles/*/*.yaml")]:
        names |= set(re.findall(r"env:\s*([A-Z][A-Z0-9_]+)", config.read_text()))
    return names | DAGSTERS_OWN


def test_the_readme_lists_exactly_the_settings_that_exist() -> None:
    documented, read = _documented(), _read_by_code()
    assert not read - documented, f"not in the README's table: {sorted(read - documented)}"
    assert not documented - read, f"in the table, read by nothing: {sorted(documented - read)}"


def test_nothing_else_reads_the_environment() -> None:
    """One typed place per process: os.environ / getenv appear only in the settings modules
    (and the CLI, which sets Dagster's own DAGSTER_HOME)."""
    allowed = {"infra/settings.py", "settings.py", "cli/main.py"}
    offenders = [
        str(path.relative_to(ROOT))
        for package in ("dubbing_pipeline", "dubbing_api")
        for path in (ROOT / package).rglob("*.py")
        if re.search(r"os\.environ|getenv\(", path.read_text())
        and not any(str(path).endswith(a) for a in allowed)
    ]
    assert not offenders, offenders
