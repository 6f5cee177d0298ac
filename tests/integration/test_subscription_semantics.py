"""A subscription has one meaning: its query over the events index. The stream does not run that
query; it evaluates the structured filters in process and percolates only the text queries
(pipelines/alerting/matching.py). This property holds the two paths to the same answers, on the
real OpenSearch node:

    for every (event, subscription): match_events says the event alerts the subscription
    if and only if searching the events index with subscription_query(subscription) returns it.

Events are shaped like pipelines/documents.py's event documents; events and subscriptions are
drawn from small shared vocabularies (types, subtypes, actors, places, countries, languages,
confidences, words, circles around the same centres) so that a good share of the pairs match.
Each example indexes a whole batch of events and stores a whole batch of subscriptions, then
compares every pair: a few dozen engine round trips per example, not one per pair.

The default run is a fixed, derandomized slice (well under a minute); `pytest -m fuzz` runs many
more, larger, random examples.
"""
from __future__ import annotations

import math
import time

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from newswatch.connectors.search import SearchBackend
from newswatch.pipelines.alerting.matching import SubscriptionMatcher, distance_km, match_events, subscription_query
from newswatch.pipelines.alerting.service import SubscriptionService
from newswatch.pipelines.model import EVENT_TYPES, Subscription
from newswatch.pipelines.streaming import prepare

# --- run modes ----------------------------------------------------------------------------------

_COMMON = {"database": None, "deadline": None,
           "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example,
                                     HealthCheck.function_scoped_fixture]}
# (examples, most events per example, most subscriptions per example)
SLICE = (hypothesis_settings(max_examples=20, derandomize=True, **_COMMON), 40, 30)
FUZZ = (hypothesis_settings(max_examples=250, derandomize=False, print_blob=True, **_COMMON), 80, 60)

# --- shared vocabularies ------------------------------------------------------------------------

SUBTYPES = ("air_strike", "shelling", "ground_assault", "truce", "reinforcement")
ACTORS = ("Syrian Army", "Hezbollah", "Houthis", "Islamic State", "Israel Defense Forces")
COUNTRIES = ("SY", "IQ", "PS", "YE", "LB")
LANGUAGES = ("ar", "en", "und")
# (canonical, country, lat, lon): the gazetteer's kind of entries; their points are also the
# centres of the subscriptions' circles, so events fall inside and outside them often.
PLACES = (("Aleppo", "SY", 36.2, 37.16), ("Idlib", "SY", 35.93, 36.63), ("Deir ez-Zor", "SY", 35.33, 40.14),
          ("Mosul", "IQ", 36.34, 43.13), ("Baghdad", "IQ", 33.31, 44.37), ("Gaza", "PS", 31.5, 34.47),
          ("Sanaa", "YE", 15.37, 44.19), ("Beirut", "LB", 33.89, 35.5))
RADII_KM = (10.0, 50.0, 150.0, 400.0)
# The tagger rounds confidences to 3 decimals; thresholds also sit exactly on them and one
# double-precision step either side (the engine keeps confidence as a 32-bit float).
CONFIDENCES = (0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.99)
THRESHOLDS = tuple(sorted({v for c in CONFIDENCES for v in (c, math.nextafter(c, 0), math.nextafter(c, 1))}
                          | {1e-9, 0.5, 1.0}))
# Words whose analyzed forms meet in different spellings: English plurals (light stemming), Arabic
# alef and teh marbuta variants (arabic_normalization), Arabic-Indic digits (decimal_digit), case.
WORDS = ("airstrike", "airstrikes", "Airstrikes", "ceasefire", "truce", "army", "tanks", "border", "rebels",
         "positions", "Aleppo", "Yemen", "reinforcements", "3", "٣", "قصف", "غارة", "غاره", "هدنة", "هدنه",
         "إطلاق", "اطلاق", "الجيش", "حلب", "تعزيزات")


# --- generated events and subscriptions ---------------------------------------------------------

def destination(lat: float, lon: float, bearing_deg: float, km: float) -> tuple[float, float]:
    """The point `km` away from (lat, lon) along the bearing, on the same sphere as distance_km."""
    d, theta = km / 6371.0088, math.radians(bearing_deg)
    p1, l1 = math.radians(lat), math.radians(lon)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(theta))
    l2 = l1 + math.atan2(math.sin(theta) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2))
    return round(math.degrees(p2), 6), round((math.degrees(l2) + 540) % 360 - 180, 6)


def boundary_margin_km(radius_km: float) -> float:
    """How far from a circle's edge a point must be to be tested against it. The engine stores a
    geo_point as two 32-bit integers (about 1 cm of quantization) and computes its own haversine, so
    a point within centimetres of the edge may fall either way there; this margin is orders of
    magnitude wider, and still leaves points a few per cent of the radius inside and outside."""
    return max(0.005 * radius_km, 1.0)


centres = st.sampled_from([(lat, lon) for _, _, lat, lon in PLACES])


