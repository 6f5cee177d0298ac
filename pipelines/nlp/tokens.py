"""Tokens, sentences and word stems over the match form of a text.

Arabic attaches conjunctions, prepositions and the article to the front of a word and pronouns
to its end ("وبالقوات", "قواتها"). Instead of a full morphological analyser the matcher strips
the affixes listed in affixes.yaml and looks every candidate stem up; the result is cached per
surface form, and news vocabulary repeats enough that the cache answers most tokens.
"""
from __future__ import annotations

import re
from functools import lru_cache
from .normalize import match_key
from .resources import load_data

MAX_WORD = 40  # no lexicon word is longer: longer tokens are junk and are never analysed
TOKEN_RE = re.compile(r"\w+(?:[-'.]\w+)*|[^\w\s]", re.UNICODE)
# Sentence ends: . ! ? followed by white space, or a line break. One character class to scan for
# (fast in the regex engine); what follows it is checked in Python.
_BREAK_RE = re.compile(r"[.!?\n]")
_SPACES_RE = re.compile(r"\s+")
_NEWLINES_RE = re.compile(r"\n+")
_ARABIC = re.compile("[\u0621-\u064a]")


def sentence_bounds(match_text: str) -> list[tuple[int, int]]:
    """[start, end) of each non-blank sentence: split after . ! ? followed by space, and at newlines."""
    bounds = []
    start = consumed = 0
    for m in _BREAK_RE.finditer(match_text):
        p = m.start()
        if p < consumed:
            continue  # a newline inside white space already taken as a separator
        if match_text[p] == "\n":
            gap = _NEWLINES_RE.match(match_text, p)
        else:
            gap = _SPACES_RE.match(match_text, p + 1)
            if gap is None:
                continue  # "3.5", "U.S.A": no space after the mark
        if match_text[start:gap.start()].strip():
            bounds.append((start, gap.start()))
        start = consumed = gap.end()
    if match_text[start:].strip():
        bounds.append((start, len(match_text)))
    return bounds


class Sentence:
    """One sentence of the match form: its words at once, their offsets only when an event needs them."""

    __slots__ = ("index", "start", "end", "words", "_text", "_spans")

    def __init__(self, match_text: str, index: int, start: int, end: int) -> None:
        self.index, self.start, self.end = index, start, end
        self.words: list[str] = TOKEN_RE.findall(match_text, start, end)
        self._text = match_text
        self._spans: list[tuple[int, int]] | None = None

    def span(self, first: int, last: int) -> tuple[int, int]:
        """Offsets in the match text of words first..last (inclusive)."""
        if self._spans is None:
            self._spans = self._word_spans()
        return self._spans[first][0], self._spans[last][1]

    def _word_spans(self) -> list[tuple[int, int]]:
        """Where each word is, found with str.find rather than by matching the pattern again:
        only white space lies between two words (every other character is part of one), so a
        word's first occurrence after the end of the one before is where it stands."""
        text, end = self._text, self.end
        spans = []
        pos = self.start
        for word in self.words:
            at = text.find(word, pos, end)
            pos = at + len(word)
            spans.append((at, pos))
        return spans


class _Affixes:
    def __init__(self) -> None:
        data = load_data("affixes")
        self.ar_prefixes = tuple(sorted({match_key(p) for p in data["ar"]["prefixes"]}, key=len, reverse=True))
        self.ar_suffixes = tuple(sorted({match_key(s) for s in data["ar"]["suffixes"]}, key=len, reverse=True))
        self.en_suffixes = tuple((s, r) for s, r in data["en"]["suffixes"])
        self.min_stem = int(data["ar"]["min_stem"])
        # clitics proper (no verb prefixes): what may stand before a name
        self.ar_clitics = tuple(p for p in self.ar_prefixes if set(p) <= set("وفبلك") or p.endswith("ال"))


@lru_cache(maxsize=1)
def _affixes() -> _Affixes:
    return _Affixes()


_STEM_CACHE: dict[str, frozenset[str]] = {}
_STEM_CACHE_LIMIT = 300_000


def stems(token: str) -> frozenset[str]:
    """The token and every affix-stripped form of it (cached)."""
    found = _STEM_CACHE.get(token)
    if found is None:
        found = _arabic_stems(token) if _ARABIC.match(token) else _english_stems(token)
        if len(_STEM_CACHE) >= _STEM_CACHE_LIMIT:
            _STEM_CACHE.clear()
        _STEM_CACHE[token] = found
    return found


@lru_cache(maxsize=100_000)
def name_stems(token: str) -> frozenset[str]:
    """For names only clitics come off: "بدمشق" is Damascus, "حماسا" is not Hamas."""
    if not _ARABIC.match(token):
        return frozenset((token,))
    return frozenset(_arabic_bodies(token))


def _arabic_bodies(token: str, prefixes: tuple[str, ...] | None = None) -> list[str]:
    """The token and the token without each of the given prefixes (default: clitics)."""
    aff = _affixes()
    bodies = [token]
    for pre in aff.ar_clitics if prefixes is None else prefixes:
        if token.startswith(pre) and len(token) - len(pre) >= aff.min_stem:
            body = token[len(pre):]
            bodies.append(body)
            if pre.endswith("لل"):
                bodies.append("ال" + body)
    return bodies


def _arabic_stems(token: str) -> frozenset[str]:
    aff = _affixes()
    out = {token}
    for body in _arabic_bodies(token, aff.ar_prefixes):
        out.add(body)
        for suf in aff.ar_suffixes:
            if body.endswith(suf) and len(body) - len(suf) >= aff.min_stem:
                stem = body[: -len(suf)]
                out.add(stem)
                if stem.endswith("ت"):
                    out.add(stem[:-1] + "ه")  # قوتها -> قوه (ة folded to ه)
    return frozenset(out)


def _english_stems(token: str) -> frozenset[str]:
    out = {token}
    if token.endswith("'s"):
        token = token[:-2]
        out.add(token)
    for suf, repl in _affixes().en_suffixes:
        if token.endswith(suf) and len(token) - len(suf) >= 3:
            base = token[: -len(suf)] + repl
            out.add(base)
            if len(base) > 3 and base[-1] == base[-2] and suf in ("ed", "ing"):
                out.add(base[:-1])  # shelled -> shell -> shel? keep both forms
    return frozenset(out)
