"""Small, offline text tools for the checks: words, claims, citations, overlap, language.

No dependency and no model: stopword lists for a handful of languages, a crude suffix stemmer,
and a sentence splitter that keeps citations (``[doc-1]``) with the sentence they close.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)?", re.UNICODE)
_POSSESSIVE = re.compile(r"['\u2019]s$")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_CITATION = re.compile(r"\[([^\[\]\n]{1,200})\]")
# citations right after a sentence's end (``… reefs. [a]``) belong to that sentence
_TRAILING = re.compile(r"([.!?])((?:[ \t]*\[[^\[\]\n]{1,200}\])+)")
# a sentence ends at . ! ? followed by space and a capital, a digit, a quote or a bracket; or at
# a line break
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'“(\[A-Z0-9À-Ý])|(?<=\]\.)\s+|\n+")
_MARKUP = re.compile(r"^\s*(?:[#>*\-+]+|\d+[.)])\s*")


def _listed(text: str) -> frozenset[str]:
    return frozenset(text.split())


STOPWORDS: dict[str, frozenset[str]] = {
    "en": _listed(
        "the a an and or but of to in on at by for with from is are was were be been being it"
        " its this that these those as not no he she they we you i his her their our your which"
        " who what when where why how than then there here has have had do does did will would"
        " can could should may might must shall about into over after before also only very"
        " more most such so if all any each other some"
    ),
    "es": _listed(
        "el la los las un una unos unas y o pero de del al en con por para es son fue eran ser"
        " está están como que qué no se su sus lo le les este esta estos estas ese esa muy más"
        " también ya hay entre cuando donde porque sin sobre nos mi tu yo él ella ellos"
    ),
    "fr": _listed(
        "le la les un une des et ou mais de du au aux en dans par pour avec est sont était"
        " être comme que qui ne pas se sa son ses ce cette ces il elle ils elles nous vous je"
        " tu très plus aussi sur sous entre quand où leur leurs on y"
    ),
    "de": _listed(
        "der die das ein eine einer eines und oder aber von zu im in an auf mit für ist sind"
        " war waren sein wie dass nicht sich sie er es wir ihr ich du den dem des auch noch"
        " sehr mehr über unter bei nach aus wenn wo weil nur schon kein keine"
    ),
    "it": _listed(
        "il lo la i gli le un uno una e o ma di del della dei degli delle da dal in con per è"
        " sono era essere come che non si suo sua suoi questo questa questi molto più anche"
        " tra quando dove perché nel nella sul sulla ci noi voi io"
    ),
    "pt": _listed(
        "o a os as um uma uns umas e ou mas de do da dos das em no na nos nas com por para é"
        " são foi eram ser como que não se seu sua seus este esta estes muito mais também já"
        " há entre quando onde porque sem sobre ao ele ela eles"
    ),
    "nl": _listed(
        "de het een en of maar van te in op aan met voor is zijn was waren als dat niet zich"
        " ze hij zij wij jij ik die dit deze ook nog zeer meer over onder bij na uit wanneer"
        " waar omdat alleen al geen er"
    ),
}
"""Function words of each language the ``language`` check tells apart."""

_ALL_STOPWORDS = frozenset().union(*STOPWORDS.values())

ASKING_WORDS = _listed(
    "write draft give list explain describe summarize summarise summary report short brief"
    " answer question tell find provide please create make using use based following detail"
    " details short long paragraph sentence sentences words word few one two three say says"
    " said source sources text according work works"
)
"""Words of an instruction that say how to answer, not what about (left out of relevance)."""


def words(text: str) -> list[str]:
    """The words of `text`, lowercased (letters and digits of any script)."""
    # a possessive is its noun: "France's" is "france"
    return [_POSSESSIVE.sub("", w.lower()) for w in _WORD.findall(text)]


def stem(word: str) -> str:
    """A crude stem, so ``reefs``/``reef`` and ``warming``/``warmed`` meet."""
    for suffix in ("ings", "ing", "edly", "ers", "ed", "ies", "es", "er", "s", "ly"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def content_words(text: str, *, drop: Iterable[str] = ()) -> set[str]:
    """Stems of the words of `text` that carry meaning (no stopwords of any known language)."""
    skip = _ALL_STOPWORDS | frozenset(drop)
    return {stem(w) for w in words(text) if w not in skip and (len(w) > 1 or w.isdigit())}


def numbers(text: str) -> set[str]:
    """The numbers `text` states, normalised (``1,200`` and ``1200`` are one)."""
    return {n.replace(",", "").rstrip(".") for n in _NUMBER.findall(text)}


def overlap(claim: set[str], source: set[str]) -> float:
    """Share of `claim`'s words found in `source` (1.0 for a claim without words)."""
    return len(claim & source) / len(claim) if claim else 1.0


def citations(sentence: str) -> list[str]:
    """Source ids a sentence cites: ``[a]``, ``[a, b]`` or ``[a; b]``."""
    found: list[str] = []
    for group in _CITATION.findall(sentence):
        found.extend(part.strip() for part in re.split(r"[,;]", group) if part.strip())
    return found


def strip_citations(sentence: str) -> str:
    return _CITATION.sub(" ", sentence)


def claims(text: str) -> list[str]:
    """The sentences of `text` that state something: markup stripped, headings and sentences
    of fewer than three content words (``Sources:``, ``Thanks.``) left out."""
    out = []
    for part in _SENTENCE_END.split(_TRAILING.sub(r"\2\1", text)):
        sentence = _MARKUP.sub("", part).strip()
        if len(content_words(strip_citations(sentence))) >= 3:
            out.append(sentence)
    return out


def language_scores(text: str) -> dict[str, int]:
    """How many of `text`'s words are stopwords of each known language."""
    tokens = words(text)
    return {lang: sum(t in stop for t in tokens) for lang, stop in STOPWORDS.items()}


def likely_languages(text: str) -> list[str]:
    """The languages whose function words `text` uses most (several on a tie; none if none)."""
    scores = language_scores(text)
    top = max(scores.values())
    return [lang for lang, n in scores.items() if n == top] if top else []


def detect_language(text: str, *, min_hits: int = 3) -> str | None:
    """The language of `text` by stopword counts; ``None`` when too short or too close to call."""
    scores = language_scores(text)
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    (best, top), (_, second) = ranked[0], ranked[1]
    if top < min_hits or top < 1.5 * second:
        return None
    return best


__all__ = [
    "ASKING_WORDS",
    "STOPWORDS",
    "citations",
    "claims",
    "content_words",
    "detect_language",
    "language_scores",
    "likely_languages",
    "numbers",
    "overlap",
    "stem",
    "strip_citations",
    "words",
]
