"""Language codes: BCP 47 in the API, ISO 639-2 where ffmpeg and Apertium want three letters."""

from __future__ import annotations

import langcodes

AUTO = "auto"
# Languages written without spaces between words: their pieces and words join with "".
NO_SPACES = frozenset({"ja", "km", "lo", "my", "th", "zh"})


def is_valid(code: str) -> bool:
    return code == AUTO or langcodes.tag_is_valid(code)


def base(code: str) -> str:
    """'pt-BR' -> 'pt': the engines' language, without region."""
    return langcodes.Language.get(code).language or code


def alpha3(code: str) -> str:
    """'es' -> 'spa' (ISO 639-2/T), as ffmpeg stream tags and Apertium modes spell it."""
    return langcodes.Language.get(code).to_alpha3(variant="T")
