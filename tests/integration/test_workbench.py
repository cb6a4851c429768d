"""The review workbench in a real headless Chromium on the real stack (daemon, webserver, Redis,
the API under uvicorn serving the page): a person signs in with a token, uploads a video, reviews
and edits by keyboard, approves, watches the stages live and downloads the subtitles; an admin
pauses and resumes a queue and retries a dead letter; another user's project is not found.
Screenshots of every step are written under ``test-artifacts/workbench/``."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import Shots, axe_violations, browser
from tests.support.daemon import wait_until
from tests.support.stack import Stack, running_stack, token

pytestmark = pytest.mark.skipif(
    os.environ.get("DUBBING_TEST_STORAGE") == "postgres",
    reason="a client of the API: the storage passes are the API tests' (one run keeps CI short)",
)
# Waits for the pipeline, not timings: generous, for a 2-core machine shared by other test runs
# (a launch there has timed out at gRPC and been retried by the daemon).
STAGE_WAIT_MS = 600_000


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, sample_video: Path) -> Iterator[Stack]:
    """The API tests' stack without diarization (one voice: what the page shows of speakers is
    the API's field, tested there), so the reviewer waits for recognition only."""
    root = tmp_path_factory.mktemp("workbench")
    with running_stack(root, DUBBING_DIARIZATION="none") as running:
        uploads = root / "artifacts" / "uploads" / "alice"
        uploads.mkdir(parents=True)
        shutil.copy(sample_video, uploads / "sample.mp4")
        (uploads / "notes.mp4").write_text("not a video")
        yield running


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with browser() as launched:
        yield launched


@pytest.fixture
def page(chromium: Any, tmp_path: Path) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, errors  # no uncaught exception in the page's JavaScript


def sign_in(page: Any, stack: Stack, user: str) -> None:
    page.goto(f"{stack.api}/")  # redirected to /workbench/
    page.get_by_label("API token").fill(token(user))
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Projects").wait_for()
    page.locator("#live[data-state=live]").wait_for()


def focused(page: Any) -> dict[str, Any]:
    return page.evaluate(
        "() => ({tag: document.activeElement.tagName,"
        " id: document.activeElement.closest('tr')?.dataset.id ?? null})"
    )


@pytest.mark.timeout(1800)
def test_a_reviewer_dubs_a_video_from_upload_to_subtitles(
    stack: Stack, page: Any, sample_video: Path
) -> None:
    shot = Shots(page, "reviewer")
    sign_in(page, stack, "alice")
    shot("signed-in")

    page.get_by_label("Video").set_input_files(str(sample_video))
    page.get_by_label("Spoken language (or auto)").fill("en")
    page.get_by_label("Dub into").fill("es")
    shot("upload-form")
    page.get_by_role("button", name="Upload and dub").click()
    heading = page.get_by_role("heading", name="Project p-")
    heading.wait_for()
    project = heading.inner_text().removeprefix("Project ").strip()
    shot("project-created")

    page.locator("li[data-stage=STT][data-status=review]").wait_for(timeout=STAGE_WAIT_MS)
    shot("transcript-ready")
    page.get_by_role("link", name="Review transcript").click()
    rows = page.locator("table.segments tbody tr")
    rows.first.wait_for()
    assert rows.count() >= 2
    first = rows.first.get_attribute("data-id")
    first_label = f"Text of segment {first}"
    first_text = page.get_by_label(first_label).input_value()
    shot("transcript-review")

    # Keyboard only: move, edit, leave the text, play.
    rows.first.focus()
    page.keyboard.press("ArrowDown")
    assert focused(page) == {"tag": "TR", "id": rows.nth(1).get_attribute("data-id")}
    page.keyboard.press("k")
    assert focused(page)["id"] == first
    page.keyboard.press("Enter")
    assert focused(page) == {"tag": "TEXTAREA", "id": first}
    page.keyboard.press("Control+A")
    page.keyboard.type("Hello from the workbench.")
    page.keyboard.press("Escape")
    assert focused(page) == {"tag": "TR", "id": first}
    page.keyboard.press("p")
    page.get_by_role("status").filter(has_text=f"Playing segment {first}").wait_for()
    page.keyboard.press("Alt+ArrowDown")  # on a row, Alt+arrows are left to the browser
    page.keyboard.press("e")
    page.keyboard.press("Alt+ArrowDown")
    assert focused(page) == {"tag": "TEXTAREA", "id": rows.nth(1).get_attribute("data-id")}
    page.keyboard.press("Escape")
    shot("transcript-edited")
    second = rows.nth(1).get_attribute("data-id")
    rows.nth(1).locator("td.source").click()  # a click on a segment plays it too
    page.get_by_role("status").filter(has_text=f"Playing segment {second}").wait_for()
    assert focused(page) == {"tag": "TR", "id": second}

    # The unsaved edit survives a reload.
    page.reload()
    page.get_by_label(first_label).wait_for()
    assert page.get_by_label(first_label).input_value() == "Hello from the workbench."
    assert first_text != "Hello from the workbench."
    assert "1 unsaved edit" in page.locator("#edit-count").inner_text()
    assert axe_violations(page) == []
    shot("transcript-after-reload")

    # Approve by keyboard; MT starts, seen live on the project page (no reload).
    page.evaluate(
        """() => {
          window.mtStates = [];
          new MutationObserver(() => {
            const li = document.querySelector('li[data-stage=MT]');
            if (li) window.mtStates.push(li.dataset.status);
          }).observe(document.body, {subtree: true, childList: true, attributes: true});
        }"""
    )
    page.get_by_label(first_label).focus()
    page.keyboard.press("Escape")
    page.keyboard.press("Control+Enter")
    page.get_by_role("heading", name=f"Project {project}").wait_for()
    page.evaluate("() => window.workbench.feed.drop()")  # the feed resumes with lastEventId
    page.locator("li[data-stage=MT][data-status=review]").wait_for(timeout=STAGE_WAIT_MS)
    states = page.evaluate("() => window.mtStates")
    assert {"waiting", "active"} & set(states), states
    feed = page.evaluate(
        "() => ({n: window.workbench.feed.connects, id: window.workbench.feed.lastEventId})"
    )
    assert feed["n"] >= 2 and feed["id"], feed
    shot("translation-ready")

    page.get_by_role("link", name="Review translation").click()
    page.get_by_label(first_label).wait_for()
    assert "Hello from the workbench." in page.locator("table.segments tbody tr").first.inner_text()
    assert axe_violations(page) == []
    shot("translation-review")
    page.get_by_role("button", name="Approve").click()
    page.get_by_role("heading", name=f"Project {project}").wait_for()

    page.get_by_role("link", name="Result").wait_for(timeout=STAGE_WAIT_MS)
    shot("completed")
    page.get_by_role("link", name="Projects", exact=True).click()
    page.locator(f"#project-{project} td[data-stage=MUXING][data-status=completed]").wait_for()
    shot("projects-list")
    page.get_by_role("link", name=project).click()
    page.get_by_role("link", name="Result").click()
    video = page.locator("video")
    video.wait_for()
    page.wait_for_function("() => document.querySelector('video').readyState >= 1")
    page.get_by_label("Original (en)").check()
    page.wait_for_function("() => document.querySelector('video').dataset.audio === 'original'")
    page.get_by_label("Dub (es)").check()
    page.wait_for_function("() => document.querySelector('video').dataset.audio === 'dub'")
    assert axe_violations(page) == []
    shot("result")
    with page.expect_download() as download:
        page.get_by_role("button", name="Source subtitles (SRT)").click()
    source_srt = Path(download.value.path()).read_text()
    assert "-->" in source_srt and "Hello from the workbench." in source_srt
    with page.expect_download() as download:
        page.get_by_role("button", name="Dub subtitles (WebVTT)").click()
    assert Path(download.value.path()).read_text().startswith("WEBVTT")
    assert download.value.suggested_filename == f"{project}-subtitles.vtt"

    # After TTS the translation review says how each segment was fitted.
    page.goto(f"{stack.api}/workbench/#/projects/{project}/review/translation")
    page.get_by_role("columnheader", name="Fit after TTS").wait_for()
    fits = page.locator("table.segments td.fit").all_inner_texts()
    assert len(fits) == rows.count() and all(
        f == "fits" or f.startswith("sped up") for f in fits
    ), fits
    shot("translation-fits")


