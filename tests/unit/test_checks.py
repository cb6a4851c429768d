"""The checks' rules on segments and measured figures (``domain.text_checks``,
``domain.media_checks``): each fails for its reason and passes on a good stage output. The real
media runs are in tests/integration/test_checks.py."""

from __future__ import annotations

from dubbing_pipeline.domain.background import Span
from dubbing_pipeline.domain.checks import CheckThresholds, blocking_summary, word_error_rate
from dubbing_pipeline.domain.media_checks import (
    Fit,
    duration_outcome,
    fit_outcome,
    heard_by_piece,
    intelligibility_outcome,
    loudness_outcome,
    silence_outcome,
    streams_outcome,
)
from dubbing_pipeline.domain.segments import Segment, SegmentDoc, Word
from dubbing_pipeline.domain.text_checks import (
    LanguageId,
    language_outcome,
    transcript_outcomes,
    translation_outcomes,
)
from dubbing_pipeline.infra import language_id

LIMITS = CheckThresholds()
IDENTIFY = LanguageId(language_id.languages(), language_id.detect)
ENGLISH = [
    "Hello and welcome to our small video about the weather.",
    "Today the sky is blue and the sun is shining.",
    "Tomorrow it will rain in the city, so take an umbrella.",
]
SPANISH = [
    "Hola y bienvenido a nuestro vídeo pequeño sobre el tiempo.",
    "Hoy el cielo es azul y el sol está brillando.",
    "Mañana lloverá en la ciudad, así que toma un paraguas.",
]


def doc(language: str, texts: list[str], **fields: object) -> SegmentDoc:
    segments = [
        Segment(id=i, start=4.0 * i, end=4.0 * i + 3.5, text=t, **fields)  # type: ignore[arg-type]
        for i, t in enumerate(texts)
    ]
    return SegmentDoc(language=language, duration=12.0, segments=segments)


def by_name(outcomes):
    return {o.name: o for o in outcomes}


def test_the_language_identifier_tells_sentences_apart_and_leaves_fragments() -> None:
    assert [language_id.detect(t) for t in ENGLISH] == ["en"] * 3
    assert [language_id.detect(t) for t in SPANISH] == ["es"] * 3
    others = {
        "ru": "Завтра в городе будет дождь, так что возьмите зонтик.",
        "ja": "明日は街で雨が降るので、傘を持って行ってください。 とても 大切 です",
        "de": "Morgen wird es in der Stadt regnen, also nimm einen Regenschirm mit.",
        "pt": "Amanhã vai chover na cidade, então leve um guarda-chuva.",
    }
    assert {lang: language_id.detect(text) for lang, text in others.items()} == {
        lang: lang for lang in others
    }
    for unsure in ("Paris 1984", "era.", "Anna Karenina, Leo Tolstoy"):
        assert language_id.detect(unsure) is None, unsure  # names, numbers, fragments


def test_a_russian_translation_with_an_english_sentence_is_caught() -> None:
    """Beyond the six languages with function-word lists: the identifier still names it."""
    source = doc("en", ENGLISH)
    russian = "Завтра в городе будет дождь, так что возьмите зонтик."
    target = source.with_texts("ru", [russian, ENGLISH[1], russian])
    found = by_name(translation_outcomes(source, target, LIMITS, IDENTIFY))
    language = found["target_language"]
    assert (language.passed, language.severity) == (False, "ERROR")
    assert [f.segment for f in language.failing] == [1]


def test_word_error_rate_is_jiwers() -> None:
    assert word_error_rate("el cielo es azul", "El cielo es azul.") == 0.0
    assert word_error_rate("el cielo es azul", "el cielo azul") == 0.25
    assert word_error_rate("mañana lloverá", "manana llovera") == 0.0  # accents are not errors
    assert word_error_rate("el cielo es azul", "") == 1.0


def test_a_declared_language_that_is_not_the_one_heard_is_an_error() -> None:
    wrong = language_outcome("en", "en", ("es", 0.97), LIMITS)
    assert (wrong.passed, wrong.severity) == (False, "ERROR")
    assert "the speech is es" in wrong.summary and wrong.failing[0].value == "es"
    assert language_outcome("en", "en", ("en", 0.97), LIMITS).passed
    assert language_outcome("en", "en", ("es", 0.3), LIMITS).passed  # not trusted either way
    auto = language_outcome("es", "auto", ("es", 0.3), LIMITS)
    assert (auto.passed, auto.severity) == (False, "WARN")


