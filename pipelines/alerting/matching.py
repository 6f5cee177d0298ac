"""Which subscriptions an event alerts: the subscription's search query, and the same filters
evaluated in process.

A subscription has one meaning, its query over the events index (`subscription_query`). The
percolator stores that query, so what a search finds is what alerts. Percolating every event
against every subscription does not scale (geo_distance queries cannot be pre-selected by the
percolator's term extraction, see README), so the stream evaluates the structured filters
(types, subtypes, actors, places, countries, radius, languages, confidence) here, in process,
from an inverted index, and asks the engine only about the text queries, and only for the
events that passed the filters. tests/integration/test_subscription_semantics.py holds the two
paths to the same answers.
"""
from __future__ import annotations

import math
import struct
from collections import defaultdict
from collections.abc import Iterable

from newswatch.pipelines.model import Alert, Subscription, alert_id

EARTH_RADIUS_KM = 6371.0088  # the mean radius the engines' arc distance uses
TEXT_FIELDS = ["title", "text", "text.ar", "text.en"]
# Every field subscription_query reads. The engine analyses each field of a percolated document
# (three analyzers for the texts), so the events go to percolation with these only: the sentence
# text and the trigger would be analysed for nothing.
PERCOLATED_FIELDS = frozenset({"type", "subtype", "actors", "locations", "language", "points", "confidence",
                               "title", "text"})


def _terms(field: str, values: list) -> dict:
    return {"terms": {field: list(values)}}


def subscription_query(sub: Subscription) -> dict:
    """The subscription as a query over the events index (and so over its percolator)."""
    filters: list[dict] = []
    for field, values in (("type", sub.types), ("subtype", sub.subtypes), ("actors.canonical", sub.actors),
                          ("locations.canonical", sub.places), ("locations.country", sub.countries),
                          ("language", sub.languages)):
        if values:
            filters.append(_terms(field, values))
    if sub.near is not None:
        filters.append({"geo_distance": {"distance": f"{sub.radius_km}km",
                                         "points": {"lat": sub.near.lat, "lon": sub.near.lon}}})
    if sub.min_confidence > 0:
        filters.append({"range": {"confidence": {"gte": sub.min_confidence}}})
    query: dict = {"bool": {"filter": filters}}
    if sub.query:
        query["bool"]["must"] = [{"simple_query_string": {"query": sub.query, "fields": TEXT_FIELDS,
                                                          "default_operator": "and"}}]
    return query


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def as_float32(value: float) -> float:
    """The value as the engine keeps a `float` field, and a bound of a range query on one: rounded
    to the nearest 32-bit float. Without this, a threshold of 0.8000000000000002 would refuse an
    event of confidence 0.8 that the search (and so the percolator) returns: both are 0.8f there."""
    try:
        return struct.unpack("f", struct.pack("f", value))[0]
    except OverflowError:  # beyond the 32-bit range: the engine would have refused such an event
        return math.copysign(math.inf, value)


def _values(event: dict, field: str, key: str) -> set:
    return {item.get(key) for item in event.get(field) or [] if item.get(key) is not None}


def passes_filters(sub: Subscription, event: dict) -> bool:
    """The structured part of `subscription_query`, evaluated on an event document."""
    checks = ((sub.types, {event.get("type")}), (sub.subtypes, {event.get("subtype")}),
              (sub.actors, _values(event, "actors", "canonical")),
              (sub.places, _values(event, "locations", "canonical")),
              (sub.countries, _values(event, "locations", "country")), (sub.languages, {event.get("language")}))
    for wanted, present in checks:
        if wanted and not present.intersection(wanted):
            return False
    return passes_measures(sub, event.get("confidence"), event.get("points") or [])


def passes_measures(sub: Subscription, confidence: float | None, points: list[dict]) -> bool:
    """The filters that are not exact values: minimum confidence, and a point within the radius."""
    if sub.min_confidence > 0:  # the range query: an event without a confidence never passes it
        if confidence is None or as_float32(float(confidence)) < as_float32(sub.min_confidence):
            return False
    if sub.near is not None:
        return any(distance_km(sub.near.lat, sub.near.lon, p["lat"], p["lon"]) <= sub.radius_km for p in points)
    return True


