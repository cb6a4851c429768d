"""Which language a text is in: py3langid (langid.py's naive Bayes model over byte n-grams, shipped
inside the package, BSD; its 114 languages with an ISO 639-1 code), probabilities normalised.
A text of a few words, or one the model is unsure of, says nothing: ``None``, not a guess.

Measured on the checks' cases: whole sentences are identified (English and Spanish at 0.99,
Russian at 0.86 beside Ukrainian and Bulgarian); names, numbers and fragments such as "era."
(Hausa to langid) are left unjudged.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from py3langid.langid import LanguageIdentifier

MIN_WORDS = 3  # fewer and a text says little about its language
MIN_PROBABILITY = 0.5  # more likely than all the others together (ru 0.86 beside uk, bg)


@lru_cache(maxsize=1)
def _identifier() -> LanguageIdentifier:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    # The languages with a two-letter (ISO 639-1) code, as projects name theirs: the model's
    # regional varieties with only three-letter codes (Nigerian Pidgin, Extremaduran) would
    # take probability from English and Spanish on plain sentences (0.86 left for one here).
    identifier.set_languages([code for code in identifier.labels if len(code) == 2])
    return identifier


def languages() -> frozenset[str]:
    """The ISO 639-1 codes the model knows."""
    return frozenset(_identifier().labels)


def detect(text: str) -> str | None:
    """The language of ``text``, or None: fewer than ``MIN_WORDS`` words, or no language at
    ``MIN_PROBABILITY``."""
    if len(text.split()) < MIN_WORDS:
        return None
    language, probability = _identifier().classify(text)
    return str(language) if probability >= MIN_PROBABILITY else None