def test_transcript_segments_confidence_and_coverage() -> None:
    words = [Word(start=0, end=0.5, text="Hello", probability=0.2)]
    segments = doc("en", [*ENGLISH, ""], confidence=0.9).segments
    segments[0] = segments[0].model_copy(update={"words": words, "text": "Hello"})
    segments[2] = segments[2].model_copy(update={"start": 7.0})  # overlaps segment 1 (to 7.5)
    transcript = SegmentDoc(language="en", duration=30.0, segments=segments)
    speech = [Span(0, 11.5), Span(16.0, 29.0)]  # 16-29 s: speech no segment covers
    found = by_name(transcript_outcomes(transcript, "en", ("en", 0.99), speech, LIMITS))
    assert found["language"].passed
    assert (found["segments"].severity, found["segments"].failing[0].segment) == ("ERROR", 3)
    assert 2 in [f.segment for f in found["segments"].failing]  # the overlap, named too
    assert not found["speech_coverage"].passed
    assert found["speech_coverage"].failing[0].segment == "16.0-29.0s"
    assert found["confidence"].passed  # one doubtful word of many


def test_a_translation_with_an_english_sentence_left_in_fails() -> None:
    source = doc("en", ENGLISH)
    target = source.with_texts("es", [SPANISH[0], ENGLISH[1], SPANISH[2]])
    found = by_name(translation_outcomes(source, target, LIMITS, IDENTIFY))
    for name in ("translated", "untranslated_words", "target_language"):
        assert (found[name].passed, found[name].severity) == (False, "ERROR"), name
        assert [f.segment for f in found[name].failing] == [1], name
    assert "the" in found["untranslated_words"].failing[0].note
    reason = blocking_summary(found.values())
    assert reason is not None and "1:" in reason


def test_a_good_translation_passes_and_names_stay() -> None:
    source = doc("en", [*ENGLISH, "Anna Karenina, 1877."])
    target = source.with_texts("es", [*SPANISH, "Anna Karenina, 1877."])
    assert all(o.passed for o in translation_outcomes(source, target, LIMITS, IDENTIFY))


def test_a_truncated_translation_is_a_warning() -> None:
    source = doc("en", ENGLISH)
    target = source.with_texts("es", [SPANISH[0], "Hoy.", SPANISH[2]])
    found = by_name(translation_outcomes(source, target, LIMITS, IDENTIFY))
    assert (found["length_ratio"].passed, found["length_ratio"].severity) == (False, "WARN")


def test_speech_outcomes_name_the_segments() -> None:
    expected = dict(enumerate(SPANISH))
    heard = {0: SPANISH[0], 1: "", 2: "mañana lloverá en la ciudad así que toma un paraguas"}
    intelligibility = intelligibility_outcome(expected, heard, LIMITS)
    assert (intelligibility.severity, [f.segment for f in intelligibility.failing]) == (
        "ERROR",
        [1],
    )
    silence = silence_outcome({0: -20.0, 1: -90.0, 2: -22.0}, LIMITS)
    assert (silence.severity, [f.segment for f in silence.failing]) == ("ERROR", [1])
    cut = fit_outcome(
        [Fit(0, 48_000, 0), Fit(1, 96_000, 48_000), Fit(2, 48_000, 4_800)], 48_000, LIMITS
    )
    assert cut.severity == "ERROR" and [f.segment for f in cut.failing] == [1, 2]


def test_back_transcribed_words_go_to_the_piece_they_fall_in() -> None:
    pieces = [("a", 0.6, 2.0), ("b", 2.6, 2.6), ("c", 3.2, 5.0)]  # b was heard before
    heard = [(0.7, 1.0, "hola"), (1.9, 2.3, "mundo"), (3.3, 3.6, "adiós")]
    assert heard_by_piece(pieces, heard, 0.6) == {"a": "hola mundo", "b": "", "c": "adiós"}


def test_muxed_outcomes() -> None:
    good = streams_outcome(
        1,
        [("spa", True), ("eng", False)],
        [("spa", False), ("eng", False)],
        target="spa",
        source="eng",
        original=True,
    )
    assert good.passed
    missing = streams_outcome(
        1,
        [("spa", True)],
        [("spa", False), ("eng", False)],
        target="spa",
        source="eng",
        original=True,
    )
    assert (missing.severity, missing.failing[0].segment) == ("ERROR", "audio")
    assert not duration_outcome(21.0, 20.0, LIMITS).passed
    assert duration_outcome(20.05, 20.0, LIMITS).passed
    assert loudness_outcome(-16.4, -16.0, LIMITS).passed
    assert loudness_outcome(-23.0, -16.0, LIMITS).severity == "WARN"


def test_thresholds_are_the_deployments(monkeypatch) -> None:
    from dubbing_pipeline.infra.settings import check_thresholds

    monkeypatch.setenv("DUBBING_CHECK_WER_ERROR", "0.9")
    monkeypatch.setenv("DUBBING_CHECK_SILENCE_DBFS", "-50")
    limits = check_thresholds()
    assert (limits.wer_error, limits.silence_dbfs, limits.wer_warn) == (0.9, -50.0, 0.5)
