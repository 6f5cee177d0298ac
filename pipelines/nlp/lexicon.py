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
    at_home: bool = False     # an actor whose events are in its own country unless told otherwise
    national: bool = False    # an actor that is its country's regular forces
    generic: bool = False     # an actor name others go by too ("rebels")
    population: int = 0       # a gazetteer city's population (ranks places of the same name)
    ambiguous: bool = False   # a gazetteer name that is also an everyday word: needs a place cue


@dataclass(frozen=True)
class Roles:
    """roles.yaml compiled: what decides which names around a trigger are its arguments."""
    clause_breaks: dict[str, frozenset[str]]
    place_relations: dict[str, frozenset[str]]
    clause_openers: dict[str, frozenset[str]]
    relatives: dict[str, frozenset[str]]
    target_markers: dict[str, frozenset[str]]
    goal_markers: dict[str, frozenset[str]]
    towards: dict[str, frozenset[str]]
    positions: dict[str, frozenset[str]]
    moving_forces: dict[str, frozenset[str]]
    strong_heads: frozenset[str]
    weak_heads: frozenset[str]
    en_before: frozenset[str]
    en_after: frozenset[str]
    max_zipf: dict[str, float]
    toponym_prefixes: frozenset[str]
    name_stops: dict[str, frozenset[str]]
    max_name_words: int
    not_place_words: frozenset[str]
    border_heads: dict[str, frozenset[str]]
    force_heads: dict[str, frozenset[str]]
    state_heads: dict[str, frozenset[str]]
    of_locatives: frozenset[str]
    generic_army: dict[str, tuple[tuple[str, ...], ...]]
    army_firsts: dict[str, frozenset[str]]
    adjectives: dict[str, dict[str, str]]   # language -> adjective as written (clitics, article, endings) -> country
    national_forces: dict[str, Name]        # country code -> its national forces (actors.yaml)
    states: dict[str, Name]                 # country code -> the state as an actor (actors.yaml)
    countries: dict[str, Name]              # country code -> the country as a place (places.yaml)


@dataclass
class Lexicon:
    triggers_by_first: dict[str, dict[str, list[Trigger]]] = field(default_factory=dict)
    modality: dict[str, dict[str, frozenset[str]]] = field(default_factory=dict)
    after_groups: frozenset[str] = frozenset()
    groups_by_type: dict[str, frozenset[str]] = field(default_factory=dict)
    purpose_needs_verb: frozenset[str] = frozenset()
    purpose_to_factual: frozenset[str] = frozenset()
    window_before: int = 4
    near_groups: dict[str, int] = field(default_factory=dict)
    window_after: int = 2
    clause_breaks: frozenset[str] = frozenset()
    military: dict[str, frozenset[str]] = field(default_factory=dict)
    not_military: dict[str, frozenset[str]] = field(default_factory=dict)
    civilian_targets: dict[str, frozenset[str]] = field(default_factory=dict)
    strike_means: dict[str, frozenset[str]] = field(default_factory=dict)
    not_ground: dict[str, frozenset[str]] = field(default_factory=dict)
    protest_words: dict[str, frozenset[str]] = field(default_factory=dict)
    policing_targets: dict[str, frozenset[str]] = field(default_factory=dict)
    armed_targets: dict[str, frozenset[str]] = field(default_factory=dict)
    target_stops: frozenset[str] = frozenset()
    cause_markers: frozenset[str] = frozenset()
    locatives: dict[str, frozenset[str]] = field(default_factory=dict)
    civilian_movement: dict[str, frozenset[str]] = field(default_factory=dict)
    armed_movement: dict[str, frozenset[str]] = field(default_factory=dict)
    armed_foes: dict[str, frozenset[str]] = field(default_factory=dict)
    security_forces: dict[str, frozenset[str]] = field(default_factory=dict)
    generic_heads: dict[str, frozenset[str]] = field(default_factory=dict)
    strikes_on: dict[str, frozenset[str]] = field(default_factory=dict)
    passive_aux: dict[str, frozenset[str]] = field(default_factory=dict)
    peaceful_takeover: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    disarmament: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    made_factual_by: dict[str, frozenset[str]] = field(default_factory=dict)
    background_when: frozenset[str] = frozenset()
    parenthetical_times: frozenset[str] = frozenset()
    historic_from: int = 0
    historic_place_words: frozenset[str] = frozenset()
    historic_before: int = 0
    historic_cues: frozenset[str] = frozenset()
    actors_by_first: dict[str, list[Name]] = field(default_factory=dict)
    units: dict[str, dict[tuple[str, ...], str]] = field(default_factory=dict)
    number_words: dict[str, dict[str, int]] = field(default_factory=dict)
    roles: Roles | None = None


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
    lex.near_groups = {group: int(n) for group, n in data.get("near_groups", {}).items()}
    lex.purpose_needs_verb = frozenset(match_key(w) for w in data["purpose_needs_verb"])
    lex.purpose_to_factual = frozenset(match_key(w) for w in data["purpose_to_factual"])
    lex.groups_by_type = {t: frozenset(g) for t, g in data["groups_by_type"].items()}
    lex.clause_breaks = frozenset(match_key(w) for w in data["clause_breaks"])
    lex.made_factual_by = {match_key(cue): frozenset(match_key(w) for w in before)
                           for cue, before in data["made_factual_by"].items()}
    lex.background_when = frozenset(match_key(w) for w in data["background_when"])
    lex.parenthetical_times = frozenset(match_key(w) for w in data["parenthetical_times"])
    lex.historic_from = int(data["historic_years"]["from"])
    lex.historic_place_words = frozenset(match_key(w) for w in data["historic_years"]["place_words"])
    lex.historic_before = int(data["historic_years"]["before"])
    lex.historic_cues = frozenset(match_key(w) for w in data["historic_years"]["cues"])
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
                    table[words[0]].append(_actor(row, words))
        for alias in row.get("en_exact_case", []):
            table[match_key(alias)].append(_actor(row, (match_key(alias),), exact=alias))
    for names in table.values():
        names.sort(key=lambda n: -len(n.words))  # longest name first
    lex.actors_by_first = dict(table)
    context = load_data("context")
    for key in ("military", "not_military", "civilian_targets", "strike_means", "not_ground", "protest_words", "policing_targets",
                "armed_targets", "locatives", "civilian_movement", "armed_movement", "armed_foes", "security_forces", "generic_heads",
                "strikes_on", "passive_aux"):
        setattr(lex, key, {lang: frozenset(match_key(w) for w in words) for lang, words in context[key].items()})
    lex.target_stops = frozenset(match_key(w) for words in context["target_stops"].values() for w in words)
    lex.cause_markers = frozenset(match_key(w) for words in context["cause_markers"].values() for w in words)
    for key in ("peaceful_takeover", "disarmament"):  # phrases, matched word by word
        setattr(lex, key, {lang: tuple(words_of(p) for p in phrases) for lang, phrases in context[key].items()})


