"""``dubbing``: dub a video from the command line through the same Dagster definitions.

Runs each stage in this process against the Dagster instance in ``DAGSTER_HOME`` (SQLite by
default), so every run also shows in the Dagster UI. Review gates stop the command unless
``--approve-all`` is given (demos only: a person should read the transcript).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time
from pathlib import Path
from typing import Any

from dagster import AssetKey, DagsterInstance
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from dubbing_pipeline.cli import relay
from dubbing_pipeline.cli.runner import materialize_stage, run_store, stage_failure
from dubbing_pipeline.cli.sample import make_sample_video
from dubbing_pipeline.defs.resources import default_resources
from dubbing_pipeline.domain.background import METHODS
from dubbing_pipeline.domain.errors import JobProcessingError
from dubbing_pipeline.domain.projects import Project
from dubbing_pipeline.domain.speakers import SpeakerEdits
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.engines.background import BackgroundMixer
from dubbing_pipeline.infra import media, mix
from dubbing_pipeline.operations import approvals, reviews
from dubbing_pipeline.operations.projects import create_project, load_project, save_project

console = Console()
FIGURES = {
    Stage.STT: ("language", "segments", "mean_confidence"),
    Stage.MT: ("language_pair", "segments"),
    Stage.TTS: ("max_speedup_applied", "segments_over_cap", "clips_reused"),
    Stage.MUXING: ("background", "loudness_lufs", "audio_tracks", "subtitle_tracks"),
    Stage.LIP_SYNC: ("note",),
}
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    os.environ.setdefault("DAGSTER_HOME", str(Path(".dagster_home").resolve()))
    Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
    return args.handler(args)


def _dub(args: argparse.Namespace) -> int:
    """Create a project and run its stages here, in this process."""
    resources = default_resources()
    with DagsterInstance.get() as instance:
        project = _create(instance, resources, args, driven_by="caller")
        return _run_stages(instance, resources, project, list(Stage), args.approve_all)


def _submit(args: argparse.Namespace) -> int:
    """Create a project and leave it to the daemon: its sensors start STT, wait for reviews
    (``dubbing approve``) and run the rest."""
    resources = default_resources()
    with DagsterInstance.get() as instance:
        _create(instance, resources, args, driven_by="sensors")
    console.print("the dagster-daemon's sensors take it from here (dagster dev runs one)")
    return 0


def _create(
    instance: DagsterInstance, resources: dict[str, Any], args: argparse.Namespace, driven_by: str
) -> Project:
    spec = {"id": args.project} if args.project else {}
    try:
        project = Project(
            **spec,
            video_uri=_uri(args.video),
            source_language=args.source,
            target_language=args.to,
            premium=args.premium,
            user_id=args.user,
            driven_by=driven_by,
            min_speakers=args.min_speakers,
            max_speakers=args.max_speakers,
            voices=dict(_pair(v, "--voice", "SPEAKER=VOICE") for v in args.voice),
            **_mix_choices(args),
        )
    except ValidationError as exc:
        raise SystemExit(f"VALIDATION: {exc.errors()[0]['msg']}") from exc
    if project.background_uri and "://" not in project.background_uri + project.video_uri:
        _check_stem(Path(project.background_uri), Path(project.video_uri), resources["mixer"])
    if project.background == "demucs" and (reason := resources["separator"].unavailable()):
        raise SystemExit(f"VALIDATION: background 'demucs' is not available here: {reason}")
    project, _ = create_project(resources["store"], run_store(instance), project)
    console.print(
        f"project [bold]{project.id}[/]: {project.source_language} -> "
        f"{project.target_language} ({project.tier})"
    )
    return project


def _uri(path: str) -> str:
    return path if "://" in path else str(Path(path).resolve())


def _check_stem(stem: Path, video: Path, mixer: BackgroundMixer) -> None:
    """A bad stem is said now, not after the reviews (MUXING checks it again, authoritatively)."""
    try:
        mix.validate_stem(stem, media.probe(video).duration, mixer.stem_tolerance_s)
    except JobProcessingError as exc:
        raise SystemExit(f"VALIDATION: {exc.message}") from exc


def _mix_choices(args: argparse.Namespace) -> dict[str, Any]:
    """The project's choices of what plays under the dub (unset: the deployment's defaults)."""
    choices: dict[str, Any] = {}
    if args.background:
        choices["background"] = args.background
    if args.background_stem:
        choices["background_uri"] = _uri(args.background_stem)
    if args.original_track is not None:
        choices["original_track"] = args.original_track
    return choices


def _resume(args: argparse.Namespace) -> int:
    resources = default_resources()
    with DagsterInstance.get() as instance:
        project = load_project(resources["store"], args.project)
        if choices := _mix_choices(args):  # e.g. a corrected stem before MUXING runs again
            if "background" in choices and "background_uri" not in choices:
                choices["background_uri"] = None
            fields = project.model_dump() | choices
            project = save_project(resources["store"], Project.model_validate(fields))
        done = {
            s
            for s in Stage
            if project.id in instance.get_materialized_partitions(AssetKey(s.asset_name))
        }
        if args.approve_all:
            for stage in (s for s in (Stage.STT, Stage.MT) if s in done):
                _auto_approve(instance, resources, project, stage)
        todo = [s for s in Stage if s not in done]
        return _run_stages(instance, resources, project, todo, args.approve_all)


def _auto_approve(
    instance: DagsterInstance, resources: dict[str, Any], project: Project, stage: Stage
) -> None:
    """Approve a stage's output unless it already has a current decision (demos only)."""
    store = resources["store"]
    if reviews.current_decision(store, project.id, stage) is None:
        approvals.approve(store, run_store(instance), project.id, stage, reviewer="auto (demo)")


