"""MUXING: the source video stream (copied, not re-encoded) with the dub mixed over what plays under
it (``BackgroundMixer``), the original audio as a second track, and the subtitles."""

import hashlib
import tempfile
from contextlib import ExitStack
from pathlib import Path

from dagster import AssetExecutionContext, Config, MaterializeResult, ResourceParam
from pydantic import Field, field_validator

from dubbing_pipeline.defs.assets.common import StageRun, stage_asset, stage_run
from dubbing_pipeline.defs.checks.muxed_video import SPECS as CHECK_SPECS
from dubbing_pipeline.defs.checks.muxed_video import muxed_checks
from dubbing_pipeline.domain import artifacts
from dubbing_pipeline.domain.background import DUCKED, BackgroundMethod, Span, method_of
from dubbing_pipeline.domain.checks import blocking_summary
from dubbing_pipeline.domain.errors import validation_error
from dubbing_pipeline.domain.segments import SegmentDoc, to_srt, to_vtt
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.engines.background import BackgroundMixer
from dubbing_pipeline.engines.base import AudioTrack, Muxer, Separator, SubtitleTrack
from dubbing_pipeline.infra import media, mix
from dubbing_pipeline.infra.settings import check_thresholds
from dubbing_pipeline.infra.storage import ArtifactStore
from dubbing_pipeline.operations import reviews


class MuxConfig(Config):
    """Per-run overrides of the project's (and the deployment's) choices."""

    background: str | None = Field(
        default=None, description="What plays under the dub: stem, demucs, duck or none."
    )
    background_url: str | None = Field(
        default=None, description="The music-and-effects stem for 'stem': a store key or URI."
    )
    original_track: bool | None = Field(
        default=None, description="Keep the source audio as a second track."
    )

    @field_validator("background")
    @classmethod
    def _known(cls, value: str | None) -> str | None:
        return value if value is None else method_of(value)


@stage_asset(
    Stage.MUXING,
    kinds={"ffmpeg"},
    check_specs=CHECK_SPECS,
    deps=[Stage.TTS.asset_name],
    description="The dubbed video: source video stream, the dub over the source's music and "
    "effects, the original audio, target and source subtitles.",
)
def muxed_video(
    context: AssetExecutionContext,
    config: MuxConfig,
    store: ArtifactStore,
    muxer: ResourceParam[Muxer],
    mixer: BackgroundMixer,
    separator: ResourceParam[Separator],
) -> MaterializeResult:
    with stage_run(context, Stage.MUXING, store) as run:
        project = run.project
        source_doc = reviews.approved_segments(store, project.id, Stage.STT)
        target_doc = reviews.approved_segments(store, project.id, Stage.MT)
        method = mixer.choose(project.background, config.background)
        keep_original = mixer.keeps_original(config.original_track, project.original_track)
        uris: dict[str, str] = {}
        # The delivered subtitles are the approved (edited) texts, not the raw engine output.
        roles: tuple[tuple[artifacts.Role, SegmentDoc], ...] = (
            ("target", target_doc),
            ("source", source_doc),
        )
        for role, doc in roles:
            uris[f"{role}_srt"] = store.write_text(
                run.uri(artifacts.subtitles(role, doc.language, "srt")), to_srt(doc)
            )
            uris[f"{role}_vtt"] = store.write_text(
                run.uri(artifacts.subtitles(role, doc.language, "vtt")), to_vtt(doc)
            )
        with ExitStack() as stack:
            video = stack.enter_context(store.reading(project.video_uri))
            dub = stack.enter_context(
                store.reading(store.artifact_uri(project.id, Stage.TTS, artifacts.DUB_TRACK))
            )
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dub-mix-")))
            source_info = media.probe(video)
            stem = _stem_uri(store, config.background_url) or project.background_uri
            bed = _bed(run, method, stem, video, source_info.duration, mixer, separator, stack)
            spoken = [Span(s.start, s.end) for s in source_doc.segments]
            placed = _placed(store, project.id)
            with run.engine():
                mixed = mixer.mix(dub, bed, work, spoken, placed)
            run.progress(0.6)
            audio = [
                AudioTrack(
                    mixed.path,
                    target_doc.language,
                    "Dubbed",
                    default=True,
                    gain_db=mixed.gain_db,
                    limit_db=mixed.limit_db,
                ),
                *([AudioTrack(video, source_doc.language, "Original")] if keep_original else []),
            ]
            tracks = [
                SubtitleTrack(
                    stack.enter_context(store.reading(uris[f"{role}_srt"])), doc.language, title
                )
                for role, doc, title in (
                    ("target", target_doc, "Dubbed"),
                    ("source", source_doc, "Original"),
                )
            ]
            uris["video"] = run.uri(artifacts.DUBBED + muxer.suffix_for(source_info.video_codec))
            with store.writing(uris["video"]) as out:
                with run.engine():
                    muxer.mux(video, audio, tracks, out)
                out_info = media.probe(out)
                outcomes, checked = muxed_checks(
                    out,
                    video,
                    target_language=target_doc.language,
                    source_language=source_doc.language,
                    original_track=keep_original,
                    loudness_lufs=mixer.loudness_lufs,
                    limits=check_thresholds(),
                )
        run.progress(1.0)
        return MaterializeResult(
            check_results=checked,
            metadata=run.metadata(
                uris,
                duration_s=round(out_info.duration, 3),
                video_codec=out_info.video_codec,
                audio_language=target_doc.language,
                audio_tracks=out_info.audio_streams,
                original_track=source_doc.language if keep_original else None,
                subtitle_tracks=out_info.subtitle_streams,
                background=method,
                background_uri=store.key_of(stem) if method == "stem" and stem else None,
                **mixed.figures,
                # measured on the delivered file by its loudness check
                loudness_lufs=next(
                    o.figures["integrated_lufs"] for o in outcomes if o.name == "loudness"
                ),
                checks_blocking=blocking_summary(outcomes),
            ),
        )


