"""A client generated from /openapi.json with openapi-python-client, used unedited, runs a
project's whole flow: upload, create, review and approve twice, follow the jobs, download the
dub. (The stages' work is played here by writing what they write; the real stack runs them in
tests/integration.)"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from io import BytesIO
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.operations.projects import load_project
from tests.support.stack import token
from tests.unit.api.conftest import Api

BIN = Path(sys.executable).parent


def _generate(api: Api, root: Path) -> Any:
    spec = root / "openapi.json"
    spec.write_text(json.dumps(api.app.openapi()))
    env = os.environ | {"PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}  # it runs ruff
    subprocess.run(
        [str(BIN / "openapi-python-client"), "generate", "--path", str(spec), "--meta", "none",
         "--output-path", str(root / "dubbing_client")],
        check=True, capture_output=True, env=env,
    )  # fmt: skip
    sys.path.insert(0, str(root))
    try:
        return importlib.import_module("dubbing_client")
    finally:
        sys.path.remove(str(root))


def test_a_generated_client_runs_the_whole_flow(api: Api, tmp_path: Path) -> None:
    gen = _generate(api, tmp_path)
    from dubbing_client.api.jobs import project_jobs
    from dubbing_client.api.projects import create_project, get_artifact, get_project, upload_file
    from dubbing_client.api.review import approve, get_review
    from dubbing_client.models import ApproveRequest, ApproveRequestEdits, ProjectCreate
    from dubbing_client.types import File

    client = gen.AuthenticatedClient(base_url="http://testserver", token=token("alice"))
    client.set_httpx_client(
        TestClient(api.app, headers={"Authorization": f"Bearer {token('alice')}"})
    )

    uploaded = upload_file.sync(
        client=client, body=File(payload=BytesIO(b"\0" * 64)), filename="talk.mp4"
    )
    created = create_project.sync(
        client=client, body=ProjectCreate(video_url=uploaded.key, target_language="es")
    )
    project_id = created.project.id
    assert created.project.video_url == uploaded.key
    project = load_project(api.store, project_id)

    api.segments(project, Stage.STT, ["Hello there.", "Goodbye."])  # STT's work
    review = get_review.sync(project_id=project_id, stage="transcript", client=client)
    assert review.decision == "pending" and len(review.segments) == 2
    edits = ApproveRequestEdits.from_dict({"1": "See you."})
    approved = approve.sync(
        project_id=project_id, stage="transcript", client=client, body=ApproveRequest(edits=edits)
    )
    assert approved.decision == "approved" and approved.segments[1].text == "See you."

    api.segments(project, Stage.MT, ["Hola.", "Hasta luego."])  # MT's work
    approve.sync(project_id=project_id, stage="translation", client=client)
    started = {run.job_name for run in api.fake.runs}
    assert started == {Stage.STT.job_name, Stage.MT.job_name, Stage.TTS.job_name}

    for run in api.fake.runs:
        run.status = "SUCCESS"
    dubbed = api.store.artifact_uri(project_id, Stage.MUXING, "dubbed.mp4")
    api.store.write_bytes(dubbed, b"the dubbed video")  # MUXING's work
    jobs = project_jobs.sync(project_id=project_id, client=client)
    assert {job.status for job in jobs.jobs} == {"completed"}
    assert get_project.sync(project_id=project_id, client=client).stages.to_dict() == {
        "STT": "completed",
        "MT": "completed",
        "TTS": "completed",
    }
    video = get_artifact.sync_detailed(project_id=project_id, name="video", client=client)
    assert video.status_code == 200 and video.content == b"the dubbed video"