def _approve(args: argparse.Namespace) -> int:
    resources = default_resources()
    edits = dict(_parse_edit(e) for e in args.edit)
    speakers = SpeakerEdits(
        rename=dict(_pair(r, "--rename", "OLD=NEW") for r in args.rename),
        merge=dict(_pair(m, "--merge", "SPEAKER=INTO") for m in args.merge),
        move={int(i): s for i, s in (_pair(m, "--move", "ID=SPEAKER", True) for m in args.move)},
    )
    stage = Stage.parse(args.stage)
    with DagsterInstance.get() as instance:
        runs = run_store(instance)  # a sensor-driven project's next stage starts at once
        approvals.approve(
            resources["store"],
            runs,
            args.project,
            stage,
            reviewer=args.user,
            edits=edits,
            speakers=speakers or None,
            voices=dict(_pair(v, "--voice", "SPEAKER=VOICE") for v in args.voice),
        )
    console.print(f"approved {stage.asset_name} of {args.project} ({len(edits)} edits)")
    return 0


def _sample(args: argparse.Namespace) -> int:
    out = make_sample_video(Path(args.out))
    console.print(f"sample video: {out}")
    return 0


def _run_stages(
    instance: DagsterInstance,
    resources: dict[str, Any],
    project: Project,
    stages: list[Stage],
    approve_all: bool,
) -> int:
    stages = [s for s in stages if s is not Stage.LIP_SYNC or project.premium]
    rows: list[tuple[Stage, float, dict[str, Any]]] = []
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        overall = progress.add_task("dubbing", total=len(stages))
        for stage in stages:
            progress.update(overall, description=f"{stage} ({stage.asset_name})")
            started = time.perf_counter()
            result = materialize_stage(
                project, stage, instance=instance, resources=resources, run_config=QUIET
            )
            seconds = time.perf_counter() - started
            failure = stage_failure(result)
            if failure:
                progress.stop()
                console.print(f"[red]{stage} failed[/] [{failure[0]}] {failure[1]}")
                return 1
            events = result.asset_materializations_for_node(stage.asset_name)
            rows.append((stage, seconds, {k: v.value for k, v in events[0].metadata.items()}))
            progress.advance(overall)
            if stage.needs_review:
                if not approve_all:
                    progress.stop()
                    _print_summary(rows)
                    console.print(
                        f"{stage.asset_name} awaits review: dubbing approve {project.id} "
                        f"{stage.asset_name}, then dubbing resume {project.id}"
                    )
                    return 0
                _auto_approve(instance, resources, project, stage)
    _print_summary(rows)
    return 0


