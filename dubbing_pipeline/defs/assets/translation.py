"""MT: the approved (maybe edited) transcript in the target language, waiting for review.

Segments are whole sentences (``domain.sentences``), so engines translate sentences, not
fragments; every engine's output is cleaned in one place (``domain.translations``)."""

from dagster import AssetExecutionContext, MaterializeResult, ResourceParam

from dubbing_pipeline.defs.assets.common import stage_asset, stage_run
from dubbing_pipeline.domain import languages
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.translations import clean_translation
from dubbing_pipeline.engines.base import Translator
from dubbing_pipeline.infra.storage import ArtifactStore
from dubbing_pipeline.operations import reviews


@stage_asset(
    Stage.MT,
    kinds={"translation"},
    deps=[Stage.STT.asset_name],
    description="Translation of the approved transcript: segments JSON plus target SRT/VTT.",
)
def translation(
    context: AssetExecutionContext,
    store: ArtifactStore,
    mt: ResourceParam[Translator],
) -> MaterializeResult:
    with stage_run(context, Stage.MT, store) as run:
        source = reviews.approved_segments(store, run.project.id, Stage.STT)
        target = languages.base(run.project.target_language)
        mt.check_pair(source.language, target)
        with run.engine():
            texts = mt.translate(
                [s.text for s in source.segments], source.language, target, run.progress
            )
        cleaned = [
            clean_translation(t, s.text, target)
            for t, s in zip(texts, source.segments, strict=True)
        ]
        doc = source.with_texts(target, cleaned)
        uris = run.write_segments(doc, "target")
        return MaterializeResult(
            metadata=run.metadata(
                uris,
                segments=len(doc.segments),
                words_in=sum(len(s.text.split()) for s in source.segments),
                words_out=sum(len(s.text.split()) for s in doc.segments),
                language_pair=f"{source.language}->{target}",
                engine=type(mt).__name__,
                segments_cleaned=sum(a != b for a, b in zip(texts, cleaned, strict=True)),
                review="awaiting review",
            )
        )
