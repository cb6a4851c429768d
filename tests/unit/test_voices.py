"""Speaker reference clips: which source segments are chosen, and the cut on real media."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from dubbing_pipeline.domain import voices
from dubbing_pipeline.domain.segments import Segment
from dubbing_pipeline.domain.voices import ReferenceRules, Span
from dubbing_pipeline.engines.base import no_progress
from dubbing_pipeline.engines.stt import FasterWhisperSTT
from dubbing_pipeline.infra import voice_clips


def seg(i: int, start: float, end: float, confidence: float | None = 0.9, speaker: str = "S1"):
    return Segment(
        id=i, start=start, end=end, text=f"words {i}", confidence=confidence, speaker=speaker
    )


def test_the_most_confident_segments_of_the_speaker_are_chosen_in_time_order() -> None:
    segments = [
        seg(0, 0.0, 3.0, 0.50),
        seg(1, 3.0, 6.0, 0.95),
        seg(2, 6.0, 9.0, 0.99, speaker="S2"),
        seg(3, 10.0, 13.0, 0.90),
        seg(4, 14.0, 17.0, 0.80),
        seg(5, 18.0, 21.0, 0.70),
    ]
    spans = voices.select_spans(segments, "S1", ReferenceRules(target_s=8.0, max_s=12.0))
    assert spans == [Span(3.0, 6.0), Span(10.0, 13.0), Span(14.0, 17.0)]  # 9 s, best first


def test_short_and_overlapping_segments_are_left_out_while_others_exist() -> None:
    segments = [
        seg(0, 0.0, 0.6, 0.99),  # a filler
        seg(1, 1.0, 4.0, 0.99),
        seg(2, 3.5, 5.0, 0.90, speaker="S2"),  # talks over segment 1
        seg(3, 6.0, 8.0, 0.50),
    ]
    assert voices.select_spans(segments, "S1") == [Span(6.0, 8.0)]
    only_short = [seg(0, 0.0, 0.6), seg(1, 1.0, 1.5, 0.2)]
    assert voices.select_spans(only_short, "S1") == [Span(0.0, 0.6), Span(1.0, 1.5)]


def test_the_reference_stays_under_the_cap() -> None:
    rules = ReferenceRules(target_s=8.0, max_s=12.0)
    assert voices.select_spans([seg(0, 2.0, 40.0)], "S1", rules) == [Span(2.0, 14.0)]
    segments = [seg(0, 0.0, 7.0, 0.99), seg(1, 8.0, 14.0, 0.95), seg(2, 15.0, 18.0, 0.5)]
    # 7 s + 6 s would pass 12 s, so the next one that fits completes it
    assert voices.select_spans(segments, "S1", rules) == [Span(0.0, 7.0), Span(15.0, 18.0)]


def test_a_speaker_who_never_speaks_gets_no_spans() -> None:
    assert voices.select_spans([seg(0, 0.0, 5.0), seg(1, 6.0, 7.0, speaker="S2")], "S3") == []


def test_the_reference_name_changes_with_what_would_be_cut() -> None:
    spans = [Span(1.0, 4.0)]
    name = voices.reference_name("Speaker 1/a", spans, 22_050, "s3://b/v.mp4")
    assert name.startswith("Speaker_1_a-") and name.endswith(".wav")
    assert name == voices.reference_name("Speaker 1/a", spans, 22_050, "s3://b/v.mp4")
    assert name != voices.reference_name("Speaker 1/a", [Span(1.0, 4.5)], 22_050, "s3://b/v.mp4")
    assert name != voices.reference_name("Speaker 1/a", spans, 16_000, "s3://b/v.mp4")


def test_a_reference_cut_from_real_media_holds_the_chosen_speech(
    tmp_path: Path, sample_video: Path
) -> None:
    stt = FasterWhisperSTT(model="tiny.en")
    segments = stt.transcribe(sample_video, "en", no_progress).segments
    spans = voices.select_spans(segments, "S1")
    chosen = [s for s in segments if any(span.start == s.start for span in spans)]
    assert 6.0 <= sum(span.seconds for span in spans) <= 12.0

    first, second = tmp_path / "a.wav", tmp_path / "b.wav"
    for out in (first, second):
        voice_clips.cut_reference(sample_video, spans, out, 22_050)
    reference = voice_clips.load_reference("S1", first)
    assert (
        reference.sha256 == voice_clips.load_reference("S1", second).sha256
    )  # same cut, same bytes
    assert reference.seconds == pytest.approx(sum(s.seconds for s in spans), abs=0.05)
    with wave.open(str(first)) as wav:
        assert (wav.getnchannels(), wav.getframerate(), wav.getsampwidth()) == (1, 22_050, 2)

    heard = " ".join(s.text for s in stt.transcribe(first, "en", no_progress).segments).lower()
    expected = {w.strip(".,").lower() for s in chosen for w in s.text.split() if len(w) > 4}
    found = {w for w in expected if w in heard}
    assert len(found) >= 0.7 * len(expected), (expected, heard)
