"""What the offline engines say they can do, and the rule that turns it into a refusal."""

from __future__ import annotations

from dubbing_pipeline.domain.languages import Capabilities
from dubbing_pipeline.engines.mt import ApertiumMT
from dubbing_pipeline.engines.stt import FasterWhisperSTT
from dubbing_pipeline.engines.tts import EspeakTTS


def test_the_offline_engines_report_their_languages() -> None:
    assert ("en", "es") in ApertiumMT().pairs() and ("es", "en") in ApertiumMT().pairs()
    spoken = EspeakTTS().languages()
    assert spoken is not None and {"en", "es", "de", "fr"} <= set(spoken)
    assert FasterWhisperSTT(model="tiny.en").languages() == ["en"]
    assert FasterWhisperSTT(model="base").languages() is None  # any Whisper language


def test_problems_name_the_field_and_the_pair() -> None:
    known = Capabilities(transcribes=["en"], translates=[("en", "es")], speaks=["es", "de"])
    assert known.problem("en", "es") is None
    assert known.problem("en-US", "es-MX") is None  # regions do not matter to the engines
    assert known.problem("auto", "es") is None
    assert known.problem("fr", "es") == (
        "sourceLanguage: speech recognition here does not know 'fr'"
    )
    assert known.problem("en", "en") == "targetLanguage: en is the source language already"
    assert "en->de is not a pair" in (known.problem("en", "de") or "")
    assert "nothing translates into 'de'" in (known.problem("auto", "de") or "")
    assert Capabilities().problem("xx", "yy") is None  # nothing known: nothing refused here
    speaks_less = Capabilities(translates=[("en", "de")], speaks=["es"])
    assert speaks_less.problem("en", "de") == (
        "targetLanguage: speech synthesis here does not speak 'de'"
    )
