"""TTS: one clip per approved translated segment, fitted onto the source timeline as the dub track.

Clips are cached by content (voice + language + text), so editing one segment in review
re-synthesises only that segment. An engine that clones voices gets each speaker's reference clip,
cut once from the source video (``voices.py``); its hash is part of the clip's key. An engine with
fixed voices (espeak-ng variants, a multi-speaker Piper model) gives each speaker the voice that
fits their pitch, or the project's pin; the chosen voice is part of the clip's key, so a rename
that keeps a voice keeps every clip, and a merge re-synthesises only the merged speaker's clips.
"""

import hashlib
from contextlib import ExitStack
from pathlib import Path

from dagster import AssetExecutionContext, Config, MaterializeResult, ResourceParam
from pydantic import Field

from dubbing_pipeline.defs.assets.common import StageRun, stage_asset, stage_run
from dubbing_pipeline.defs.checks.speech import SPECS as CHECK_SPECS
from dubbing_pipeline.defs.checks.speech import listening, speech_checks
from dubbing_pipeline.domain import artifacts, voices
from dubbing_pipeline.domain.checks import blocking_summary
from dubbing_pipeline.domain.fits import track_fits
from dubbing_pipeline.domain.review import ReviewDecision
from dubbing_pipeline.domain.segments import Segment
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.timing import plan_track
from dubbing_pipeline.domain.voices import VoiceChoice, VoiceReference
from dubbing_pipeline.engines.base import FixedVoices, SpeechSynthesizer, SpeechToText
from dubbing_pipeline.infra import media, pitch, voice_clips
from dubbing_pipeline.infra.settings import check_thresholds
from dubbing_pipeline.infra.storage import ArtifactStore
from dubbing_pipeline.infra.track import render_track
from dubbing_pipeline.operations import reviews


class SpeechConfig(Config):
    max_speedup: float = Field(default=1.25, ge=1.0, le=2.0, description="Speed-up cap per clip.")


@stage_asset(
    Stage.TTS,
    kinds={"tts"},
    check_specs=CHECK_SPECS,
    deps=[Stage.MT.asset_name],
    description="Dubbed speech: cached per-segment clips and the fitted dub track (source length).",
)
def speech(
    context: AssetExecutionContext,
    config: SpeechConfig,
    store: ArtifactStore,
    tts: ResourceParam[SpeechSynthesizer],
    stt: ResourceParam[SpeechToText],
) -> MaterializeResult:
    with stage_run(context, Stage.TTS, store) as run:
        doc = reviews.approved_segments(store, run.project.id, Stage.MT)
        tts.check_language(doc.language)
        spoken = [s for s in doc.segments if s.text.strip()]
        with ExitStack() as stack:
            speakers = sorted({s.speaker for s in spoken})
            references: dict[str, VoiceReference] = {}
            choices: dict[str, VoiceChoice] = {}
            if rate := tts.reference_sample_rate:  # only cloning engines get references
                references = _references(run, speakers, rate, stack)
            elif isinstance(tts, FixedVoices) and (palette := tts.palette(doc.language)):
                pitches = _speaker_pitches(run, speakers, stack)
                choices = voices.assign_voices(pitches, palette, run.project.voices)
            clips, synthesized = [], 0
            for i, segment in enumerate(spoken):
                voice = references.get(segment.speaker)
                choice = choices.get(segment.speaker)
                uri, created = _clip(run, tts, doc.language, segment, voice, choice)
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
            listener = stack.enter_context(listening(run, stt, doc.language, plan.sample_rate))
            with store.writing(run.uri(artifacts.DUB_TRACK)) as out, run.engine():
                render_track(
                    plan,
                    clips,
                    out,
                    lambda f: run.progress(0.7 + 0.3 * f),
                    listener.add,
                )
            store.write_text(run.uri(artifacts.TIMING), track_fits(plan).model_dump_json())
            outcomes, checked, heard = speech_checks(
                run, listener, plan, spoken, doc.language, check_thresholds()
            )
        for placement in plan.overflowing:
            context.log.warning(
                f"segment {placement.segment_id} does not fit its slot even at "
                f"{config.max_speedup}x: {placement.overflow_samples / plan.sample_rate:.2f} s cut"
            )
        return MaterializeResult(
            check_results=checked,
            metadata=run.metadata(
                {"dub_track": run.uri(artifacts.DUB_TRACK), "timing": run.uri(artifacts.TIMING)},
                duration_s=round(plan.total_samples / plan.sample_rate, 3),
                segments=len(spoken),
                clips_synthesized=synthesized,
                clips_reused=len(spoken) - synthesized,
                voice=tts.voice_id,
                speakers=len(speakers),
                speaker_voices={c.speaker: c.describe() for c in choices.values()} or None,
                voice_references={
                    r.speaker: {"seconds": round(r.seconds, 2), "sha256": r.sha256}
                    for r in references.values()
                }
                or None,
                language=doc.language,
                **plan.summary(),
                **heard,
                checks_blocking=blocking_summary(outcomes),
            ),
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


def _speaker_pitches(
    run: StageRun, speakers: list[str], stack: ExitStack
) -> dict[str, float | None]:
    """Each speaker's median F0, measured on their clearest source speech. A speaker is measured
    on the voice the diarizer heard: a renamed speaker on their speech before the rename, and
    a speaker others were merged into on their own speech only, so review edits move no voice
    but the edited speakers'. A speaker only a reviewer named is measured on their segments."""
    decision: ReviewDecision | None = reviews.current_decision(run.store, run.project.id, Stage.STT)
    approved = reviews.approved_segments(run.store, run.project.id, Stage.STT).segments
    heard = reviews.load_segments(run.store, run.project.id, Stage.STT).segments
    edits = decision.speaker_edits if decision else None
    video: Path | None = None
    pitches: dict[str, float | None] = {}
    for speaker in speakers:
        origin = edits.origin(speaker) if edits else speaker
        spans = voices.select_spans(heard, origin) or voices.select_spans(approved, speaker)
        if not spans:
            pitches[speaker] = None
            continue
        video = video or stack.enter_context(run.store.reading(run.project.video_uri))
        with run.engine():
            pitches[speaker] = pitch.median_f0(pitch.spans_audio(video, spans))
    return pitches


def _clip(
    run: StageRun,
    tts: SpeechSynthesizer,
    language: str,
    segment: Segment,
    voice: VoiceReference | None,
    choice: VoiceChoice | None,
) -> tuple[str, bool]:
    """The clip's URI in the content-addressed cache, synthesising it only if it is new."""
    named = [f"voice={choice.voice}"] if choice else []
    parts = [tts.voice_id, *([voice.sha256] if voice else []), *named, language, segment.text]
    key = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]
    uri = run.uri(artifacts.clip(key))
    if run.store.exists(uri):
        return uri, False
    with run.store.writing(uri) as out, run.engine():
        if choice and isinstance(tts, FixedVoices):
            tts.synthesize_as(choice.voice, segment.text, language, Path(out))
        else:
            tts.synthesize(segment.text, language, Path(out), voice)
    return uri, True