def _print_summary(rows: list[tuple[Stage, float, dict[str, Any]]]) -> None:
    table = Table(title="dubbing summary")
    for column in ("stage", "seconds", "figures", "outputs"):
        table.add_column(column)
    for stage, seconds, meta in rows:
        figures = ", ".join(f"{k}={meta[k]}" for k in FIGURES[stage] if k in meta)
        outputs = "\n".join(
            str(v).rsplit("/", 1)[-1] for k, v in meta.items() if k.endswith("_uri")
        )
        table.add_row(stage.value, f"{seconds:.1f}", figures, outputs)
    console.print(table)
    final = {k: v for _, _, meta in rows for k, v in meta.items() if k.endswith("_uri")}
    for label, key in (
        ("dubbed video", "video_uri"),
        ("subtitles", "target_srt_uri"),
        ("", "target_vtt_uri"),
        ("", "source_srt_uri"),
        ("", "source_vtt_uri"),
    ):
        if key in final:
            console.print(f"{label:>13}  {final[key]}", soft_wrap=True)


def _pair(text: str, flag: str, form: str, numbered: bool = False) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or (numbered and not key.strip().isdigit()):
        raise SystemExit(f"{flag} takes {form}, got {text!r}")
    return key.strip(), value.strip()


def _parse_edit(text: str) -> tuple[int, str]:
    segment_id, sep, new_text = text.partition("=")
    if not sep or not segment_id.strip().isdigit():
        raise SystemExit(f"--edit takes ID=TEXT, got {text!r}")
    return int(segment_id), new_text


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dubbing", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(required=True)
    dub = sub.add_parser("dub", help="create a project for a video and run its stages here")
    submit = sub.add_parser("submit", help="create a project for the daemon's sensors to run")
    resume = sub.add_parser("resume", help="run a project's remaining stages")
    for command in (dub, submit):
        command.add_argument("video", help="path or fsspec URL of the source video")
        command.add_argument("--to", required=True, help="target language, e.g. es")
        command.add_argument("--from", dest="source", default="auto", help="source language")
        command.add_argument("--premium", action="store_true", help="also run lip-sync")
        command.add_argument("--project", help="project id (default: generated)")
        command.add_argument("--user", default=getpass.getuser())
        command.add_argument("--min-speakers", type=int, help="diarization finds at least N")
        command.add_argument("--max-speakers", type=int, help="diarization finds at most N")
        command.add_argument(
            "--voice", action="append", default=[], metavar="SPEAKER=VOICE", help="pin a voice"
        )
    for command in (dub, submit, resume):
        _mix_arguments(command)
    dub.add_argument("--approve-all", action="store_true", help="auto-approve reviews (demo)")
    dub.set_defaults(handler=_dub)
    submit.set_defaults(handler=_submit)
    resume.add_argument("project")
    resume.add_argument("--approve-all", action="store_true")
    resume.set_defaults(handler=_resume)
    approve = sub.add_parser("approve", help="approve a stage's segments, with edits")
    approve.add_argument("project")
    approve.add_argument("stage", help="transcript or translation")
    approve.add_argument("--edit", action="append", default=[], metavar="ID=TEXT")
    approve.add_argument("--rename", action="append", default=[], metavar="OLD=NEW")
    approve.add_argument("--merge", action="append", default=[], metavar="SPEAKER=INTO")
    approve.add_argument("--move", action="append", default=[], metavar="ID=SPEAKER")
    approve.add_argument("--voice", action="append", default=[], metavar="SPEAKER=VOICE")
    approve.add_argument("--user", default=getpass.getuser())
    approve.set_defaults(handler=_approve)
    sample = sub.add_parser("sample", help="make a ~20 s English sample video")
    sample.add_argument("out")
    sample.set_defaults(handler=_sample)
    relay.add_command(sub)
    return parser


def _mix_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--background",
        choices=METHODS,
        help="what plays under the dub: the source ducked (duck), a music-and-effects stem "
        "(stem), the source without its voices (demucs), nothing (none); default: the "
        "deployment's (DUBBING_BACKGROUND, duck)",
    )
    command.add_argument(
        "--background-stem", metavar="AUDIO", help="the music-and-effects stem (implies stem)"
    )
    command.add_argument(
        "--original-track",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="keep the source audio as a second track (default: the deployment's, yes)",
    )


if __name__ == "__main__":
    sys.exit(main())
