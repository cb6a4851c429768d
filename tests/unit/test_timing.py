"""Placing dubbed clips on the source timeline: the plan's arithmetic and the rendered track."""

from __future__ import annotations

import math
import random
import wave
from pathlib import Path

import numpy as np
import pytest

from dubbing_pipeline.domain.timing import Placement, TrackPlan, plan_track
from dubbing_pipeline.infra import media
from dubbing_pipeline.infra.track import render_track

RATE = media.DUB_SAMPLE_RATE
TOLERANCE = round(0.020 * RATE)  # 20 ms
SILENT = 1000  # 16-bit amplitude below which a sample counts as silence (tones peak near 16000)


def write_tone(
    path: Path, seconds: float, *, rate: int = RATE, freq: float = 440.0, tail: float = 0.0
) -> Path:
    """A mono 16-bit sine tone of ``seconds``, the last ``tail`` seconds of it silent."""
    n = round(seconds * rate)
    t = np.arange(n) / rate
    signal = 0.5 * np.sin(2 * np.pi * freq * t)
    signal[n - round(tail * rate) :] = 0.0
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((signal * 32767).astype("<i2").tobytes())
    return path


def read_wav(path: Path) -> tuple[np.ndarray, int, int]:
    """(samples as int16, sample rate, channels)."""
    with wave.open(str(path)) as w:
        frames = w.readframes(w.getnframes())
        return np.frombuffer(frames, dtype="<i2"), w.getframerate(), w.getnchannels()


def onset(samples: np.ndarray, near: int) -> int:
    """The first non-silent sample from 20 ms before ``near`` on."""
    lo = max(0, near - TOLERANCE)
    loud = np.flatnonzero(np.abs(samples[lo:].astype(np.int32)) > SILENT)
    assert loud.size, f"no audio at or after sample {near}"
    return lo + int(loud[0])


def assert_tiles(plan: TrackPlan) -> None:
    """Every clip keeps to its slot: it ends at or before the next one starts."""
    ends = [p.start_sample + min(p.fitted_samples, p.slot_samples) for p in plan.placements]
    nexts = [p.start_sample for p in plan.placements[1:]] + [plan.total_samples]
    for placement, end, next_start in zip(plan.placements, ends, nexts, strict=True):
        assert end <= next_start, placement
    assert plan.lead_samples + sum(p.slot_samples for p in plan.placements) == plan.total_samples


# -- planning ---------------------------------------------------------------------------------


def test_each_clip_starts_at_its_source_start_to_the_sample() -> None:
    starts = [(7, 0.0), (8, 1.2345), (9, 2.5), (10, 61.0001)]
    plan = plan_track(starts, [0.5, 0.5, 0.5, 0.5], 65.0)
    assert [p.segment_id for p in plan.placements] == [7, 8, 9, 10]
    assert [p.start_sample for p in plan.placements] == [0, 59256, 120000, 2928005]
    for (_, start), p in zip(starts, plan.placements, strict=True):
        assert abs(p.start_sample / RATE - start) <= 0.5 / RATE


def test_slots_run_to_the_next_start_and_the_last_to_the_end() -> None:
    plan = plan_track([(1, 0.5), (2, 1.0), (3, 2.75)], [0.1, 0.1, 0.1], 4.0)
    assert plan.lead_samples == 24000
    assert [p.slot_samples for p in plan.placements] == [24000, 84000, 60000]
    assert_tiles(plan)


def test_no_two_fitted_clips_overlap_on_a_busy_timeline() -> None:
    rng = random.Random(1234)
    starts, clips, t = [], [], 0.3
    for i in range(200):
        starts.append((i, round(t, 3)))
        clips.append(rng.uniform(0.05, 3.0))  # from far too short to far too long
        t += rng.uniform(0.0, 2.0)  # including two segments at nearly one instant
    plan = plan_track(starts, clips, t + 1.0)
    assert_tiles(plan)
    assert all(1.0 <= p.tempo <= 1.25 for p in plan.placements)
    assert plan.overflowing  # some of these cannot fit: they must be reported, not hidden


