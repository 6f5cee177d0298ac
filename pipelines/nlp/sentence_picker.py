"""Which sentences of an article can hold a whole trigger pattern, decided with set operations.

The tagger's full matching is the expensive part; many articles hold no complete pattern and most
sentences of the others hold none either. This module answers "which sentences are worth
matching" with set operations over white-space tokens, never rejecting a sentence that could
match: it is a necessary condition, not the matcher.
"""
from __future__ import annotations

from bisect import bisect_right
from functools import lru_cache

from .lexicon import Trigger, lexicon
from .normalize import match_key
from .token_table import TokenTable
from .tokens import MAX_WORD, TOKEN_RE, sentence_bounds, stems


class SentencePicker:
    """Which sentences can hold a whole trigger pattern, decided with set operations.

    Every slot of every pattern gets a key (pattern, slot). A white-space token is classified
    once (remembered by a TokenTable): the keys its words satisfy. A sentence is worth matching
    only when, for some pattern, its tokens' keys hold all that pattern's keys. Keys of the
    language's most frequent words ("the", "في") are taken as present in every sentence: that
    only lets more sentences through, never fewer, and spares looking at where those words are.
    """

    CACHE_LIMIT = 500_000
    UBIQUITOUS_WORDS = 50  # how many of the language's most frequent words count as always present

    def __init__(self, triggers: list[Trigger], ubiquitous: frozenset[str]) -> None:
        self.needs: list[frozenset[tuple[int, int]]] = []
        self.slot_keys: dict[str, list[tuple[int, int]]] = {}
        free = set()
        for no, trig in enumerate(triggers):
            self.needs.append(frozenset((no, k) for k in range(len(trig.slots))))
            for k, slot in enumerate(trig.slots):
                for word in slot:
                    self.slot_keys.setdefault(word, []).append((no, k))
                    if word in ubiquitous:
                        free.add((no, k))
        self.free_keys = frozenset(free)
        self.keys_of: dict[str, frozenset[tuple[int, int]]] = {}  # tokens that satisfy some slot
        self.starts_of: dict[str, frozenset[int]] = {}            # ... the patterns they may start
        self.tokens = TokenTable(self._learn, self.CACHE_LIMIT)

    def _learn(self, token: str) -> bool:
        """Whether some word of this white-space token satisfies a slot (its keys are kept)."""
        if token in self.keys_of:
            return True  # learnt before the token table last forgot everything
        keys = set()
        for word in TOKEN_RE.findall(token):
            if len(word) <= MAX_WORD:  # no lexicon word is this long; junk runs stay cheap
                for stem in stems(word):
                    keys.update(self.slot_keys.get(stem, ()))
        if not keys:
            return False
        self.keys_of[token] = frozenset(keys)
        self.starts_of[token] = frozenset(no for no, k in keys if k == 0)
        return True

    def _covered(self, carrying) -> list[int]:
        """The patterns whose every slot some of these tokens satisfy."""
        if not carrying:
            return []
        keys = set().union(*map(self.keys_of.__getitem__, carrying))
        starts = set().union(*map(self.starts_of.__getitem__, carrying))
        return [no for no in starts if self.needs[no] <= keys]

    def sentences_to_match(self, text: str, bounds: list[tuple[int, int]] | None = None
                           ) -> tuple[list[int], list[tuple[int, int]] | None]:
        """Indices of the sentences of `text` that may hold a whole pattern, and the sentence bounds.

        Many articles hold none: the article's carrying tokens say so (and the sentences are not
        even split). Otherwise each sentence's keys are checked against the patterns covered at
        article level.
        """
        found = self.tokens.find(text)  # carrying token -> where it starts
        covered = self._covered(found)
        if not covered:
            return [], bounds
        if bounds is None:
            bounds = sentence_bounds(text)
        if any(self.needs[no] <= self.free_keys for no in covered):
            return list(range(len(bounds))), bounds  # a pattern of frequent words only: look everywhere
        wanted = set().union(*(self.needs[no] for no in covered)) - self.free_keys
        sentence_starts = [start for start, _ in bounds]
        keys_by_sentence: dict[int, set[tuple[int, int]]] = {}
        for token, starts in found.items():
            keys = self.keys_of[token] & wanted
            if keys:
                for pos in starts:
                    keys_by_sentence.setdefault(bisect_right(sentence_starts, pos) - 1, set(self.free_keys)).update(keys)
        return [i for i, keys in sorted(keys_by_sentence.items())
                if any(self.needs[no] <= keys for no in covered)], bounds


@lru_cache(maxsize=1)
def sentence_pickers() -> dict[str, SentencePicker]:
    from wordfreq import top_n_list

    lex = lexicon()
    indexes = {}
    for lang, table in lex.triggers_by_first.items():
        triggers = list({t.id: t for ts in table.values() for t in ts}.values())
        frequent = frozenset(match_key(w) for w in top_n_list(lang, SentencePicker.UBIQUITOUS_WORDS, wordlist="small"))
        indexes[lang] = SentencePicker(triggers, frequent)
    return indexes
