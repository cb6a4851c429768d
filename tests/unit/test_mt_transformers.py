"""The transformers MT engine on tiny random Marian and NLLB models built here (no hub, no network):
what a random model says is noise, so these tests check what the engine owes the pipeline: one
output per segment in order, empty stays empty, long segments fit the model, language codes,
batches and progress, errors classed for retries, and engines switched by configuration only."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers reads it: nothing downloads

import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import torch

from dubbing_pipeline.cli.runner import stage_failure
from dubbing_pipeline.defs.resources import default_resources, mt_engine
from dubbing_pipeline.domain.errors import JobErrorType, JobProcessingError
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.engines.base import no_progress
from dubbing_pipeline.engines.mt_transformers import (
    INSTALL_HINT,
    LanguageTokens,
    TransformersMT,
    nllb_code,
    split_text,
)
from dubbing_pipeline.infra.settings import settings
from dubbing_pipeline.operations import reviews
from tests.support.helpers import metadata
from tests.support.tiny_models import CORPUS, build_marian, build_nllb

SHORT = CORPUS[::2]  # six English sentences
LONG = " ".join(CORPUS)  # ~250 tokens: several times the tiny models' 32 positions


@pytest.fixture(scope="module")
def marian(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(build_marian(tmp_path_factory.mktemp("marian") / "opus-mt-tiny"))


@pytest.fixture(scope="module")
def nllb(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(build_nllb(tmp_path_factory.mktemp("nllb") / "nllb-tiny"))


def one_by_one(model: str, texts: Sequence[str], target: str = "es") -> list[str]:
    """The reference: each text alone, so no batching, sorting or padding is involved."""
    engine = TransformersMT(model=model, batch_size=1, num_beams=1)
    return [engine.translate([text], "en", target, no_progress)[0] for text in texts]


@pytest.mark.parametrize("family", ["marian", "nllb"])
def test_batched_translation_keeps_segment_order_and_reports_progress(
    family: str, request: pytest.FixtureRequest
) -> None:
    model = request.getfixturevalue(family)
    short = SHORT[4::-1]  # shortest first, while batches go longest first: order must survive
    texts = [short[0], "", short[1], "   ", short[2], short[3], short[4]]
    calls: list[float] = []
    engine = TransformersMT(model=model, batch_size=2, num_beams=1)
    assert engine.resolved_family() == family

    out = engine.translate(texts, "en", "es", calls.append)

    expected = one_by_one(model, short)
    assert len(set(expected)) >= 3, "the tiny model must tell inputs apart for order to show"
    assert out == [expected[0], "", expected[1], "", expected[2], expected[3], expected[4]]
    assert calls == pytest.approx([0.4, 0.8, 1.0])  # 5 non-empty texts in batches of 2


@pytest.mark.parametrize("family", ["marian", "nllb"])
def test_a_segment_longer_than_the_model_is_split_and_rejoined(
    family: str, request: pytest.FixtureRequest
) -> None:
    model = request.getfixturevalue(family)
    engine = TransformersMT(model=model, batch_size=4, num_beams=1)
    tokenizer = engine_tokenizer(engine)
    assert len(tokenizer(LONG)["input_ids"]) > 4 * engine.input_limit()
    calls: list[float] = []

    short, long_ = engine.translate([SHORT[0], LONG], "en", "es", calls.append)

    budget = engine.input_limit() - tokenizer.num_special_tokens_to_add()

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    pieces = split_text(LONG, count, budget)
    assert len(pieces) >= 8 and " ".join(pieces) == LONG
    assert max(map(count, pieces)) <= budget
    assert short == one_by_one(model, [SHORT[0]])[0]
    assert long_ == " ".join(filter(None, one_by_one(model, pieces)))
    assert len(calls) == math.ceil((1 + len(pieces)) / 4) and calls[-1] == 1.0


def test_marian_cannot_take_the_long_segment_whole(marian: str) -> None:
    """Why splitting matters: the model itself fails on more tokens than it has positions."""
    from transformers import AutoModelForSeq2SeqLM

    tokenizer = engine_tokenizer(TransformersMT(model=marian))
    model = AutoModelForSeq2SeqLM.from_pretrained(marian)
    with pytest.raises(IndexError):
        model.generate(**tokenizer([LONG], return_tensors="pt"), max_new_tokens=4)


def test_split_text_keeps_sentences_whole_where_they_fit() -> None:
    def words(text: str) -> int:  # a stand-in tokenizer, one token per word, to see the arithmetic
        return len(text.split())

    text = "One two. Three four five! Six? Seven eight nine ten eleven."
    pieces = split_text(text, words, budget=4)
    assert pieces == ["One two.", "Three four five! Six?", "Seven eight nine ten", "eleven."]
    assert " ".join(pieces) == text
    slices = split_text("Supercalifragilistic", len, budget=8)  # one word longer than the budget
    assert "".join(slices) == "Supercalifragilistic" and max(map(len, slices)) <= 8
    assert split_text("", words, budget=4) == []


def test_nllb_codes_map_iso_639_1_to_flores_200(nllb: str) -> None:
    from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES

    assert [nllb_code(c) for c in ("es", "en", "zh", "ar", "ko", "pt-BR")] == [
        "spa_Latn",
        "eng_Latn",
        "zho_Hans",
        "arb_Arab",
        "kor_Hang",
        "por_Latn",
    ]
    common = ["de", "fa", "fr", "hi", "id", "it", "ja", "nl", "no", "pl", "ru", "sw", "uk"]
    assert {nllb_code(c) for c in common} <= set(FAIRSEQ_LANGUAGE_CODES)


def test_nllb_translation_starts_with_the_target_language_code(nllb: str) -> None:
    engine = TransformersMT(model=nllb, num_beams=2)
    tokens = engine.language_tokens("en", "es")
    assert tokens == LanguageTokens("eng_Latn", "spa_Latn")
    tokenizer = engine_tokenizer(engine)
    for target, code in (("es", "spa_Latn"), ("fr", "fra_Latn")):
        rows = engine.generate_ids(SHORT[:3], engine.language_tokens("en", target), longest=16)
        assert [tokenizer.convert_ids_to_tokens(row[0]) for row in rows] == [code] * 3
    source_ids = tokenizer(SHORT[0])["input_ids"]  # the tokenizer was left set to the source
    assert tokenizer.convert_ids_to_tokens(source_ids[0]) == "eng_Latn"


def test_unsupported_pairs_are_validation_errors_naming_the_pair(marian: str, nllb: str) -> None:
    TransformersMT(model=marian).check_pair("en", "es")
    TransformersMT(model=marian, languages="en-de").check_pair("en", "de")
    cases = [
        (TransformersMT(model=marian), "en", "de", "translates en->es"),
        (TransformersMT(model=marian), "fr", "es", "translates en->es"),
        (TransformersMT(model=nllb), "en", "la", "no language code 'lat_Latn'"),
    ]
    for engine, source, target, detail in cases:
        with pytest.raises(JobProcessingError) as caught:
            engine.translate(["Hello."], source, target, no_progress)
        assert caught.value.error_type == JobErrorType.VALIDATION
        assert f"unsupported language pair {source}->{target}" in caught.value.message
        assert detail in caught.value.message


class SmallGPU(TransformersMT):
    """A device that holds ``fits`` segments per batch and runs out of CUDA memory above that:
    the one condition a CPU machine cannot produce for real."""

    fits: int = 1

    def generate_ids(
        self, texts: Sequence[str], tokens: LanguageTokens, longest: int
    ) -> list[list[int]]:
        if len(texts) > self.fits:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return super().generate_ids(texts, tokens, longest)


def test_out_of_memory_retries_the_batch_halved_then_is_a_resource_error(marian: str) -> None:
    texts = SHORT[:4]
    halved = SmallGPU(model=marian, batch_size=2, fits=1, num_beams=1)
    assert halved.translate(texts, "en", "es", no_progress) == one_by_one(marian, texts)

    with pytest.raises(JobProcessingError) as caught:
        SmallGPU(model=marian, batch_size=4, fits=1, num_beams=1).translate(
            texts, "en", "es", no_progress
        )
    assert caught.value.error_type == JobErrorType.RESOURCE and caught.value.retryable
    assert "out of GPU memory" in caught.value.message and "batch size 2" in caught.value.message


def test_missing_transformers_is_permanent_and_says_what_to_install(
    marian: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = TransformersMT(model=marian)
    engine.check_pair("en", "es")  # loaded and cached before the package "disappears"
    monkeypatch.setitem(sys.modules, "transformers", None)  # what a missing package looks like
    with pytest.raises(JobProcessingError) as caught:
        engine.translate(["Hello."], "en", "es", no_progress)
    assert caught.value.error_type == JobErrorType.PERMANENT and not caught.value.retryable
    assert INSTALL_HINT in caught.value.message


def test_ctranslate2_backend_runs_the_converted_model(
    marian: str, nllb: str, tmp_path: Path
) -> None:
    from ctranslate2.converters import TransformersConverter

    texts = [SHORT[0], "", SHORT[1], SHORT[2]]
    for model in (marian, nllb):
        converted = TransformersConverter(model).convert(str(tmp_path / Path(model).name))
        ct2 = TransformersMT(model=model, ctranslate2_model=converted, dtype="float32")
        reference = TransformersMT(model=model, num_beams=ct2.num_beams)
        tokens = ct2.language_tokens("en", "es")
        ours, theirs = (e.generate_ids(SHORT[:3], tokens, longest=8) for e in (ct2, reference))
        # Same tokens, but for the last one: at the length limit transformers puts the config's
        # forced_eos_token_id (Marian has one) where CTranslate2 keeps the model's choice.
        assert [row[:-1] for row in ours] == [row[:-1] for row in theirs]
        calls: list[float] = []
        out = ct2.translate(texts, "en", "es", calls.append)
        assert len(out) == 4 and out[1] == "" and calls[-1] == 1.0


def test_engines_are_chosen_by_environment(marian: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert type(mt_engine(settings())).__name__ == "ApertiumMT"
    monkeypatch.setenv("DUBBING_MT", "transformers")
    monkeypatch.setenv("DUBBING_MT_MODEL", marian)
    monkeypatch.setenv("DUBBING_MT_DEVICE", "cpu")
    engine = mt_engine(settings())
    assert isinstance(engine, TransformersMT)
    assert (engine.model, engine.placement()) == (marian, ("cpu", "float32"))
    monkeypatch.setenv("DUBBING_MT", "google")
    with pytest.raises(ValueError, match=r"mt\s+Input should be 'apertium' or 'transformers'"):
        mt_engine(settings())


@pytest.fixture
def resources(artifacts: Path, marian: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The deployment of this module's pipeline test: the tiny Marian model instead of Apertium,
    Whisper tiny.en for a quick English transcript."""
    monkeypatch.setenv("DUBBING_MT", "transformers")
    monkeypatch.setenv("DUBBING_MT_MODEL", marian)
    monkeypatch.setenv("DUBBING_MT_DEVICE", "cpu")
    monkeypatch.setenv("DUBBING_STT_MODEL", "tiny.en")
    return default_resources()


