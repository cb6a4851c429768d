"""Sentence segments (domain.sentences), MT output cleaning (domain.translations) and the subtitle
display split (domain.cues): the rules, on hand-made word timings and on real Apertium output."""

# ruff: noqa: RUF001  (CJK test texts use full-width punctuation on purpose)
from __future__ import annotations

import subprocess
from itertools import pairwise

import pytest
import srt

from dubbing_pipeline.domain.cues import CJK_LINE_CHARS, LINE_CHARS, MAX_LINES, segment_cues
from dubbing_pipeline.domain.segments import Segment, SegmentDoc, Word, to_srt, to_vtt
from dubbing_pipeline.domain.sentences import SentenceRules, sentence_segments
from dubbing_pipeline.domain.translations import clean_translation


def timed(text: str, start: float = 0.0, step: float = 0.4, speakers: str = "") -> list[Word]:
    """One word per 0.4 s (0.3 s spoken, 0.1 s gap); ``speakers``: one letter per word."""
    return [
        Word(
            start=round(start + i * step, 3),
            end=round(start + i * step + step - 0.1, 3),
            text=w,
            probability=0.9,
            speaker=speakers[i] if speakers else None,
        )
        for i, w in enumerate(text.split())
    ]


def engine(*parts: tuple[float, str], speaker: str = "S1", joiner: str = " ") -> list[Segment]:
    """What an engine returns: segments at the given starts, each with its words' timings."""
    out = []
    for i, (start, text) in enumerate(parts):
        words = timed(text, start)
        out.append(
            Segment(
                id=i,
                start=start,
                end=words[-1].end,
                text=joiner.join(text.split()),
                speaker=speaker,
                words=words,
            )
        )
    return out


ONE_EACH = SentenceRules(join_seconds=0)  # a sentence a segment: where each boundary falls


def texts(segments: list[Segment]) -> list[str]:
    return [s.text for s in segments]


# -- regrouping -------------------------------------------------------------------------------


def test_a_sentence_cut_in_two_by_the_engine_becomes_one_segment() -> None:
    found = engine(
        (0.0, "And Mr. Dashwood considered how much there might be prudently in his power"),
        (5.2, "to do for them."),
        (6.8, "He was not an ill-disposed young man."),
    )
    result = sentence_segments(found, "en")
    assert texts(result.segments) == [
        "And Mr. Dashwood considered how much there might be prudently in his power to do for "
        "them.",
        "He was not an ill-disposed young man.",
    ]
    first, second = result.segments
    assert (first.id, second.id) == (0, 1)
    assert (first.start, first.end) == (0.0, found[1].words[-1].end)  # placed by word timings
    assert first.words == found[0].words + found[1].words  # the timings stay for cues and audit
    assert first.confidence == pytest.approx(0.9)
    assert result.figures(found) == {
        "engine_segments": 3,
        "sentence_segments": 2,
        "cap_splits": 0,
        "segments_without_words": 0,
    }


def test_sentences_run_together_are_split_at_each_end() -> None:
    found = engine((1.0, 'It was the best of times. "Was it?" she asked! Yes… it was'))
    result = sentence_segments(found, "en", ONE_EACH)
    assert texts(result.segments) == [
        "It was the best of times.",
        '"Was it?"',
        "she asked!",
        "Yes…",
        "it was",
    ]
    starts = [s.start for s in result.segments]
    assert starts == [found[0].words[i].start for i in (0, 6, 8, 10, 11)]


def test_abbreviations_and_initials_do_not_end_a_sentence() -> None:
    found = engine((0.0, "Dr. Watson met J. R. Smith e.g. at St. Paul's. Then he left."))
    assert texts(sentence_segments(found, "en", ONE_EACH).segments) == [
        "Dr. Watson met J. R. Smith e.g. at St. Paul's.",
        "Then he left.",
    ]


def test_short_sentences_share_a_segment_up_to_join_seconds() -> None:
    found = engine((0.0, "Ever tried. Ever failed. No matter. Try again. Fail again. Fail better."))
    assert texts(sentence_segments(found, "en", SentenceRules(join_seconds=2.0)).segments) == [
        "Ever tried. Ever failed.",  # 1.5 s; with "No matter." it would last 2.3 s
        "No matter. Try again.",
        "Fail again. Fail better.",
    ]
    assert len(sentence_segments(found, "en").segments) == 1  # 4.7 s, within the default 6 s
    assert len(sentence_segments(found, "en", ONE_EACH).segments) == 6
    speakers = [
        Segment(id=i, start=w[0].start, end=w[-1].end, text=t, speaker=who, words=w)
        for i, (t, who) in enumerate([("Coming?", "S1"), ("Yes.", "S2")])
        for w in [timed(t, start=float(i))]
    ]
    assert texts(sentence_segments(speakers, "en").segments) == ["Coming?", "Yes."]