def test_a_clip_that_fits_is_not_sped_up() -> None:
    plan = plan_track([(1, 0.0), (2, 2.0)], [1.5, 2.0], 4.0)
    assert [p.tempo for p in plan.placements] == [1.0, 1.0]
    assert [p.fitted_samples for p in plan.placements] == [72000, 96000]
    assert plan.overflowing == []
    assert plan.summary() == {
        "max_speedup_applied": 1.0,
        "speedup_cap": 1.25,
        "segments_sped_up": 0,
        "segments_over_cap": 0,
        "overflow_seconds": 0.0,
    }


def test_a_clip_needing_ten_percent_more_speed_gets_exactly_that() -> None:
    plan = plan_track([(1, 0.0), (2, 1.0)], [1.1, 0.5], 2.0)
    first, second = plan.placements
    assert first.tempo == pytest.approx(1.1, abs=1e-9)
    assert first.fitted_samples == first.slot_samples == RATE
    assert first.overflow_samples == 0
    assert second.tempo == 1.0
    summary = plan.summary()
    assert summary["max_speedup_applied"] == 1.1
    assert summary["segments_sped_up"] == 1
    assert summary["segments_over_cap"] == 0
    assert summary["overflow_seconds"] == 0.0


def test_a_too_long_clip_is_capped_at_the_default_speedup_and_reported() -> None:
    # 1.5 s of speech for a 1 s slot: 1.5x would be needed, 1.25x is allowed; 0.2 s is cut.
    plan = plan_track([(1, 0.0), (2, 1.0)], [1.5, 0.5], 2.0)
    first = plan.placements[0]
    assert first.tempo == 1.25
    assert first.fitted_samples == round(1.2 * RATE)
    assert first.overflow_samples == round(0.2 * RATE)
    assert plan.overflowing == [first]
    summary = plan.summary()
    assert summary["speedup_cap"] == 1.25
    assert summary["max_speedup_applied"] == 1.25
    assert summary["segments_over_cap"] == 1
    assert summary["overflow_seconds"] == 0.2


def test_a_custom_cap_is_honoured_and_reported() -> None:
    # Needs 2x in a 1 s slot; the cap is 1.5x, so 2/1.5 - 1 = 0.333 s does not fit.
    plan = plan_track([(1, 0.0), (2, 1.0)], [2.0, 1.4], 2.0, max_speedup=1.5)
    over, within = plan.placements
    assert over.tempo == 1.5
    assert over.overflow_samples == math.ceil(2.0 * RATE / 1.5) - RATE
    assert within.tempo == pytest.approx(1.4)  # above the default cap, within this one
    assert within.overflow_samples == 0
    summary = plan.summary()
    assert summary["speedup_cap"] == 1.5
    assert summary["max_speedup_applied"] == 1.5
    assert summary["segments_sped_up"] == 2
    assert summary["segments_over_cap"] == 1
    assert summary["overflow_seconds"] == pytest.approx(1 / 3, abs=1e-3)


def test_a_cap_of_one_never_speeds_up_and_reports_what_does_not_fit() -> None:
    plan = plan_track([(1, 0.0)], [1.5], 1.0, max_speedup=1.0)
    (only,) = plan.placements
    assert only.tempo == 1.0
    assert plan.summary()["overflow_seconds"] == 0.5


def test_two_segments_at_one_instant_report_the_first_as_overflow() -> None:
    plan = plan_track([(1, 1.0), (2, 1.0)], [0.4, 0.4], 2.0)
    first, second = plan.placements
    assert first.slot_samples == 0
    assert first.overflow_samples == first.fitted_samples > 0
    assert second.overflow_samples == 0
    assert plan.summary()["segments_over_cap"] == 1
    assert_tiles(plan)


@pytest.mark.parametrize("duration", [0.0, 1.0, 2.345678, 7.00001, 3600.5])
def test_the_track_has_exactly_the_source_length(duration: float) -> None:
    plan = plan_track([(1, 0.0)], [0.2], duration)
    assert plan.total_samples == round(duration * RATE)
    assert plan.lead_samples + sum(p.slot_samples for p in plan.placements) == plan.total_samples


