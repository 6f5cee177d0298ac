"""Where the marked tokens of a text are, remembering every token ever looked at.

Two hot questions are asked of every article: which of its white-space tokens carry a trigger
word (the sentence picker), and which of its runs of Arabic letters are two words run together
(the normalizer). Each distinct token is classified once (`learn`, which may be slow) and
remembered; after that a text costs one pass over its tokens.

This is the pure-Python form. `token_table.pyx` is its compiled twin (built by setup.sh, see
_accel.py): same API and results, but it walks the characters once in C and remembers tokens
by a 62-bit hash of their characters, so a token that is only looked up is never built as a
string and costs about one memory access (a stream worker's tables hold hundreds of thousands
of tokens, far beyond the CPU caches). Two tokens sharing a hash would be taken for one
another: about one chance in 10^13 per new token with half a million known, and the hash is
seeded per process, so no one can craft such a pair. tests/unit/test_token_table.py holds the
two forms to the same answers.
"""
from __future__ import annotations

import re
from collections.abc import Callable

from .occurrences import not_space, whole_occurrences


class TokenTable:
    """`find(text)`: {token: [start, ...]} for each token of `text` that `learn` marks (returns
    True for). Tokens are runs of non-white-space characters (what str.split() returns), or,
    given `letters` as (first, last) code point ranges, runs of those characters at least
    `min_length` long. `learn` runs once per distinct token until `limit` tokens are
    remembered; then the table forgets them all and learns again (bounded memory)."""

    MAX_LOCATED = 64  # marked tokens located one by one with str.find, at most; else one pass

    def __init__(self, learn: Callable[[str], bool], limit: int,
                 letters: list[tuple[int, int]] | None = None, min_length: int = 1) -> None:
        self._learn = learn
        self.limit = limit
        self._known: set[str] = set()
        self._marked: set[str] = set()
        if letters is None:
            self._pattern = re.compile(r"\S+")
            self._tokens: Callable[[str], list[str]] = str.split
            self._joins = not_space
        else:
            spans = "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in letters)
            self._pattern = re.compile(f"[{spans}]{{{max(1, min_length)},}}")
            self._tokens = self._pattern.findall
            self._joins = frozenset(chr(c) for a, b in letters for c in range(a, b + 1)).__contains__

    def __len__(self) -> int:
        return len(self._known)

    def find(self, text: str) -> dict[str, list[int]]:
        present = set(self._tokens(text))
        if not present.issubset(self._known):
            new = present - self._known
            if len(self._known) + len(new) > self.limit:
                self._known.clear()
                self._marked.clear()
                new = present
            for token in new:
                self._known.add(token)
                if self._learn(token):
                    self._marked.add(token)
        marked = present & self._marked  # set & set walks the smaller one
        if len(marked) <= self.MAX_LOCATED:
            return {token: whole_occurrences(text, token, self._joins) for token in marked}
        # Each str.find scans the text: with many distinct marked tokens (a huge or adversarial
        # text) one pass over all tokens keeps this linear.
        found: dict[str, list[int]] = {}
        for m in self._pattern.finditer(text):
            if m.group() in marked:
                found.setdefault(m.group(), []).append(m.start())
        return found