@st.composite
def queries(draw) -> str:
    """simple_query_string text: words, phrases, prefixes, negations and alternatives."""
    def term() -> str:
        kind = draw(st.sampled_from(("word", "word", "phrase", "prefix", "not", "or")))
        word = draw(st.sampled_from(WORDS))
        if kind == "phrase":
            return f'"{word} {draw(st.sampled_from(WORDS))}"'
        if kind == "prefix":
            return word[: max(2, len(word) - 2)] + "*"
        if kind == "not":
            return f"-{word}"
        if kind == "or":
            return f"({word} | {draw(st.sampled_from(WORDS))})"
        return word
    return " ".join(term() for _ in range(draw(st.integers(1, 3))))


@st.composite
def subscriptions(draw) -> Subscription:
    def rarely() -> bool:  # each criterion in one subscription of four: most pairs then share some
        return draw(st.integers(0, 3)) == 0

    def some(values, most=2) -> list:  # duplicates allowed: a user may type a value twice
        return draw(st.lists(st.sampled_from(values), min_size=1, max_size=most)) if rarely() else []

    near = radius = None
    if rarely():
        lat, lon = draw(centres)
        if draw(st.booleans()):  # a centre off the places, somewhere in the region
            lat, lon = destination(lat, lon, draw(st.floats(0, 360)), draw(st.floats(0, 200)))
        near = {"lat": lat, "lon": lon}
        radius = draw(st.one_of(st.sampled_from(RADII_KM), st.floats(2, 600)))
    return Subscription(
        owner="property", name="generated", types=some(EVENT_TYPES), subtypes=some(SUBTYPES),
        actors=some(ACTORS), places=some([p[0] for p in PLACES]), countries=some(COUNTRIES),
        languages=some(("ar", "en"), 1), near=near, radius_km=radius,
        min_confidence=draw(st.one_of(st.sampled_from(THRESHOLDS), st.floats(0, 1))) if rarely() else 0.0,
        query=draw(queries()) if rarely() else None, realert_s=0)


@st.composite
def locations(draw) -> dict:
    name, country, lat, lon = draw(st.sampled_from(PLACES))
    loc = {"text": name, "start": 0, "end": len(name), "canonical": name, "kind": "city", "country": country,
           "lat": lat, "lon": lon}
    where = draw(st.sampled_from(("at", "around", "near_edge", "no_point")))
    if where == "around":  # a village somewhere around the place
        loc["lat"], loc["lon"] = destination(lat, lon, draw(st.floats(0, 360)), draw(st.floats(0, 500)))
    elif where == "near_edge":  # a few per cent inside or outside one of the usual radii
        km = draw(st.sampled_from(RADII_KM)) * draw(st.sampled_from((0.9, 0.97, 1.03, 1.1)))
        loc["lat"], loc["lon"] = destination(lat, lon, draw(st.floats(0, 360)), km)
    elif where == "no_point":  # a country or region the gazetteer has no coordinates for
        loc.update(canonical=country, kind="country", lat=None, lon=None)
    return loc


@st.composite
def events(draw, i: int) -> dict:
    """One event document as pipelines/documents.py builds it."""
    words = st.lists(st.sampled_from(WORDS), min_size=0, max_size=8).map(" ".join)
    text = draw(words)
    actors = [{"text": a, "start": 0, "end": len(a), "canonical": a, "kind": "armed", "country": None}
              for a in draw(st.lists(st.sampled_from(ACTORS), max_size=2, unique=True))]
    event_type = draw(st.sampled_from(EVENT_TYPES))
    return {
        "url": f"https://news.example.invalid/{i}", "source": "property", "language": draw(st.sampled_from(LANGUAGES)),
        "published_at": None, "ingested_at": "2026-11-25T09:00:00Z",
        "type": event_type, "subtype": draw(st.one_of(st.none(), st.sampled_from(SUBTYPES))), "sentence": 0,
        "trigger": {"text": "t", "start": 0, "end": 1}, "rule": "property", "rules": ["property"],
        "confidence": draw(st.one_of(st.sampled_from(CONFIDENCES), st.floats(0, 0.99).map(lambda c: round(c, 3)))),
        "actors": actors, "locations": draw(st.lists(locations(), max_size=3)), "quantities": [],
        "id": f"a{i}:0:{event_type}:x", "article_id": f"a{i}", "title": draw(words), "text": text,
        "sentence_text": text,
    }


def near_an_edge(loc: dict, subs: list[Subscription]) -> bool:
    return loc["lat"] is not None and any(
        abs(distance_km(s.near.lat, s.near.lon, loc["lat"], loc["lon"]) - s.radius_km) < boundary_margin_km(s.radius_km)
        for s in subs if s.near is not None)


@st.composite
def scenarios(draw, most_events: int, most_subs: int) -> tuple[list[dict], list[Subscription]]:
    subs = draw(st.lists(subscriptions(), min_size=1, max_size=most_subs))
    docs = [draw(events(i)) for i in range(draw(st.integers(1, most_events)))]
    for doc in docs:  # points too close to a circle's edge are left out (see boundary_margin_km)
        doc["locations"] = [loc for loc in doc["locations"] if not near_an_edge(loc, subs)]
        doc["points"] = [{"lat": p["lat"], "lon": p["lon"]} for p in doc["locations"] if p["lat"] is not None]
    return docs, subs