def test_a_long_pause_ends_a_segment_even_mid_sentence() -> None:
    found = engine((0.0, "and then he said"), (3.0, "nothing at all."))  # 1.5 s apart
    gap = found[1].words[0].start - found[0].words[-1].end
    assert texts(sentence_segments(found, "en", SentenceRules(max_pause_s=gap + 0.1)).segments) == [
        "and then he said nothing at all."
    ]
    assert texts(sentence_segments(found, "en", SentenceRules(max_pause_s=gap - 0.1)).segments) == [
        "and then he said",
        "nothing at all.",
    ]


def test_spanish_inverted_marks_open_a_sentence_unless_a_clause_leads_in() -> None:
    found = engine((0.0, "Hola a todos ¿qué tal estáis? ¡Vamos allá! Si vienes, ¿me llamas?"))
    assert texts(sentence_segments(found, "es", ONE_EACH).segments) == [
        "Hola a todos",
        "¿qué tal estáis?",
        "¡Vamos allá!",
        "Si vienes, ¿me llamas?",
    ]


def test_cjk_sentence_ends_and_text_without_spaces() -> None:
    found = engine((0.0, "我们 今天 去 公园。 然后 回家 吗？ 好！"), joiner="")
    result = sentence_segments(found, "zh", ONE_EACH)
    assert texts(result.segments) == ["我们今天去公园。", "然后回家吗？", "好！"]
    assert all(s.words for s in result.segments)  # the words still spell the text
    japanese = engine((0.0, "今日は 晴れ です。 散歩 に 行き ましょう。"), joiner="")
    assert texts(sentence_segments(japanese, "ja", ONE_EACH).segments) == [
        "今日は晴れです。",
        "散歩に行きましょう。",
    ]


def test_a_speaker_change_always_ends_a_segment_and_names_its_speaker() -> None:
    text = "Are you coming with us tonight or not"
    words = timed(text, speakers="AAAAABBB")  # as diarization leaves them, before regrouping
    found = [Segment(id=0, start=0.0, end=words[-1].end, text=text, words=words)]
    result = sentence_segments(found, "en")
    assert [(s.speaker, s.text) for s in result.segments] == [
        ("A", "Are you coming with us"),
        ("B", "tonight or not"),
    ]


def test_without_diarization_the_engine_segments_speakers_still_separate() -> None:
    first = engine((0.0, "I think that"), speaker="S1")
    second = engine((1.4, "you are right."), speaker="S2")
    result = sentence_segments([first[0], second[0].model_copy(update={"id": 1})], "en")
    assert [(s.speaker, s.text) for s in result.segments] == [
        ("S1", "I think that"),
        ("S2", "you are right."),
    ]


def test_without_word_timings_the_engine_segments_are_kept() -> None:
    bare = [
        Segment(id=5, start=0.0, end=1.0, text="how much there might be", confidence=0.7),
        Segment(id=9, start=1.0, end=2.0, text="to do for them.", confidence=0.8),
    ]
    result = sentence_segments(bare, "en")
    assert [(s.id, s.start, s.end, s.text, s.confidence) for s in result.segments] == [
        (0, 0.0, 1.0, "how much there might be", 0.7),
        (1, 1.0, 2.0, "to do for them.", 0.8),
    ]
    assert result.figures(bare)["segments_without_words"] == 2


def test_a_segment_without_words_is_kept_and_bounds_its_neighbours() -> None:
    found = engine((0.0, "one two"), (2.0, "x"), (3.0, "three four."))
    found[1] = Segment(id=1, start=2.0, end=2.5, text="[music]")
    assert texts(sentence_segments(found, "en").segments) == ["one two", "[music]", "three four."]


def test_regroup_off_keeps_the_engine_segments() -> None:
    found = engine((0.0, "It was the best"), (1.6, "of times."))
    result = sentence_segments(found, "en", SentenceRules(regroup=False))
    assert result.segments == found


