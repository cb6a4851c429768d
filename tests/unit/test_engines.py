"""Each offline engine on real models and real audio made with espeak-ng."""

from __future__ import annotations

from pathlib import Path

import pytest

from dubbing_pipeline.domain.errors import JobErrorType, JobProcessingError
from dubbing_pipeline.engines.mt import ApertiumMT
from dubbing_pipeline.engines.stt import FasterWhisperSTT
from dubbing_pipeline.engines.tts import EspeakTTS, PiperTTS
from dubbing_pipeline.external.retime_lipsync import retime
from dubbing_pipeline.infra import media

SENTENCE = "The children like to play in the green park near the river."


@pytest.mark.parametrize("model", ["tiny.en", "base"])
def test_whisper_transcribes_espeak_english(sample_video: Path, model: str) -> None:
    seen: list[float] = []
    result = FasterWhisperSTT(model=model).transcribe(sample_video, None, seen.append)
    text = " ".join(s.text for s in result.segments).lower()
    for word in ("welcome", "weather", "sky", "rain", "umbrella", "park", "thank"):
        assert word in text, text
    assert result.language == "en"
    assert [s.start for s in result.segments] == sorted(s.start for s in result.segments)
    assert seen and seen[-1] == pytest.approx(1.0, abs=0.15)


def test_apertium_translates_a_known_sentence() -> None:
    mt = ApertiumMT()
    progress: list[float] = []
    out = mt.translate(
        ["I like green apples.", "", "Thank you very much."], "en", "es", progress.append
    )
    assert out == ["Me gustan las manzanas verdes.", "", "Muchas gracias."]
    assert progress[-1] == 1.0


def test_apertium_names_a_missing_pair() -> None:
    with pytest.raises(JobProcessingError) as err:
        ApertiumMT().check_pair("en", "de")
    assert err.value.error_type is JobErrorType.VALIDATION
    assert "en->de" in err.value.message and "eng-deu" in err.value.message


@pytest.mark.parametrize(
    ("engine", "language"),
    [(EspeakTTS(), "es"), (EspeakTTS(), "en"), (PiperTTS(), "en")],
    ids=["espeak-es", "espeak-en", "piper-en"],
)
def test_tts_duration_is_plausible(tmp_path: Path, engine, language: str) -> None:
    short, long = tmp_path / "short.wav", tmp_path / "long.wav"
    engine.check_language(language)
    engine.synthesize("Hello.", language, short)
    engine.synthesize(SENTENCE, language, long)
    seconds = [frames / rate for frames, rate in map(media.wav_samples, (short, long))]
    assert 0.2 < seconds[0] < 2.0
    assert 2.0 < seconds[1] < 8.0  # 12 words at a speaking rate of ~1.5-5 words/s


def test_piper_refuses_a_language_its_voice_does_not_speak() -> None:
    with pytest.raises(JobProcessingError, match="speaks en-us, not es"):
        PiperTTS().check_language("es")


def test_retime_lipsync_stretches_video_to_a_longer_dub(tmp_path: Path, sample_video: Path) -> None:
    longer = tmp_path / "dub.wav"
    media.silence(longer, round((media.probe(sample_video).duration + 2.0) * media.DUB_SAMPLE_RATE))
    out = tmp_path / "out.mp4"
    fractions: list[float] = []
    report = retime(sample_video, longer, out, progress=fractions.append)
    assert report["retime_factor"] == pytest.approx(1.1, abs=0.01)
    assert "retimed" in report["note"] and report["model"] == "none"
    assert fractions[0] == 0.1 and fractions[-1] == 1.0 and fractions == sorted(fractions)
    info = media.probe(out)
    video = next(s for s in info.raw["streams"] if s["codec_type"] == "video")
    assert float(video["duration"]) == pytest.approx(22.0, abs=0.1)
