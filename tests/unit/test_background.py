"""What plays under the dub, piece by piece: the rules, the ffmpeg automation measured on decoded
audio, stem checks, loudness, and Demucs on tiny random models built here (no weights ship)."""

from __future__ import annotations

import shutil
from pathlib import Path

import ffmpeg
import numpy as np
import pytest
from pydantic import ValidationError

from dubbing_pipeline.defs.resources import background_engines
from dubbing_pipeline.domain.background import Span, choose_method, ducked_spans, gain_db_at
from dubbing_pipeline.domain.errors import JobErrorType, JobProcessingError
from dubbing_pipeline.domain.fits import track_fits
from dubbing_pipeline.domain.projects import Project
from dubbing_pipeline.domain.timing import plan_track
from dubbing_pipeline.engines.background import BackgroundMixer
from dubbing_pipeline.engines.separation import DemucsSeparator, crossfaded
from dubbing_pipeline.infra import media, mix
from dubbing_pipeline.infra.settings import settings
from dubbing_pipeline.infra.track import render_track
from tests.support.mixes import HOP, RATE, decoded, tone

DUCK_DB, RAMP_S = 18.0, 0.25


def test_short_pauses_stay_ducked_and_the_timeline_clamps() -> None:
    speech = [Span(-0.1, 1.0), Span(1.5, 2.0), Span(4.0, 5.0), Span(9.5, 11.0)]
    spans = ducked_spans(speech, duration=10.0, min_gap_s=1.0, ramp_s=0.25)
    assert spans == [Span(0.0, 2.0), Span(4.0, 5.0), Span(9.5, 10.0)]
    assert gain_db_at(3.0, spans, duck_db=18, ramp_s=0.25) == 0.0
    assert gain_db_at(4.5, spans, duck_db=18, ramp_s=0.25) == -18.0
    assert gain_db_at(3.875, spans, duck_db=18, ramp_s=0.25) == pytest.approx(-9.0)


def test_the_run_then_the_project_then_the_deployment_choose() -> None:
    assert choose_method("duck", None) == "duck"
    assert choose_method("duck", "none") == "none"
    assert choose_method("duck", "none", "stem") == "stem"
    with pytest.raises(ValueError, match="choose one of stem, demucs, duck, none"):
        choose_method("duck", "karaoke")


def test_a_project_names_its_stem_with_the_stem_method() -> None:
    project = Project(video_uri="v.mp4", target_language="es", background_uri="m.wav")
    assert project.background == "stem"
    with pytest.raises(ValidationError, match="needs the stem"):
        Project(video_uri="v.mp4", target_language="es", background="stem")
    with pytest.raises(ValidationError, match="only used with background 'stem'"):
        Project(video_uri="v.mp4", target_language="es", background="duck", background_uri="m")


def _dub(path: Path, lines: list[tuple[float, float]], seconds: float) -> Path:
    """A mono 48 kHz 'dub': a 500 Hz tone during each line, digital silence elsewhere."""
    signal = np.zeros(round(seconds * RATE))
    t = np.arange(len(signal)) / RATE
    for start, end in lines:
        inside = (t >= start) & (t < end)
        signal[inside] = 0.2 * np.sin(2 * np.pi * 500 * t[inside])
    return _wav(path, signal)


def _wav(path: Path, signal: np.ndarray) -> Path:
    """A mono 48 kHz WAV of ``signal``."""
    raw = path.with_suffix(".f32")
    raw.write_bytes(signal.astype("<f4").tobytes())
    media.run(
        ffmpeg.input(str(raw), f="f32le", ar=RATE, ac=1).output(str(path), acodec="pcm_s16le")
    )
    return path


def _frame_db(signal: np.ndarray, t: float) -> float:
    """Level (dB RMS) of the 10 ms frame that starts at ``t``."""
    a = round(t * RATE)
    return 20 * np.log10(np.sqrt(np.mean(np.square(signal[a : a + HOP]))) + 1e-12)


