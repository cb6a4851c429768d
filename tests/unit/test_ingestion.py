"""Videos dropped into object storage become projects: a local folder, and a real S3-compatible
server on loopback (moto's server mode) with the daemon running."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pytest
from dagster import DagsterRunStatus, RunsFilter
from moto.server import ThreadedMotoServer

from dubbing_pipeline.defs.ingestion import incoming_url, ingest, project_id_for, rejections
from dubbing_pipeline.infra.storage import ArtifactStore
from dubbing_pipeline.operations.projects import load_project
from tests.support.daemon import running_daemon, wait_until
from tests.support.stack import free_port


class Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, message: str) -> None:
        self.lines.append(message)

    warning = error = info


def _drop(fs: fsspec.AbstractFileSystem, root: str, video: Path) -> dict[str, str]:
    """Three videos with manifests, one garbage object, one video with a broken manifest."""
    fs.makedirs(f"{root}/alice", exist_ok=True)
    fs.makedirs(f"{root}/bob/batch", exist_ok=True)
    keys = {
        "a": f"{root}/alice/one.mp4",
        "b": f"{root}/alice/two.mp4",
        "c": f"{root}/bob/batch/three.mov",
        "bad": f"{root}/bob/broken.mp4",
    }
    for name, key in keys.items():
        fs.put_file(str(video), key)
        manifest = {"targetLanguage": "es", "sourceLanguage": "en", "premium": name == "c"}
        if name == "bad":
            manifest = {"targetLanguage": 42, "surprise": True}
        fs.pipe_file(key.rsplit(".", 1)[0] + ".json", json.dumps(manifest).encode())
    fs.pipe_file(f"{root}/alice/notes.txt", b"meeting notes, not a video")
    return keys


def test_each_object_becomes_one_project_and_garbage_is_reported(
    tmp_path: Path, sample_video: Path, store: ArtifactStore
) -> None:
    fs, root = fsspec.filesystem("file"), str(tmp_path / "incoming")
    keys = _drop(fs, root, sample_video)
    log = Log()
    created, cursor = ingest(store, root, "", log)
    assert sorted(created) == sorted(project_id_for(keys[k]) for k in ("a", "b", "c"))
    assert cursor == ""  # the whole listing fit one page
    bob = load_project(store, project_id_for(keys["c"]))
    assert (bob.user_id, bob.premium, bob.target_language) == ("bob", True, "es")
    reasons = {r.key.rsplit("/", 1)[-1]: r.reason for r in rejections(store)}
    assert set(reasons) == {"notes.txt", "broken.mp4"}
    assert "not a video" in reasons["notes.txt"] and "targetLanguage" in reasons["broken.mp4"]

    fs.put_file(str(sample_video), keys["a"])  # the same key, rewritten
    again = ingest(store, root, "", log, known=set(created))  # or after a restart: nothing new
    assert again == ([], "")
    assert len(rejections(store)) == 2  # reported once each


def test_a_video_waits_for_its_manifest(tmp_path: Path, sample_video: Path, store) -> None:
    fs, root = fsspec.filesystem("file"), str(tmp_path / "incoming")
    fs.makedirs(f"{root}/carol")
    fs.put_file(str(sample_video), f"{root}/carol/late.mp4")
    assert ingest(store, root, "", Log())[0] == []
    fs.pipe_file(f"{root}/carol/late.json", b'{"targetLanguage": "es"}')
    assert ingest(store, root, "", Log())[0] == [project_id_for(f"{root}/carol/late.mp4")]


def test_a_store_failing_mid_page_loses_nothing(
    tmp_path: Path, sample_video: Path, store: ArtifactStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An OSError while reading one manifest ends the page there: the projects before it get
    their partitions, and the next pass starts again from the object that failed."""
    fs, root = fsspec.filesystem("file"), str(tmp_path / "incoming")
    keys = _drop(fs, root, sample_video)
    real_cat = type(fs).cat_file

    def flaky(self, path: str, *args, **kwargs) -> bytes:
        if path.endswith("two.json"):
            raise ConnectionResetError("the store hung up")
        return real_cat(self, path, *args, **kwargs)

    monkeypatch.setattr(type(fs), "cat_file", flaky)
    log = Log()
    created, cursor = ingest(store, root, "", log)
    assert created == [project_id_for(keys["a"])]
    assert keys["a"] <= cursor < keys["b"] and any("two.mp4" in line for line in log.lines)
    monkeypatch.setattr(type(fs), "cat_file", real_cat)
    created, _ = ingest(store, root, cursor, log, known=set(created))
    assert sorted(created) == sorted(project_id_for(keys[k]) for k in ("b", "c"))