def test_another_users_project_is_not_found(stack: Stack, page: Any) -> None:
    alice = stack.client("alice")
    # alice's project (its STT fails at once: not a video; it exists all the same)
    body = {"videoUrl": "uploads/alice/notes.mp4", "sourceLanguage": "en", "targetLanguage": "es"}
    project = alice.post("/api/projects", json=body).json()["project"]["id"]
    answer = stack.client("bob").get(f"/api/projects/{project}")
    assert answer.status_code == 404
    shot = Shots(page, "not-found")
    sign_in(page, stack, "bob")
    assert page.locator(f"#project-{project}").count() == 0
    page.goto(f"{stack.api}/workbench/#/projects/{project}")
    page.get_by_role("heading", name="Not found").wait_for()
    assert page.get_by_role("alert").inner_text() == answer.json()["error"]["message"]
    page.goto(f"{stack.api}/workbench/#/projects/{project}/review/transcript")
    page.get_by_role("heading", name="Not found").wait_for()
    shot("not-found")
    page.goto(f"{stack.api}/workbench/#/ops")
    page.get_by_role("alert").filter(has_text="admin").wait_for()
    assert page.get_by_role("link", name="Operations").is_hidden()


def test_an_admin_pauses_a_queue_and_retries_a_dead_letter(stack: Stack, page: Any) -> None:
    alice, root = stack.client("alice"), stack.client("root")
    body = {"videoUrl": "uploads/alice/notes.mp4", "sourceLanguage": "en", "targetLanguage": "es"}
    bad = alice.post("/api/projects", json=body).json()
    job, project = bad["jobId"], bad["project"]["id"]
    shot = Shots(page, "operations")
    sign_in(page, stack, "root")
    page.get_by_role("link", name="Operations").click()
    page.get_by_role("heading", name="Operations").wait_for()
    shot("operations")

    page.get_by_role("button", name="Pause TTS").click()
    page.locator("tr[data-queue=TTS]").filter(has_text="paused").get_by_role(
        "button", name="Resume TTS"
    ).wait_for()
    assert root.get("/api/queue/stats/TTS").json()["isPaused"] is True
    shot("tts-paused")
    page.get_by_role("button", name="Resume TTS").click()
    page.get_by_role("button", name="Pause TTS").wait_for()
    assert root.get("/api/queue/stats/TTS").json()["isPaused"] is False

    retry = page.get_by_role("button", name=f"Retry STT of {project}")
    retry.wait_for(timeout=STAGE_WAIT_MS)
    assert page.locator(f"tr[data-job='{job}']").filter(has_text="VALIDATION").count() == 1
    assert axe_violations(page) == []
    shot("dead-letter")
    retry.click()
    page.get_by_role("status").filter(has_text=f"retry of STT for {project}").wait_for()
    wait_until(
        lambda: len(alice.get(f"/api/jobs/project/{project}").json()["jobs"]) == 2,
        90,
        "the retry job",
    )
    shot("retried")
