"""Tiny random translation models built at test time, so MT engines are tested offline on the
real transformers classes: tokenizers are trained on the fly, models saved with
``save_pretrained`` and loaded back by path like any downloaded model."""

from __future__ import annotations

import io
import json
from pathlib import Path

CORPUS = [
    "Tomorrow it will be very sunny in the whole city.",
    "Mañana hará mucho sol en toda la ciudad.",
    "The train leaves the station at seven in the morning.",
    "El tren sale de la estación a las siete de la mañana.",
    "We are going to dub this video into Spanish.",
    "Vamos a doblar este vídeo al español.",
    "Please close the door when you leave the room.",
    "Por favor, cierra la puerta cuando salgas de la habitación.",
    "My brother reads a book every week.",
    "Mi hermano lee un libro cada semana.",
    "How much does a coffee cost in this café?",
    "¿Cuánto cuesta un café en esta cafetería?",
]
"""English and Spanish sentences: enough text for a vocabulary of a few hundred pieces."""

# Small enough that a model builds and runs in well under a second; ``max_positions`` is small so
# that a paragraph already exceeds it and exercises the engines' splitting.
TINY = {
    "d_model": 16,
    "encoder_layers": 1,
    "decoder_layers": 1,
    "encoder_attention_heads": 2,
    "decoder_attention_heads": 2,
    "encoder_ffn_dim": 32,
    "decoder_ffn_dim": 32,
    "init_std": 0.3,  # larger than 0.02: outputs vary with the input instead of one repeated text
}


def _seed() -> None:
    import torch

    torch.manual_seed(0)


def _train_spm(corpus: list[str], vocab_size: int) -> bytes:
    """A SentencePiece unigram model, serialised, trained on ``corpus`` in memory."""
    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus),
        model_writer=model,
        vocab_size=vocab_size,
        hard_vocab_limit=False,
        character_coverage=1.0,
        minloglevel=2,
    )
    return model.getvalue()


def build_marian(
    folder: Path, source: str = "en", target: str = "es", max_positions: int = 32
) -> Path:
    """A MarianMT model like ``Helsinki-NLP/opus-mt-en-es``: one language pair, shared vocab."""
    import sentencepiece as spm
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    _seed()
    folder.mkdir(parents=True, exist_ok=True)
    proto = _train_spm(CORPUS, vocab_size=120)
    for name in ("source.spm", "target.spm"):
        (folder / name).write_bytes(proto)
    processor = spm.SentencePieceProcessor(model_proto=proto)
    pieces = [processor.id_to_piece(i) for i in range(processor.get_piece_size())]
    words = [p for p in pieces if p not in ("<unk>", "<s>", "</s>")]
    vocab = {"</s>": 0, "<unk>": 1} | {p: i + 2 for i, p in enumerate(words)}
    vocab["<pad>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    tokenizer = MarianTokenizer(
        str(folder / "source.spm"),
        str(folder / "target.spm"),
        str(folder / "vocab.json"),
        source_lang=source,
        target_lang=target,
        model_max_length=max_positions,
    )
    config = MarianConfig(
        vocab_size=len(vocab),
        max_position_embeddings=max_positions,
        pad_token_id=vocab["<pad>"],
        eos_token_id=0,
        decoder_start_token_id=vocab["<pad>"],
        forced_eos_token_id=0,
        **TINY,
    )
    MarianMTModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_nllb(folder: Path, max_positions: int = 32) -> Path:
    """An NLLB-200 style model: the M2M100 architecture with a BPE tokenizer whose special tokens
    are the FLORES-200 language codes (``eng_Latn``, ``spa_Latn``, ...)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import M2M100Config, M2M100ForConditionalGeneration, NllbTokenizer

    _seed()
    folder.mkdir(parents=True, exist_ok=True)
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    bpe.train_from_iterator(
        CORPUS,
        trainers.BpeTrainer(
            vocab_size=200, special_tokens=["<s>", "<pad>", "</s>", "<unk>"], show_progress=False
        ),
    )
    state = json.loads(bpe.to_str())["model"]
    tokenizer = NllbTokenizer(
        vocab=state["vocab"],
        merges=[tuple(m) if isinstance(m, list) else tuple(m.split()) for m in state["merges"]],
        model_max_length=max_positions,
    )
    config = M2M100Config(
        vocab_size=len(tokenizer),
        max_position_embeddings=max_positions,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
        **TINY,
    )
    M2M100ForConditionalGeneration(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


# A Hybrid Transformer Demucs (htdemucs's architecture) a few hundred kB in size: four sources
# like the real one, depth 4 so the transformer sees short sequences (fast on a CPU).
TINY_DEMUCS = {
    "sources": ["drums", "bass", "other", "vocals"],
    "channels": 4,
    "depth": 4,
    "nfft": 2048,
    "dconv_comp": 2,
    "t_layers": 1,
    "t_heads": 1,
    "t_hidden_scale": 1.0,
}


def _tiny_htdemucs():
    from fractions import Fraction

    from demucs.htdemucs import HTDemucs

    _seed()
    kwargs = TINY_DEMUCS | {"segment": Fraction(2)}
    return HTDemucs(**kwargs), kwargs


def build_demucs(folder: Path, name: str = "tiny") -> str:
    """A Demucs weights folder as ``demucs --repo`` reads it: ``<name>.yaml`` (a bag of one model)
    and the model as Demucs's ``serialize_model`` packs it (less its training arguments, which
    need the training extra), saved by its ``save_with_checksum``."""
    from demucs.states import get_state, save_with_checksum

    model, _ = _tiny_htdemucs()
    folder.mkdir(parents=True, exist_ok=True)
    args, kwargs = model._init_args_kwargs
    package = {"klass": type(model), "args": args, "kwargs": kwargs}
    package["state"] = get_state(model, None, half=False)
    save_with_checksum(package, folder / "a1b2c3d4.th")
    (folder / f"{name}.yaml").write_text("models: ['a1b2c3d4']\n")
    return name


def build_demucs_hf_cache(cache: Path, name: str = "test/tiny") -> str:
    """The same model in the HuggingFace cache layout ``demucs`` downloads into: a snapshot of
    ``<namespace>/Demucs-<name>`` with ``<name>.yaml`` and ``<signature>.safetensors`` carrying
    the class and its arguments in the file's metadata (what ``demucs.hf`` loads)."""
    from demucs.hf import hf_repo_name
    from safetensors.torch import save_file

    model, kwargs = _tiny_htdemucs()
    namespace, short = name.split("/")
    repo = cache / f"models--{namespace}--{hf_repo_name(short)}"
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True, exist_ok=True)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text("0" * 40)
    segment = kwargs.pop("segment")
    kwargs["segment"] = {
        "_type": "fraction",
        "numerator": segment.numerator,
        "denominator": segment.denominator,
    }
    metadata = {
        "klass": "demucs.htdemucs.HTDemucs",
        "args": "[]",
        "kwargs": json.dumps(kwargs),
    }
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, snapshot / "e5f6a7b8.safetensors", metadata=metadata)
    (snapshot / f"{short}.yaml").write_text("models: ['e5f6a7b8']\n")
    return name