def test_over_the_cap_a_sentence_splits_after_the_most_balanced_clause() -> None:
    text = "In short, the period was so far like the present period, that some of its " + (
        "noisiest authorities insisted on its being received, for good or for evil, in the "
        "superlative degree of comparison only."
    )
    found = engine((0.0, text))
    rules = SentenceRules(max_seconds=8.0)
    result = sentence_segments(found, "en", rules)
    assert texts(result.segments) == [
        "In short, the period was so far like the present period,",
        "that some of its noisiest authorities insisted on its being received,",
        "for good or for evil, in the superlative degree of comparison only.",
    ]
    assert result.cap_splits == 2
    assert all(s.end - s.start <= rules.max_seconds for s in result.segments)
    by_words = sentence_segments(found, "en", SentenceRules(max_words=20))
    assert all(len(s.text.split()) <= 20 for s in by_words.segments)
    assert all(s.text.endswith((",", ".")) for s in by_words.segments)


def test_over_the_cap_without_punctuation_it_splits_at_the_longest_pause() -> None:
    words = timed("we walked along the river for hours and then we talked about the old days")
    pause_at = 9  # before "we talked": a 0.6 s pause where a comma could have been
    words = words[:pause_at] + [
        w.model_copy(update={"start": w.start + 0.6, "end": w.end + 0.6}) for w in words[pause_at:]
    ]
    text = " ".join(w.text for w in words)
    found = [Segment(id=0, start=0.0, end=words[-1].end, text=text, words=words)]
    result = sentence_segments(found, "en", SentenceRules(max_seconds=5.0))
    assert texts(result.segments) == [
        "we walked along the river for hours and then",
        "we talked about the old days",
    ]


def test_a_pause_folded_into_the_next_word_counts_as_a_pause() -> None:
    """Whisper's timings seldom show gaps: a pause lengthens the word after it instead."""
    text = "we walked along the river for hours and then we talked about the old days"
    words = [
        Word(start=i * 0.4, end=i * 0.4 + 0.4, text=w) for i, w in enumerate(text.split())
    ]  # no gaps at all
    words = words[:9] + [
        w.model_copy(update={"start": w.start + (0.0 if i == 0 else 0.6), "end": w.end + 0.6})
        for i, w in enumerate(words[9:])
    ]  # "we" after "then" starts on time but lasts 1.0 s: the 0.6 s pause is inside it
    found = [Segment(id=0, start=0.0, end=words[-1].end, text=text, words=words)]
    result = sentence_segments(found, "en", SentenceRules(max_seconds=5.0))
    assert texts(result.segments) == [
        "we walked along the river for hours and then",
        "we talked about the old days",
    ]


def test_a_full_stop_the_engine_left_out_is_where_a_capped_sentence_splits_first() -> None:
    found = engine(
        (0.0, "It was the age of foolishness It was the epoch of belief, it was the end")
    )
    result = sentence_segments(found, "en", SentenceRules(max_words=10))
    assert texts(result.segments)[0] == "It was the age of foolishness"


def test_a_cap_split_leaves_no_fragment_shorter_than_three_words() -> None:
    found = engine((0.0, "Well, I suppose the committee will decide about all of this tomorrow"))
    result = sentence_segments(found, "en", SentenceRules(max_words=8))
    assert all(len(s.text.split()) >= 3 for s in result.segments), texts(result.segments)


def test_a_single_word_over_the_cap_stays_whole() -> None:
    hum = [Word(start=0.0, end=20.0, text="Mmmmm.")]
    found = [Segment(id=0, start=0.0, end=20.0, text="Mmmmm.", words=hum)]
    assert texts(sentence_segments(found, "en", SentenceRules(max_seconds=5.0)).segments) == [
        "Mmmmm."
    ]


# -- MT output --------------------------------------------------------------------------------


def test_apertium_output_is_cleaned_of_doubled_spaces_and_marks() -> None:
    source = [
        "And Mr. John Dashwood had then leisure to consider how much there might be prudently "
        "in his power to do for them.",
        "It was the age of foolishness, it was the epoch of incredulity.",
        "He was still more respectable than he was.",
    ]
    raw = subprocess.run(
        ["apertium", "eng-spa"], input="\n".join(source) + "\n", capture_output=True, text=True
    ).stdout.splitlines()
    assert any("  " in line or "*" in line for line in raw), raw  # what the engine really gives
    cleaned = [clean_translation(t, s, "es") for t, s in zip(raw, source, strict=True)]
    for line in cleaned:
        assert "  " not in line and line == line.strip()
        assert not any(mark in line for mark in "*#@"), line
    assert "prudently" in cleaned[0]  # the unknown word stays, only its mark goes


