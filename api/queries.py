"""Search-engine request bodies the API sends, built from the request's parameters. Pure.

Event search reuses `subscription_query`: a search with the same filters as a subscription finds
exactly what that subscription alerts (same fields, analyzers and geo semantics), and the page's
"test" button and its search box agree.
"""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from newswatch.pipelines.alerting.matching import subscription_query
from newswatch.pipelines.model import Subscription

MAX_RESULT_WINDOW = 10_000  # the engines' default index.max_result_window
RELATIVE = re.compile(r"^\s*(\d{1,6})\s*([mhdw])\s*$")
UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

# facet name -> (field, buckets)
FACETS = {
    "type": ("type", 10),
    "subtype": ("subtype", 20),
    "actor": ("actors.canonical", 15),
    "country": ("locations.country", 15),
    "place": ("locations.canonical", 15),
    "language": ("language", 10),
}
# Subscription field -> the search parameter that fills it, for error messages.
PARAMETER_OF_FIELD = {"types": "type", "subtypes": "subtype", "actors": "actor", "places": "place",
                      "countries": "country", "languages": "language", "near": "near", "radius_km": "radius_km",
                      "query": "q"}


class FieldError(ValueError):
    """A parameter or body field that cannot be used; `parameter` names it."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


def parse_time(text: str | None, parameter: str, now: datetime | None = None) -> datetime | None:
    """An ISO time ("2026-11-25T08:00:00Z"; no zone means UTC) or a span back from now ("24h", "7d")."""
    if text is None or not text.strip():
        return None
    relative = RELATIVE.match(text)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        return (now or datetime.now(UTC)) - timedelta(**{UNITS[unit]: amount})
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise FieldError(parameter, f"{text!r} is not a time: give an ISO time such as 2026-11-25T08:00:00Z, "
                                    "or a span back from now such as 30m, 24h, 7d or 2w") from None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)


def engine_time(text: str | None, parameter: str, now: datetime | None = None) -> str | None:
    """`parse_time` as the indices store times."""
    when = parse_time(text, parameter, now)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ") if when else None


def parse_near(text: str | None) -> dict | None:
    """"LAT,LON" -> {"lat", "lon"}."""
    if text is None or not text.strip():
        return None
    try:
        lat, lon = (float(part) for part in text.split(","))
    except ValueError:
        raise FieldError("near", f"near={text!r} is not a point: write LAT,LON, e.g. 35.33,40.14") from None
    return {"lat": lat, "lon": lon}


def events_search_body(filters: Subscription, since: str | None, until: str | None, page: int, size: int,
                       sort: str = "newest") -> dict:
    """The events search: the subscription's query, a time range on published_at, a page of hits
    (newest first, or best text match first), and the facets of everything that matched."""
    if (page - 1) * size + size > MAX_RESULT_WINDOW:
        raise FieldError("page", f"page {page} of {size} goes past the first {MAX_RESULT_WINDOW} results: "
                                 "narrow the search instead")
    query = subscription_query(filters)
    span = {k: v for k, v in (("gte", since), ("lte", until)) if v}
    if span:
        query["bool"]["filter"].append({"range": {"published_at": span}})
    order = [{"published_at": {"order": "desc", "missing": "_last"}}, {"ingested_at": "desc"}, {"id": "asc"}]
    if sort == "relevance":
        order = ["_score", *order]
    return {
        "query": query, "from": (page - 1) * size, "size": size, "sort": order, "track_total_hits": True,
        "_source": {"excludes": ["text"]},  # the whole article stays in the index; the sentence is enough here
        "aggs": {name: {"terms": {"field": field, "size": n}} for name, (field, n) in FACETS.items()},
    }


def facets_of(aggregations: dict) -> dict[str, list[dict]]:
    return {name: [{"value": b["key"], "count": b["doc_count"]} for b in aggregations.get(name, {}).get("buckets", [])]
            for name in FACETS}


def total_of(hits: dict) -> int:
    total = hits.get("total", 0)
    return int(total["value"] if isinstance(total, dict) else total)


def trigger_span(sentence: str | None, trigger: dict | None) -> list[int] | None:
    """Where the trigger word stands in its sentence, [start, end), for highlighting; None when
    it cannot be found. Events carry the trigger's offsets in the article, not in the sentence,
    so its text is looked for: the first occurrence that is a whole word, else the first at all
    (case-insensitive either way)."""
    text = (trigger or {}).get("text")
    if not sentence or not text:
        return None
    needle = re.escape(text)
    found = (re.search(rf"(?<!\w){needle}(?!\w)", sentence, re.IGNORECASE)
             or re.search(needle, sentence, re.IGNORECASE))
    return [found.start(), found.end()] if found else None


def alerts_query(owner: str | None, since: str | None = None, subscription: str | None = None,
                 state: str | None = None) -> dict:
    """The caller's alerts (digest records, which only carry other alerts to a channel, left out)."""
    filters: list[dict] = []
    if owner is not None:
        filters.append({"term": {"owner": owner}})
    if subscription:
        filters.append({"term": {"subscription_id": subscription}})
    if since:
        filters.append({"range": {"matched_at": {"gte": since}}})
    must_not: list[dict] = [{"term": {"throttle": "digest"}}]
    if state == "new":
        must_not.append({"exists": {"field": "acknowledged_at"}})
    elif state == "acknowledged":
        filters.append({"exists": {"field": "acknowledged_at"}})
    return {"bool": {"filter": filters, "must_not": must_not}}


def stream_query(owner: str | None, updated_since: str) -> dict:
    """Alerts of the caller written or changed at or after `updated_since` (times have whole
    seconds, so the caller skips the versions it has already sent)."""
    query = alerts_query(owner)
    query["bool"]["filter"].append({"range": {"updated_at": {"gte": updated_since}}})
    return query