def test_the_bed_follows_the_ducking_envelope(tmp_path: Path) -> None:
    """Measured on decoded audio: a dub of two lines, a bed that is a steady tone (a silent dub
    file alongside isolates the bed), the bed's level every 10 ms against the envelope."""
    lines = [(1.0, 2.0), (4.0, 5.5)]
    dub = _dub(tmp_path / "dub.wav", lines, 8.0)
    regions = mix.speech_regions(dub)
    assert [(round(r.start, 2), round(r.end, 2)) for r in regions] == lines
    spans = ducked_spans(regions, duration=8.0, min_gap_s=1.0, ramp_s=RAMP_S)
    bed = tone(tmp_path / "bed.wav", 8.0, frequency=100.0)
    silent = _dub(tmp_path / "silent.wav", [], 8.0)
    out = tmp_path / "mix.wav"
    ducking = mix.Ducking(spans, DUCK_DB, RAMP_S)
    mix.mix(silent, mix.Bed(bed, ducked=True), out, ducking=ducking, script=tmp_path / "s.cmd")
    bed_alone = decoded(out)
    reference = _frame_db(decoded(bed), 0.5)
    for t in np.arange(0.0, 7.9, 0.05):
        expected = gain_db_at(t + 0.005, spans, duck_db=DUCK_DB, ramp_s=RAMP_S)
        assert _frame_db(bed_alone, t) - reference == pytest.approx(expected, abs=0.8), t


def test_the_recorded_clip_placements_are_where_the_dub_speaks(tmp_path: Path) -> None:
    """MUXING ducks under the placements TTS records (timing.json) instead of searching the
    track for its pauses: they are where the rendered track sounds, a sped-up clip included."""
    clips = [tone(tmp_path / f"clip{i}.wav", s, channels=1) for i, s in enumerate((1.0, 2.5))]
    plan = plan_track([(0, 0.5), (1, 3.0)], [1.0, 2.5], 5.0, max_speedup=1.25)
    track = tmp_path / "track.wav"
    render_track(plan, clips, track)
    fits = track_fits(plan).segments
    assert fits[1].tempo == 1.25  # 2.5 s into the 2 s left
    placed = [(f.start_s, (f.start_s or 0) + (f.placed_s or 0)) for f in fits]
    sounding = [(r.start, r.end) for r in mix.speech_regions(track)]
    assert len(placed) == len(sounding)
    for (start, end), (heard_start, heard_end) in zip(placed, sounding, strict=True):
        assert (start, end) == (
            pytest.approx(heard_start, abs=0.02),
            pytest.approx(heard_end, abs=0.02),
        )


def test_centre_cancel_takes_the_voice_out_under_the_dub(tmp_path: Path) -> None:
    """A stereo bed: a centred 'voice' tone (L = R) and a side 'music' tone (L = -R). Under the
    dub the voice goes far below the duck; the music is lowered by the duck only."""
    dub = _dub(tmp_path / "dub.wav", [(1.0, 3.0)], 4.0)
    centre = "0.1*sin(2*PI*300*t)"
    side = "0.1*sin(2*PI*700*t)"
    source = f"aevalsrc={centre}+{side}|{centre}-{side}:s={RATE}:d=4"
    bed = tmp_path / "bed.wav"
    media.run(ffmpeg.input(source, f="lavfi").output(str(bed), acodec="pcm_f32le"))
    silent = _dub(tmp_path / "silent.wav", [], 4.0)
    spans = ducked_spans(mix.speech_regions(dub), duration=4.0, min_gap_s=1.0, ramp_s=RAMP_S)
    out = tmp_path / "mix.wav"
    ducking = mix.Ducking(spans, DUCK_DB, RAMP_S, centre_cancel=True)
    mix.mix(silent, mix.Bed(bed, ducked=True), out, ducking=ducking, script=tmp_path / "s.cmd")
    left = decoded(out)  # (L + R) / 2: the centre tone alone
    assert _frame_db(left, 0.3) == pytest.approx(_frame_db(decoded(bed), 0.3), abs=0.5)
    assert _frame_db(left, 2.0) - _frame_db(left, 0.3) < -40
    side_only = np.frombuffer(
        ffmpeg.input(str(out))
        .output("-", f="f32le", af="pan=mono|c0=0.5*c0-0.5*c1")
        .run(capture_stdout=True, quiet=True)[0],
        dtype="<f4",
    )
    assert _frame_db(side_only, 2.0) - _frame_db(side_only, 0.3) == pytest.approx(-18, abs=0.8)