def _actor(row: dict, words: tuple[str, ...], exact: str | None = None) -> Name:
    return Name(words, row["canonical"], row["kind"], row.get("country"), exact=exact,
                at_home=bool(row.get("at_home")), national=bool(row.get("national")), generic=bool(row.get("generic")))


def _words_by_language(table: dict[str, list[str]]) -> dict[str, frozenset[str]]:
    return {lang: frozenset(match_key(w) for w in words) for lang, words in table.items()}


_AR_ADJECTIVE_PREFIXES = ("", "ال", "وال", "بال", "لل", "ولل", "فال", "و", "ب", "ل", "وب", "ول")
_AR_ADJECTIVE_ENDINGS = ("", "ه", "ين", "ون", "ان", "ات", "يه")  # ة is folded to ه in the match form


def _adjective_forms(stem: str, lang: str) -> list[str]:
    """Every written form of a nationality adjective: "سوري" -> "السورية", "والسوريين", ...;
    English ones as they are ("syrian"). A table of forms, so a word is one dictionary look-up."""
    if lang != "ar":
        return [stem]
    return [pre + stem + end for pre in _AR_ADJECTIVE_PREFIXES for end in _AR_ADJECTIVE_ENDINGS]


def _compile_roles(lex: Lexicon) -> None:
    data = load_data("roles")
    heads = data["place_heads"]
    national, states = {}, {}
    for row in load_data("actors")["actors"]:
        if row.get("national") and row.get("country"):
            national[row["country"]] = _actor(row, ())
        if row["kind"] == "state" and row.get("country"):
            states.setdefault(row["country"], _actor(row, ()))
    adjectives: dict[str, dict[str, str]] = {"ar": {}, "en": {}}
    countries = {}
    for row in load_data("places")["places"]:
        if row["kind"] != "country":
            continue
        countries[row["country"]] = Name((), row["canonical"], "country", row["country"],
                                         float(row["lat"]), float(row["lon"]), curated=True)
        for lang, words in row.get("adjectives", {}).items():
            for word in words:
                for form in _adjective_forms(match_key(word), lang):
                    adjectives[lang].setdefault(form, row["country"])
    armies = {lang: tuple(sorted((words_of(p) for p in phrases), key=len, reverse=True))
              for lang, phrases in data["generic_army"].items()}
    lex.roles = Roles(
        clause_breaks=_words_by_language(data["clause_breaks"]),
        relatives=_words_by_language(data["relatives"]),
        target_markers=_words_by_language(data["target_markers"]),
        goal_markers=_words_by_language(data["goal_markers"]),
        place_relations=_words_by_language(data["place_relations"]),
        clause_openers=_words_by_language(data["clause_openers"]),
        towards=_words_by_language(data["towards"]),
        positions=_words_by_language(data["positions"]),
        moving_forces=_words_by_language(data["moving_forces"]),
        strong_heads=frozenset(match_key(w) for w in heads["ar_strong"]),
        weak_heads=frozenset(match_key(w) for w in heads["ar_weak"]),
        en_before=frozenset(match_key(w) for w in heads["en_before"]),
        en_after=frozenset(match_key(w) for w in heads["en_after"]),
        max_zipf={k: float(v) for k, v in data["max_zipf"].items()},
        toponym_prefixes=frozenset(match_key(w) for w in data["toponym_prefixes"]),
        name_stops=_words_by_language(data["name_stops"]),
        max_name_words=int(data["max_name_words"]),
        not_place_words=frozenset(data["not_place_words"]["en"]),
        border_heads=_words_by_language(data["border_heads"]),
        force_heads=_words_by_language(data["force_heads"]),
        state_heads=_words_by_language(data["state_heads"]),
        of_locatives=frozenset(match_key(w) for w in data["of_locatives"]["en"]),
        generic_army=armies, army_firsts={lang: frozenset(p[0] for p in phrases) for lang, phrases in armies.items()},
        adjectives=adjectives, national_forces=national, states=states, countries=countries)


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
    _compile_roles(lex)
    return lex
