"""Cleaning machine translation output, the same way whichever engine made it.

What an engine returns reaches the reviewer, the subtitles and the voice as is: Apertium leaves
doubled and leading spaces where it dropped a word mark ("cuánto  podría"), and marks words it
could not translate or generate (``*`` unknown, ``@`` untranslated lemma, ``#`` generation
error); neural engines can leave a space before punctuation. One function, applied by the MT stage
to every engine's output, so no engine needs its own cleanup and none is forgotten.
"""

from __future__ import annotations

import re

from dubbing_pipeline.domain import languages

MARKS = "*#@"  # Apertium's unknown-word, generation-error and untranslated-lemma marks
# Punctuation that sits right after the word before it (no space), and openers that sit right
# before the word after them: Latin, Spanish inverted marks, quotes, brackets, CJK.
CLOSING = ",.;:!?%)]}\u2026\u00bb\u201d\u2019\u3001\u3002\uff0c\uff01\uff1f\uff1b\uff1a\uff09"
OPENING = "¿¡([{\u00ab\u201c\u2018\uff08"
# French typography keeps a space before these and inside guillemets.
FRENCH_SPACED = ";:!?\u00bb"
FRENCH_OPENING_SPACED = "\u00ab"
CJK_PUNCTUATION = "\u3001\u3002\uff0c\uff01\uff1f\uff1b\uff1a"  # no space after them either

_MARK = re.compile(rf"(?<!\w)([{re.escape(MARKS)}])(?=\w)")


def clean_translation(text: str, source: str, language: str) -> str:
    """``text`` (a translation of ``source`` into ``language``) with single spaces, no engine
    marks and no space before closing or after opening punctuation. A mark the source itself
    uses at a word's start (a #hashtag, an @handle) is kept."""
    kept = {m for m in MARKS if re.search(rf"(?<!\w){re.escape(m)}\w", source)}
    text = _MARK.sub(lambda m: m[1] if m[1] in kept else "", text)
    text = " ".join(text.split())
    french = languages.base(language) == "fr"
    closing = "".join(c for c in CLOSING if not (french and c in FRENCH_SPACED))
    opening = "".join(c for c in OPENING if not (french and c in FRENCH_OPENING_SPACED))
    if languages.base(language) in languages.NO_SPACES:
        opening += CJK_PUNCTUATION
    text = re.sub(rf" +(?=[{re.escape(closing)}])", "", text)
    return re.sub(rf"(?<=[{re.escape(opening)}]) +", "", text)