@pytest.mark.parametrize(
    ("text", "source", "language", "expected"),
    [
        (
            "Cuánto  podría  haber *prudently , y #ser @foo .",
            "",
            "es",
            "Cuánto podría haber prudently, y ser foo.",
        ),
        ("¿ Qué tal ? ¡ Vamos !", "", "es", "¿Qué tal? ¡Vamos!"),
        (
            "Sigue a @dubbing y #doblaje",
            "Follow @dubbing and #dubbing",
            "es",
            "Sigue a @dubbing y #doblaje",
        ),
        ("3 * 4 = 12, a*b y correo@ejemplo.es", "", "es", "3 * 4 = 12, a*b y correo@ejemplo.es"),
        ("Bonjour ! « Salut » , dit-il .", "", "fr", "Bonjour ! « Salut », dit-il."),
        ("你好 。 我们 走 吧 ！", "", "zh", "你好。我们 走 吧！"),
        ("  line\none\t( two )  ", "", "en", "line one (two)"),
    ],
)
def test_mt_cleaning_rules(text: str, source: str, language: str, expected: str) -> None:
    assert clean_translation(text, source, language) == expected


# -- subtitle cues ----------------------------------------------------------------------------

LONG = (
    "In short, the period was so far like the present period, that some of its noisiest "
    "authorities insisted on its being received, for good or for evil, in the superlative "
    "degree of comparison only."
)


def assert_readable(cues, width: int = LINE_CHARS) -> None:
    for cue in cues:
        lines = cue.text.split("\n")
        assert len(lines) <= MAX_LINES and all(len(line) <= width for line in lines), cue


def test_a_short_sentence_is_one_cue_as_before() -> None:
    segment = Segment(id=0, start=1.0, end=2.5, text="Hello there, friend.")
    assert [(c.start, c.end, c.text) for c in segment_cues(segment, "en")] == [
        (1.0, 2.5, "Hello there, friend.")
    ]


def test_a_long_sentence_with_words_becomes_consecutive_cues_at_word_starts() -> None:
    words = timed(LONG, start=10.0)
    segment = Segment(id=0, start=10.0, end=words[-1].end, text=LONG, words=words)
    cues = segment_cues(segment, "en")
    assert len(cues) == 3
    assert_readable(cues)
    assert " ".join(c.text.replace("\n", " ") for c in cues) == LONG
    assert cues[0].start == segment.start and cues[-1].end == segment.end
    assert all(a.end == b.start for a, b in pairwise(cues))
    word_starts = {w.start for w in words}
    assert all(c.start in word_starts for c in cues[1:])
    assert [c.text.split("\n")[-1][-1] for c in cues] == [",", ",", "."]  # cut after punctuation


def test_without_words_cues_are_timed_by_characters() -> None:
    segment = Segment(id=0, start=0.0, end=20.0, text=LONG)
    cues = segment_cues(segment, "en")
    assert len(cues) == 3
    assert_readable(cues)
    for cue in cues:
        share = len(cue.text.replace("\n", " ")) / len(LONG)
        assert cue.end - cue.start == pytest.approx(20.0 * share, abs=0.5)


def test_cjk_cues_are_narrower_and_no_line_starts_with_punctuation() -> None:
    text = "我们今天去公园散步，然后去超市买东西。天气很好，大家都很开心，孩子们在草地上玩耍。"
    cues = segment_cues(Segment(id=0, start=0.0, end=10.0, text=text), "zh")
    assert len(cues) >= 2
    assert "".join(c.text.replace("\n", "") for c in cues) == text
    for cue in cues:
        lines = cue.text.split("\n")
        assert len(lines) <= MAX_LINES and all(len(line) <= CJK_LINE_CHARS + 1 for line in lines)
        assert not any(line[0] in "，。、！？" for line in lines)


def test_the_subtitle_files_split_only_for_display_and_the_segments_stay_whole() -> None:
    words = timed(LONG)
    doc = SegmentDoc(
        language="en",
        duration=30.0,
        segments=[
            Segment(id=0, start=0.0, end=words[-1].end, text=LONG, words=words),
            Segment(id=1, start=25.0, end=26.0, text="Yes."),
        ],
    )
    subs = list(srt.parse(to_srt(doc)))
    assert [s.index for s in subs] == [1, 2, 3, 4] and subs[-1].content == "Yes."
    assert to_vtt(doc).count("-->") == 4
    assert len(doc.segments) == 2 and doc.segments[0].text == LONG  # the dub's unit is unchanged
