"""Words only a language has, to find words a translation left in its source language: the words
a language cannot do without ("the", "of", "and"; "el", "de", "que"). A translation into Spanish
that still says "the" and "with" kept English words. Per word, where a language identifier
(``infra.language_id``, which judges whole segments) cannot say anything.

Honest limits: six languages are known (``KNOWN``); other pairs are not judged; close pairs
(es/pt, es/it) share many words, which are left out.
"""

from __future__ import annotations

from collections.abc import Sequence

from dubbing_pipeline.domain.checks import words

_LISTS = {
    "en": """the a an of and or but to in on at by for with from as is are was were be been
        also because while only more most other such here now never always
        it its this that these those he she they we you i his her their our my your not no do
        does did have has had will would can could should there what which who when where why
        how all any some if than then so very just about into over after before up out""",
    "es": """a el la los las un una unos unas de del al y o pero en con por para sin sobre es
        asi aqui ahora despues antes nunca siempre algo nada mucho mucha poco otro otra hoy
        son fue era ser estar esta este esto estos estas ese esa eso que quien cuando donde
        como porque pero muy mas ya su sus mi mis tu tus nuestro nuestra se lo le les nos me
        te ha han hay habia tiene tienen no si tambien hasta desde entre cada todo todos""",
    "fr": """le la les un une des de du au aux et ou mais dans sur avec par pour sans est sont
        aussi ici maintenant apres avant jamais toujours quelque rien beaucoup peu autre
        etait etre avoir ce cette ces cet qui que quoi quand ou comme parce tres plus deja son
        sa ses mon ma mes ton ta tes notre votre leur se ne pas il elle ils elles nous vous je
        tu on y en a ont aussi tout tous""",
    "de": """der die das den dem des ein eine einer einem einen und oder aber in im auf mit
        hier jetzt nach vor nie immer etwas nichts viel wenig andere heute
        von zu zum zur fur ist sind war waren sein haben hat hatte dieser diese dieses wer was
        wann wo wie weil sehr schon sein seine ihr ihre mein meine nicht kein keine er sie es
        wir ihr ich du man auch noch nur""",
    "it": """il lo la i gli le un uno una di del della dei degli delle e o ma in nel nella con
        qui ora dopo prima mai sempre qualcosa niente molto poco altro oggi
        per su da dal dalla senza e sono era essere avere ha hanno questo questa questi
        quello quella che chi quando dove come perche molto piu gia suo sua suoi mio mia non
        si ci ne anche tutto tutti""",
    "pt": """o a os as um uma uns umas de do da dos das e ou mas em no na nos nas com por para
        aqui agora depois antes nunca sempre algo nada pouco outro hoje
        sem sobre e sao foi era ser estar este esta isto esse essa isso que quem quando onde
        como porque muito mais ja seu sua seus meu minha nao se lhe nos tambem ate desde
        entre cada todo todos""",
}
FUNCTION_WORDS: dict[str, frozenset[str]] = {
    lang: frozenset(words(text)) for lang, text in _LISTS.items()
}
KNOWN = frozenset(FUNCTION_WORDS)


def only_in(source: str, target: str, tokens: Sequence[str]) -> list[str]:
    """The tokens that are function words of ``source`` but not of ``target``: words a
    translation into ``target`` should not have kept ("the", "with" in Spanish). One-letter
    words are left out: "a" is English, Spanish, French, Italian and Portuguese."""
    src, tgt = FUNCTION_WORDS.get(source), FUNCTION_WORDS.get(target)
    if src is None or tgt is None:
        return []
    return [t for t in tokens if len(t) > 1 and t in src and t not in tgt]  # "a", "i": both
