"""Neural machine translation with transformers: MarianMT (opus-mt) and NLLB / M2M100 models by hub
id or local folder, batched ``model.generate`` on GPU or CPU (transformers 5 has no translation
pipeline), or a CTranslate2 conversion of the same model when one is configured."""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import langcodes
from dagster import ConfigurableResource
from pydantic import Field

from dubbing_pipeline.domain import languages
from dubbing_pipeline.domain.errors import JobErrorType, JobProcessingError, validation_error
from dubbing_pipeline.engines.base import Progress

Family = Literal["auto", "marian", "nllb", "m2m100"]
INSTALL_HINT = "pip install 'dubbing[translate]'"

# ISO 639-1 codes whose FLORES-200 code (NLLB) is a member of the macrolanguage, not alpha3_script.
# fmt: off
NLLB_CODES = {
    "ar": "arb_Arab", "az": "azj_Latn", "fa": "pes_Arab", "fil": "tgl_Latn", "ko": "kor_Hang",
    "ku": "kmr_Latn",
    "lv": "lvs_Latn", "mg": "plt_Latn", "mn": "khk_Cyrl", "ms": "zsm_Latn", "nb": "nob_Latn",
    "ne": "npi_Deva", "no": "nob_Latn", "om": "gaz_Latn", "or": "ory_Orya", "ps": "pbt_Arab",
    "qu": "quy_Latn", "sq": "als_Latn", "sw": "swh_Latn", "tl": "tgl_Latn", "uz": "uzn_Latn",
    "yi": "ydd_Hebr",
}
# fmt: on
# Sentence ends: . ! ? and the ellipsis before a space; CJK full stop, ! and ? with or without one.
SENTENCE_END = re.compile("(?<=[.!?\u2026])\\s+|(?<=[\u3002\uff01\uff1f])\\s*")
OPUS_NAME = re.compile(r"opus-mt-(?:tc-[a-z]+-)?([A-Za-z]+)-([A-Za-z]+)")


@dataclass(frozen=True)
class LanguageTokens:
    """What the model is told: ``source`` is the tokenizer's ``src_lang`` (NLLB, M2M100),
    ``target`` the token that starts the translation (forced BOS, or Marian's ``>>xx<<``)."""

    source: str | None
    target: str | None