def test_the_track_length_follows_the_sample_rate() -> None:
    plan = plan_track([(1, 0.5)], [0.2], 2.5, sample_rate=22050)
    assert plan.total_samples == 55125
    assert plan.placements[0].start_sample == 11025


def test_a_segment_past_the_end_gets_no_slot_and_is_reported() -> None:
    plan = plan_track([(1, 0.0), (2, 5.0)], [0.5, 0.5], 3.0)
    late = plan.placements[1]
    assert late.start_sample == plan.total_samples
    assert late.slot_samples == 0
    assert plan.overflowing == [late]


def test_unsorted_starts_are_refused() -> None:
    with pytest.raises(ValueError, match="time order"):
        plan_track([(1, 2.0), (2, 1.0)], [0.5, 0.5], 3.0)


@pytest.mark.parametrize("cap", [0.99, 0.5, 0.0])
def test_a_cap_below_one_is_refused(cap: float) -> None:
    with pytest.raises(ValueError, match="max_speedup"):
        plan_track([(1, 0.0)], [0.5], 1.0, max_speedup=cap)


def test_a_clip_count_that_does_not_match_the_segments_is_refused() -> None:
    with pytest.raises(ValueError):
        plan_track([(1, 0.0), (2, 1.0)], [0.5], 2.0)


def test_placement_fitted_and_overflow_samples() -> None:
    p = Placement(segment_id=1, start_sample=0, slot_samples=100, clip_samples=150, tempo=1.2)
    assert p.fitted_samples == 125
    assert p.overflow_samples == 25
    short = Placement(segment_id=2, start_sample=0, slot_samples=100, clip_samples=40, tempo=1.0)
    assert short.overflow_samples == 0


def test_an_empty_plan_is_all_lead() -> None:
    plan = plan_track([], [], 1.5)
    assert plan.placements == []
    assert plan.lead_samples == plan.total_samples == 72000
    assert plan.summary()["segments_over_cap"] == 0
    assert plan.max_tempo == 1.0


# -- rendering --------------------------------------------------------------------------------


def test_rendered_track_is_exact_and_every_clip_starts_on_time(tmp_path: Path) -> None:
    starts = [(1, 0.25), (2, 1.0), (3, 2.0), (4, 3.1)]
    clips = [
        write_tone(tmp_path / "fits.wav", 0.5),
        # 1.1 s for a 1 s slot: sped up 1.1x; its last 0.2 s are silent so the next onset shows
        write_tone(tmp_path / "faster.wav", 1.1, tail=0.2, freq=330.0),
        # another sample rate, as TTS engines produce: resampled to 48 kHz
        write_tone(tmp_path / "resampled.wav", 0.6, rate=22050, freq=550.0),
        # 1.5 s for a 0.9 s slot: over the cap, cut at the end of the track
        write_tone(tmp_path / "over.wav", 1.5, freq=660.0),
    ]
    duration = 4.0
    plan = plan_track(starts, [0.5, 1.1, 0.6, 1.5], duration)
    assert plan.placements[1].tempo == pytest.approx(1.1)
    assert plan.summary()["segments_over_cap"] == 1

    progress: list[float] = []
    heard: dict[int, bytes] = {}
    out = tmp_path / "track.wav"
    render_track(
        plan, clips, out, progress.append, lambda p, pcm: heard.update({p.segment_id: pcm})
    )

    samples, rate, channels = read_wav(out)
    for p in plan.placements:  # the listener gets each clip as it plays in the track, to the sample
        assert (
            heard[p.segment_id]
            == samples[p.start_sample : p.start_sample + p.placed_samples].tobytes()
        )
    assert len(heard[4]) < plan.placements[3].fitted_samples * 2  # cut where the track cuts it
    assert (rate, channels) == (RATE, 1)
    assert samples.size == round(duration * RATE)
    assert np.all(np.abs(samples[: plan.lead_samples - TOLERANCE]) <= SILENT)  # silent lead
    for p in plan.placements:
        assert abs(onset(samples, p.start_sample) - p.start_sample) <= TOLERANCE, p
    assert progress == sorted(progress) and progress[-1] == 1.0


