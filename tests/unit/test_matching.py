"""The in-process half of matching (pipelines/alerting/matching.py), without servers: the
subscription's query, the structured filters, the candidate index and how match_events combines
them with one percolation. Whether the filters mean what the engine means is the integration
property's job (tests/integration/test_subscription_semantics.py)."""
from __future__ import annotations

import math

import pytest

from newswatch.pipelines.alerting.matching import (
    PERCOLATED_FIELDS,
    SubscriptionMatcher,
    as_float32,
    distance_km,
    make_alert,
    match_events,
    passes_filters,
    subscription_query,
)
from newswatch.pipelines.model import Subscription, alert_id

ALEPPO = {"lat": 36.2, "lon": 37.16}
IDLIB = {"lat": 35.93, "lon": 36.63}


def event(**fields) -> dict:
    """An event document as pipelines/documents.py builds it (the fields matching reads)."""
    doc = {"id": "a1:0:offensive:aleppo", "type": "offensive", "subtype": "air_strike", "language": "en",
           "confidence": 0.9, "url": "https://news.example.invalid/1", "title": "t", "text": "the article",
           "actors": [{"canonical": "Syrian Army", "text": "Syrian Army"}],
           "locations": [{"canonical": "Aleppo", "country": "SY", **ALEPPO}], "points": [dict(ALEPPO)]}
    doc.update(fields)
    return doc


def sub(**fields) -> Subscription:
    return Subscription(owner="ana", name="test", **fields)


# --- subscription_query ---------------------------------------------------------------------------

def _fields_read(query) -> set[str]:
    """The document fields a query names (keys with a dot or known field positions)."""
    found: set[str] = set()
    if isinstance(query, dict):
        for key, value in query.items():
            if key in ("terms", "range") and isinstance(value, dict):
                found |= {k for k in value if k != "boost"}
            elif key == "geo_distance":
                found |= {k for k in value if k not in ("distance", "distance_type", "validation_method")}
            elif key == "simple_query_string":
                found |= set(value["fields"])
            else:
                found |= _fields_read(value)
    elif isinstance(query, list):
        for item in query:
            found |= _fields_read(item)
    return found


def test_a_percolated_document_keeps_every_field_a_subscription_can_read():
    full = sub(types=["offensive"], subtypes=["air_strike"], actors=["Syrian Army"], places=["Aleppo"],
               countries=["SY"], languages=["en"], near=ALEPPO, radius_km=20, min_confidence=0.5, query="army")
    read = {field.split(".")[0] for field in _fields_read(subscription_query(full))}
    assert read == {"type", "subtype", "actors", "locations", "language", "points", "confidence", "title", "text"}
    assert read <= PERCOLATED_FIELDS


def test_an_empty_subscription_is_a_query_that_filters_nothing():
    assert subscription_query(sub()) == {"bool": {"filter": []}}


def test_each_list_becomes_a_terms_filter_on_its_field():
    query = subscription_query(sub(types=["offensive"], subtypes=["shelling"], actors=["Hezbollah"],
                                   places=["Idlib"], countries=["sy"], languages=["AR"]))
    assert query["bool"]["filter"] == [
        {"terms": {"type": ["offensive"]}}, {"terms": {"subtype": ["shelling"]}},
        {"terms": {"actors.canonical": ["Hezbollah"]}}, {"terms": {"locations.canonical": ["Idlib"]}},
        {"terms": {"locations.country": ["SY"]}}, {"terms": {"language": ["ar"]}}]  # codes as stored
    assert "must" not in query["bool"]


def test_radius_confidence_and_text_become_geo_range_and_full_text_clauses():
    query = subscription_query(sub(near=IDLIB, radius_km=25, min_confidence=0.8, query="airstrikes Idlib"))
    assert {"geo_distance": {"distance": "25.0km", "points": IDLIB}} in query["bool"]["filter"]
    assert {"range": {"confidence": {"gte": 0.8}}} in query["bool"]["filter"]
    (text,) = query["bool"]["must"]
    assert text["simple_query_string"]["query"] == "airstrikes Idlib"
    assert text["simple_query_string"]["default_operator"] == "and"
    assert set(text["simple_query_string"]["fields"]) == {"title", "text", "text.ar", "text.en"}


def test_a_zero_threshold_adds_no_range_filter():
    assert not any("range" in f for f in subscription_query(sub(min_confidence=0))["bool"]["filter"])


# --- passes_filters -----------------------------------------------------------------------------

