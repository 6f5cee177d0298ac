"""Scoring of event arguments: actors, places and countries of predicted events against gold
events, matched by trigger span.

Two gold formats:
- a JSON document like `../shared/samples/seed_article_ar.gold.json`: `{"file": text file beside
  it, "sentence_split": ..., "events": [{"sentence", "type", "trigger", "actors", "locations"}]}`;
- JSONL, one item per line: `{"id", "lang"?, "text", "events": [{"type", "trigger", "actors",
  "places", "countries"?}]}` (tests/data/args.gold.jsonl is ours, in this format).

A gold trigger is a piece of the text; its span is where it occurs (in its sentence when the gold
names one). A predicted event matches a gold event of the same type whose trigger span overlaps
its own; each is matched at most once, largest overlap first. Arguments are scored over the
matched pairs only (micro-averaged), so a missed event costs event recall, not argument recall.
Actors are canonical names; a place matches a gold place when either its canonical name or its
text as written folds to the gold name (a location the tagger only inferred, kind
"inferred_country", is no named place); countries are the ISO codes of all the event's locations.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .evaluate import EVENT_TYPES, EvalInputError, prf, read_jsonl
from .normalize import match_key

ARGUMENT_KINDS = ("actors", "places", "countries")
_SEED_SENTENCE_END = re.compile(r"\.\s+")
_ARABIC_CLITICS = ("وب", "ول", "وال", "بال", "لل", "ال", "و", "ب", "ل", "ف")


@dataclass(frozen=True)
class GoldEvent:
    type: str
    start: int
    end: int
    trigger: str
    actors: frozenset[str]
    places: frozenset[str]
    countries: frozenset[str] | None  # None: the gold does not say


@dataclass
class GoldDoc:
    id: str
    text: str
    lang: str | None
    events: list[GoldEvent]


@dataclass
class ArgCounts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, predicted: set[str], gold: set[str]) -> None:
        self.tp += len(predicted & gold)
        self.fp += len(predicted - gold)
        self.fn += len(gold - predicted)


@dataclass
class ArgScore:
    docs: int = 0
    gold_events: int = 0
    predicted_events: int = 0
    matched: int = 0
    counts: dict[str, ArgCounts] = field(default_factory=lambda: {k: ArgCounts() for k in ARGUMENT_KINDS})
    errors: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        out = {"docs": self.docs, "events": {
            "gold": self.gold_events, "predicted": self.predicted_events, "matched": self.matched,
            "recall": round(self.matched / self.gold_events, 4) if self.gold_events else 0.0,
            "precision": round(self.matched / self.predicted_events, 4) if self.predicted_events else 0.0}}
        for kind, c in self.counts.items():
            out[kind] = prf(c.tp, c.fp, c.fn)
        return out


# --- reading gold --------------------------------------------------------------------------

def _fold(name: str) -> str:
    return " ".join(match_key(name).replace("-", " ").replace("\u2019", "'").split())


def _names(values: Iterable[str] | None) -> frozenset[str]:
    return frozenset(_fold(v) for v in values or ())


def _span(text: str, trigger: str, lo: int, hi: int, where: str) -> tuple[int, int]:
    at = text.find(trigger, lo, hi)
    if at < 0:
        at = text.find(trigger)
    if at < 0:
        raise EvalInputError(f"{where}: trigger {trigger!r} is not in the text; a gold trigger must be a piece of it")
    return at, at + len(trigger)


def _gold_event(row: dict, text: str, lo: int, hi: int, where: str) -> GoldEvent:
    if row.get("type") not in EVENT_TYPES:
        raise EvalInputError(f"{where}: event type {row.get('type')!r} is not one of {list(EVENT_TYPES)}")
    if not isinstance(row.get("trigger"), str) or not row["trigger"]:
        raise EvalInputError(f"{where}: each event needs a \"trigger\", a piece of the text")
    start, end = _span(text, row["trigger"], lo, hi, where)
    places = row.get("places", row.get("locations"))
    countries = row.get("countries")
    return GoldEvent(row["type"], start, end, row["trigger"], _names(row.get("actors")), _names(places),
                     frozenset(c.upper() for c in countries) if countries is not None else None)


def _seed_sentences(text: str) -> list[tuple[int, int]]:
    bounds, start = [], 0
    for m in _SEED_SENTENCE_END.finditer(text):
        bounds.append((start, m.start() + 1))
        start = m.end()
    bounds.append((start, len(text)))
    return bounds


def _load_document(path: Path) -> list[GoldDoc]:
    """A seed-style gold document: one text file, events located by sentence."""
    try:
        gold = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise EvalInputError(f"{path}: not valid JSON ({err.msg})") from None
    if not isinstance(gold, dict) or "file" not in gold or "events" not in gold:
        raise EvalInputError(f"{path}: a .json gold file needs \"file\" (the text beside it) and \"events\"")
    text_path = path.parent / gold["file"]
    if not text_path.is_file():
        raise EvalInputError(f"{path}: its text {text_path} is missing; keep the text file beside the gold file")
    text = text_path.read_text(encoding="utf-8")
    bounds = _seed_sentences(text)
    events = []
    for n, row in enumerate(gold["events"], 1):
        s = row.get("sentence")
        lo, hi = bounds[s] if isinstance(s, int) and 0 <= s < len(bounds) else (0, len(text))
        events.append(_gold_event(row, text, lo, hi, f"{path} event {n}"))
    return [GoldDoc(path.stem, text, gold.get("language"), events)]


def _load_lines(path: Path) -> list[GoldDoc]:
    docs = []
    for item in read_jsonl(path, ("id", "text", "events")):
        text = item["text"]
        events = [_gold_event(row, text, 0, len(text), f"{path}:{item['id']} event {k}")
                  for k, row in enumerate(item["events"], 1)]
        docs.append(GoldDoc(str(item["id"]), text, item.get("lang"), events))
    return docs


def load_gold(path: str | Path) -> list[GoldDoc]:
    path = Path(path)
    if not path.is_file():
        raise EvalInputError(f"no such file: {path}")
    return _load_document(path) if path.suffix == ".json" else _load_lines(path)


# --- matching and scoring --------------------------------------------------------------------

def _overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return min(a[1], b[1]) - max(a[0], b[0])


def match_events(gold: list[GoldEvent], predicted: list[dict]) -> list[tuple[GoldEvent, dict]]:
    """Pairs of (gold, predicted) events of one type with overlapping trigger spans, one to one,
    largest overlap first."""
    options = []
    for g_i, g in enumerate(gold):
        for p_i, p in enumerate(predicted):
            span = (p["trigger"]["start"], p["trigger"]["end"])
            size = _overlap((g.start, g.end), span)
            if p["type"] == g.type and size > 0:
                options.append((-size, g_i, p_i))
    used_g, used_p, pairs = set(), set(), []
    for _, g_i, p_i in sorted(options):
        if g_i not in used_g and p_i not in used_p:
            used_g.add(g_i)
            used_p.add(p_i)
            pairs.append((gold[g_i], predicted[p_i]))
    return pairs


def _place_keys(predicted: list[dict], gold: frozenset[str]) -> set[str]:
    """Each predicted place as the gold name it matches (by canonical name or by its text,
    with or without an Arabic clitic), else as its own canonical name."""
    keys = set()
    for place in predicted:
        variants = {_fold(place["canonical"]), _fold(place["text"])}
        variants |= {v[len(c):] for v in list(variants) for c in _ARABIC_CLITICS if v.startswith(c) and len(v) > len(c) + 2}
        hit = variants & gold
        keys.add(min(hit) if hit else _fold(place["canonical"]))
    return keys


INFERRED_KIND = "inferred_country"  # a location that is only the event's country, read from its context


def predicted_arguments(event: dict, gold: GoldEvent) -> dict[str, set[str]]:
    """Places are the locations named in the text; a country the tagger inferred (kind
    inferred_country) counts for the countries only."""
    named = [p for p in event["locations"] if p.get("kind") != INFERRED_KIND]
    return {"actors": {_fold(a["canonical"]) for a in event["actors"]},
            "places": _place_keys(named, gold.places),
            "countries": {p["country"] for p in event["locations"] if p.get("country")}}


def score_arguments(docs: Iterable[GoldDoc], tag_doc: Callable[[GoldDoc], list[dict]]) -> ArgScore:
    """`tag_doc` returns a document's predicted events as dicts (`Event.as_dict()`)."""
    score = ArgScore()
    for doc in docs:
        predicted = [e for e in tag_doc(doc) if e["type"] in EVENT_TYPES]
        score.docs += 1
        score.gold_events += len(doc.events)
        score.predicted_events += len(predicted)
        pairs = match_events(doc.events, predicted)
        score.matched += len(pairs)
        for g, p in pairs:
            got = predicted_arguments(p, g)
            wanted = {"actors": set(g.actors), "places": set(g.places),
                      "countries": set(g.countries) if g.countries is not None else None}
            for kind in ARGUMENT_KINDS:
                if wanted[kind] is not None:
                    score.counts[kind].add(got[kind], wanted[kind])
            _note_errors(score, doc, g, got, wanted)
        _note_unmatched(score, doc, pairs, predicted)
    return score


def _note_errors(score: ArgScore, doc: GoldDoc, g: GoldEvent, got: dict, wanted: dict) -> None:
    wrong = {kind: {"missing": sorted(wanted[kind] - got[kind]), "extra": sorted(got[kind] - wanted[kind])}
             for kind in ARGUMENT_KINDS if wanted[kind] is not None and got[kind] != wanted[kind]}
    if wrong:
        score.errors.append({"id": doc.id, "type": g.type, "trigger": g.trigger, **wrong})


def _note_unmatched(score: ArgScore, doc: GoldDoc, pairs: list, predicted: list[dict]) -> None:
    matched_g = {id(g) for g, _ in pairs}
    matched_p = {id(p) for _, p in pairs}
    for g in doc.events:
        if id(g) not in matched_g:
            score.errors.append({"id": doc.id, "type": g.type, "trigger": g.trigger, "event": "missed"})
    for p in predicted:
        if id(p) not in matched_p:
            score.errors.append({"id": doc.id, "type": p["type"], "trigger": p["trigger"]["text"], "event": "extra"})
