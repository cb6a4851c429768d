"""Language codes: BCP 47 in the API, ISO 639-2 where ffmpeg and Apertium want three letters."""

from __future__ import annotations

import langcodes
from pydantic import BaseModel, Field

AUTO = "auto"
CAPABILITIES = "dubbing/capabilities"  # the transcript asset's metadata entry that holds them
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


class Capabilities(BaseModel):
    """What the deployment's engines can do, so a project they cannot dub is refused when it is
    created, not after a person has reviewed its transcript. ``None``: not known (any)."""

    transcribes: list[str] | None = Field(None, description="source languages STT knows")
    translates: list[tuple[str, str]] | None = Field(None, description="(source, target) pairs")
    speaks: list[str] | None = Field(None, description="target languages TTS speaks")

    def problem(self, source: str, target: str) -> str | None:
        """Why a project from ``source`` (or auto) into ``target`` cannot be dubbed, if it
        cannot (the message names the field at fault)."""
        target = base(target)
        if source != AUTO:
            source = base(source)
            if source == target:
                return f"targetLanguage: {target} is the source language already"
            if self.transcribes is not None and source not in self.transcribes:
                return f"sourceLanguage: speech recognition here does not know {source!r}"
        if self.translates is not None:
            pairs = {(s, t) for s, t in self.translates}
            known = sorted(f"{s}->{t}" for s, t in pairs)
            if source == AUTO and not any(t == target for _, t in pairs):
                return f"targetLanguage: nothing translates into {target!r} here ({known})"
            if source != AUTO and (source, target) not in pairs:
                return f"targetLanguage: {source}->{target} is not a pair translated here {known}"
        if self.speaks is not None and target not in self.speaks:
            return f"targetLanguage: speech synthesis here does not speak {target!r}"
        return None
