"""Type-ahead over the gazetteer the tagger geocodes with (pipelines/nlp/geo.py), so a place an
analyst picks is spelled exactly as the events' `locations.canonical`.

Every name (English or Arabic, in the tagger's match form) is indexed from each of its words, so
"zor" finds Deir ez-Zor and "الزور" finds it too; a sorted key list and a binary search answer a
prefix in microseconds.
"""
from __future__ import annotations

import bisect
import re
import threading
from dataclasses import dataclass

KIND_RANK = {"country": 0, "region": 1, "city": 2}


@dataclass(frozen=True)
class Place:
    canonical: str
    kind: str
    country: str | None
    lat: float | None
    lon: float | None
    curated: bool = False

    def as_dict(self) -> dict:
        return {"canonical": self.canonical, "kind": self.kind, "country": self.country, "lat": self.lat, "lon": self.lon}


class PlaceIndex:
    def __init__(self, names, words_of) -> None:
        """`names`: objects with words (match-form tuple), canonical, kind, country, lat, lon, curated.
        `words_of`: the tagger's match-form words of a text (folded letters, lower case)."""
        self.words_of = words_of
        places: dict[tuple[str, str], Place] = {}
        keys: set[tuple[str, bool, tuple[str, str]]] = set()  # (words from i on, i > 0, place)
        for name in names:
            ident = (name.canonical, name.country or "")
            known = places.get(ident)
            if known is None or (name.curated and not known.curated):
                places[ident] = Place(name.canonical, name.kind, name.country, name.lat, name.lon, name.curated)
            for phrase in (name.words, words_of(name.canonical)):
                for i in range(len(phrase)):
                    keys.add((" ".join(phrase[i:]), i > 0, ident))
                parts = re.split(r"[-'. ]+", " ".join(phrase))  # "ez-zor": "zor" finds it too
                for i in range(1, len(parts)):
                    keys.add((" ".join(parts[i:]), True, ident))
        self.places = places
        self.keys = sorted(keys)

    def search(self, text: str, limit: int = 10) -> list[Place]:
        """Places with a name that has a word starting with `text`: newswatch's own places
        (places.yaml, the conflict places) first, then names that start with the text, countries
        before regions before cities, shorter names first."""
        needle = " ".join(self.words_of(text))
        if not needle:
            return []
        at = bisect.bisect_left(self.keys, (needle,))
        found: dict[tuple[str, str], bool] = {}  # place -> a name of it starts with the text
        while at < len(self.keys) and self.keys[at][0].startswith(needle) and len(found) < 2000:
            _, inner_word, ident = self.keys[at]
            found[ident] = found.get(ident, False) or not inner_word
            at += 1
        ranked = sorted(found, key=lambda ident: self._rank(ident, found[ident]))
        return [self.places[ident] for ident in ranked[:limit]]

    def _rank(self, ident: tuple[str, str], starts_name: bool) -> tuple:
        place = self.places[ident]
        return (not place.curated, not starts_name, KIND_RANK.get(place.kind, 3), len(place.canonical), place.canonical)


_index: PlaceIndex | None = None
_lock = threading.Lock()


def place_index() -> PlaceIndex:
    """The gazetteer's index, built on first use (loading the gazetteer takes seconds: the API
    warms it up in the background at start)."""
    global _index
    with _lock:
        if _index is None:
            from newswatch.pipelines.nlp.geo import gazetteer
            from newswatch.pipelines.nlp.lexicon import words_of

            _index = PlaceIndex((n for names in gazetteer().values() for n in names), words_of)
        return _index