@pytest.mark.integration
def test_pipeline_translates_with_the_configured_transformers_engine(
    resources: dict[str, Any], store, new_project, run_stage, approve, marian: str
) -> None:
    project = new_project()
    assert run_stage(project, Stage.STT).success
    approve(project, Stage.STT)

    result = run_stage(project, Stage.MT)

    assert result.success, stage_failure(result)
    source = reviews.approved_segments(store, project.id, Stage.STT)
    translated = reviews.load_segments(store, project.id, Stage.MT)
    timing = [(s.id, s.start, s.end) for s in source.segments]
    assert len(timing) >= 2 and [(s.id, s.start, s.end) for s in translated.segments] == timing
    assert [s.source_text for s in translated.segments] == [s.text for s in source.segments]
    engine = TransformersMT(model=marian, device="cpu")  # what the pipeline's engine must say
    texts = [s.text for s in source.segments]
    assert [s.text for s in translated.segments] == engine.translate(texts, "en", "es", no_progress)
    assert metadata(result, Stage.MT)["language_pair"] == "en->es"


def engine_tokenizer(engine: TransformersMT) -> Any:
    """The tokenizer the engine loaded (once per process), to count and read tokens."""
    from dubbing_pipeline.engines.mt_transformers import _tokenizer

    return _tokenizer(engine.model)
