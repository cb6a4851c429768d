"""The speech checks' back-transcription on real recorded speech: the clips of a rendered dub
track, heard by Whisper base on a worker thread while the track renders, in several chunks;
each segment gets its own clip's words, a repeated clip is heard once, a clip heard in an
earlier run is not heard again."""

from __future__ import annotations

from pathlib import Path

import ffmpeg
import pytest

from dubbing_pipeline.domain.checks import word_error_rate
from dubbing_pipeline.domain.timing import Placement, plan_track
from dubbing_pipeline.engines.stt import FasterWhisperSTT
from dubbing_pipeline.infra import hearing as hearing_module
from dubbing_pipeline.infra import media
from dubbing_pipeline.infra.hearing import hearing
from dubbing_pipeline.infra.track import render_track
from tests.support.real_speech import conversation

LINES = 6  # the conversation's first long utterances (from "I didn't know you were there.")


def test_each_segment_hears_its_own_clip_once_chunk_by_chunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    said = [u for u in conversation().utterances if u.end - u.start > 0.8][:LINES]
    clips = []
    for i, utterance in enumerate(said):
        clip = tmp_path / f"{i}.wav"
        audio = ffmpeg.input(str(conversation().wav)).audio
        audio = audio.filter("atrim", start=utterance.start, end=utterance.end)
        media.run(ffmpeg.output(audio, str(clip), ac=1, ar=22050))
        clips.append(clip)
    # segment 6 says segment 0's line again: the same clip, the same sound in the track
    clips.append(clips[0])
    seconds = [frames / rate for frames, rate in map(media.wav_samples, clips)]
    starts, at = [], 0.5
    for i, length in enumerate(seconds):
        starts.append((i, at))
        at += length + 0.7
    plan = plan_track(starts, seconds, at)
    assert not plan.overflowing and plan.max_tempo == 1.0

    stt = FasterWhisperSTT(model="base")
    monkeypatch.setattr(hearing_module, "CHUNK_S", 8.0)  # several chunks from seven clips
    heard_files: list[Path] = []

    def recognise(wav: Path) -> list[tuple[float, float, str]]:
        heard_files.append(wav)
        return stt.hear(wav, "en")

    track = tmp_path / "track.wav"
    with hearing(recognise, plan.sample_rate, {}) as listener:
        render_track(plan, clips, track, listener=listener.add)
        heard = listener.finish()

    assert heard.pieces == LINES  # the repeated clip was heard once
    assert len(heard_files) >= 3
    for i in range(LINES):  # each segment heard its own line, none of its neighbours' words
        rates = [word_error_rate(u.text, heard.texts[i]) for u in said]
        assert min(rates) == rates[i] <= 0.7, (i, heard.texts[i], rates)
    mean = sum(word_error_rate(u.text, heard.texts[i]) for i, u in enumerate(said)) / LINES
    assert mean <= 0.3, heard.texts
    assert heard.texts[LINES] == heard.texts[0]
    assert heard.audio_s == pytest.approx(sum(seconds[:LINES]), abs=0.5)

    # a later run (one edited segment) hears only what it has not heard before
    known = dict(heard.by_sound)
    (sound, _), *_ = known.items()
    known[sound] = "heard in an earlier run"
    heard_files.clear()
    with hearing(recognise, plan.sample_rate, known) as listener:
        render_track(plan, clips, tmp_path / "again.wav", listener=listener.add)
        again = listener.finish()
    assert again.pieces == 0 and not heard_files
    assert "heard in an earlier run" in again.texts.values()


def test_a_failing_recogniser_fails_the_stage_with_its_own_error() -> None:
    def broken(_: Path) -> list[tuple[float, float, str]]:
        raise RuntimeError("the recogniser ran out of memory")

    with hearing(broken, 16_000, {}) as listener:
        listener.add(Placement(1, 0, 16_000, 16_000, 1.0), b"\x10\x27" * 16_000)
        with pytest.raises(RuntimeError, match="out of memory"):
            listener.finish()