@pytest.mark.parametrize("fields", [
    {}, {"types": ["offensive", "ceasefire"]}, {"subtypes": ["air_strike"]}, {"actors": ["Syrian Army"]},
    {"places": ["Aleppo"]}, {"countries": ["SY", "IQ"]}, {"languages": ["en"]}, {"min_confidence": 0.9},
    {"near": IDLIB, "radius_km": 60},
], ids=lambda f: ",".join(f) or "nothing")
def test_an_event_passes_each_filter_it_satisfies(fields):
    assert passes_filters(sub(**fields), event())


@pytest.mark.parametrize("fields", [
    {"types": ["ceasefire"]}, {"subtypes": ["shelling"]}, {"actors": ["Hezbollah"]}, {"places": ["Idlib"]},
    {"countries": ["IQ"]}, {"languages": ["ar"]}, {"min_confidence": 0.95}, {"near": IDLIB, "radius_km": 50},
], ids=lambda f: ",".join(f))
def test_an_event_fails_each_filter_it_does_not_satisfy(fields):
    assert not passes_filters(sub(**fields), event())


def test_every_filter_must_hold_but_one_value_of_a_list_is_enough():
    wanted = sub(types=["offensive"], countries=["IQ", "SY"], actors=["Hezbollah", "Syrian Army"])
    assert passes_filters(wanted, event())
    assert not passes_filters(wanted.model_copy(update={"languages": ["ar"]}), event())


def test_any_location_or_point_of_the_event_can_match():
    two_places = event(locations=[{"canonical": "Aleppo", "country": "SY", **ALEPPO},
                                  {"canonical": "Mosul", "country": "IQ", "lat": 36.34, "lon": 43.13}],
                       points=[dict(ALEPPO), {"lat": 36.34, "lon": 43.13}])
    assert passes_filters(sub(places=["Mosul"]), two_places)
    assert passes_filters(sub(countries=["IQ"]), two_places)
    assert passes_filters(sub(near={"lat": 36.3, "lon": 43.1}, radius_km=10), two_places)


def test_an_event_without_the_field_a_filter_needs_fails_it():
    bare = event(subtype=None, actors=[], locations=[], points=[])
    for fields in ({"subtypes": ["air_strike"]}, {"actors": ["Syrian Army"]}, {"places": ["Aleppo"]},
                   {"countries": ["SY"]}, {"near": ALEPPO, "radius_km": 500}):
        assert not passes_filters(sub(**fields), bare), fields
    no_confidence = event()
    del no_confidence["confidence"]
    assert not passes_filters(sub(min_confidence=1e-9), no_confidence)  # a range query skips documents without it
    assert passes_filters(sub(), no_confidence)


def test_the_radius_is_inclusive_and_measured_on_the_sphere():
    km = distance_km(IDLIB["lat"], IDLIB["lon"], ALEPPO["lat"], ALEPPO["lon"])
    assert 55 < km < 60  # Idlib to Aleppo, about 57 km
    assert passes_filters(sub(near=IDLIB, radius_km=km), event())
    assert not passes_filters(sub(near=IDLIB, radius_km=km * 0.999), event())


def test_the_threshold_compares_as_the_engine_stores_confidence_a_32_bit_float():
    # 0.8 and the next double above it are the same 32-bit float: the engine's range query
    # returns the event, so the stream must alert it too
    assert passes_filters(sub(min_confidence=math.nextafter(0.8, 1)), event(confidence=0.8))
    assert passes_filters(sub(min_confidence=0.8), event(confidence=0.8))
    assert not passes_filters(sub(min_confidence=0.801), event(confidence=0.8))
    # a threshold too small for a 32-bit float is 0 there: every event with a confidence passes
    assert passes_filters(sub(min_confidence=1e-50), event(confidence=0.0))


def test_as_float32_rounds_to_the_nearest_single_precision_value():
    assert as_float32(0.1) == 0.10000000149011612
    assert as_float32(0.5) == 0.5
    assert as_float32(1e39) == math.inf and as_float32(-1e39) == -math.inf


# --- SubscriptionMatcher ------------------------------------------------------------------------

def test_candidates_are_the_typed_and_untyped_subscriptions_whose_filters_pass():
    offensive = sub(id="off", types=["offensive"])
    truce = sub(id="truce", types=["ceasefire"])
    anything_in_syria = sub(id="sy", countries=["SY"])
    anything_in_iraq = sub(id="iq", countries=["IQ"])
    matcher = SubscriptionMatcher([offensive, truce, anything_in_syria, anything_in_iraq])
    assert len(matcher) == 4 and set(matcher.by_id) == {"off", "truce", "sy", "iq"}
    assert {s.id for s in matcher.candidates(event())} == {"off", "sy"}
    assert {s.id for s in matcher.candidates(event(type="ceasefire"))} == {"truce", "sy"}


