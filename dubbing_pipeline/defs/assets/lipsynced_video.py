"""LIP_SYNC: premium projects only; a standard project's partition is never materialised.

The lip-sync model runs as an external program through Dagster Pipes (``engines/lipsync.py``):
its log lines and progress land in this run's event log, its metadata in the materialisation.
"""

from collections.abc import Iterator
from contextlib import ExitStack

from dagster import AssetExecutionContext, MaterializeResult

from dubbing_pipeline.defs.assets.common import stage_asset, stage_run
from dubbing_pipeline.domain import artifacts
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.engines.lipsync import PipesLipSync
from dubbing_pipeline.infra.storage import ArtifactStore


@stage_asset(
    Stage.LIP_SYNC,
    kinds={"video"},
    deps=[Stage.MUXING.asset_name],
    output_required=False,
    description="Lip-synced dubbed video, premium tier only (see the engine's note in metadata).",
)
def lipsynced_video(
    context: AssetExecutionContext,
    store: ArtifactStore,
    lipsync: PipesLipSync,
) -> Iterator[MaterializeResult]:
    with stage_run(context, Stage.LIP_SYNC, store) as run:
        if not run.project.premium:
            context.log.info(f"project {run.project.id} is {run.project.tier}: no lip-sync")
            return
        muxed_uri = run.upstream_metadata(Stage.MUXING.asset_name, "video_uri")
        uri = run.uri(artifacts.LIPSYNCED + muxed_uri[muxed_uri.rfind(".") :])
        with ExitStack() as stack:
            video = stack.enter_context(store.reading(muxed_uri))
            audio = stack.enter_context(
                store.reading(store.artifact_uri(run.project.id, Stage.TTS, artifacts.DUB_TRACK))
            )
            out = stack.enter_context(store.writing(uri))
            with run.engine():
                reported = lipsync.lipsync(context, video, audio, out, run.progress)
        # The program's figures (engine, model, note, retime_factor, ...); ours win on a clash.
        yield MaterializeResult(metadata={**reported, **run.metadata({"video": uri})})
