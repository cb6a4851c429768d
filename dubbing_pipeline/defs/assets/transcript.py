"""STT: the source video's speech as sentence segments, each with its speaker, waiting for a
person's review."""

import dataclasses
import time

from dagster import AssetExecutionContext, Config, MaterializeResult, ResourceParam

from dubbing_pipeline.defs.assets.common import StageRun, stage_asset, stage_run, uri_value
from dubbing_pipeline.domain import artifacts, languages, speakers
from dubbing_pipeline.domain.errors import validation_error
from dubbing_pipeline.domain.segments import SegmentDoc
from dubbing_pipeline.domain.sentences import SentenceRules, sentence_segments
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.engines.base import Diarizer, SpeechToText, Transcription, Translator
from dubbing_pipeline.infra import media
from dubbing_pipeline.infra.storage import ArtifactStore


class TranscriptConfig(Config, SentenceRules):
    """How the recognised words become segments (``domain.sentences``). Run config, not the STT
    resource: the rules are about the language, the same whichever engine heard the words, and
    like ``max_speedup`` one project's STT can be re-run with other caps; sensors and backfills
    get the defaults."""


@stage_asset(
    Stage.STT,
    kinds={"whisper"},
    description="Speech-to-text and speakers of the source video: sentence segments JSON, SRT/VTT.",
)
def transcript(
    context: AssetExecutionContext,
    config: TranscriptConfig,
    store: ArtifactStore,
    stt: ResourceParam[SpeechToText],
    mt: ResourceParam[Translator],
    diarizer: ResourceParam[Diarizer],
) -> MaterializeResult:
    with stage_run(context, Stage.STT, store) as run:
        project = run.project
        target = languages.base(project.target_language)
        if project.source_language != languages.AUTO:  # refused here, not after a review
            _check_pair(mt, languages.base(project.source_language), target)
        with store.reading(project.video_uri) as video:
            info = media.validate_source_video(video)
            language = None
            if project.source_language != languages.AUTO:
                language = languages.base(project.source_language)
            with run.engine():
                result = stt.transcribe(video, language, lambda f: run.progress(0.9 * f))
            if not result.segments:
                raise validation_error("no speech was found in the source audio")
            _check_pair(mt, result.language, target)
            started = time.perf_counter()
            with run.engine():
                found = diarizer.diarize(
                    video,
                    lambda f: run.progress(0.9 + 0.1 * f),
                    project.min_speakers,
                    project.max_speakers,
                )
            diarization_s = time.perf_counter() - started
        who = speakers.attribute(result.segments, found)  # words get speakers, S1..Sn
        result = dataclasses.replace(result, segments=who.segments)
        doc, regrouping = _sentences(run, result, info.duration, config)
        uris = run.write_segments(doc, "source")
        return MaterializeResult(
            metadata=run.metadata(
                uris,
                duration_s=round(info.duration, 3),
                segments=len(doc.segments),
                words=sum(len(s.text.split()) for s in doc.segments),
                timed_words=sum(len(s.words or []) for s in doc.segments),
                mean_confidence=doc.mean_confidence,
                language=doc.language,
                language_detected=language is None,
                language_probability=result.language_probability,
                **regrouping,
                **{f"stt_{k}": v for k, v in result.engine.items()},
                speakers=len(who.speakers),
                diarization_seconds=round(diarization_s, 3),
                overlap_s=who.overlap_s,
                overlaps=who.overlaps,
                words_in_overlap=who.words_in_overlap,
                **{f"diarization_{k}": v for k, v in found.engine.items()},
                review="awaiting review",
            ),
        )


def _sentences(
    run: StageRun, result: Transcription, duration: float, rules: SentenceRules
) -> tuple[SegmentDoc, dict[str, object]]:
    """The transcript as sentence segments, and what the regrouping did; the engine's own
    segments stay beside it (``engine_segments.json``) for audit."""
    engine = SegmentDoc(language=result.language, duration=duration, segments=result.segments)
    engine_uri = run.store.write_text(
        run.uri(artifacts.ENGINE_SEGMENTS), engine.model_dump_json(indent=2)
    )
    regrouped = sentence_segments(result.segments, result.language, rules)
    doc = SegmentDoc(language=result.language, duration=duration, segments=regrouped.segments)
    return doc, {
        "engine_segments_uri": uri_value(engine_uri),
        "segmentation": "sentences" if rules.regroup else "engine",
        **regrouped.figures(result.segments),
    }


def _check_pair(mt: Translator, source: str, target: str) -> None:
    """A video in a language the dub cannot come from fails here (VALIDATION, not retried), so
    nobody reviews a transcript that cannot be translated."""
    if source == target:
        raise validation_error(f"the video is in {source} already, the target language")
    mt.check_pair(source, target)
