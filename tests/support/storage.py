"""Which Dagster storage the integration tests run on: SQLite (default) or Postgres
(``DUBBING_TEST_STORAGE=postgres``: a fresh database per instance, on 127.0.0.1:5432, trust auth).
CI runs the integration suite on both."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Any
from unittest import mock

import yaml
from dagster import DagsterInstance

ROOT = Path(__file__).resolve().parents[2]
PG = {"username": "postgres", "password": "", "hostname": "127.0.0.1", "port": 5432}


def on_postgres() -> bool:
    return os.environ.get("DUBBING_TEST_STORAGE") == "postgres"


def new_database() -> str:
    import psycopg2

    name = f"dubbing_test_{uuid.uuid4().hex[:12]}"
    connection = psycopg2.connect(dbname="postgres", user=PG["username"], host=PG["hostname"])
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()
    return name


def instance_overrides() -> dict[str, Any] | None:
    """For ``instance_for_test``: Postgres storage in a new database, or None for SQLite."""
    if not on_postgres():
        return None
    db = {**PG, "db_name": new_database(), "scheme": "postgresql+psycopg2"}
    return {"storage": {"postgres": {"postgres_db": db}}}


def prepare_home(
    home: Path, profile: str = "postgres", launcher: str = "configured"
) -> dict[str, str]:
    """Put the deployment's dagster.yaml into ``home``; return the environment it needs.
    On Postgres, ``profile`` names the folder under profiles/ (postgres, celery).
    ``launcher="warm"`` adds profiles/warm's run launcher (warm run workers); ``"default"`` drops
    any for Dagster's DefaultRunLauncher (a fresh process per run)."""
    home.mkdir(parents=True, exist_ok=True)
    env: dict[str, str] = {}
    if not on_postgres():
        shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    else:
        shutil.copy(ROOT / "profiles" / profile / "dagster.yaml", home / "dagster.yaml")
        chosen = home / "postgres-database"  # one database per home: a restarted daemon keeps it
        if not chosen.exists():
            chosen.write_text(new_database())
        env = {
            "DAGSTER_PG_USERNAME": PG["username"],
            "DAGSTER_PG_PASSWORD": PG["password"],
            "DAGSTER_PG_HOST": PG["hostname"],
            "DAGSTER_PG_DB": chosen.read_text(),
        }
    if launcher in ("default", "warm"):
        config = yaml.safe_load((home / "dagster.yaml").read_text())
        config.pop("run_launcher", None)
        if launcher == "warm":
            warm = yaml.safe_load((ROOT / "profiles" / "warm" / "dagster.yaml").read_text())
            config["run_launcher"] = warm["run_launcher"]
        (home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    # Create the storage here, once: a daemon, a webserver and a code server that all find it
    # missing race to create SQLite's schema (two alembic heads: the instance no longer loads).
    with mock.patch.dict(os.environ, env), DagsterInstance.from_config(str(home)):
        pass
    return env