class TransformersMT(ConfigurableResource):
    """MarianMT, NLLB or M2M100. Models load once per process; a CTranslate2 folder converted from
    ``model`` (``ct2-transformers-converter``) runs the same model faster when set."""

    model: str = Field(
        default="Helsinki-NLP/opus-mt-en-es", description="hub id or folder (config + tokenizer)"
    )
    family: Family = Field(default="auto", description="auto: from model_type and tokenizer")
    languages: str = Field(
        default="", description="Marian only: its pair as 'en-es' if neither tokenizer nor name say"
    )
    device: Literal["auto", "cpu", "cuda"] = "auto"
    dtype: str = Field(default="auto", description="auto: float16 on cuda; float32 (int8 for ct2)")
    batch_size: int = Field(default=16, ge=1)
    max_input_tokens: int = Field(
        default=256, ge=8, description="longer segments are split; capped at the model's limit"
    )
    num_beams: int = Field(default=4, ge=1)
    ctranslate2_model: str = Field(default="", description="a converted folder: use CTranslate2")

    def pairs(self) -> None:
        return None  # a model may serve many pairs; check_pair decides per project

    def check_pair(self, source: str, target: str) -> None:
        self.language_tokens(source, target)

    def language_tokens(self, source: str, target: str) -> LanguageTokens:
        """The model's codes for the pair; a VALIDATION error naming the pair if it has none."""
        _require("transformers")  # before any cached tokenizer: a broken install must say so
        tokenizer, family = _tokenizer(self.model), self.resolved_family()
        if family == "marian":
            return self._marian_tokens(tokenizer, source, target)
        vocab = tokenizer.get_vocab()
        if family == "nllb":
            tokens = LanguageTokens(nllb_code(source), nllb_code(target))
            needed = (tokens.source, tokens.target)
        else:  # M2M100: src_lang 'en', language tokens '__en__'
            src, tgt = languages.base(source), languages.base(target)
            tokens = LanguageTokens(src, f"__{tgt}__")
            needed = (f"__{src}__", tokens.target)
        for wanted in needed:
            if wanted not in vocab:
                raise validation_error(
                    f"unsupported language pair {source}->{target}: model {self.model} has no "
                    f"language code {wanted!r}"
                )
        return tokens

    def translate(
        self, texts: Sequence[str], source: str, target: str, progress: Progress
    ) -> list[str]:
        """Segment order and count are kept; empty texts stay empty without reaching the model."""
        tokens = self.language_tokens(source, target)
        tokenizer = _tokenizer(self.model)
        marian = self.resolved_family() == "marian"
        marian_prefix = f"{tokens.target} " if marian and tokens.target else ""
        budget = self.input_limit() - tokenizer.num_special_tokens_to_add() - bool(marian_prefix)

        def count(text: str) -> int:
            # verbose=False: counting a long text is how it gets split, not an error to log
            return len(tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

        pieces: list[tuple[int, str, int]] = []  # (segment, text, tokens)
        for i, text in enumerate(texts):
            for piece in split_text(" ".join(text.split()), count, budget):
                pieces.append((i, marian_prefix + piece, count(piece)))
        order = sorted(range(len(pieces)), key=lambda p: -pieces[p][2])  # less padding per batch
        done: dict[int, str] = {}
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            longest = pieces[batch[0]][2]
            ids = self._generate_or_halve([pieces[p][1] for p in batch], tokens, longest)
            done.update(
                zip(batch, tokenizer.batch_decode(ids, skip_special_tokens=True), strict=True)
            )
            progress((start + len(batch)) / len(order))
        if not order:
            progress(1.0)
        out: list[list[str]] = [[] for _ in texts]
        for p, (i, _, _) in enumerate(pieces):
            out[i].append(done[p].strip())
        joiner = "" if languages.base(target) in languages.NO_SPACES else " "
        return [joiner.join(filter(None, parts)) for parts in out]

    def generate_ids(
        self, texts: Sequence[str], tokens: LanguageTokens, longest: int
    ) -> list[list[int]]:
        """Token ids of one batch's translations, target language token first where the model
        has one; ``longest`` (input tokens) bounds the output length."""
        tokenizer = _tokenizer(self.model)
        if tokens.source is not None:
            tokenizer.src_lang = tokens.source
        forced = tokens.target if self.resolved_family() != "marian" else None
        max_new = min(self.input_limit(), 2 * longest + 16)
        device, dtype = self.placement()
        if self.ctranslate2_model:
            translator = _ct2_translator(self.ctranslate2_model, device, dtype)
            results = translator.translate_batch(
                [tokenizer.convert_ids_to_tokens(tokenizer(t)["input_ids"]) for t in texts],
                target_prefix=[[forced]] * len(texts) if forced else None,
                beam_size=self.num_beams,
                max_decoding_length=max_new,
            )
            return [tokenizer.convert_tokens_to_ids(r.hypotheses[0]) for r in results]
        torch = _require("torch")
        model = _seq2seq(self.model, device, dtype)
        batch = tokenizer(list(texts), return_tensors="pt", padding=True).to(device)
        extra = {"forced_bos_token_id": tokenizer.convert_tokens_to_ids(forced)} if forced else {}
        with torch.inference_mode():
            ids = model.generate(**batch, num_beams=self.num_beams, max_new_tokens=max_new, **extra)
        return ids[:, 1:].tolist()  # without the decoder start token

    def resolved_family(self) -> str:
        if self.family != "auto":
            return self.family
        return _detect_family(self.model)

    def input_limit(self) -> int:
        """Tokens per model input: the configured cap or the model's own limit, the smaller."""
        config = _config(self.model)
        model_limit = min(
            getattr(config, "max_position_embeddings", None) or 10**6,
            _tokenizer(self.model).model_max_length,
        )
        return min(self.max_input_tokens, model_limit)

    def placement(self) -> tuple[str, str]:
        """(device, dtype): float16 on CUDA; float32 on CPU, or int8 where CTranslate2 runs."""
        device = self.device
        if device == "auto":
            device = "cuda" if _cuda_available(bool(self.ctranslate2_model)) else "cpu"
        dtype = self.dtype
        if dtype == "auto":
            dtype = (
                "float16" if device == "cuda" else "int8" if self.ctranslate2_model else "float32"
            )
        return device, dtype

    def _generate_or_halve(
        self, texts: list[str], tokens: LanguageTokens, longest: int
    ) -> list[list[int]]:
        """Out of GPU memory: the batch is tried once more in two halves, then it is RESOURCE."""
        try:
            return self.generate_ids(texts, tokens, longest)
        except RuntimeError as exc:
            if not _out_of_memory(exc):
                raise
        _free_gpu_cache()
        half = max(1, len(texts) // 2)
        try:
            return [
                row
                for chunk in (texts[:half], texts[half:])
                if chunk
                for row in self.generate_ids(chunk, tokens, longest)
            ]
        except RuntimeError as exc:
            if not _out_of_memory(exc):
                raise
            raise JobProcessingError(
                f"out of GPU memory translating with {self.model} even at batch size {half}: {exc}",
                JobErrorType.RESOURCE,
            ) from exc

    def _marian_tokens(self, tokenizer: Any, source: str, target: str) -> LanguageTokens:
        """Marian models translate one pair, or one source into the targets of their ``>>xx<<``
        tokens (opus-mt-en-ROMANCE)."""
        pair = _marian_pair(self.languages, tokenizer, self.model)
        if pair is None:
            raise validation_error(
                f"unsupported language pair {source}->{target}: cannot tell which pair Marian "
                f"model {self.model} translates; configure languages, e.g. 'en-es'"
            )
        codes = tokenizer.supported_language_codes
        target_token = next(
            (c for c in codes if _same_language(c.strip("<>"), target)), None
        )  # multilingual target: the >>xx<< token is the target language
        if not _same_language(pair[0], source, groups=True) or (
            target_token is None if codes else not _same_language(pair[1], target)
        ):
            translates = f"{pair[0]}->{pair[1]}"
            if codes:
                translates += f" ({' '.join(codes)})"
            raise validation_error(
                f"unsupported language pair {source}->{target}: Marian model {self.model} "
                f"translates {translates}"
            )
        return LanguageTokens(None, target_token)


def nllb_code(code: str) -> str:
    """'es' -> 'spa_Latn', 'zh' -> 'zho_Hans', 'ar' -> 'arb_Arab': FLORES-200 as NLLB spells it."""
    if "_" in code:
        return code  # already FLORES-200
    lang = langcodes.Language.get(code)
    if lang.language in NLLB_CODES and not lang.script:
        return NLLB_CODES[lang.language]
    return f"{lang.to_alpha3()}_{lang.maximize().script}"


def split_text(text: str, count: Callable[[str], int], budget: int) -> list[str]:
    """Pieces of at most ``budget`` tokens: whole sentences where they fit, else runs of words,
    else slices of a word. Token counts of pieces add up when joined with spaces."""
    if not text:
        return []
    if count(text) <= budget:
        return [text]
    units: list[tuple[str, int]] = []
    for sentence in filter(None, SENTENCE_END.split(text)):
        tokens = count(sentence)
        if tokens <= budget:
            units.append((sentence, tokens))
            continue
        for word in sentence.split():
            units.extend((w, count(w)) for w in _slice_word(word, count, budget))
    pieces: list[str] = []
    current: list[str] = []
    used = 0
    for unit, tokens in units:
        if current and used + tokens > budget:
            pieces.append(" ".join(current))
            current, used = [], 0
        current.append(unit)
        used += tokens
    return [*pieces, " ".join(current)]


def _slice_word(word: str, count: Callable[[str], int], budget: int) -> list[str]:
    if count(word) <= budget or len(word) == 1:
        return [word]
    half = len(word) // 2
    return _slice_word(word[:half], count, budget) + _slice_word(word[half:], count, budget)


def _same_language(a: str, b: str, groups: bool = False) -> bool:
    """'en' == 'eng'; with ``groups``, an opus-mt group name (mul, ROMANCE) matches any."""
    if groups and (a == "mul" or not a.islower()):
        return True
    try:
        return languages.alpha3(languages.base(a)) == languages.alpha3(languages.base(b))
    except (ValueError, LookupError):
        return False


def _marian_pair(configured: str, tokenizer: Any, model: str) -> tuple[str, str] | None:
    if configured:
        source, _, target = configured.partition("-")
        return source, target
    if tokenizer.source_lang and tokenizer.target_lang:
        return tokenizer.source_lang, tokenizer.target_lang
    match = OPUS_NAME.search(model)
    return (match[1], match[2]) if match else None


def _require(module: str) -> Any:
    """``module`` (torch, transformers, ctranslate2), or a PERMANENT error saying how to install
    it. The CTranslate2 backend needs no torch: each path imports only what it runs."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise JobProcessingError(
            f"the transformers MT engine needs {module} ({exc}): {INSTALL_HINT}",
            JobErrorType.PERMANENT,
        ) from exc


def _out_of_memory(exc: RuntimeError) -> bool:
    """torch.OutOfMemoryError says 'CUDA out of memory', CTranslate2 'out of memory'."""
    return "out of memory" in str(exc).lower()


def _free_gpu_cache() -> None:
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def _cuda_available(ctranslate2: bool) -> bool:
    if ctranslate2:
        return _require("ctranslate2").get_cuda_device_count() > 0
    return _require("torch").cuda.is_available()


@lru_cache(maxsize=4)
def _tokenizer(model: str) -> Any:
    return _require("transformers").AutoTokenizer.from_pretrained(model)


@lru_cache(maxsize=4)
def _config(model: str) -> Any:
    return _require("transformers").AutoConfig.from_pretrained(model)


@lru_cache(maxsize=4)
def _detect_family(model: str) -> str:
    model_type = _config(model).model_type
    if model_type == "marian":
        return "marian"
    if model_type == "m2m_100":
        return "nllb" if type(_tokenizer(model)).__name__.startswith("Nllb") else "m2m100"
    raise JobProcessingError(
        f"{model} is a {model_type!r} model: the transformers MT engine runs MarianMT, NLLB and "
        "M2M100 models",
        JobErrorType.PERMANENT,
    )


@lru_cache(maxsize=2)
def _seq2seq(model: str, device: str, dtype: str) -> Any:
    """Models load once per process: the first stage pays, retries and later batches don't."""
    torch, transformers = _require("torch"), _require("transformers")
    loaded = transformers.AutoModelForSeq2SeqLM.from_pretrained(model, dtype=getattr(torch, dtype))
    return loaded.to(device).eval()


@lru_cache(maxsize=2)
def _ct2_translator(path: str, device: str, compute_type: str) -> Any:
    return _require("ctranslate2").Translator(path, device=device, compute_type=compute_type)
