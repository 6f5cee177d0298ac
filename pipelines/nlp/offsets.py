"""Map character positions of a rewritten text back to the original text.

Normalization deletes characters (tatweel, diacritics, invisible marks), expands a few
(ligatures) and inserts spaces (artefact repair). Analysts need trigger offsets in the text they
were sent, so every rewrite records where it changed the length, as a piecewise-constant shift.
"""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field


@dataclass
class OffsetMap:
    """orig_index(i) = i + shift of the last breakpoint at or before i."""

    starts: list[int] = field(default_factory=lambda: [0])
    shifts: list[int] = field(default_factory=lambda: [0])

    def add(self, out_pos: int, shift: int) -> None:
        if self.starts[-1] == out_pos:
            self.shifts[-1] = shift
        elif self.shifts[-1] != shift:
            self.starts.append(out_pos)
            self.shifts.append(shift)

    def to_original(self, i: int) -> int:
        return i + self.shifts[bisect_right(self.starts, i) - 1]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original [start, end) of rewritten [start, end)."""
        if end <= start:
            o = self.to_original(start)
            return o, o
        return self.to_original(start), self.to_original(end - 1) + 1

    def compose(self, inner: OffsetMap) -> OffsetMap:
        """This map goes text2 -> text1; inner goes text1 -> text0. Result: text2 -> text0."""
        if inner.is_identity():
            return self
        if self.is_identity():
            return inner
        points = set(self.starts)
        # a breakpoint of the inner map at text1 position p appears where text2 reaches p
        for p in inner.starts:
            points.add(self._first_out_reaching(p))
        result = OffsetMap()
        for out in sorted(points):
            result.add(out, inner.to_original(self.to_original(out)) - out)
        return result

    def _first_out_reaching(self, p: int) -> int:
        # Smallest out index whose image is >= p (images are non-decreasing).
        lo, hi = 0, max(p, 0) + 1
        while self.to_original(hi) < p:
            hi *= 2
        while lo < hi:
            mid = (lo + hi) // 2
            if self.to_original(mid) < p:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def is_identity(self) -> bool:
        return self.shifts == [0]
