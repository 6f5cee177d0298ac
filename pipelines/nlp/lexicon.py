"""The tagger's data files, compiled once into lookup tables keyed by match-form words."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache

from .normalize import match_key
from .resources import load_data
from .tokens import TOKEN_RE


def words_of(phrase: str) -> tuple[str, ...]:
    return tuple(TOKEN_RE.findall(match_key(phrase)))


@dataclass(frozen=True)
class Trigger:
    id: str
    lang: str
    type: str
    subtype: str
    slots: tuple[frozenset[str], ...]
    gap: int
    needs_military: bool
    modal: bool
    confidence: float
    suppress_next: tuple[tuple[str, ...], ...]
    suppress_prev: tuple[tuple[str, ...], ...]
    pos: str
    frame: frozenset[str] = frozenset()  # what the clause must hold (armed_target) or must not (takes_ground)


@dataclass(frozen=True)
class Name:
    """A multi-word name (actor or place) and what it stands for."""
    words: tuple[str, ...]
    canonical: str
    kind: str
    country: str | None
    lat: float | None = None
    lon: float | None = None
    curated: bool = False  # from our own data files: preferred over package gazetteers
    exact: str | None = None  # the display form required ("IS", not the verb "is")


@dataclass
class Lexicon:
    triggers_by_first: dict[str, dict[str, list[Trigger]]] = field(default_factory=dict)
    modality: dict[str, dict[str, frozenset[str]]] = field(default_factory=dict)
    after_groups: frozenset[str] = frozenset()
    groups_by_type: dict[str, frozenset[str]] = field(default_factory=dict)
    purpose_needs_verb: frozenset[str] = frozenset()
    purpose_to_factual: frozenset[str] = frozenset()
    window_before: int = 4
    window_after: int = 2
    clause_breaks: frozenset[str] = frozenset()
    military: dict[str, frozenset[str]] = field(default_factory=dict)
    civilian_targets: dict[str, frozenset[str]] = field(default_factory=dict)
    strike_means: dict[str, frozenset[str]] = field(default_factory=dict)
    not_ground: dict[str, frozenset[str]] = field(default_factory=dict)
    protest_words: dict[str, frozenset[str]] = field(default_factory=dict)
    armed_targets: dict[str, frozenset[str]] = field(default_factory=dict)
    target_stops: frozenset[str] = frozenset()
    locatives: dict[str, frozenset[str]] = field(default_factory=dict)
    civilian_movement: dict[str, frozenset[str]] = field(default_factory=dict)
    peaceful_takeover: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    made_factual_by: dict[str, frozenset[str]] = field(default_factory=dict)
    background_when: frozenset[str] = frozenset()
    actors_by_first: dict[str, list[Name]] = field(default_factory=dict)
    units: dict[str, dict[tuple[str, ...], str]] = field(default_factory=dict)
    number_words: dict[str, dict[str, int]] = field(default_factory=dict)


def _compile_triggers(lex: Lexicon) -> None:
    by_lang: dict[str, dict[str, list[Trigger]]] = defaultdict(lambda: defaultdict(list))
    for row in load_data("triggers")["triggers"]:
        slots = tuple(frozenset(match_key(w) for w in slot.split("|")) for slot in row["pattern"].split())
        trig = Trigger(
            id=row["id"], lang=row["lang"], type=row["type"], subtype=row["subtype"], slots=slots,
            gap=int(row.get("gap", 0)), needs_military=row.get("context") == "military",
            modal=bool(row.get("modal", True)), confidence=float(row["confidence"]),
            suppress_next=tuple(words_of(p) for p in row.get("suppress_next", [])),
            suppress_prev=tuple(words_of(p) for p in row.get("suppress_prev", [])),
            pos=row.get("pos", "any"), frame=frozenset(row.get("frame", ())),
        )
        for word in slots[0]:
            by_lang[trig.lang][word].append(trig)
    lex.triggers_by_first = {lang: dict(table) for lang, table in by_lang.items()}


def _compile_modality(lex: Lexicon) -> None:
    data = load_data("modality")
    lex.window_before = int(data["window_before"])
    lex.window_after = int(data["window_after"])
    lex.after_groups = frozenset(data["after_groups"])
    lex.purpose_needs_verb = frozenset(match_key(w) for w in data["purpose_needs_verb"])
    lex.purpose_to_factual = frozenset(match_key(w) for w in data["purpose_to_factual"])
    lex.groups_by_type = {t: frozenset(g) for t, g in data["groups_by_type"].items()}
    lex.clause_breaks = frozenset(match_key(w) for w in data["clause_breaks"])
    lex.made_factual_by = {match_key(cue): frozenset(match_key(w) for w in before)
                           for cue, before in data["made_factual_by"].items()}
    lex.background_when = frozenset(match_key(w) for w in data["background_when"])
    lex.modality = {
        lang: {group: frozenset(match_key(w) for w in words) for group, words in groups.items()}
        for lang, groups in data["cues"].items()
    }


def _compile_actors(lex: Lexicon) -> None:
    table: dict[str, list[Name]] = defaultdict(list)
    for row in load_data("actors")["actors"]:
        for lang in ("ar", "en"):
            for alias in row.get(lang, []):
                words = words_of(alias)
                if words:
                    table[words[0]].append(Name(words, row["canonical"], row["kind"], row.get("country")))
        for alias in row.get("en_exact_case", []):
            table[match_key(alias)].append(Name((match_key(alias),), row["canonical"], row["kind"],
                                                row.get("country"), exact=alias))
    for names in table.values():
        names.sort(key=lambda n: -len(n.words))  # longest name first
    lex.actors_by_first = dict(table)
    context = load_data("context")
    for key in ("military", "civilian_targets", "strike_means", "not_ground", "protest_words",
                "armed_targets", "locatives", "civilian_movement"):
        setattr(lex, key, {lang: frozenset(match_key(w) for w in words) for lang, words in context[key].items()})
    lex.target_stops = frozenset(match_key(w) for words in context["target_stops"].values() for w in words)
    lex.peaceful_takeover = {lang: tuple(words_of(p) for p in phrases)
                             for lang, phrases in context["peaceful_takeover"].items()}


def _compile_units(lex: Lexicon) -> None:
    data = load_data("units")
    units: dict[str, dict[tuple[str, ...], str]] = {"ar": {}, "en": {}}
    for unit, names in data["units"].items():
        for lang in ("ar", "en"):
            for name in names.get(lang, []):
                units[lang][words_of(name)] = unit
    lex.units = units
    lex.number_words = {lang: {match_key(w): int(v) for w, v in table.items()}
                        for lang, table in data["number_words"].items()}


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    lex = Lexicon()
    _compile_triggers(lex)
    _compile_modality(lex)
    _compile_actors(lex)
    _compile_units(lex)
    return lex
