"""The REST API over real HTTP (uvicorn on a free loopback port) against the test stack's real
OpenSearch and Kafka: tokens, ownership, CRUD, field-level 422s, SSRF refusals, limits, the live
feed, search with facets, and /test on events the real pipeline indexed."""
from __future__ import annotations

import http.client
import json
import queue
import socket
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

import pytest

from newswatch.api.app import create_app
from newswatch.api.auth import token_hash
from newswatch.api.server import BackgroundServer
from newswatch.api.state import ApiState
from newswatch.connectors import kafka
from newswatch.connectors.alert_records import AlertRecords
from newswatch.pipelines.model import Alert, alert_id
from newswatch.pipelines.settings import KafkaSettings, SearchSettings, Settings

from .conftest import REPO_DIR, wait_for

KEY = "receiver-signing-key-0123456789"


@dataclass
class Reply:
    status: int
    body: object
    headers: dict
    text: str


def call(base: str, method: str, path: str, token: str | None = None, body=None, raw: bytes | None = None,
         headers: dict | None = None) -> Reply:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if token:
        all_headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(base + path, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, text, got = response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as err:
        status, text, got = err.code, err.read().decode(), dict(err.headers)
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = None
    return Reply(status, parsed, got, text)


@dataclass
class Api:
    settings: object
    state: ApiState
    server: BackgroundServer
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    def __call__(self, method: str, path: str, user: str | None = "ana", **kw) -> Reply:
        return call(self.url, method, path, self.tokens.get(user, user), **kw)


def start_api(settings, warm_up: bool = False, **api_overrides) -> Api:
    """The app on a free loopback port, with tokens for ana, bob and an admin."""
    settings.api.tokens_index = settings.search.events_index.removesuffix("-events") + "-tokens"
    for key, value in api_overrides.items():
        setattr(settings.api, key, value)
    state = ApiState(settings)
    state.prepare()
    server = BackgroundServer(create_app(settings, state, warm_up=warm_up)).start()
    tokens = {"ana": state.tokens.create("ana"), "bob": state.tokens.create("bob"),
              "admin": state.tokens.create("root", admin=True)}
    return Api(settings, state, server, tokens)


def stop_api(api: Api) -> None:
    api.server.stop()
    api.state.backend.client.indices.delete(index=api.settings.api.tokens_index, ignore_unavailable=True)


@pytest.fixture
def api(settings):
    started = start_api(settings)
    yield started
    stop_api(started)


def _webhook(url: str = "http://127.0.0.1:9/hook", secret: str | None = KEY) -> dict:
    channel = {"type": "webhook", "url": url}
    if secret:
        channel["secret"] = secret
    return channel


def _create(api: Api, user: str = "ana", **fields) -> dict:
    body = {"name": "strikes in Syria", "types": ["offensive"], "countries": ["SY"], **fields}
    reply = api("POST", "/api/subscriptions", user, body=body)
    assert reply.status == 201, reply.text
    return reply.body


# -- auth and ownership ----------------------------------------------------------------------------

def test_missing_or_unknown_token_gets_401(api):
    missing = api("GET", "/api/subscriptions", None)
    assert missing.status == 401 and missing.headers.get("www-authenticate") == "Bearer"
    assert "newswatch token create" in missing.body["detail"]
    unknown = api("GET", "/api/subscriptions", "nw_not-a-token")
    assert unknown.status == 401 and "not known" in unknown.body["detail"]
    assert api("GET", "/api/me").body == {"user": "ana", "admin": False}
    stored = api.state.backend.get(api.settings.api.tokens_index, token_hash(api.tokens["ana"]))
    assert stored["user"] == "ana" and api.tokens["ana"] not in json.dumps(stored)  # only the hash is stored


def test_another_users_objects_are_404_and_an_admin_sees_all(api):
    sub = _create(api, "ana")
    for method, path in [("GET", f"/api/subscriptions/{sub['id']}"), ("DELETE", f"/api/subscriptions/{sub['id']}"),
                         ("POST", f"/api/subscriptions/{sub['id']}/test")]:
        assert api(method, path, "bob").status == 404, (method, path)
    put = api("PUT", f"/api/subscriptions/{sub['id']}", "bob", body={"name": "mine now"})
    assert put.status == 404
    assert api("GET", "/api/subscriptions", "bob").body == []
    assert [s["id"] for s in api("GET", "/api/subscriptions", "admin").body] == [sub["id"]]
    assert api("GET", f"/api/subscriptions/{sub['id']}", "admin").body["owner"] == "ana"
    assert api("GET", f"/api/subscriptions/{sub['id']}", "ana").body["name"] == "strikes in Syria"
    stolen = api("POST", "/api/subscriptions", "bob", body={"name": "x", "owner": "ana"})
    assert stolen.status == 422 and stolen.body["errors"][0]["field"] == "owner"
    made = api("POST", "/api/subscriptions", "admin", body={"name": "for ana", "owner": "ana"})
    assert made.status == 201 and made.body["owner"] == "ana"


# -- CRUD --------------------------------------------------------------------------------------------

def test_create_read_update_delete_and_keys_never_shown(api):
    reply = api("POST", "/api/subscriptions", body={"name": "Idlib", "places": ["Idlib"], "realert_s": 60,
                                                    "channels": [_webhook(), {"type": "email", "to": "a@b.example"}]})
    assert reply.status == 201 and reply.headers["location"] == f"/api/subscriptions/{reply.body['id']}"
    sub = reply.body
    assert sub["owner"] == "ana" and sub["created_at"] and KEY not in reply.text
    assert sub["channels"][0] == {"type": "webhook", "url": "http://127.0.0.1:9/hook"}
    assert api("GET", f"/api/subscriptions/{sub['id']}").body == sub
    assert KEY not in api("GET", "/api/subscriptions").text

    edit = api("PUT", f"/api/subscriptions/{sub['id']}",
               body={"name": "Idlib and Aleppo", "places": ["Idlib", "Aleppo"], "channels": [_webhook(secret=None)]})
    assert edit.status == 200, edit.text
    assert edit.body["places"] == ["Idlib", "Aleppo"] and edit.body["created_at"] == sub["created_at"]
    stored = api.state.service.store.get(sub["id"], with_secrets=True)
    assert stored.channels[0].secret.get_secret_value() == KEY  # same URL: the key is kept

    new_url = api("PUT", f"/api/subscriptions/{sub['id']}", body={"name": "x",
                                                                 "channels": [_webhook("http://127.0.0.1:9/new", None)]})
    assert new_url.status == 422 and new_url.body["errors"][0]["field"] == "channels.0.secret"

    assert api("DELETE", f"/api/subscriptions/{sub['id']}").status == 204
    assert api("GET", f"/api/subscriptions/{sub['id']}").status == 404
    assert api("DELETE", f"/api/subscriptions/{sub['id']}").status == 404


def test_a_bad_body_gets_422_with_a_message_per_field_and_no_echo(api):
    reply = api("POST", "/api/subscriptions", body={
        "name": "", "types": ["offensive", "riot"], "countries": ["SYR"], "radius_km": 50, "colour": "red",
        "channels": [{"type": "webhook", "url": "ftp://x.example/", "secret": "do-not-echo-me"}]})
    assert reply.status == 422
    fields = {e["field"]: e["message"] for e in reply.body["errors"]}
    assert set(fields) >= {"name", "types.1", "countries", "colour", "channels.0.url"}
    assert "two-letter ISO 3166-1" in fields["countries"] and "'offensive'" in fields["types.1"]
    assert reply.body["detail"].startswith("the request is not valid: ")
    assert "do-not-echo-me" not in reply.text
    radius = api("POST", "/api/subscriptions", body={"name": "r", "radius_km": 50})
    assert radius.status == 422 and "give both near" in radius.body["detail"]
    not_json = api("POST", "/api/subscriptions", raw=b"{not json")
    assert not_json.status == 422 and "not valid JSON" in not_json.text


def test_webhook_targets_get_the_delivery_workers_ssrf_check(api):
    for url, why in [("http://10.1.2.3/hook", "private"), ("http://169.254.169.254/latest", "metadata"),
                     ("http://[::ffff:10.0.0.1]/x", "10.0.0.1")]:
        reply = api("POST", "/api/subscriptions", body={"name": "x", "channels": [_webhook(url)]})
        assert reply.status == 422 and reply.body["errors"][0]["field"] == "channels.0.url", reply.text
        assert why in reply.body["errors"][0]["message"], reply.text
    slack = api("POST", "/api/subscriptions", body={"name": "x", "channels": [
        {"type": "email", "to": "a@b.example"}, {"type": "slack", "url": "http://192.168.1.1/hook"}]})
    assert slack.status == 422 and slack.body["errors"][0]["field"] == "channels.1.url"
    # the settings allow 127.0.0.0/8, as alerts.allowed_networks lets an operator do
    assert api("POST", "/api/subscriptions", body={"name": "ok", "channels": [_webhook()]}).status == 201


# -- limits -------------------------------------------------------------------------------------------

def test_request_size_limit(api):
    big = {"name": "x", "query": "a" * 1000, "actors": ["y" * 100] * 1000}
    reply = api("POST", "/api/subscriptions", body=big)
    assert reply.status == 413 and "api.max_body_bytes" in reply.body["detail"]


def test_rate_limit_per_token_and_cors_off_by_default(settings):
    limited = start_api(settings, rate_limit_per_minute=5)
    try:
        codes = [limited("GET", "/api/me").status for _ in range(6)]
        assert codes == [200] * 5 + [429]
        last = limited("GET", "/api/me")
        assert int(last.headers["retry-after"]) >= 1 and "api.rate_limit_per_minute" in last.body["detail"]
        assert limited("GET", "/api/me", "bob").status == 200  # another token, another budget
        preflight = limited("OPTIONS", "/api/me", None, headers={"Origin": "https://elsewhere.example",
                                                                 "Access-Control-Request-Method": "GET"})
        assert "access-control-allow-origin" not in {k.lower() for k in preflight.headers}
    finally:
        stop_api(limited)


def test_cors_when_configured(settings):
    cors = start_api(settings, cors_origins=["https://dash.example"])
    try:
        reply = cors("GET", "/api/me", headers={"Origin": "https://dash.example"})
        assert reply.headers.get("access-control-allow-origin") == "https://dash.example"
        other = cors("GET", "/api/me", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in {k.lower() for k in other.headers}
    finally:
        stop_api(cors)


# -- health -------------------------------------------------------------------------------------------

def test_health_and_readiness(api):
    assert api("GET", "/healthz", None).body == {"status": "ok", "checks": {}}
    ready = api("GET", "/readyz", None)
    assert ready.status == 200 and ready.body["checks"] == {"kafka": "ok", "search": "ok"}
    api.settings.kafka.bootstrap = "127.0.0.1:1"  # nothing listens there
    api.state._readiness = None
    down = api("GET", "/readyz", None)
    assert down.status == 503 and "127.0.0.1:1" in down.body["checks"]["kafka"]


def test_a_search_engine_that_does_not_answer_gets_503_with_what_to_do():
    dead = Settings(search=SearchSettings(url="http://127.0.0.1:1"), kafka=KafkaSettings(bootstrap="127.0.0.1:1"))
    server = BackgroundServer(create_app(dead, warm_up=False)).start()
    try:
        reply = call(server.url, "GET", "/api/subscriptions", "nw_any")
        assert reply.status == 503 and "http://127.0.0.1:1" in reply.body["detail"] and "/readyz" in reply.body["detail"]
        ready = call(server.url, "GET", "/readyz")
        assert ready.status == 503 and set(ready.body["checks"]) == {"kafka", "search"}
        assert all(v != "ok" for v in ready.body["checks"].values())
    finally:
        server.stop()


def test_docs_and_page_are_served(api):
    docs = api("GET", "/docs", None)
    assert docs.status == 200 and "/docs-static/swagger-ui-bundle.js" in docs.text and "cdn" not in docs.text
    assert api("GET", "/docs-static/swagger-ui-bundle.js", None).status == 200
    spec = api("GET", "/openapi.json", None).body
    assert "/api/events/search" in spec["paths"]
    page = api("GET", "/", None)
    assert page.status == 200 and "default-src 'self'" in page.headers["content-security-policy"]
    assert api("GET", "/static/app.js", None).status == 200
    outlines = api("GET", "/api/map/countries", None).body["countries"]
    assert any(c["code"] == "SY" and c["rings"] for c in outlines)


# -- the live feed ----------------------------------------------------------------------------------------

class Feed:
    """An SSE client on its own thread: collects `event: alert` payloads."""

    def __init__(self, base: str, query: str) -> None:
        parts = urlsplit(base)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        self.conn.request("GET", f"/api/alerts/stream?{query}", headers={"Accept": "text/event-stream"})
        self.sock = self.conn.sock  # shut down on close: a blocked read would wait for the next keepalive
        self.response = self.conn.getresponse()
        self.events: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        kind, data = None, ""
        try:
            for raw in self.response:
                line = raw.decode().rstrip("\n")
                if line.startswith("event:"):
                    kind = line[6:].strip()
                elif line.startswith("data:"):
                    data += line[5:].strip()
                elif not line and kind:
                    self.events.put((kind, json.loads(data)))
                    kind, data = None, ""
        except (OSError, ValueError, AttributeError, http.client.HTTPException):
            pass  # the connection was closed: the test is done with this feed

    def next(self, timeout_s: float) -> tuple[str, dict]:
        return self.events.get(timeout=timeout_s)

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.conn.close()


def _record_alert(api: Api, sub: dict, event_id: str, owner: str = "ana") -> dict:
    """An alert recorded in the alerts index as the delivery worker records it (the page test runs
    the worker itself)."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    event = {"id": event_id, "type": "offensive", "subtype": "air_strike", "language": "en",
             "sentence_text": "Warplanes carried out airstrikes near Idlib.", "trigger": {"text": "airstrikes"},
             "locations": [{"canonical": "Idlib", "country": "SY", "lat": 35.93, "lon": 36.63}]}
    alert = Alert(id=alert_id(sub["id"], event_id), subscription_id=sub["id"], owner=owner,
                  subscription_name=sub["name"], event_id=event_id, event=event, matched_at=now)
    record = {**alert.model_dump(mode="json"), "throttle": "send_now", "status": "delivered", "attempts": 1,
              "channels": [], "decided_at": now, "updated_at": now}
    AlertRecords(api.state.backend).save([record])
    return record


def test_live_feed_sends_the_callers_new_alerts_and_their_acknowledgement(api):
    sub = _create(api, "ana")
    ana = Feed(api.url, urlencode({"access_token": api.tokens["ana"]}))
    bob = Feed(api.url, urlencode({"access_token": api.tokens["bob"]}))
    try:
        assert ana.response.status == 200 and ana.response.getheader("content-type").startswith("text/event-stream")
        time.sleep(1)
        sent = time.monotonic()
        record = _record_alert(api, sub, "item-1:0:offensive:idlib")
        kind, first = ana.next(timeout_s=15)
        print(f"alert on the feed {time.monotonic() - sent:.2f}s after it was recorded")
        assert kind == "alert" and first["id"] == record["id"] and first["state"] == "new"
        assert first["trigger_span"] == [22, 32]

        listed = api("GET", "/api/alerts?since=1h&state=new").body
        assert [a["id"] for a in listed["alerts"]] == [record["id"]]
        assert api("POST", f"/api/alerts/{record['id']}/ack", "bob").status == 404
        acked = api("POST", f"/api/alerts/{record['id']}/ack")
        assert acked.status == 200 and acked.body["state"] == "acknowledged" and acked.body["acknowledged_by"] == "ana"
        again = api("POST", f"/api/alerts/{record['id']}/ack")
        assert again.body["acknowledged_at"] == acked.body["acknowledged_at"]  # acknowledging twice changes nothing
        kind, update = ana.next(timeout_s=15)
        assert update["id"] == record["id"] and update["state"] == "acknowledged"
        assert api("GET", "/api/alerts?state=new").body["count"] == 0
        assert api("GET", f"/api/alerts?subscription={sub['id']}&state=acknowledged").body["count"] == 1
        assert api("GET", "/api/alerts", "admin").body["count"] == 1
        with pytest.raises(queue.Empty):
            bob.next(timeout_s=2)  # bob's feed never carries ana's alerts
    finally:
        ana.close()
        bob.close()
    assert call(api.url, "GET", "/api/alerts/stream", None).status == 401


# -- search and /test on what the real pipeline indexed -------------------------------------------------

def _sample_lines() -> list[bytes]:
    return [line for line in (REPO_DIR / "deploy" / "sample" / "news.jsonl").read_bytes().splitlines() if line.strip()]


def test_search_with_facets_and_test_on_events_the_pipeline_indexed(api, pipeline):
    proc = pipeline()
    lines = _sample_lines()
    kafka.produce(api.settings.kafka, lines)
    backend = api.state.backend

    ends = kafka.end_offsets(api.settings.kafka, api.settings.kafka.topic)

    def all_committed():  # every sample line indexed or dead-lettered (the samples hold a few bad ones)
        committed = kafka.committed_offsets(api.settings.kafka, api.settings.kafka.topic)
        return all((committed.get(p) or 0) >= end for p, end in ends.items())
    wait_for(all_committed, 240, "the sample news to be processed", proc)
    backend.refresh(api.settings.search.events_index)

    everything = api("GET", "/api/events/search?size=100").body
    assert everything["total"] > 5 and len(everything["events"]) == everything["total"]
    types = {b["value"]: b["count"] for b in everything["facets"]["type"]}
    assert sum(types.values()) == everything["total"] and "offensive" in types
    assert {b["value"] for b in everything["facets"]["language"]} >= {"ar", "en"}

    offensives = api("GET", "/api/events/search?type=offensive&size=100").body
    assert offensives["total"] == types["offensive"] and {e["type"] for e in offensives["events"]} == {"offensive"}
    assert all(e["sentence_text"] and "text" not in e for e in offensives["events"])

    arabic = api("GET", "/api/events/search?" + urlencode({"q": "غارات"})).body
    assert arabic["total"] >= 1 and any(e["language"] == "ar" for e in arabic["events"])
    marked = [e for e in arabic["events"] if e["trigger_span"]]
    assert marked and all(e["sentence_text"][slice(*e["trigger_span"])] == e["trigger"]["text"] for e in marked)

    country = everything["facets"]["country"][0]
    by_country = api("GET", f"/api/events/search?country={country['value']}&size=100").body
    assert by_country["total"] == country["count"]
    place = next(loc for e in everything["events"] for loc in e["locations"] if loc.get("lat") is not None)
    near = api("GET", "/api/events/search?" + urlencode({"near": f"{place['lat']},{place['lon']}", "radius_km": 25})).body
    assert near["total"] >= 1 and all(any(abs(p["lat"] - place["lat"]) < 0.5 for p in e["points"]) for e in near["events"])
    page2 = api("GET", "/api/events/search?size=2&page=2").body
    assert page2["page"] == 2 and len(page2["events"]) == 2
    assert api("GET", "/api/events/search?since=1h").body["total"] == 0  # the samples were published in 2026-11
    assert api("GET", "/api/events/search?country=SYR").body["errors"][0]["field"] == "country"

    sub = _create(api, types=["offensive"], countries=[])
    tested = api("POST", f"/api/subscriptions/{sub['id']}/test?days=1").body
    assert tested["count"] == types["offensive"] and {e["type"] for e in tested["events"]} == {"offensive"}
    draft = api("POST", "/api/subscriptions/test", body={"name": "draft", "types": ["ceasefire"]}).body
    assert draft["subscription_id"] is None and draft["count"] == types.get("ceasefire", 0)

    places = api("GET", "/api/places?q=" + urllib.request.quote("إدل")).body
    assert places[0]["canonical"] == "Idlib" and places[0]["country"] == "SY"
