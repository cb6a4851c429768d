"""The dead letter queue: a view over the run store, not a second database.

A stage run that failed for good (a permanent error, retries exhausted, or a crash that run
retries gave up on) is tagged by ``dead_letter_sensor`` with its error class and message and
``dubbing/dead_letter=open``. Listing and stats are tag queries on the run store. A retry request
is an observation on the stage's asset partition (the one way, for the API and the CLI alike);
``dead_letter_retry_sensor`` launches the stage again with ``run_key=dlq-retry:<run id>`` and
marks the entry ``retried``, so one entry spawns one job.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from dagster import DagsterEventType, DagsterInstance, DagsterRun, RunsFilter
from pydantic import BaseModel

from dubbing_pipeline.domain.errors import Conflict, JobErrorType, NotFound
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.tags import Tag
from dubbing_pipeline.operations import jobs
from dubbing_pipeline.operations.runs import RunQuery, RunStore

STATE = Tag.DEAD_LETTER  # open -> retry_requested -> retried
ERROR_TYPE = Tag.ERROR_TYPE
ERROR_MESSAGE = Tag.ERROR_MESSAGE
ATTEMPTS = Tag.ATTEMPTS
RETRIED_AS = Tag.RETRIED_AS  # the run_key of the retry job
WILL_RETRY = Tag.WILL_RETRY  # set by Dagster's run retries on a run it will retry


class DeadLetterEntry(BaseModel):
    job_id: str
    project_id: str
    user_id: str
    stage: str
    error_type: str
    message: str
    attempts: int
    state: str
    failed_at: datetime | None


def classify_failed_run(
    instance: DagsterInstance, run: DagsterRun
) -> tuple[dict[str, str], bool] | None:
    """The tags that make a failed stage run a dead letter entry, and whether the stage itself
    reported the failure (False: the run crashed); None if Dagster's run retries will retry it.
    Attempts count every try of every run in the lineage (crashed runs Dagster retried, earlier
    dead letter retries), not only this run's."""
    if run.tags.get(WILL_RETRY) == "true":
        return None
    data = _step_failure(instance, run.run_id)
    meta = data.user_failure_data.metadata if data and data.user_failure_data else {}
    if "error_type" in meta:
        error_type, message = str(meta["error_type"].value), str(meta["error_message"].value)
        reported = True
    else:  # the run process died or failed outside the stage body
        error_type = JobErrorType.TRANSIENT.value
        message = (
            data.error.message.strip()
            if data and data.error
            else _run_failure_message(instance, run)
        )
        reported = False
    attempts = run_attempts(instance, run.run_id) + sum(
        run_attempts(instance, earlier.run_id) for earlier in _earlier_in_lineage(instance, run)
    )
    tags = {
        STATE: "open",
        ERROR_TYPE: error_type,
        ERROR_MESSAGE: message[:1000],
        ATTEMPTS: str(attempts),
    }
    return tags, reported


def run_attempts(instance: DagsterInstance, run_id: str) -> int:
    """Tries of the stage in one run: what the stage reported, else one plus step restarts."""
    data = _step_failure(instance, run_id)
    meta = data.user_failure_data.metadata if data and data.user_failure_data else {}
    if "attempts" in meta:
        return int(str(meta["attempts"].value))
    return 1 + len(instance.all_logs(run_id, of_type=DagsterEventType.STEP_RESTARTED))


def _earlier_in_lineage(instance: DagsterInstance, run: DagsterRun) -> list[DagsterRun]:
    """The runs this one re-executes, directly or not (same root run), created before it."""
    root = run.tags.get(Tag.ROOT_RUN_ID) or run.root_run_id or run.run_id
    if root == run.run_id:
        return []
    family = {r.run_id for r in instance.get_runs(RunsFilter(tags={Tag.ROOT_RUN_ID: root}))}
    mine = instance.get_run_record_by_id(run.run_id)
    created = mine.create_timestamp.timestamp() if mine else float("inf")
    records = instance.get_run_records(RunsFilter(run_ids=[root, *family]))
    return [
        r.dagster_run
        for r in records
        if r.dagster_run.run_id != run.run_id and r.create_timestamp.timestamp() < created
    ]


def _step_failure(instance: DagsterInstance, run_id: str) -> Any:
    failures = instance.all_logs(run_id, of_type=DagsterEventType.STEP_FAILURE)
    event = failures[-1].dagster_event if failures else None
    return event.step_failure_data if event else None


def entries(
    store: RunStore, *, user_id: str | None = None, limit: int | None = None
) -> list[DeadLetterEntry]:
    """Open entries, newest failure first."""
    tags = {STATE: "open"} | ({Tag.USER: user_id} if user_id else {})
    runs = store.runs(RunQuery(tags, ["FAILURE"]), limit=limit)
    runs.sort(key=lambda r: r.ended or 0.0, reverse=True)
    return [entry_of(r.run_id, r.tags, r.ended) for r in runs]


class DeadLetterStats(BaseModel):
    total: int
    by_stage: dict[str, int]
    by_error_type: dict[str, int]


def stats(open_entries: list[DeadLetterEntry]) -> DeadLetterStats:
    """Open entries counted by stage and by error type."""
    return DeadLetterStats(
        total=len(open_entries),
        by_stage=dict(Counter(e.stage for e in open_entries)),
        by_error_type=dict(Counter(e.error_type for e in open_entries)),
    )


def request_retry(store: RunStore, job_id: str, user_id: str | None = None) -> None:
    """Ask for an open entry to be retried: an observation ``dead_letter_retry_sensor`` acts on,
    launching the stage once per entry (its run key). A request for an entry already asked for
    is refused; two at the same moment still spawn one job."""
    run = jobs.stage_run(store, job_id, user_id)
    if run is None:
        raise NotFound(f"job {job_id}")
    if run.status != "FAILURE" or STATE not in run.tags:
        raise Conflict(f"job {job_id} is not in the dead letter queue")
    stage, project = Stage(run.tags[Tag.STAGE]), run.tags[Tag.PROJECT]
    asked = any(parse_retry(d) == job_id for d in store.observations(stage.asset_name, project))
    if run.tags[STATE] != "open" or asked:
        raise Conflict(f"job {job_id} was already retried")
    store.observe(stage.asset_name, project, retry_description(job_id, user_id or "operator"))


def retry_description(job_id: str, requested_by: str) -> str:
    return f"dubbing/retry {job_id} by {requested_by}"


def parse_retry(description: str | None) -> str | None:
    """The job id of a retry request recorded as an observation, if it is one."""
    match = re.match(r"^dubbing/retry (?P<job>[0-9a-f-]{36})\b", description or "")
    return match["job"] if match else None


def entry_of(run_id: str, tags: Mapping[str, str], ended: float | None) -> DeadLetterEntry:
    """An entry from a failed run's tags (the API reads the same tags over GraphQL)."""
    return DeadLetterEntry(
        job_id=run_id,
        project_id=tags.get(Tag.PROJECT, ""),
        user_id=tags.get(Tag.USER, ""),
        stage=tags.get(Tag.STAGE, ""),
        error_type=tags.get(ERROR_TYPE, ""),
        message=tags.get(ERROR_MESSAGE, ""),
        attempts=int(tags.get(ATTEMPTS, "1")),
        state=tags.get(STATE, ""),
        failed_at=datetime.fromtimestamp(ended, UTC) if ended else None,
    )


def _run_failure_message(instance: DagsterInstance, run: DagsterRun) -> str:
    failures = instance.all_logs(run.run_id, of_type=DagsterEventType.RUN_FAILURE)
    return failures[-1].message if failures and failures[-1].message else "run failed"
