"""Segments and their subtitle forms; the review gate that decides what the next stage reads."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest
import srt
import webvtt

from dubbing_pipeline.domain.errors import JobErrorType, JobProcessingError
from dubbing_pipeline.domain.segments import Segment, SegmentDoc, to_srt, to_vtt
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.infra.storage import ArtifactStore
from dubbing_pipeline.operations import reviews

PROJECT = "demo-en-de"


def make_doc(texts: list[str] | None = None) -> SegmentDoc:
    texts = texts or ["Hello there.", "This is a test.", "Goodbye."]
    times = [(0.5, 1.25), (2.0, 3.5), (61.123, 3725.5)]
    return SegmentDoc(
        language="en",
        duration=3730.0,
        segments=[
            Segment(id=i, start=start, end=end, text=text, confidence=0.9)
            for i, ((start, end), text) in enumerate(zip(times, texts, strict=True), start=1)
        ],
    )


def write_segments(
    store: ArtifactStore, doc: SegmentDoc, stage: Stage = Stage.STT, project: str = PROJECT
) -> None:
    store.write_text(reviews.segments_uri(store, project, stage), doc.model_dump_json(indent=2))


def seconds(cue_time: str) -> float:
    hours, minutes, rest = cue_time.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(rest)


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(base_url=str(tmp_path))


# -- segments and subtitles -------------------------------------------------------------------


def test_srt_parses_back_to_the_same_timings_and_texts() -> None:
    doc = make_doc()
    subs = list(srt.parse(to_srt(doc)))
    assert [s.index for s in subs] == [1, 2, 3]
    assert [(s.start.total_seconds(), s.end.total_seconds()) for s in subs] == [
        (seg.start, seg.end) for seg in doc.segments
    ]
    assert [s.content for s in subs] == [seg.text for seg in doc.segments]


def test_subtitles_leave_out_blank_segments_and_trim_text() -> None:
    doc = make_doc(["  Hello there.  ", "   ", "Goodbye."])
    subs = list(srt.parse(to_srt(doc)))
    assert [s.index for s in subs] == [1, 2]
    assert [s.content for s in subs] == ["Hello there.", "Goodbye."]
    assert subs[1].start.total_seconds() == 61.123
    captions = list(webvtt.from_string(to_vtt(doc)))
    assert [c.text for c in captions] == ["Hello there.", "Goodbye."]


def test_vtt_has_the_header_and_every_cue() -> None:
    doc = make_doc()
    text = to_vtt(doc)
    assert text.startswith("WEBVTT")
    assert "00:00:00.500 --> 00:00:01.250" in text
    assert "00:01:01.123 --> 01:02:05.500" in text
    captions = list(webvtt.from_string(text))
    assert [(seconds(c.start), seconds(c.end), c.text) for c in captions] == [
        (seg.start, seg.end, seg.text) for seg in doc.segments
    ]


def test_multi_line_text_survives_both_formats() -> None:
    doc = make_doc(["Hello there.", "first line\nsecond line", "Goodbye."])
    assert list(srt.parse(to_srt(doc)))[1].content == "first line\nsecond line"
    assert list(webvtt.from_string(to_vtt(doc)))[1].text == "first line\nsecond line"


def test_segment_ids_must_be_unique() -> None:
    segments = [
        Segment(id=1, start=0.0, end=1.0, text="a"),
        Segment(id=1, start=1.0, end=2.0, text="b"),
    ]
    with pytest.raises(pydantic.ValidationError, match="unique"):
        SegmentDoc(language="en", duration=2.0, segments=segments)


def test_segments_must_be_in_time_order() -> None:
    segments = [
        Segment(id=1, start=1.0, end=2.0, text="a"),
        Segment(id=2, start=0.0, end=0.5, text="b"),
    ]
    with pytest.raises(pydantic.ValidationError, match="time order"):
        SegmentDoc(language="en", duration=2.0, segments=segments)


def test_a_segment_cannot_end_before_it_starts() -> None:
    with pytest.raises(pydantic.ValidationError, match="before it starts"):
        Segment(id=1, start=2.0, end=1.0, text="a")


def test_an_unordered_document_on_disk_is_refused_when_read() -> None:
    raw = make_doc().model_dump()
    raw["segments"].reverse()
    with pytest.raises(pydantic.ValidationError):
        SegmentDoc.model_validate(raw)


def test_a_translation_keeps_timing_and_remembers_the_source_text() -> None:
    doc = make_doc()
    translated = doc.with_texts("de", ["Hallo.", "Das ist ein Test.", "Tschüss."])
    assert translated.language == "de"
    assert [(s.id, s.start, s.end) for s in translated.segments] == [
        (s.id, s.start, s.end) for s in doc.segments
    ]
    assert [s.source_text for s in translated.segments] == [s.text for s in doc.segments]
    assert translated.mean_confidence is None
    assert doc.mean_confidence == 0.9


# -- review -----------------------------------------------------------------------------------


def assert_validation(exc_info: pytest.ExceptionInfo[JobProcessingError]) -> None:
    assert exc_info.value.error_type is JobErrorType.VALIDATION
    assert exc_info.value.retryable is False


def test_approving_with_an_edit_changes_only_that_segment(store: ArtifactStore) -> None:
    doc = make_doc()
    write_segments(store, doc)
    decision = reviews.approve(
        store, PROJECT, Stage.STT, reviewer="ana", edits={2: "  This is the test.  "}
    )
    assert decision.decision == "approved"
    assert decision.edited_segment_ids == [2]
    approved = reviews.approved_segments(store, PROJECT, Stage.STT)
    assert approved == decision.segments
    assert approved.segments[1].text == "This is the test."
    for before, after in zip(doc.segments, approved.segments, strict=True):
        assert after.model_dump(exclude={"text"}) == before.model_dump(exclude={"text"})
        if before.id != 2:
            assert after.text == before.text
    # the stage's own output is untouched: the edit lives in the approval
    assert reviews.load_segments(store, PROJECT, Stage.STT) == doc


def test_approving_an_unknown_segment_is_a_validation_error(store: ArtifactStore) -> None:
    write_segments(store, make_doc())
    with pytest.raises(JobProcessingError, match="99") as exc_info:
        reviews.approve(store, PROJECT, Stage.STT, reviewer="ana", edits={1: "ok", 99: "nope"})
    assert_validation(exc_info)
    with pytest.raises(JobProcessingError, match="awaits review"):
        reviews.approved_segments(store, PROJECT, Stage.STT)  # nothing was recorded


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_an_empty_edit_is_a_validation_error(store: ArtifactStore, text: str) -> None:
    write_segments(store, make_doc())
    with pytest.raises(JobProcessingError, match="empty") as exc_info:
        reviews.approve(store, PROJECT, Stage.STT, reviewer="ana", edits={3: text})
    assert_validation(exc_info)
    assert reviews.current_decision(store, PROJECT, Stage.STT) is None


def test_a_stage_without_a_review_gate_cannot_be_approved(store: ArtifactStore) -> None:
    write_segments(store, make_doc(), stage=Stage.TTS)
    with pytest.raises(JobProcessingError, match="no review gate") as exc_info:
        reviews.approve(store, PROJECT, Stage.TTS, reviewer="ana")
    assert_validation(exc_info)


def test_a_stage_that_has_not_run_cannot_be_reviewed(store: ArtifactStore) -> None:
    with pytest.raises(JobProcessingError, match="has not run yet") as exc_info:
        reviews.approve(store, PROJECT, Stage.STT, reviewer="ana")
    assert_validation(exc_info)


def test_approved_segments_exist_only_while_the_approval_is_current(
    store: ArtifactStore,
) -> None:
    doc = make_doc()
    write_segments(store, doc)
    with pytest.raises(JobProcessingError, match="awaits review") as exc_info:
        reviews.approved_segments(store, PROJECT, Stage.STT)
    assert_validation(exc_info)

    reviews.approve(store, PROJECT, Stage.STT, reviewer="ana")
    assert reviews.approved_segments(store, PROJECT, Stage.STT) == doc

    # the stage ran again and produced something else: the old approval no longer counts
    write_segments(store, make_doc(["Hello there.", "A different transcript.", "Goodbye."]))
    assert reviews.current_decision(store, PROJECT, Stage.STT) is None
    with pytest.raises(JobProcessingError, match="awaits review") as exc_info:
        reviews.approved_segments(store, PROJECT, Stage.STT)
    assert_validation(exc_info)


def test_a_retimed_segment_also_makes_the_approval_stale(store: ArtifactStore) -> None:
    doc = make_doc()
    write_segments(store, doc)
    reviews.approve(store, PROJECT, Stage.STT, reviewer="ana")
    retimed = doc.model_copy(
        update={"segments": [doc.segments[0].model_copy(update={"end": 1.5}), *doc.segments[1:]]}
    )
    write_segments(store, retimed)
    with pytest.raises(JobProcessingError, match="awaits review"):
        reviews.approved_segments(store, PROJECT, Stage.STT)


def test_a_rejection_needs_a_reason(store: ArtifactStore) -> None:
    write_segments(store, make_doc())
    for reason in ["", "   "]:
        with pytest.raises(JobProcessingError, match="reason") as exc_info:
            reviews.reject(store, PROJECT, Stage.STT, reviewer="ana", reason=reason)
        assert_validation(exc_info)
    assert reviews.current_decision(store, PROJECT, Stage.STT) is None


def test_after_a_rejection_the_next_stage_is_told_why(store: ArtifactStore) -> None:
    write_segments(store, make_doc())
    reviews.approve(store, PROJECT, Stage.STT, reviewer="ana")
    decision = reviews.reject(
        store, PROJECT, Stage.STT, reviewer="bob", reason="  wrong speaker on segment 2 "
    )
    assert decision.decision == "rejected"
    assert decision.reason == "wrong speaker on segment 2"
    assert decision.segments is None
    with pytest.raises(JobProcessingError, match="rejected: wrong speaker on segment 2") as exc:
        reviews.approved_segments(store, PROJECT, Stage.STT)
    assert_validation(exc)


def test_decisions_belong_to_one_stage_and_one_project(store: ArtifactStore) -> None:
    doc = make_doc()
    write_segments(store, doc, stage=Stage.STT)
    write_segments(store, doc.with_texts("de", ["Hallo.", "Ein Test.", "Tschüss."]), Stage.MT)
    write_segments(store, doc, project="other")
    reviews.approve(store, PROJECT, Stage.STT, reviewer="ana")
    assert reviews.approved_segments(store, PROJECT, Stage.STT) == doc
    with pytest.raises(JobProcessingError, match="awaits review"):
        reviews.approved_segments(store, PROJECT, Stage.MT)
    with pytest.raises(JobProcessingError, match="awaits review"):
        reviews.approved_segments(store, "other", Stage.STT)

    reviews.approve(store, PROJECT, Stage.MT, reviewer="ana", edits={1: "Hallo!"})
    assert reviews.approved_segments(store, PROJECT, Stage.MT).segments[0].text == "Hallo!"
    assert reviews.approved_segments(store, PROJECT, Stage.STT).segments[0].text == "Hello there."


def test_cue_text_with_blank_lines_and_arrows_is_valid_in_both_formats() -> None:
    doc = SegmentDoc(
        language="en",
        duration=3.0,
        segments=[Segment(id=0, start=0.0, end=1.0, text="para one\n\npara --> two")],
    )
    vtt = to_vtt(doc)
    (cue,) = list(srt.parse(to_srt(doc)))
    assert cue.content == "para one\npara → two"
    assert "para one\npara → two" in vtt and vtt.count("-->") == 1


def test_racing_twin_approvals_are_one_decision_and_a_later_one_is_new(
    store: ArtifactStore,
) -> None:
    """Two identical approvals that both read the store before either wrote (three clicks at
    once) make the same decision id, so the next stage's run key is shared and it starts once;
    approving again after a rejection is a new decision."""
    write_segments(store, make_doc())
    first = reviews.approve(store, PROJECT, Stage.STT, reviewer="ana", edits={2: "Edited."})
    reviews.restore(store, PROJECT, Stage.STT, None)  # the twin read before the first wrote
    twin = reviews.approve(store, PROJECT, Stage.STT, reviewer="bo", edits={2: "Edited."})
    assert twin.id == first.id
    other = reviews.approve(store, PROJECT, Stage.STT, reviewer="ana", edits={2: "Other."})
    assert other.id != first.id
    reviews.reject(store, PROJECT, Stage.STT, reviewer="ana", reason="wrong speaker")
    again = reviews.approve(store, PROJECT, Stage.STT, reviewer="ana", edits={2: "Edited."})
    assert again.id not in (first.id, other.id)
