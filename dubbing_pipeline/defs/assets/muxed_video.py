"""MUXING: the source video stream (copied, not re-encoded) with the dub track and subtitles."""

from contextlib import ExitStack

from dagster import AssetExecutionContext, MaterializeResult, ResourceParam

from dubbing_pipeline.defs.assets.common import stage_asset, stage_run
from dubbing_pipeline.domain import artifacts
from dubbing_pipeline.domain.segments import to_srt, to_vtt
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.engines.base import Muxer, SubtitleTrack
from dubbing_pipeline.infra import media
from dubbing_pipeline.infra.events import EventPublisher
from dubbing_pipeline.infra.storage import ArtifactStore
from dubbing_pipeline.operations import reviews


@stage_asset(
    Stage.MUXING,
    kinds={"ffmpeg"},
    deps=[Stage.TTS.asset_name],
    description="The dubbed video: source video stream, dubbed audio, target and source subtitles.",
)
def muxed_video(
    context: AssetExecutionContext,
    store: ArtifactStore,
    events: EventPublisher,
    muxer: ResourceParam[Muxer],
) -> MaterializeResult:
    with stage_run(context, Stage.MUXING, store, events) as run:
        project = run.project
        source_doc = reviews.approved_segments(store, project.id, Stage.STT)
        target_doc = reviews.approved_segments(store, project.id, Stage.MT)
        uris: dict[str, str] = {}
        # The delivered subtitles are the approved (edited) texts, not the raw engine output.
        for role, doc in (("target", target_doc), ("source", source_doc)):
            uris[f"{role}_srt"] = store.write_text(
                run.uri(artifacts.subtitles(role, doc.language, "srt")), to_srt(doc)
            )
            uris[f"{role}_vtt"] = store.write_text(
                run.uri(artifacts.subtitles(role, doc.language, "vtt")), to_vtt(doc)
            )
        with ExitStack() as stack:
            video = stack.enter_context(store.reading(project.video_uri))
            audio = stack.enter_context(
                store.reading(store.artifact_uri(project.id, Stage.TTS, artifacts.DUB_TRACK))
            )
            tracks = [
                SubtitleTrack(
                    stack.enter_context(store.reading(uris[f"{role}_srt"])), doc.language, title
                )
                for role, doc, title in (
                    ("target", target_doc, "Dubbed"),
                    ("source", source_doc, "Original"),
                )
            ]
            source_info = media.probe(video)
            uris["video"] = run.uri(artifacts.DUBBED + muxer.suffix_for(source_info.video_codec))
            with store.writing(uris["video"]) as out:
                with run.engine():
                    muxer.mux(video, audio, target_doc.language, tracks, out)
                out_info = media.probe(out)
        run.progress(1.0)
        return MaterializeResult(
            metadata=run.metadata(
                uris,
                duration_s=round(out_info.duration, 3),
                video_codec=out_info.video_codec,
                audio_language=target_doc.language,
                subtitle_tracks=out_info.subtitle_streams,
            )
        )
