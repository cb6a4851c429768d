"""faster-whisper in full on the packaged base model and real Spanish espeak-ng speech: language
detection, word timings, the batched pipeline, placement, the out-of-memory path and releasing
models; and how word timings live on segments through review and translation."""

from __future__ import annotations

from collections.abc import Callable
from difflib import SequenceMatcher
from pathlib import Path

import ctranslate2
import pytest
from dagster import DagsterInstance, ExecuteInProcessResult

from dubbing_pipeline.cli.runner import stage_failure
from dubbing_pipeline.cli.sample import make_sample_video
from dubbing_pipeline.domain.errors import JobErrorType, JobProcessingError
from dubbing_pipeline.domain.projects import Project
from dubbing_pipeline.domain.segments import Segment, SegmentDoc, Word, to_srt, to_vtt
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.engines.base import Transcription
from dubbing_pipeline.engines.models import whisper_model_path
from dubbing_pipeline.engines.stt import (
    FasterWhisperSTT,
    _load_model,
    cached_models,
    release_models,
    resolve_placement,
    smaller_batch_on_oom,
)
from dubbing_pipeline.infra.storage import ArtifactStore
from dubbing_pipeline.operations import reviews
from dubbing_pipeline.operations.instance_store import InstanceRunStore
from dubbing_pipeline.operations.projects import create_project
from tests.support.helpers import metadata

SPANISH = ("Hola, buenos días a todos.", "Hoy el cielo está azul y los niños juegan en el parque.")
ROUNDING_S = 0.005
HAS_GPU = ctranslate2.get_cuda_device_count() > 0