# --- the two paths ------------------------------------------------------------------------------

class Engine:
    """The test's events index and subscriptions store, emptied between examples."""

    def __init__(self, settings) -> None:
        self.settings = settings
        self.backend = SearchBackend(settings.search)
        self.service = SubscriptionService(settings)
        self.events_index = settings.search.events_index

    def reset(self) -> None:
        for index in (self.events_index, self.settings.search.subscriptions_index):
            self.backend.client.delete_by_query(index=index, body={"query": {"match_all": {}}}, refresh=True,
                                                conflicts="proceed")

    def load(self, docs: list[dict], subs: list[Subscription]) -> SubscriptionMatcher:
        results = self.backend.bulk_index([(self.events_index, d["id"], d) for d in docs])
        rejected = [r for r in results if not r.ok]
        assert not rejected, f"the events index refused generated events: {rejected[:3]}"
        self.backend.refresh(self.events_index)
        for sub in subs:
            self.service.save(sub)
        # as the stream does: the matcher is built from what the store holds
        return SubscriptionMatcher(self.service.store.all())

    def alerted(self, docs: list[dict], matcher: SubscriptionMatcher) -> set[tuple[str, str]]:
        matched = match_events(docs, matcher, self.service.store.percolate)
        for doc, subs in zip(docs, matched, strict=True):
            ids = [s.id for s in subs]
            assert len(ids) == len(set(ids)), f"event {doc['id']} alerts one subscription twice: {ids}"
        return {(s.id, doc["id"]) for doc, subs in zip(docs, matched, strict=True) for s in subs}

    def searched(self, subs: list[Subscription], size: int) -> set[tuple[str, str]]:
        """Each subscription's own query on the events index: one multi-search for all of them."""
        body: list[dict] = []
        for sub in subs:
            body += [{"index": self.events_index}, {"size": size, "_source": False, "query": subscription_query(sub)}]
        responses = self.backend.client.msearch(body=body)["responses"]
        found = set()
        for sub, response in zip(subs, responses, strict=True):
            assert "error" not in response, f"the search for {sub.model_dump_json()} failed: {response['error']}"
            found |= {(sub.id, hit["_id"]) for hit in response["hits"]["hits"]}
        return found


def explain(pairs: set[tuple[str, str]], docs: list[dict], matcher: SubscriptionMatcher) -> str:
    by_id = {d["id"]: d for d in docs}
    lines = []
    for sub_id, event_id in sorted(pairs)[:3]:
        doc = by_id[event_id]
        shown = {k: doc[k] for k in ("type", "subtype", "language", "confidence", "actors", "locations", "points",
                                     "title", "text")}
        lines.append(f"  subscription {matcher.by_id[sub_id].model_dump_json(exclude={'channels'})}\n"
                     f"  event {shown}")
    return "\n".join(lines)


@pytest.mark.parametrize("mode", [pytest.param(SLICE, id="slice"),
                                  pytest.param(FUZZ, id="fuzz", marks=pytest.mark.fuzz)])
def test_an_event_alerts_a_subscription_iff_its_search_returns_the_event(settings, mode):
    run_settings, most_events, most_subs = mode
    prepare(settings)
    engine = Engine(settings)
    seen = {"pairs": 0, "matches": 0, "text_matches": 0, "geo_matches": 0, "examples": 0}

    @given(scenarios(most_events, most_subs))
    def prop(scenario):
        docs, subs = scenario
        engine.reset()  # a fresh events index and store for every example
        matcher = engine.load(docs, subs)
        alerted = engine.alerted(docs, matcher)
        searched = engine.searched(list(matcher.by_id.values()), size=len(docs))
        assert alerted == searched, (
            f"the stream and the search disagree on {len(alerted ^ searched)} of {len(docs) * len(subs)} pairs\n"
            f"alerted, not found by the search:\n{explain(alerted - searched, docs, matcher)}\n"
            f"found by the search, not alerted:\n{explain(searched - alerted, docs, matcher)}")
        seen["examples"] += 1
        seen["pairs"] += len(docs) * len(subs)
        seen["matches"] += len(alerted)
        seen["text_matches"] += sum(1 for s, _ in alerted if matcher.by_id[s].query)
        seen["geo_matches"] += sum(1 for s, _ in alerted if matcher.by_id[s].near is not None)

    started = time.monotonic()
    run_settings(prop)()
    print(f"\niff property: {seen['examples']} examples, {seen['pairs']} (event, subscription) pairs, "
          f"{seen['matches']} alerts ({seen['text_matches']} with a text query, {seen['geo_matches']} with a radius), "
          f"{time.monotonic() - started:.1f} s")
    # the generator is worth something only if it makes both answers, through every path, often
    assert 0 < seen["matches"] < seen["pairs"]
    assert seen["text_matches"] > 0 and seen["geo_matches"] > 0