# The structured filters that are exact values, with how to read them off an event: the
# matcher indexes subscriptions by each (a bit per subscription), so an event is checked only
# against the few that want all of its values; confidence and radius are checked on those.
_VALUE_FILTERS = (
    ("types", lambda e: {e.get("type")}), ("subtypes", lambda e: {e.get("subtype")}),
    ("actors", lambda e: _values(e, "actors", "canonical")), ("places", lambda e: _values(e, "locations", "canonical")),
    ("countries", lambda e: _values(e, "locations", "country")), ("languages", lambda e: {e.get("language")}),
)


class SubscriptionMatcher:
    """All subscriptions, with an inverted index per value filter: for each filter, a bitmask of
    the subscriptions that accept any value and one per value. An event's candidates are the AND
    over the filters of (any | the masks of its values): a few integer operations, however many
    subscriptions there are. Built anew from the subscriptions index when it changes."""

    def __init__(self, subscriptions: Iterable[Subscription] = ()) -> None:
        self.by_id: dict[str, Subscription] = {}
        for sub in subscriptions:
            self.by_id[sub.id] = sub
        self._subs = list(self.by_id.values())
        self._any = dict.fromkeys((name for name, _ in _VALUE_FILTERS), 0)
        self._by_value: dict[str, dict] = {name: defaultdict(int) for name, _ in _VALUE_FILTERS}
        for bit, sub in enumerate(self._subs):
            for name, _ in _VALUE_FILTERS:
                wanted = getattr(sub, name)
                if not wanted:
                    self._any[name] |= 1 << bit
                for value in wanted:
                    self._by_value[name][value] |= 1 << bit

    def __len__(self) -> int:
        return len(self.by_id)

    def candidates(self, event: dict) -> list[Subscription]:
        """Subscriptions whose structured filters the event passes (text queries not yet checked)."""
        mask = (1 << len(self._subs)) - 1
        for name, values_of in _VALUE_FILTERS:
            allowed = self._any[name]
            index = self._by_value[name]
            for value in values_of(event):
                allowed |= index.get(value, 0)
            mask &= allowed
            if not mask:
                return []
        confidence, points = event.get("confidence"), event.get("points") or []
        found = []
        while mask:  # the value filters hold for every bit left: check the measures
            low = mask & -mask
            sub = self._subs[low.bit_length() - 1]
            if passes_measures(sub, confidence, points):
                found.append(sub)
            mask ^= low
        return found


ALERT_EVENT_DROP = ("text",)  # the whole article text stays in the indices, not in every alert


def make_alert(sub: Subscription, event: dict, matched_at: str, source_timestamp_ms: int | None) -> Alert:
    return Alert(id=alert_id(sub.id, event["id"]), subscription_id=sub.id, owner=sub.owner,
                 subscription_name=sub.name, event_id=event["id"],
                 event={k: v for k, v in event.items() if k not in ALERT_EVENT_DROP},
                 article_url=event.get("url"), matched_at=matched_at, source_timestamp_ms=source_timestamp_ms)


def match_events(events: list[dict], matcher: SubscriptionMatcher, percolate) -> list[list[Subscription]]:
    """For each event, the subscriptions it alerts. Structured filters in process; the text
    queries of the candidates that have one by `percolate(documents, sub_ids) -> {slot: ids}`,
    one call for all events."""
    matched: list[list[Subscription]] = []
    pending_docs: list[dict] = []
    pending: list[tuple[int, list[Subscription]]] = []  # (event index, candidates with a text query)
    for i, event in enumerate(events):
        candidates = matcher.candidates(event)
        matched.append([s for s in candidates if not s.query])
        text_subs = [s for s in candidates if s.query]
        if text_subs:
            pending.append((i, text_subs))
            pending_docs.append({k: v for k, v in event.items() if k in PERCOLATED_FIELDS})
    if pending:
        hits = percolate(pending_docs, {s.id for _, subs in pending for s in subs})
        for slot, (i, subs) in enumerate(pending):
            ids = hits.get(slot, set())
            matched[i].extend(s for s in subs if s.id in ids)
    return matched
