"""The API's pure parts: tokens, rate limit, body limit, query building, error shapes, secrets
carried over on edit, the place type-ahead, the map outlines, and the OpenAPI document. No server."""
from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from pydantic import SecretStr

from newswatch.api.auth import Principal, TokenError, bearer_token, check_user_name, new_token, token_hash
from newswatch.api.errors import field_errors, field_path
from newswatch.api.limits import BodySizeLimit, RateLimiter
from newswatch.api.models import SubscriptionInput, to_subscription
from newswatch.api.places import PlaceIndex
from newswatch.api.queries import (FACETS, FieldError, alerts_query, engine_time, events_search_body, facets_of, parse_near,
                         stream_query, total_of, trigger_span)
from newswatch.api.server import is_loopback
from newswatch.api.state import carry_webhook_secrets
from newswatch.api.worldmap import countries, outline_of
from newswatch.pipelines.alerting.matching import subscription_query
from newswatch.pipelines.cli import main
from newswatch.pipelines.model import Subscription
from newswatch.pipelines.settings import REPO_DIR, Settings

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


# -- tokens --------------------------------------------------------------------------------------

def test_a_token_is_random_and_only_its_sha256_is_kept():
    a, b = new_token(), new_token()
    assert a != b and a.startswith("nw_") and len(a) > 40
    assert token_hash(a) == hashlib.sha256(a.encode()).hexdigest() and a not in token_hash(a)