def test_a_stem_must_decode_and_match_the_video(tmp_path: Path) -> None:
    good = tone(tmp_path / "stem.wav", 10.0)
    assert mix.validate_stem(good, 10.02, 0.1) == pytest.approx(10.0, abs=0.01)
    with pytest.raises(JobProcessingError, match=r"is 10.00 s long but the video is 12.00 s"):
        mix.validate_stem(good, 12.0, 0.1)
    truncated = tmp_path / "truncated.m4a"
    media.run(ffmpeg.input(str(good)).output(str(truncated), acodec="aac", f="adts"))
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2] + bytes(999))
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF" + bytes(range(256)) * 40)
    silent_video = tmp_path / "picture.mp4"
    media.run(ffmpeg.input("testsrc2=size=64x64:rate=5", f="lavfi", t=1).output(str(silent_video)))
    for bad, needle in (
        (garbage, "not a media file"),
        (silent_video, "no audio track"),
        (tmp_path / "absent.wav", "does not exist"),
    ):
        with pytest.raises(JobProcessingError, match=needle) as raised:
            mix.validate_stem(bad, 10.0, 0.1)
        assert raised.value.error_type is JobErrorType.VALIDATION
        assert raised.value.message.startswith("background stem")
    with pytest.raises(JobProcessingError, match="background stem") as raised:
        mix.validate_stem(truncated, 10.0, 0.1)
    assert raised.value.error_type is JobErrorType.VALIDATION