@pytest.fixture(scope="module")
def spanish_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 7 s: two Spanish sentences with a pause between them."""
    out = tmp_path_factory.mktemp("es") / "es.mp4"
    return make_sample_video(out, SPANISH, language="es", gap_s=0.7, size="160x90")


@pytest.fixture(scope="module")
def sequential(spanish_video: Path) -> Transcription:
    return FasterWhisperSTT(model="base", device="cpu").transcribe(spanish_video, None, _ignore)


def _ignore(_: float) -> None:
    return None


def _assert_words_timed(result: Transcription) -> None:
    """Every segment has words, in order, each inside its segment, spelling its text."""
    assert result.segments
    for seg in result.segments:
        assert seg.words, seg
        starts = [w.start for w in seg.words]
        assert starts == sorted(starts)
        for before, after in zip(seg.words, seg.words[1:], strict=False):
            assert before.end <= after.start + ROUNDING_S
        for w in seg.words:
            assert w.start <= w.end
            assert seg.start - ROUNDING_S <= w.start and w.end <= seg.end + ROUNDING_S, (seg, w)
            assert w.probability is not None and 0.0 <= w.probability <= 1.0
        assert " ".join(w.text for w in seg.words) == seg.text


def test_base_detects_spanish_and_times_words(sequential: Transcription) -> None:
    assert sequential.language == "es"
    assert sequential.language_probability is not None and sequential.language_probability > 0.5
    text = " ".join(s.text for s in sequential.segments).lower()
    for word in ("buenos", "días", "cielo", "niños", "parque"):
        assert word in text, text
    _assert_words_timed(sequential)
    assert len(sequential.segments) == 2  # one per sentence: the pause splits them
    assert all(s.confidence is not None and 0.0 < s.confidence <= 1.0 for s in sequential.segments)
    assert sequential.engine == {
        "model": "base",
        "device": "cpu",
        "compute_type": "int8",
        "batch_size": 1,
        "vad_filter": True,
        "window_s": 300.0,
    }


def test_batched_pipeline_on_cpu_matches_sequential(
    spanish_video: Path, sequential: Transcription
) -> None:
    seen: list[float] = []
    stt = FasterWhisperSTT(model="base", device="cpu", batch_size=2)
    batched = stt.transcribe(spanish_video, "es", seen.append)
    assert batched.language == "es" and batched.language_probability == 1.0  # given, not detected
    assert abs(len(batched.segments) - len(sequential.segments)) <= 1
    _assert_words_timed(batched)
    words = sum(len(s.words or []) for s in batched.segments)
    assert abs(words - sum(len(s.words or []) for s in sequential.segments)) <= 2
    assert getattr(batched, "engine", {})["batch_size"] == 2
    assert len(seen) >= 2 and seen == sorted(seen) and seen[0] < 1.0 and seen[-1] == 1.0


def test_transcript_asset_records_how_the_language_and_words_came(
    spanish_video: Path,
    instance: DagsterInstance,
    store: ArtifactStore,
    run_stage: Callable[..., ExecuteInProcessResult],
) -> None:
    project = Project(video_uri=str(spanish_video), source_language="auto", target_language="en")
    create_project(store, InstanceRunStore(instance), project)
    meta = metadata(run_stage(project, Stage.STT), Stage.STT)
    assert meta["language"] == "es" and meta["language_detected"] is True
    assert 0.5 < meta["language_probability"] <= 1.0
    assert meta["stt_model"] == "base" and meta["stt_batch_size"] == (16 if HAS_GPU else 1)
    assert (meta["stt_device"], meta["stt_compute_type"]) == resolve_placement("auto", "auto")
    assert meta["timed_words"] == meta["words"] >= 10
    doc = reviews.load_segments(store, project.id, Stage.STT)
    assert sum(len(s.words or []) for s in doc.segments) == meta["timed_words"]


def test_long_audio_is_transcribed_a_window_at_a_time(sample_video: Path) -> None:
    """Windows of 8 s over the 20 s sample: one timeline, ids in order, nothing past the end,
    and the words of one pass (each window is cut in a pause, so no word is split; the model
    sees less context, so a word may differ)."""
    stt = FasterWhisperSTT(model="tiny.en", device="cpu", beam_size=1)
    whole = stt.transcribe(sample_video, "en", _ignore)
    seen: list[float] = []
    windowed = stt.model_copy(update={"window_s": 8.0}).transcribe(sample_video, "en", seen.append)
    assert [s.id for s in windowed.segments] == list(range(len(windowed.segments)))
    assert windowed.segments[-1].end <= windowed.duration == whole.duration
    assert windowed.segments[-1].start > 12  # later windows are placed on the file's timeline
    _assert_words_timed(windowed)
    assert seen == sorted(seen) and seen[-1] == 1.0
    assert SequenceMatcher(None, _words(windowed), _words(whole)).ratio() > 0.9


def _words(result: Transcription) -> list[str]:
    text = " ".join(s.text for s in result.segments).lower()
    return "".join(c for c in text if c.isalpha() or c == " ").split()


def test_word_timestamps_can_be_turned_off(spanish_video: Path) -> None:
    stt = FasterWhisperSTT(model="base", device="cpu", word_timestamps=False, beam_size=1)
    result = stt.transcribe(spanish_video, "es", _ignore)
    assert result.segments and all(s.words is None for s in result.segments)


@pytest.mark.skipif(HAS_GPU, reason="placement on a machine without a GPU")
def test_placement_without_a_gpu_is_int8_on_cpu() -> None:
    assert resolve_placement("auto", "auto") == ("cpu", "int8")
    assert resolve_placement("cpu", "auto") == ("cpu", "int8")
    assert resolve_placement("cpu", "float32") == ("cpu", "float32")
    with pytest.raises(JobProcessingError, match="no CUDA device") as err:
        resolve_placement("cuda", "auto")
    assert err.value.error_type is JobErrorType.PERMANENT


@pytest.mark.skipif(not HAS_GPU, reason="needs a CUDA device")
def test_placement_with_a_gpu_is_float16_on_cuda() -> None:
    assert resolve_placement("auto", "auto") == ("cuda", "float16")
    assert resolve_placement("cpu", "auto") == ("cpu", "int8")


# -- out of memory -----------------------------------------------------------------------------
# CUDA cannot run out of memory on a machine without one: these attempts raise what CTranslate2
# raises when it does.


def _fits_below(limit: int, tried: list[int]):
    def attempt(size: int) -> str:
        tried.append(size)
        if size >= limit:
            raise RuntimeError("CUDA failed with error out of memory")
        return f"done at {size}"

    return attempt


def test_out_of_memory_retries_once_at_half_the_batch() -> None:
    tried: list[int] = []
    assert smaller_batch_on_oom(_fits_below(16, tried), 16) == ("done at 8", 8)
    assert tried == [16, 8]


def test_out_of_memory_twice_is_a_retryable_resource_error() -> None:
    tried: list[int] = []
    with pytest.raises(JobProcessingError, match="batch size 8") as err:
        smaller_batch_on_oom(_fits_below(1, tried), 16)
    assert tried == [16, 8]
    assert err.value.error_type is JobErrorType.RESOURCE and err.value.retryable


def test_out_of_memory_without_a_batch_to_halve_is_a_resource_error() -> None:
    tried: list[int] = []
    with pytest.raises(JobProcessingError) as err:
        smaller_batch_on_oom(_fits_below(1, tried), 1)
    assert tried == [1] and err.value.error_type is JobErrorType.RESOURCE


def test_other_errors_are_not_retried_at_a_smaller_batch() -> None:
    tried: list[int] = []

    def attempt(size: int) -> None:
        tried.append(size)
        raise ValueError("bad audio")

    with pytest.raises(ValueError, match="bad audio"):
        smaller_batch_on_oom(attempt, 16)
    assert tried == [16]


def test_release_drops_cached_models_by_device() -> None:
    key = (whisper_model_path("tiny.en"), "cpu", "int8", 0)
    model = _load_model(*key)
    assert _load_model(*key) is model and key in cached_models()
    assert release_models("cuda") == 0 and key in cached_models()
    assert release_models() >= 1 and cached_models() == []
    assert _load_model(*key) is not model  # loads afresh
    release_models()


# -- word timings on segments ------------------------------------------------------------------


def _segment(id_: int, start: float, text: str) -> Segment:
    """A segment whose words are spoken 0.5 s apart from ``start``."""
    words = [
        Word(start=start + 0.5 * i, end=start + 0.5 * i + 0.4, text=t, probability=0.9)
        for i, t in enumerate(text.split())
    ]
    return Segment(id=id_, start=start, end=words[-1].end, text=text, words=words)


def _doc_with_words() -> SegmentDoc:
    segments = [_segment(0, 0.5, "Hola, amigos."), _segment(1, 2.0, "Hasta luego.")]
    return SegmentDoc(language="es", duration=5.0, segments=segments)


def test_subtitles_are_the_same_with_or_without_words() -> None:
    doc = _doc_with_words()
    bare = doc.model_copy(
        update={"segments": [s.model_copy(update={"words": None}) for s in doc.segments]}
    )
    assert all(s.words for s in doc.segments)
    assert to_srt(doc) == to_srt(bare) and to_vtt(doc) == to_vtt(bare)


def test_segments_without_words_serialise_as_before() -> None:
    """No 'words' key unless there are words, so hashes of existing documents do not change."""
    bare = Segment(id=0, start=0.0, end=1.0, text="Hola.")
    assert '"words"' not in bare.model_dump_json()
    doc = _doc_with_words()
    assert '"words"' in doc.model_dump_json()
    again = SegmentDoc.model_validate_json(doc.model_dump_json())
    assert again == doc and again.sha256 == doc.sha256


def test_a_translation_drops_word_timings() -> None:
    translated = _doc_with_words().with_texts("en", ["Hello, friends.", "See you."])
    assert [s.words for s in translated.segments] == [None, None]


def test_a_reviewer_edit_drops_only_that_segments_word_timings(tmp_path: Path) -> None:
    store = ArtifactStore(base_url=str(tmp_path))
    doc = _doc_with_words()
    store.write_text(reviews.segments_uri(store, "p", Stage.STT), doc.model_dump_json())
    reviews.approve(store, "p", Stage.STT, reviewer="t", edits={1: "Hasta mañana."})
    approved = reviews.approved_segments(store, "p", Stage.STT)
    assert approved.segments[0].words == doc.segments[0].words
    assert approved.segments[1].text == "Hasta mañana." and approved.segments[1].words is None


def test_a_video_in_the_target_language_fails_at_stt_not_after_review(
    spanish_video: Path,
    instance: DagsterInstance,
    store: ArtifactStore,
    run_stage: Callable[..., ExecuteInProcessResult],
) -> None:
    """Declared 'auto', the video turns out to be Spanish, the target: a VALIDATION error at STT
    after one attempt, before anyone reviews a transcript that cannot be dubbed."""
    project = Project(video_uri=str(spanish_video), source_language="auto", target_language="es")
    create_project(store, InstanceRunStore(instance), project)
    result = run_stage(project, Stage.STT)
    assert stage_failure(result) == (
        "VALIDATION",
        "the video is in es already, the target language",
    )
    assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