def _placed(store: ArtifactStore, project_id: str) -> list[Span] | None:
    """Where TTS placed each clip in the dub track (None where its timing predates that)."""
    fits = reviews.segment_fits(store, project_id).values()
    spans = [
        Span(f.start_s, f.start_s + f.placed_s)
        for f in fits
        if f.start_s is not None and f.placed_s is not None
    ]
    return spans if len(spans) == len(fits) else None


def _stem_uri(store: ArtifactStore, named: str | None) -> str | None:
    """A run config's stem: a URI or local path as is, a store key (``uploads/...``) in the
    store."""
    if not named or "://" in named or Path(named).is_absolute():
        return named
    return store.uri(*named.split("/"))


def _bed(
    run: StageRun,
    method: BackgroundMethod,
    stem: str | None,
    video: Path,
    duration: float,
    mixer: BackgroundMixer,
    separator: Separator,
    stack: ExitStack,
) -> mix.Bed | None:
    """What plays under the dub, checked before anything is mixed."""
    if method == "none":
        return None
    if method in DUCKED:
        return mix.Bed(video, "a:0", ducked=True)
    if method == "stem":
        if not stem:
            raise validation_error(
                "background 'stem' needs the stem: backgroundUrl (API), --background-stem (CLI) "
                "or background_url (run config)"
            )
        path = stack.enter_context(run.store.reading(stem))
        mix.validate_stem(path, duration, mixer.stem_tolerance_s)
        return mix.Bed(path)
    if reason := separator.unavailable():
        raise validation_error(f"background 'demucs' is not available here: {reason}")
    # Separated once per source and model: a re-run (an edited translation) reuses it.
    key = hashlib.sha256(f"{run.project.video_uri}\n{separator.model_id}".encode()).hexdigest()
    uri = run.uri(artifacts.separated(key[:24]))
    if not run.store.exists(uri):
        with run.store.writing(uri) as out, run.engine():
            separator.separate(video, out, lambda f: run.progress(0.5 * f))
    return mix.Bed(stack.enter_context(run.store.reading(uri)))