def test_loudness_reaches_its_target_through_the_limiter(tmp_path: Path) -> None:
    """A peaky signal (clicks over a quiet tone) needs the limiter at -16 LUFS: the delivered
    loudness, measured through gain and limiter, is within 0.3 LU of the target after one
    measurement through the limiter."""
    signal = 0.02 * np.sin(2 * np.pi * 200 * np.arange(10 * RATE) / RATE)
    signal[:: RATE // 5] = 0.9
    dub = _wav(tmp_path / "dub.wav", signal)
    mixed = BackgroundMixer(loudness_lufs=-16.0).mix(dub, None, tmp_path)
    assert mixed.limit_db == -1.0 and mixed.figures["peak_limited"]
    delivered = mix.measure(dub, gain_db=mixed.gain_db, limit_db=mixed.limit_db)
    assert delivered.integrated_lufs == pytest.approx(-16.0, abs=0.3)
    assert delivered.peak_dbfs <= -0.9
    assert mixed.figures["loudness_gain_db"] == mixed.gain_db
    off = BackgroundMixer(loudness_lufs=None).mix(dub, None, tmp_path)
    assert (off.gain_db, off.limit_db, off.figures) == (0.0, None, {})


def test_a_sampled_measurement_reads_a_quarter_spread_over_the_track(tmp_path: Path) -> None:
    """A mix over two minutes is measured through the limiter on 10 s of every 40 s: a steady
    track reads the same sampled and whole; one loud only outside those windows reads quiet."""
    t = np.arange(160 * RATE) / RATE
    tone_wave = np.sin(2 * np.pi * 200 * t)
    steady = _wav(tmp_path / "steady.wav", 0.1 * tone_wave)
    whole = mix.measure(steady, limit_db=-1.0).integrated_lufs
    assert mix.measure(steady, limit_db=-1.0, sampled=True).integrated_lufs == pytest.approx(
        whole, abs=0.2
    )
    outside = _wav(tmp_path / "outside.wav", np.where(t % 40 >= 10, 0.3, 0.003) * tone_wave)
    assert mix.measure(outside, sampled=True).integrated_lufs < (
        mix.measure(outside).integrated_lufs - 10
    )


@pytest.mark.parametrize("frames", [1, 999, 1000, 1500, 4321])
def test_windows_cross_fade_back_to_the_input(frames: int) -> None:
    signal = np.random.default_rng(frames).normal(size=(frames, 2)).astype(np.float32)
    blocks = np.array_split(signal, 7)
    out = list(crossfaded(iter(blocks), lambda w: w.copy(), window=300, overlap=100))
    joined = np.concatenate([block for _, block in out])
    assert joined.shape == signal.shape and out[-1][0] == frames
    np.testing.assert_allclose(joined, signal, atol=1e-6)


def test_demucs_runs_real_models_from_a_folder_or_the_cache(
    demucs_weights: Path, tmp_path: Path
) -> None:
    """Tiny random HTDemucs models (no weights ship anywhere), loaded by Demucs's own loaders:
    the separated background has the source's length, and one window equals Demucs on the
    whole file."""
    import torch
    from demucs.apply import apply_model
    from demucs.pretrained import get_model

    source = tone(tmp_path / "source.wav", 5.0)
    folder = {"model": "tiny", "repo": str(demucs_weights / "repo"), "threads": 1}
    cache = {"model": "test/tiny", "hf_cache": str(demucs_weights / "hf"), "threads": 1}
    for choice in (folder, cache):
        separator = DemucsSeparator(**choice, chunk_s=2.0, overlap_s=0.5)
        assert separator.unavailable() is None
        out = tmp_path / "bed.flac"
        figures = separator.separate(source, out)
        assert figures["separation_windows"] == 3
        assert media.probe(out).duration == pytest.approx(5.0, abs=0.01)
    whole = DemucsSeparator(**folder, chunk_s=10.0).separate(source, tmp_path / "whole.flac")
    assert whole["separation_windows"] == 1
    model = get_model("tiny", repo=demucs_weights / "repo")
    wav = torch.from_numpy(decoded_stereo(source, 44_100).T.copy())[None]
    with torch.inference_mode():
        expected = apply_model(model, wav, shifts=0, split=True)[0, :3].sum(dim=0).numpy().T
    np.testing.assert_allclose(decoded_stereo(tmp_path / "whole.flac", 44_100), expected, atol=1e-4)


def decoded_stereo(path: Path, rate: int) -> np.ndarray:
    out, _ = (
        ffmpeg.input(str(path))
        .output("-", f="f32le", ac=2, ar=rate)
        .run(capture_stdout=True, quiet=True)
    )
    return np.frombuffer(out, dtype="<f4").reshape(-1, 2)


def test_missing_demucs_weights_are_named(
    demucs_weights: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = demucs_weights / "empty"
    empty.mkdir(exist_ok=True)
    reason = DemucsSeparator(model="htdemucs", hf_cache=str(empty)).unavailable()
    assert "adefossez/HTDemucs" in reason and "No Demucs weights ship" in reason
    reason = DemucsSeparator(model="htdemucs", repo=str(empty)).unavailable()
    assert "htdemucs.yaml (a bag) or htdemucs-*.th" in reason
    monkeypatch.setenv("DUBBING_BACKGROUND", "demucs")
    monkeypatch.setenv("DUBBING_DEMUCS_REPO", str(empty))
    with pytest.raises(ValueError, match="DUBBING_BACKGROUND=demucs: Demucs model 'htdemucs'"):
        background_engines(settings())
    monkeypatch.setenv("DUBBING_DEMUCS_MODEL", "tiny")
    shutil.copytree(demucs_weights / "repo", empty, dirs_exist_ok=True)
    assert background_engines(settings())["mixer"].method == "demucs"


def test_the_deployment_sets_the_mix_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUBBING_MIX_LOUDNESS_LUFS", "off")
    monkeypatch.setenv("DUBBING_MIX_DUCK_DB", "12")
    monkeypatch.setenv("DUBBING_MIX_ORIGINAL_TRACK", "false")
    mixer = background_engines(settings())["mixer"]
    assert (mixer.method, mixer.loudness_lufs, mixer.duck_db) == ("duck", None, 12.0)
    assert mixer.keeps_original(None, None) is False and mixer.keeps_original(None, True)
    monkeypatch.setenv("DUBBING_BACKGROUND", "karaoke")
    with pytest.raises(ValueError, match="background"):
        background_engines(settings())