def test_a_manifest_whose_partition_was_never_added_gets_it(
    tmp_path: Path, sample_video: Path, store: ArtifactStore
) -> None:
    """A tick that died after writing manifests and before adding their partitions: the next
    pass adds them instead of skipping the manifests forever."""
    fs, root = fsspec.filesystem("file"), str(tmp_path / "incoming")
    keys = _drop(fs, root, sample_video)
    first, _ = ingest(store, root, "", Log())  # ... and the partitions never reached Dagster
    again, _ = ingest(store, root, "", Log(), known=set())
    assert sorted(again) == sorted(first)
    known = {project_id_for(keys["a"])}
    assert sorted(ingest(store, root, "", Log(), known=known)[0]) == sorted(set(first) - known)


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    for name, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "FSSPEC_S3_ENDPOINT_URL": endpoint,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setitem(fsspec.config.conf, "s3", {"endpoint_url": endpoint})
    fsspec.filesystem("s3").mkdir("dubbing-test")
    try:
        yield "s3://dubbing-test/incoming"
    finally:
        server.stop()


@pytest.mark.integration
def test_s3_drops_start_three_projects_once_across_daemon_restarts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sample_video: Path, s3: str
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.setenv("DUBBING_ARTIFACTS", str(tmp_path / "artifacts"))
    monkeypatch.setenv("DUBBING_STT_MODEL", "tiny.en")
    monkeypatch.setenv("DUBBING_INCOMING_URL", s3)
    assert incoming_url() == s3
    fs = fsspec.filesystem("s3")
    keys = _drop(fs, s3.removeprefix("s3://"), sample_video)
    projects = {project_id_for(keys[k]) for k in ("a", "b", "c")}

    def stt_runs(daemon) -> list:
        """The STT runs the sensors started; a run the stopped daemon killed is retried by
        Dagster's run retries (a child run), which is not a second start."""
        runs = daemon.instance.get_runs(RunsFilter(tags={"dubbing/stage": "STT"}))
        return [r for r in runs if r.parent_run_id is None]

    def transcribed(daemon) -> set[str]:
        runs = daemon.instance.get_runs(
            RunsFilter(tags={"dubbing/stage": "STT"}, statuses=[DagsterRunStatus.SUCCESS])
        )
        assert len(runs) == len({r.tags["dubbing/project"] for r in runs})  # once each
        return {r.tags["dubbing/project"] for r in runs}

    with running_daemon(tmp_path, restarting=True) as daemon:
        runs = wait_until(
            lambda: len(stt_runs(daemon)) == 3 and stt_runs(daemon), 180, "three STT runs"
        )
        assert {r.tags["dubbing/project"] for r in runs} == projects
        assert {r.tags["dubbing/user"] for r in runs} == {"alice", "bob"}
        assert len(rejections(daemon.store)) == 2
    os.rename(tmp_path / "daemon.log", tmp_path / "daemon-1.log")
    with running_daemon(tmp_path) as daemon:
        time.sleep(15)  # a few ingestion ticks after the restart
        assert len(stt_runs(daemon)) == 3
        assert set(daemon.instance.get_dynamic_partitions("projects")) == projects
        wait_until(lambda: transcribed(daemon) == projects, 180, "each project transcribed")
