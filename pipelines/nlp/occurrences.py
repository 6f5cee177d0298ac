"""Whole-word occurrences of a string in a text (pure helpers shared by the normalizer's scoring
and the pure-Python token table)."""
from __future__ import annotations

from collections.abc import Callable


def not_space(ch: str) -> bool:
    return not ch.isspace()


def whole_occurrences(text: str, word: str, joins: Callable[[str], bool]) -> list[int]:
    """Start of each occurrence of `word` with no character on either side for which `joins` is
    true (an Arabic letter for a run of letters, a non-space for a white-space token)."""
    out, i = [], text.find(word)
    while i >= 0:
        end = i + len(word)
        if not (i > 0 and joins(text[i - 1])) and not (end < len(text) and joins(text[end])):
            out.append(i)
        i = text.find(word, end)  # a whole occurrence never overlaps another one
    return out