def test_a_subscription_is_a_candidate_once_even_with_a_type_given_twice():
    matcher = SubscriptionMatcher([sub(id="twice", types=["offensive", "offensive"]),
                                   sub(id="both", types=["offensive", "ceasefire"])])
    assert [s.id for s in matcher.candidates(event())] == ["twice", "both"]


def test_an_empty_matcher_has_no_candidates():
    assert SubscriptionMatcher().candidates(event()) == []


# --- match_events -------------------------------------------------------------------------------

class Percolations:
    """A percolate function that answers from a fixed table and records what it was asked."""

    def __init__(self, answer: dict[int, set[str]]) -> None:
        self.answer = answer
        self.calls: list[tuple[list[dict], set[str]]] = []

    def __call__(self, documents, sub_ids):
        self.calls.append((list(documents), set(sub_ids)))
        return self.answer


def test_without_text_queries_nothing_is_percolated():
    percolate = Percolations({})
    matcher = SubscriptionMatcher([sub(id="off", types=["offensive"]), sub(id="truce", types=["ceasefire"])])
    matched = match_events([event(id="e1"), event(id="e2", type="ceasefire")], matcher, percolate)
    assert [[s.id for s in subs] for subs in matched] == [["off"], ["truce"]]
    assert percolate.calls == []


def test_text_candidates_of_all_events_go_to_one_percolation_and_its_slots_map_back():
    matcher = SubscriptionMatcher([sub(id="plain", countries=["SY"]), sub(id="strikes", query="airstrikes"),
                                   sub(id="truce-text", types=["ceasefire"], query="truce")])
    events = [event(title="e0"), event(title="e1", type="troop_buildup", locations=[], points=[]),
              event(title="e2", type="ceasefire")]
    # e1 passes only the untyped text subscription's filters; e0 and e2 have text candidates too.
    # The engine's answer is in slots of the documents it was sent: e0 -> 0, e1 -> 1, e2 -> 2.
    percolate = Percolations({1: {"strikes"}, 2: {"truce-text", "strikes"}})
    matched = match_events(events, matcher, percolate)
    ((documents, sub_ids),) = percolate.calls
    assert [d["title"] for d in documents] == ["e0", "e1", "e2"]
    assert all(set(d) <= PERCOLATED_FIELDS for d in documents)  # nothing analysed for nothing
    assert sub_ids == {"strikes", "truce-text"}
    assert [sorted(s.id for s in subs) for subs in matched] == [["plain"], ["strikes"],
                                                                  ["plain", "strikes", "truce-text"]]


def test_only_events_with_text_candidates_are_percolated_and_slots_skip_the_others():
    matcher = SubscriptionMatcher([sub(id="truce-text", types=["ceasefire"], query="truce")])
    percolate = Percolations({0: {"truce-text"}})
    matched = match_events([event(title="e0"), event(title="e1", type="ceasefire")], matcher, percolate)
    ((documents, sub_ids),) = percolate.calls
    assert [d["title"] for d in documents] == ["e1"] and sub_ids == {"truce-text"}
    assert [[s.id for s in subs] for subs in matched] == [[], ["truce-text"]]


def test_a_percolation_answer_naming_a_subscription_that_was_not_a_candidate_is_ignored():
    matcher = SubscriptionMatcher([sub(id="strikes-iq", countries=["IQ"], query="airstrikes"),
                                   sub(id="strikes", query="airstrikes")])
    matched = match_events([event(id="e0")], matcher, Percolations({0: {"strikes", "strikes-iq"}}))
    assert [[s.id for s in subs] for subs in matched] == [["strikes"]]


def test_make_alert_has_a_stable_id_and_leaves_the_article_text_out():
    wanted = sub(id="off", types=["offensive"])
    doc = event()
    alert = make_alert(wanted, doc, "2026-11-25T09:00:00Z", 1_764_061_200_000)
    assert alert.id == alert_id("off", doc["id"]) == make_alert(wanted, doc, "later", None).id
    assert alert.event_id == doc["id"] and alert.article_url == doc["url"]
    assert "text" not in alert.event and alert.event["title"] == "t"
    assert alert.source_timestamp_ms == 1_764_061_200_000