@pytest.mark.parametrize("duration", [1.0, 1.234567])
def test_rendered_length_is_exact_when_the_last_clip_overflows(
    tmp_path: Path, duration: float
) -> None:
    clip = write_tone(tmp_path / "long.wav", 2.0)
    plan = plan_track([(1, 0.0)], [2.0], duration)
    assert plan.lead_samples == 0
    out = tmp_path / "track.wav"
    render_track(plan, [clip], out)
    samples, _, _ = read_wav(out)
    assert samples.size == round(duration * RATE)
    assert abs(onset(samples, 0)) <= TOLERANCE


def test_an_overflowing_clip_fades_out_before_the_next_one_starts(tmp_path: Path) -> None:
    clips = [write_tone(tmp_path / "over.wav", 1.5), write_tone(tmp_path / "next.wav", 0.3)]
    plan = plan_track([(1, 0.0), (2, 1.0)], [1.5, 0.3], 1.5)
    assert plan.placements[0].overflow_samples > 0
    out = tmp_path / "track.wav"
    render_track(plan, clips, out)
    samples, _, _ = read_wav(out)
    boundary = plan.placements[1].start_sample
    peak = int(np.abs(samples[: boundary // 2].astype(np.int32)).max())
    assert peak > 10 * SILENT
    before = np.abs(samples[boundary - round(0.003 * RATE) : boundary].astype(np.int32))
    assert before.max() < 0.2 * peak  # faded, not a click into the next clip
    after = np.abs(samples[boundary : boundary + TOLERANCE].astype(np.int32))
    assert after.max() > 10 * SILENT  # the next clip starts on time
    assert samples.size == round(1.5 * RATE)


def test_an_empty_plan_renders_silence_of_the_source_length(tmp_path: Path) -> None:
    out = tmp_path / "track.wav"
    render_track(plan_track([], [], 0.75), [], out)
    samples, rate, _ = read_wav(out)
    assert rate == RATE
    assert samples.size == 36000
    assert not samples.any()


def test_a_clip_that_fits_under_the_cap_is_never_reported_as_overflow() -> None:
    for slot_ms in range(300, 2000, 7):
        for ratio in (1.05, 1.1, 1.15, 1.2, 1.25):
            plan = plan_track([(1, 0.0), (2, slot_ms / 1000)], [slot_ms / 1000 * ratio, 0.1], 3.0)
            assert plan.placements[0].overflow_samples == 0, (slot_ms, ratio)
            assert plan.summary()["segments_over_cap"] == 0


# -- long audio in windows (what STT reads instead of the whole decoded track) ---------------


def test_speech_windows_cut_in_a_pause_and_tile_the_audio(tmp_path: Path) -> None:
    rate = 16_000
    tone = write_tone(tmp_path / "tone.wav", 1.5, rate=rate)
    with wave.open(str(tone)) as w:
        speech = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    pause = np.zeros(round(0.5 * rate), dtype="<i2")
    signal = np.concatenate([speech, pause, speech, pause, speech])  # pauses at 1.5 s and 3.5 s
    path = tmp_path / "talk.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(signal.tobytes())

    windows = list(media.speech_windows(path, rate=rate, window_s=2.5, search_s=1.5))
    offsets = [offset for offset, _ in windows]
    assert len(windows) == 3
    assert offsets == [0, *np.cumsum([a.size for _, a in windows])[:-1]]  # contiguous
    assert all(a.size <= 2.5 * rate for _, a in windows)
    for cut in offsets[1:]:
        assert np.all(signal[cut - 80 : cut + 80] == 0), cut / rate  # inside a pause
    joined = np.concatenate([a for _, a in windows])
    assert joined.dtype == np.float32
    np.testing.assert_array_equal(joined, signal.astype(np.float32) / 32768.0)
