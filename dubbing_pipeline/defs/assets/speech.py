"""TTS: one clip per approved translated segment, fitted onto the source timeline as the dub track.

Clips are cached by content (voice + language + text), so editing one segment in review
re-synthesises only that segment. An engine that clones voices gets each speaker's reference clip,
cut once from the source video (``voices.py``); its hash is part of the clip's key.
"""

import hashlib
from contextlib import ExitStack
from pathlib import Path

from dagster import AssetExecutionContext, Config, MaterializeResult, ResourceParam
from pydantic import Field

from dubbing_pipeline.defs.assets.common import StageRun, stage_asset, stage_run
from dubbing_pipeline.domain import artifacts, voices
from dubbing_pipeline.domain.segments import Segment
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.timing import plan_track
from dubbing_pipeline.domain.voices import VoiceReference
from dubbing_pipeline.engines.base import SpeechSynthesizer
from dubbing_pipeline.infra import media, voice_clips
from dubbing_pipeline.infra.events import EventPublisher
from dubbing_pipeline.infra.storage import ArtifactStore
from dubbing_pipeline.infra.track import render_track
from dubbing_pipeline.operations import reviews


class SpeechConfig(Config):
    max_speedup: float = Field(default=1.25, ge=1.0, le=2.0, description="Speed-up cap per clip.")


@stage_asset(
    Stage.TTS,
    kinds={"tts"},
    deps=[Stage.MT.asset_name],
    description="Dubbed speech: cached per-segment clips and the fitted dub track (source length).",
)
def speech(
    context: AssetExecutionContext,
    config: SpeechConfig,
    store: ArtifactStore,
    events: EventPublisher,
    tts: ResourceParam[SpeechSynthesizer],
) -> MaterializeResult:
    with stage_run(context, Stage.TTS, store, events) as run:
        doc = reviews.approved_segments(store, run.project.id, Stage.MT)
        tts.check_language(doc.language)
        spoken = [s for s in doc.segments if s.text.strip()]
        with ExitStack() as stack:
            references: dict[str, VoiceReference] = {}
            if rate := tts.reference_sample_rate:  # only cloning engines get references
                speakers = sorted({s.speaker for s in spoken})
                references = _references(run, speakers, rate, stack)
            clips, synthesized = [], 0
            for i, segment in enumerate(spoken):
                voice = references.get(segment.speaker)
                uri, created = _clip(run, tts, doc.language, segment, voice)
                synthesized += created
                clips.append(stack.enter_context(store.reading(uri)))
                run.progress(0.7 * (i + 1) / len(spoken))
            seconds = [frames / rate for frames, rate in map(media.wav_samples, clips)]
            plan = plan_track(
                [(s.id, s.start) for s in spoken],
                seconds,
                doc.duration,
                max_speedup=config.max_speedup,
            )
            with store.writing(run.uri(artifacts.DUB_TRACK)) as out, run.engine():
                render_track(plan, clips, out, lambda f: run.progress(0.7 + 0.3 * f))
        for placement in plan.overflowing:
            context.log.warning(
                f"segment {placement.segment_id} does not fit its slot even at "
                f"{config.max_speedup}x: {placement.overflow_samples / plan.sample_rate:.2f} s cut"
            )
        return MaterializeResult(
            metadata=run.metadata(
                {"dub_track": run.uri(artifacts.DUB_TRACK)},
                duration_s=round(plan.total_samples / plan.sample_rate, 3),
                segments=len(spoken),
                clips_synthesized=synthesized,
                clips_reused=len(spoken) - synthesized,
                voice=tts.voice_id,
                voice_references={
                    r.speaker: {"seconds": round(r.seconds, 2), "sha256": r.sha256}
                    for r in references.values()
                }
                or None,
                language=doc.language,
                **plan.summary(),
            )
        )


def _references(
    run: StageRun, speakers: list[str], sample_rate: int, stack: ExitStack
) -> dict[str, VoiceReference]:
    """Each speaker's reference clip, cut from the source video under the approved transcript's
    timing and kept in the store, so later runs (and retries) reuse the very same clip."""
    source = reviews.approved_segments(run.store, run.project.id, Stage.STT)
    video: Path | None = None
    references = {}
    for speaker in speakers:
        spans = voices.select_spans(source.segments, speaker)
        if not spans:
            continue  # not in the transcript: the engine decides what an unknown speaker gets
        name = voices.reference_name(speaker, spans, sample_rate, run.project.video_uri)
        uri = run.uri(artifacts.voice(name))
        if not run.store.exists(uri):
            video = video or stack.enter_context(run.store.reading(run.project.video_uri))
            with run.store.writing(uri) as out:
                voice_clips.cut_reference(video, spans, out, sample_rate)
        path = stack.enter_context(run.store.reading(uri))
        references[speaker] = voice_clips.load_reference(speaker, path)
    return references


def _clip(
    run: StageRun,
    tts: SpeechSynthesizer,
    language: str,
    segment: Segment,
    voice: VoiceReference | None,
) -> tuple[str, bool]:
    """The clip's URI in the content-addressed cache, synthesising it only if it is new."""
    parts = [tts.voice_id, *([voice.sha256] if voice else []), language, segment.text]
    key = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]
    uri = run.uri(artifacts.clip(key))
    if run.store.exists(uri):
        return uri, False
    with run.store.writing(uri) as out, run.engine():
        tts.synthesize(segment.text, language, Path(out), voice)
    return uri, True