@pytest.mark.parametrize("header, token", [("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("Basic abc", None),
                                           ("Bearer", None), ("", None), (None, None)])
def test_bearer_header(header, token):
    assert bearer_token(header) == token


def test_a_user_sees_their_own_objects_and_an_admin_everyones():
    ana, admin = Principal("ana"), Principal("root", admin=True)
    assert ana.may_see("ana") and not ana.may_see("bob") and ana.owner_filter == "ana"
    assert admin.may_see("bob") and admin.owner_filter is None


def test_user_names_are_checked():
    assert check_user_name("ana.m@unit-7") == "ana.m@unit-7"
    with pytest.raises(TokenError, match="letters, digits"):
        check_user_name("ana m")


def test_token_create_refuses_a_bad_user_name_before_touching_the_search_engine(capsys):
    assert main(["token", "create", "--user", "a b"]) == 2
    assert "is not a user name" in capsys.readouterr().err


# -- limits --------------------------------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_rate_limit_allows_a_minutes_worth_then_says_how_long_to_wait():
    clock = Clock()
    limiter = RateLimiter(3, clock=clock)
    assert [limiter.check("t1") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.check("t1") == pytest.approx(20.0)  # one request every 20 s at 3/min
    assert limiter.check("t2") == 0.0  # another token has its own bucket
    clock.now = 20.0
    assert limiter.check("t1") == 0.0 and limiter.check("t1") > 0


def test_rate_limit_forgets_the_oldest_keys_beyond_its_bound():
    limiter = RateLimiter(1, clock=Clock(), max_keys=2)
    for key in ("a", "b", "c"):
        limiter.check(key)
    assert limiter.check("a") == 0.0  # "a" was forgotten, so it starts with a full bucket
    assert limiter.check("c") > 0


def _call_asgi(app, body_chunks: list[bytes], headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
    sent: list[dict] = []
    chunks = list(body_chunks)

    async def receive():
        chunk = chunks.pop(0) if chunks else b""
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message):
        sent.append(message)

    asyncio.run(app({"type": "http", "method": "POST", "path": "/", "headers": headers}, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


async def _echo_length(scope, receive, send):
    total = 0
    while True:
        message = await receive()
        total += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(total).encode()})


def test_body_limit_by_content_length_and_by_bytes_read():
    app = BodySizeLimit(_echo_length, max_bytes=10)
    assert _call_asgi(app, [b"12345"], [(b"content-length", b"5")]) == (200, b"5")
    status, body = _call_asgi(app, [b"x" * 11], [(b"content-length", b"11")])
    assert status == 413 and b"api.max_body_bytes" in body
    assert _call_asgi(app, [b"123456", b"789012"], [])[0] == 413  # chunked, no length: counted as read


# -- queries --------------------------------------------------------------------------------------

def test_times_iso_or_relative():
    assert engine_time("2026-11-25T08:00:00Z", "since") == "2026-11-25T08:00:00Z"
    assert engine_time("2026-11-25T10:00:00+02:00", "since") == "2026-11-25T08:00:00Z"
    assert engine_time("2026-11-25T08:00", "since") == "2026-11-25T08:00:00Z"  # no zone: UTC
    assert engine_time("24h", "since", NOW) == "2026-11-24T12:00:00Z"
    assert engine_time("2w", "since", NOW) == "2026-11-11T12:00:00Z"
    assert engine_time(None, "since") is None and engine_time(" ", "since") is None
    with pytest.raises(FieldError, match="not a time") as err:
        engine_time("yesterday", "until")
    assert err.value.parameter == "until"


def test_near_is_lat_lon():
    assert parse_near("35.3,40.1") == {"lat": 35.3, "lon": 40.1}
    assert parse_near(None) is None
    with pytest.raises(FieldError, match="LAT,LON"):
        parse_near("Aleppo")


def test_event_search_is_the_subscription_query_plus_time_paging_and_facets():
    filters = Subscription(owner="a", name="s", types=["offensive"], countries=["sy"], query="airstrike")
    body = events_search_body(filters, "2026-11-01T00:00:00Z", None, page=3, size=20)
    expected = subscription_query(filters)
    expected["bool"]["filter"].append({"range": {"published_at": {"gte": "2026-11-01T00:00:00Z"}}})
    assert body["query"] == expected
    assert (body["from"], body["size"]) == (40, 20)
    assert set(body["aggs"]) == set(FACETS) and body["aggs"]["country"] == {"terms": {"field": "locations.country",
                                                                                      "size": 15}}
    assert body["_source"] == {"excludes": ["text"]}
    assert events_search_body(filters, None, None, 1, 10, sort="relevance")["sort"][0] == "_score"
    with pytest.raises(FieldError, match="first 10000"):
        events_search_body(filters, None, None, page=600, size=20)


def test_facets_and_totals_from_an_engine_answer():
    aggs = {"type": {"buckets": [{"key": "offensive", "doc_count": 3}]}}
    facets = facets_of(aggs)
    assert facets["type"] == [{"value": "offensive", "count": 3}] and facets["place"] == []
    assert total_of({"total": {"value": 7, "relation": "eq"}}) == 7 and total_of({"total": 4}) == 4


@pytest.mark.parametrize("sentence, trigger, span", [
    ("Warplanes carried out airstrikes near Idlib.", {"text": "airstrikes"}, [22, 32]),
    ("AIRSTRIKES hit the town", {"text": "airstrikes"}, [0, 10]),
    ("شنت الطائرات غارات على مواقع", {"text": "غارات"}, [13, 18]),
    ("the strike force launched airstrikes", {"text": "airstrikes"}, [26, 36]),
    ("airstrikes and more strikes", {"text": "strikes"}, [20, 27]),  # the whole word, not inside "airstrikes"
    ("nothing here", {"text": "shelled"}, None),
    (None, {"text": "x"}, None),
])
def test_trigger_is_found_in_its_sentence(sentence, trigger, span):
    assert trigger_span(sentence, trigger) == span


def test_alert_queries_restrict_to_the_owner_and_leave_digests_out():
    q = alerts_query("ana", since="2026-11-25T00:00:00Z", subscription="s1", state="new")
    assert {"term": {"owner": "ana"}} in q["bool"]["filter"]
    assert {"term": {"subscription_id": "s1"}} in q["bool"]["filter"]
    assert {"term": {"throttle": "digest"}} in q["bool"]["must_not"]
    assert {"exists": {"field": "acknowledged_at"}} in q["bool"]["must_not"]
    acked = alerts_query(None, state="acknowledged")
    assert {"exists": {"field": "acknowledged_at"}} in acked["bool"]["filter"]
    assert not any("owner" in json.dumps(f) for f in acked["bool"]["filter"])  # an admin: everyone's
    stream = stream_query("ana", "2026-11-25T08:00:00Z")
    assert {"range": {"updated_at": {"gte": "2026-11-25T08:00:00Z"}}} in stream["bool"]["filter"]


# -- errors --------------------------------------------------------------------------------------

def test_field_paths_name_where_the_client_put_the_value():
    assert field_path(("body", "channels", 0, "webhook", "url")) == "channels.0.url"
    assert field_path(("body", "countries", 1)) == "countries.1"
    assert field_path(("query", "page")) == "page"
    assert field_path(("body",)) == "body"
    assert field_path(("countries", 0), {"countries": "country"}) == "country.0"


def test_field_errors_keep_the_message_and_never_the_input():
    try:
        SubscriptionInput.model_validate({"name": "x", "countries": ["SYR"],
                                          "channels": [{"type": "webhook", "url": "ftp://x.example/", "secret": "s3cret-key"}]})
    except Exception as err:  # noqa: BLE001 - a pydantic ValidationError
        errors = field_errors(err.errors(include_input=False))
    assert {e["field"] for e in errors} == {"countries", "channels.0.url"}
    assert {e["message"] for e in errors if e["field"] == "channels.0.url"} == {
        "is not a web address: it starts with http:// or https://"}
    assert any("two-letter ISO 3166-1" in e["message"] and not e["message"].startswith("Value error")
               for e in errors)
    assert "s3cret-key" not in json.dumps(errors)


# -- subscriptions as the API receives them ------------------------------------------------------

def test_the_body_becomes_a_subscription_with_the_servers_id_owner_and_keys_kept():
    body = SubscriptionInput.model_validate({"name": "n", "countries": ["iq"], "owner": "ignored-here",
                                             "channels": [{"type": "webhook", "url": "https://r.example/a",
                                                           "secret": "k1"}]})
    sub = to_subscription(body, "id1", "ana", "2026-11-25T00:00:00Z")
    assert (sub.id, sub.owner, sub.countries, sub.created_at) == ("id1", "ana", ["IQ"], "2026-11-25T00:00:00Z")
    assert sub.channels[0].secret.get_secret_value() == "k1"
    assert "k1" not in sub.model_dump_json()  # never serialized back


def test_an_edit_keeps_the_key_of_an_unchanged_webhook_and_asks_for_one_for_a_new_url():
    old = Subscription(owner="a", name="n", channels=[{"type": "webhook", "url": "https://r.example/a",
                                                       "secret": SecretStr("old-key")}])
    new = Subscription(owner="a", name="n", channels=[{"type": "webhook", "url": "https://r.example/a"},
                                                      {"type": "email", "to": "a@b.example"},
                                                      {"type": "webhook", "url": "https://other.example/"}])
    kept, missing = carry_webhook_secrets(new, old)
    assert kept.channels[0].secret.get_secret_value() == "old-key"
    assert missing == [2]
    assert carry_webhook_secrets(new, None)[1] == [0, 2]


# -- places and the map --------------------------------------------------------------------------

def _name(words, canonical, kind, country, curated=False):
    return SimpleNamespace(words=tuple(words.split()), canonical=canonical, kind=kind, country=country,
                           lat=1.0, lon=2.0, curated=curated)


def test_place_type_ahead_finds_any_word_and_ranks_our_places_first():
    index = PlaceIndex([_name("deir ez-zor", "Deir ez-Zor", "city", "SY", curated=True),
                        _name("دير الزور", "Deir ez-Zor", "city", "SY", curated=True),
                        _name("zorgo", "Zorgo", "city", "BF"),
                        _name("syria", "Syria", "country", "SY", curated=True),
                        _name("sydney", "Sydney", "city", "AU")], lambda t: tuple(t.lower().split()))
    assert [p.canonical for p in index.search("zor")] == ["Deir ez-Zor", "Zorgo"]
    assert [p.canonical for p in index.search("الزور")] == ["Deir ez-Zor"]
    assert [p.canonical for p in index.search("sy")] == ["Syria", "Sydney"]
    assert index.search("  ") == [] and index.search("qqq") == []
    assert index.search("deir")[0].as_dict() == {"canonical": "Deir ez-Zor", "kind": "city", "country": "SY",
                                                 "lat": 1.0, "lon": 2.0}


def test_outlines_come_from_the_package_rounded():
    record = {"ISO": {"alpha2": "XX"}, "name": "Testland", "geoJSON": {"features": [{"geometry": {
        "type": "MultiPolygon", "coordinates": [[[[1.234, 2.345], [1.236, 2.346], [3.0, 4.0], [5.0, 2.0]]]]}}]}}
    assert outline_of(record) == {"code": "XX", "name": "Testland",
                                  "rings": [[[1.23, 2.35], [1.24, 2.35], [3.0, 4.0], [5.0, 2.0]]]}
    assert outline_of({"ISO": {"alpha2": "YY"}, "geoJSON": {}}) is None
    box = {"type": "Polygon", "coordinates": [[[1, 1], [1, 2], [2, 2], [2, 1], [1, 1]]]}
    assert outline_of({"ISO": {"alpha2": "ZZ"}, "geoJSON": {"features": [{"geometry": box}]}}) is None
    by_code = {c["code"]: c for c in countries()}
    assert len(by_code) > 200 and by_code["SY"]["rings"] and by_code["IQ"]["name"] == "Iraq"
    assert sum(1 for c in by_code.values() if c["rings"]) > 150


# -- the app as a whole, without servers -------------------------------------------------------------

def test_the_api_never_imports_beam():
    code = ("import sys, newswatch.api.app, newswatch.api.server, newswatch.pipelines.api_cli; "
            "sys.exit('apache_beam' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO_DIR).returncode == 0


def test_openapi_lists_the_endpoints_and_uses_the_subscription_model():
    from newswatch.api.app import create_app

    spec = create_app(Settings(), warm_up=False).openapi()
    paths = spec["paths"]
    for path, method in [("/api/subscriptions", "get"), ("/api/subscriptions", "post"),
                         ("/api/subscriptions/{sub_id}", "put"), ("/api/subscriptions/{sub_id}", "delete"),
                         ("/api/subscriptions/{sub_id}/test", "post"), ("/api/alerts", "get"),
                         ("/api/alerts/{alert_id}/ack", "post"), ("/api/alerts/stream", "get"),
                         ("/api/events/search", "get"), ("/healthz", "get"), ("/readyz", "get")]:
        assert method in paths[path], (path, method)
    schemas = spec["components"]["schemas"]
    assert set(Subscription.model_fields) <= set(schemas["Subscription"]["properties"])
    post = paths["/api/subscriptions"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/SubscriptionInput")
    assert post["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/Unprocessable")
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    # webhook keys are write-only: accepted in a request, never in a response
    assert schemas["WebhookChannel-Input"]["properties"]["secret"]["anyOf"][0]["writeOnly"] is True
    assert "secret" not in schemas["WebhookChannel-Output"]["properties"]


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                            ("0.0.0.0", False), ("example.org", False)])
def test_loopback_hosts(host, loopback):
    assert is_loopback(host) is loopback
