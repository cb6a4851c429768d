"""Speakers on the transcript: words by overlap, splits at changes, names, overlaps, review edits,
voices by pitch, and pyannote's own Annotation objects (no weights: its loading code's errors)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyannote.core import Annotation
from pyannote.core import Segment as PyannoteSegment
from pydantic import ValidationError

from dubbing_pipeline.defs.resources import MissingExtraError, diarizer_engine
from dubbing_pipeline.domain.errors import JobErrorType, JobProcessingError
from dubbing_pipeline.domain.review import with_edits
from dubbing_pipeline.domain.segments import Segment, SegmentDoc, Word
from dubbing_pipeline.domain.speakers import (
    Diarization,
    SpeakerEdits,
    Turn,
    attribute,
    resolve_overlaps,
)
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.voices import PaletteVoice, assign_voices
from dubbing_pipeline.engines.diarization import NoDiarizer, Piece, cluster
from dubbing_pipeline.engines.diarization_pyannote import load_pipeline, turns_from_annotation
from dubbing_pipeline.engines.tts import ESPEAK_VARIANTS
from dubbing_pipeline.infra.settings import settings


def w(start: float, end: float, text: str, probability: float = 0.9) -> Word:
    return Word(start=start, end=end, text=text, probability=probability)


def seg(i: int, words: list[Word], text: str | None = None) -> Segment:
    return Segment(
        id=i,
        start=words[0].start,
        end=words[-1].end,
        text=text or " ".join(x.text for x in words),
        confidence=0.9,
        words=words,
    )


def test_a_segment_is_split_where_the_speaker_changes_and_speakers_are_named_by_first_words():
    segments = [
        seg(0, [w(0.0, 0.5, "Hello?")]),
        seg(1, [w(1.0, 1.4, "Hello."), w(1.5, 1.9, "Who"), w(2.0, 2.3, "is"), w(2.4, 2.8, "it?")]),
        seg(2, [w(3.0, 3.5, "Me.")]),
    ]
    turns = [Turn(0.0, 0.6, "spk7"), Turn(0.9, 1.45, "spk2"), Turn(1.45, 3.6, "spk7")]
    found = attribute(segments, Diarization(turns))
    assert [(s.id, s.speaker, s.text) for s in found.segments] == [
        (0, "S1", "Hello?"),
        (1, "S2", "Hello."),
        (2, "S1", "Who is it?"),
        (3, "S1", "Me."),
    ]
    assert found.speakers == ["S1", "S2"]
    assert found.segments[2].start == 1.5 and found.segments[1].end == 1.4
    assert all(x.speaker == s.speaker for s in found.segments for x in s.words or [])


def test_overlapping_speech_stays_with_the_dominant_speaker_and_is_counted():
    turns = [Turn(0.0, 5.0, "a"), Turn(2.0, 2.5, "b"), Turn(6.0, 8.0, "b"), Turn(7.5, 9.0, "a")]
    flat, overlap_s, overlaps = resolve_overlaps(turns)
    assert flat == [Turn(0.0, 5.0, "a"), Turn(6.0, 8.0, "b"), Turn(8.0, 9.0, "a")]
    assert (overlap_s, overlaps) == (1.0, 2)
    words = [w(2.1, 2.4, "mhm"), w(3.0, 3.5, "right")]
    found = attribute([seg(0, words)], Diarization(turns))
    assert [s.speaker for s in found.segments] == ["S1"]  # the backchannel is not a turn
    assert (found.overlap_s, found.overlaps, found.words_in_overlap) == (1.0, 2, 1)


def test_segments_without_words_take_the_speaker_they_overlap_most():
    segments = [
        Segment(id=0, start=0.0, end=2.0, text="one"),
        Segment(id=1, start=2.5, end=6.0, text="two"),
        Segment(id=2, start=9.0, end=9.5, text="missed by the diarizer"),
    ]
    found = attribute(segments, Diarization([Turn(0, 3.0, "x"), Turn(3.0, 7.0, "y")]))
    assert [s.speaker for s in found.segments] == ["S1", "S2", "S2"]  # the nearest turn


def test_without_diarization_everyone_is_s1_and_the_words_keep_their_hash():
    segments = [seg(0, [w(0.0, 0.5, "Hi")])]
    found = attribute(segments, NoDiarizer().diarize(Path("unused"), lambda f: None))
    assert [s.speaker for s in found.segments] == ["S1"] and found.speakers == ["S1"]
    doc = SegmentDoc(language="en", duration=1.0, segments=found.segments)
    assert doc.sha256 == SegmentDoc(language="en", duration=1.0, segments=segments).sha256


def test_cjk_words_are_joined_without_spaces_when_split():
    segments = [seg(0, [w(0.0, 0.4, "你好"), w(0.5, 0.9, "谢谢")], text="你好谢谢")]
    found = attribute(segments, Diarization([Turn(0, 0.45, "a"), Turn(0.45, 1.0, "b")]))
    assert [s.text for s in found.segments] == ["你好", "谢谢"]


def doc_with_speakers() -> SegmentDoc:
    speakers = ["S1", "S2", "S1", "S3", "S2"]
    segments = [
        Segment(id=i, start=i * 2.0, end=i * 2.0 + 1.5, text=f"line {i}", speaker=s)
        for i, s in enumerate(speakers)
    ]
    return SegmentDoc(language="en", duration=10.0, segments=segments)


def test_a_reviewer_renames_merges_and_moves_speakers():
    edits = SpeakerEdits(rename={"S1": "Ana"}, merge={"S3": "S1"}, move={4: "S1"})
    edited = with_edits(doc_with_speakers(), Stage.STT, {1: "edited"}, edits)
    assert [s.speaker for s in edited.segments] == ["Ana", "S2", "Ana", "Ana", "Ana"]
    assert edited.segments[1].text == "edited"
    assert edits.origin("Ana") == "S1" and edits.origin("S2") == "S2"


@pytest.mark.parametrize(
    ("edits", "problem"),
    [
        (SpeakerEdits(rename={"S9": "Ana"}), "no speaker ['S9']"),
        (SpeakerEdits(merge={"S2": "S9"}), "cannot merge into ['S9']"),
        (SpeakerEdits(merge={"S2": "S3", "S3": "S1"}), "cannot merge into ['S3']"),
        (SpeakerEdits(merge={"S2": "S2"}), "cannot merge into ['S2']"),
        (SpeakerEdits(rename={"S1": "S2"}), "a rename must give a new, unused name"),
        (SpeakerEdits(rename={"S1": "Ana", "S2": "Ana"}), "a rename must give a new"),
        (SpeakerEdits(move={42: "S1"}), "no segment with id [42]"),
        (SpeakerEdits(move={0: ""}), "speaker name ''"),
        (SpeakerEdits(rename={"S1": "x" * 41}), "1-40 letters"),
    ],
)
def test_bad_speaker_edits_are_refused_with_the_problem_named(edits: SpeakerEdits, problem: str):
    with pytest.raises(JobProcessingError) as raised:
        with_edits(doc_with_speakers(), Stage.STT, {}, edits)
    assert raised.value.error_type is JobErrorType.VALIDATION
    assert problem in raised.value.message


def test_speakers_are_not_edited_on_the_translation():
    with pytest.raises(JobProcessingError, match="reviewed on the transcript"):
        with_edits(doc_with_speakers(), Stage.MT, {}, SpeakerEdits(rename={"S1": "Ana"}))


def test_the_approval_hash_covers_speakers():
    doc = doc_with_speakers()
    relabelled = with_edits(doc, Stage.STT, {}, SpeakerEdits(move={0: "S2"}))
    assert relabelled.sha256 != doc.sha256


def test_voices_follow_pitch_distinct_and_stable():
    pitches = {"S1": 210.0, "S2": 98.0, "S3": 120.0}
    chosen = assign_voices(pitches, ESPEAK_VARIANTS)
    by_pitch = sorted(pitches, key=pitches.__getitem__)
    ladder = [v.name for v in ESPEAK_VARIANTS]
    ranks = [ladder.index(chosen[s].voice) for s in by_pitch]
    assert ranks == sorted(ranks) and len(set(ranks)) == 3  # lower source voice, lower dub voice
    assert chosen["S2"].voice.startswith("m") and chosen["S1"].voice.startswith("f")
    assert assign_voices(pitches, ESPEAK_VARIANTS) == chosen  # a re-run, the same voices
    renamed = assign_voices({"Ana": 210.0, "S2": 98.0, "S3": 120.0}, ESPEAK_VARIANTS)
    assert renamed["Ana"].voice == chosen["S1"].voice
    merged = assign_voices({"S1": 210.0, "S2": 98.0}, ESPEAK_VARIANTS)  # S3 merged into S2
    assert (merged["S1"].voice, merged["S2"].voice) == (chosen["S1"].voice, chosen["S2"].voice)


def test_pins_win_and_unknown_pins_are_refused():
    chosen = assign_voices({"S1": 100.0, "S2": 200.0}, ESPEAK_VARIANTS, {"S2": "m3"})
    assert chosen["S2"].voice == "m3" and chosen["S2"].pinned
    assert chosen["S1"].voice != "m3"
    with pytest.raises(JobProcessingError, match="no voice \\['m99'\\]"):
        assign_voices({"S1": 100.0}, ESPEAK_VARIANTS, {"S1": "m99"})


def test_palettes_without_pitches_are_taken_in_order_of_the_speakers_pitch():
    palette = [PaletteVoice("0"), PaletteVoice("1"), PaletteVoice("2")]
    chosen = assign_voices({"S1": 220.0, "S2": None, "S3": 90.0}, palette)
    assert {s: c.voice for s, c in chosen.items()} == {"S3": "0", "S1": "1", "S2": "2"}


def test_clustering_bounds_and_small_clusters():
    import numpy as np

    a, b = np.eye(4)[0], np.eye(4)[1]
    pieces = [Piece(i, i + 1.5, a if i % 2 else b) for i in range(6)]
    pieces.append(Piece(10, 10.3, a + 0.5 * np.eye(4)[2]))  # too short to found a speaker
    assert cluster(pieces, threshold=0.5) == [0, 1, 0, 1, 0, 1, 1]  # it joins the nearest
    assert set(cluster(pieces, threshold=0.5, max_speakers=1)) == {0}
    odd = [*pieces[:6], Piece(12, 13.5, np.eye(4)[3])]  # 1.5 s of a third voice
    assert len(set(cluster(odd, threshold=0.5))) == 2  # under min_speaker_s: joins the nearest
    assert len(set(cluster(odd, threshold=0.5, min_speakers=3))) == 3


def test_pyannote_annotations_become_our_turns_and_segments():
    annotation = Annotation(uri="call")
    annotation[PyannoteSegment(0.5, 3.0)] = "SPEAKER_01"
    annotation[PyannoteSegment(2.5, 2.9)] = "SPEAKER_00"  # a backchannel over SPEAKER_01
    annotation[PyannoteSegment(3.2, 6.0)] = "SPEAKER_00"
    turns = turns_from_annotation(annotation)
    assert turns == [
        Turn(0.5, 3.0, "SPEAKER_01"),
        Turn(2.5, 2.9, "SPEAKER_00"),
        Turn(3.2, 6.0, "SPEAKER_00"),
    ]

    class Output:  # pyannote.audio 4's DiarizeOutput carries the annotation
        speaker_diarization = annotation

    assert turns_from_annotation(Output()) == turns
    words = [w(0.6, 1.0, "So"), w(2.6, 2.8, "yes"), w(3.3, 3.8, "Right")]
    found = attribute([seg(0, words)], Diarization(turns))
    assert [(s.speaker, s.text) for s in found.segments] == [("S1", "So yes"), ("S2", "Right")]
    assert (found.overlaps, found.words_in_overlap) == (1, 1)


def test_pyannote_without_its_pipeline_or_its_extra_says_what_is_missing(tmp_path: Path):
    with pytest.raises(JobProcessingError) as raised:
        load_pipeline(str(tmp_path / "no-pipeline"))
    assert raised.value.error_type is JobErrorType.PERMANENT
    assert "has no config.yaml" in raised.value.message
    (tmp_path / "config.yaml").write_text("pipeline: {name: x}\n")
    with pytest.raises(JobProcessingError, match="pip install 'dubbing\\[pyannote\\]'"):
        load_pipeline(str(tmp_path))  # pyannote.audio cannot be installed beside torch 2.13


def test_the_diarizer_is_chosen_by_environment(monkeypatch: pytest.MonkeyPatch):
    assert diarizer_engine(settings()).name == "resemblyzer"
    monkeypatch.setenv("DUBBING_DIARIZATION_THRESHOLD", "0.5")
    assert diarizer_engine(settings()).threshold == 0.5
    monkeypatch.setenv("DUBBING_DIARIZATION", "none")
    assert diarizer_engine(settings()).name == "none"
    monkeypatch.setenv("DUBBING_DIARIZATION", "pyannote")
    with pytest.raises(MissingExtraError, match="dubbing\\[pyannote\\]"):
        diarizer_engine(settings())
    monkeypatch.setenv("DUBBING_DIARIZATION", "who-knows")
    with pytest.raises(ValidationError, match="resemblyzer"):
        settings()
