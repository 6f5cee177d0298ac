"""Scoring of the tagger (event labels) and of the normalizer (artefact gold) on JSONL files."""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .normalize import clean_unicode, find_repairs
from .occurrences import not_space, whole_occurrences

EVENT_TYPES = ("offensive", "ceasefire", "troop_buildup")


HALVES = ("tuning", "checking")


class EvalInputError(ValueError):
    pass


def half_of(item_id: str) -> str:
    """Which half an item belongs to, fixed by its id alone: "tuning" when the first byte of
    sha256(id, UTF-8) is even, "checking" when it is odd. The id decides, so the split never
    changes when a file is reordered or grows, and no one picks which items land where."""
    first_byte = hashlib.sha256(item_id.encode("utf-8")).digest()[0]
    return "tuning" if first_byte % 2 == 0 else "checking"


def split_half(items: Iterable[dict], which: str) -> list[dict]:
    """The items of one half ("tuning": read its errors; "checking": only ever scored).
    Every item needs an "id"."""
    if which not in HALVES:
        raise EvalInputError(f"unknown half {which!r}; use one of {', '.join(HALVES)}")
    out = []
    for n, item in enumerate(items, 1):
        if "id" not in item:
            raise EvalInputError(f"item {n} has no \"id\"; the halves are split by a hash of the id")
        if half_of(str(item["id"])) == which:
            out.append(item)
    return out


def read_jsonl(path: str | Path, required: tuple[str, ...]) -> Iterator[dict]:
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as err:
                raise EvalInputError(f"{path}:{lineno}: not valid JSON ({err.msg}); each line must be one JSON object") from None
            missing = [k for k in required if k not in item]
            if missing:
                raise EvalInputError(f"{path}:{lineno}: missing field(s) {', '.join(missing)}; see `newswatch eval --help` for the format")
            yield item


def prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "support": tp + fn}


def score_labels(gold: Iterable[set[str]], predicted: Iterable[set[str]]) -> dict:
    counts = {t: [0, 0, 0] for t in EVENT_TYPES}
    n = 0
    for g, p in zip(gold, predicted, strict=True):
        n += 1
        for t in EVENT_TYPES:
            if t in p and t in g:
                counts[t][0] += 1
            elif t in p:
                counts[t][1] += 1
            elif t in g:
                counts[t][2] += 1
    per_class = {t: prf(*counts[t]) for t in EVENT_TYPES}
    macro = round(sum(c["f1"] for c in per_class.values()) / len(EVENT_TYPES), 4)
    return {"n": n, "per_class": per_class, "macro_f1": macro}


@dataclass
class NormScore:
    n: int = 0
    fixes_total: int = 0
    fixes_correct: int = 0
    keeps_total: int = 0
    keeps_kept: int = 0

    def as_dict(self) -> dict:
        return {"n": self.n, "fixes": {"total": self.fixes_total, "correct": self.fixes_correct},
                "keeps": {"total": self.keeps_total, "kept": self.keeps_kept}}


def _occurrences(text: str, raw: str) -> list[int]:
    bounded = whole_occurrences(text, raw, not_space)
    return bounded or [m.start() for m in re.finditer(re.escape(raw), text)]


def _repaired_slice(text: str, points: list[int], start: int, end: int) -> str:
    inner = [p - start for p in points if start < p < end]
    piece = text[start:end]
    for p in reversed(inner):
        piece = piece[:p] + " " + piece[p:]
    return piece


def score_normalization(items: Iterable[dict]) -> NormScore:
    """An artefact counts as fixed when the spaces inserted inside the raw token turn it into
    `fixed`; a keep counts when no space is inserted inside it. Both sides go through the same
    Unicode clean-up first, so only the repair decisions are scored."""
    score = NormScore()
    for item in items:
        score.n += 1
        clean, _ = clean_unicode(item["text"])
        points = find_repairs(clean)
        seen: dict[str, int] = {}
        for fix in item.get("fixes", []):
            score.fixes_total += 1
            span = _next_occurrence(clean, fix["raw"], seen)
            if span:
                got = _repaired_slice(clean, points, *span)
                score.fixes_correct += got == clean_unicode(fix["fixed"])[0]
        for keep in item.get("keep", []):
            score.keeps_total += 1
            span = _next_occurrence(clean, keep["raw"], seen)
            if span:
                score.keeps_kept += not any(span[0] < p < span[1] for p in points)
    return score


def _next_occurrence(clean: str, raw_token: str, seen: dict[str, int]) -> tuple[int, int] | None:
    """Span of the next not-yet-scored occurrence of a gold token (a token listed twice occurs twice)."""
    raw = clean_unicode(raw_token)[0]
    k = seen.get(raw, 0)
    seen[raw] = k + 1
    occ = _occurrences(clean, raw)
    return (occ[k], occ[k] + len(raw)) if k < len(occ) else None
