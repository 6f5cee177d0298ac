"""The Kibana / OpenSearch Dashboards saved objects against the real engine, and
`newswatch kibana import` against a real HTTP server.

Neither Kibana nor OpenSearch Dashboards can run here, so this proves what can be proven: after
the real pipeline has indexed sample news, every field the objects use is in the indices' real
mappings (aggregatable where aggregated, and the engine runs those aggregations and sorts), and
every saved KQL query, translated to query DSL, returns exactly the sample events it should.
The import command is run against a loopback HTTP server that checks the request the way the
import API does (path, xsrf header, credentials, a multipart body with a `file` part of NDJSON)."""
from __future__ import annotations

import base64
import email.parser
import email.policy
import importlib.util
import json
import sys
import threading
import uuid
import warnings
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from newswatch.connectors import kafka
from newswatch.connectors.search import SearchBackend
from newswatch.pipelines import cli
from newswatch.pipelines.settings import REPO_DIR, SearchSettings
from newswatch.pipelines.streaming import prepare

from .conftest import count, wait_for
from .test_streaming import _all_committed

FILES = {"kibana": REPO_DIR / "deploy" / "kibana" / "newswatch.ndjson",
         "opensearch-dashboards": REPO_DIR / "deploy" / "opensearch-dashboards" / "newswatch.ndjson"}
SAMPLE = REPO_DIR / "deploy" / "sample" / "news.jsonl"


def _checks():
    """deploy/kibana/checks.py (deploy/ is not a package), loaded once per process."""
    name = "newswatch_deploy_kibana_checks"  # the name tests/unit/test_kibana_assets.py uses too
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO_DIR / "deploy" / "kibana" / "checks.py")
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


# ---- the saved objects against the real engine ---------------------------------------------------

def _sample_items() -> list[bytes]:
    """The Arabic and English sample items: offensives, ceasefires, build-ups and items without events."""
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    return [line.encode("utf-8") for line in lines if line.startswith(('{"id": "ar-', '{"id": "en-'))]


def _index_names(settings) -> dict[str, str]:
    """Data-view id -> this test's index (the objects name the default newswatch-* indices)."""
    s = settings.search
    return {"newswatch-articles": s.articles_index, "newswatch-events": s.events_index,
            "newswatch-alerts": s.alerts_index}


def _real_types(backend: SearchBackend, index: str) -> dict[str, str]:
    mapping = backend.client.indices.get_mapping(index=index)
    mapping = mapping.body if hasattr(mapping, "body") else mapping
    return _checks().mapping_types(mapping[index]["mappings"]["properties"])


GEO_MODULE_MISSING = ("the local OpenSearch runs without the geo module, which provides the geohash_grid and "
                      "geotile_grid aggregations of the maps: checked with a geo_bounding_box query instead")


def _check_aggregation(backend: SearchBackend, index: str, use) -> None:
    """The engine runs the aggregation a chart or map makes on the field (raises if it refuses)."""
    if not use.geo:
        backend.search(index, {"size": 0, "aggs": {"a": {"terms": {"field": use.field, "size": 5}}}})
        return
    world = {"geo_bounding_box": {use.field: {"top_left": {"lat": 90, "lon": -180},
                                              "bottom_right": {"lat": -90, "lon": 180}}}}
    backend.search(index, {"size": 0, "query": world})  # a geo_point query: core, always available
    try:
        backend.search(index, {"size": 0, "aggs": {"a": {"geohash_grid": {"field": use.field, "precision": 3}}}})
    except Exception as err:  # noqa: BLE001 - the client's own RequestError type
        if "Unknown aggregation type" not in str(err):
            raise
        warnings.warn(GEO_MODULE_MISSING, stacklevel=1)


def _all_events(backend: SearchBackend, index: str) -> list[dict]:
    backend.refresh(index)
    return [h["_source"] for h in backend.search(index, {"size": 1000, "query": {"match_all": {}}})["hits"]["hits"]]


def _an_old_offensive(events: list[dict]) -> dict:
    """A copy of a real offensive event that arrived two days ago: outside "last 24 hours"."""
    event = next(e for e in events if e["type"] == "offensive")
    old = (datetime.now(UTC) - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {**event, "id": "old-001:0:offensive:-", "article_id": "old-001", "ingested_at": old}


def _recent(event: dict) -> bool:
    return datetime.fromisoformat(event["ingested_at"].replace("Z", "+00:00")) >= datetime.now(UTC) - timedelta(hours=24)


# what each saved search must return, as a predicate over event documents (independent of KQL)
SHOULD_RETURN = {
    "newswatch-search-offensives-24h": lambda e: e["type"] == "offensive" and _recent(e),
    "newswatch-search-ceasefires": lambda e: e["type"] == "ceasefire",
    "newswatch-search-buildups-by-country": lambda e: e["type"] == "troop_buildup",
    "newswatch-search-arabic-events": lambda e: e["language"] == "ar",
}
# sample articles that must be among the results (the tagger's output on deploy/sample/news.jsonl)
MUST_INCLUDE = {
    "newswatch-search-offensives-24h": {"ar-001", "en-001"},
    "newswatch-search-ceasefires": {"ar-002", "en-002"},
    "newswatch-search-buildups-by-country": {"ar-003", "en-003"},
    "newswatch-search-arabic-events": {"ar-001", "ar-002", "ar-003"},
}


def test_saved_objects_fit_the_real_opensearch_indices_and_their_queries_return_the_sample_events(settings, pipeline):
    _index_the_sample_and_check(settings, pipeline, ["kibana", "opensearch-dashboards"])


def test_kibana_objects_fit_the_real_elasticsearch_indices_too(elasticsearch_running, settings, pipeline):
    """Kibana sits on Elasticsearch: the same checks on a real Elasticsearch node (integ-test
    distribution: plain analyzers, but the same field types)."""
    tag = uuid.uuid4().hex[:8]
    opensearch = settings.search  # the pipeline fixture already made these indices on OpenSearch
    settings.search = SearchSettings(backend="elasticsearch", url=f"http://127.0.0.1:{elasticsearch_running.es_http_port}",
                                     articles_index=f"nw-{tag}-articles", events_index=f"nw-{tag}-events",
                                     subscriptions_index=f"nw-{tag}-subscriptions", alerts_index=f"nw-{tag}-alerts")
    try:
        prepare(settings)  # templates and indices on Elasticsearch before anything counts them
        _index_the_sample_and_check(settings, pipeline, ["kibana"])
    finally:
        SearchBackend(opensearch).delete_indices()


def _index_the_sample_and_check(settings, pipeline, products: list[str]) -> None:
    checks = _checks()
    proc = pipeline()
    items = _sample_items()
    kafka.produce(settings.kafka, items)
    wait_for(lambda: count(settings, settings.search.articles_index) == len(items) and _all_committed(settings),
             240, "the sample items to be indexed", proc)
    backend = SearchBackend(settings.search)
    events_index = settings.search.events_index
    events = _all_events(backend, events_index)
    old = _an_old_offensive(events)
    assert all(r.ok for r in backend.bulk_index([(events_index, old["id"], old)]))
    events.append(old)
    names = _index_names(settings)
    types = {view: _real_types(backend, index) for view, index in names.items()}

    for product in products:
        objects = checks.load_ndjson(FILES[product])
        uses = [use for obj in objects for use in checks.field_uses(obj)]
        assert checks.field_problems(uses, types) == [], product
        for use in {u for u in uses if u.aggregated}:  # the engine itself runs each aggregation
            _check_aggregation(backend, names[use.data_view], use)
        for obj in (o for o in objects if o["type"] == "search"):
            sort = [{field: order} for field, order in obj["attributes"]["sort"]]
            backend.search(names["newswatch-events"], {"size": 1, "sort": sort})
        _check_saved_queries(checks, backend, objects, names, events, product)
    _check_charts_have_data(backend, events_index)


def _check_saved_queries(checks, backend, objects, names, events, product) -> None:
    queries = checks.saved_queries(objects)
    assert {oid for oid, _, _ in queries} == set(SHOULD_RETURN), product
    backend.refresh(names["newswatch-events"])
    for oid, view, kql in queries:
        body = {"size": 1000, "query": checks.kql_to_query(kql)}
        found = {h["_source"]["id"] for h in backend.search(names[view], body)["hits"]["hits"]}
        expected = {e["id"] for e in events if SHOULD_RETURN[oid](e)}
        assert found == expected, f"{product} {oid} ({kql})"
        articles = {e["article_id"] for e in events if e["id"] in found}
        assert MUST_INCLUDE[oid] <= articles, f"{product} {oid}: {sorted(articles)}"
    offensives = next(kql for oid, _, kql in queries if oid == "newswatch-search-offensives-24h")
    hits = backend.search(names["newswatch-events"], {"size": 1000, "query": checks.kql_to_query(offensives)})
    assert "old-001" not in {h["_source"]["article_id"] for h in hits["hits"]["hits"]}


def _check_charts_have_data(backend, events_index) -> None:
    """The terms behind the charts have buckets on the sample: actors, places, countries, types."""
    for field, expected in (("type", {"offensive", "ceasefire", "troop_buildup"}), ("locations.country", {"SY", "YE"}),
                            ("locations.canonical", {"Idlib"}), ("actors.canonical", {"Syrian Army"})):
        aggs = backend.search(events_index, {"size": 0, "aggs": {"a": {"terms": {"field": field, "size": 50}}}})
        keys = {b["key"] for b in aggs["aggregations"]["a"]["buckets"]}
        assert expected <= keys, (field, keys)
    world = {"geo_bounding_box": {"points": {"top_left": {"lat": 90, "lon": -180}, "bottom_right": {"lat": -90, "lon": 180}}}}
    assert count_matching(backend, events_index, world) >= 5, "too few events with points for the map"


def count_matching(backend: SearchBackend, index: str, query: dict) -> int:
    return backend.search(index, {"size": 0, "track_total_hits": True, "query": query})["hits"]["total"]["value"]


# ---- newswatch kibana import against a real HTTP server -------------------------------------------

class ImportServer:
    """A loopback HTTP server that answers POST <base>/api/saved_objects/_import as the import API
    does, after checking what the API checks: the xsrf header, the credentials, the multipart body
    with a `file` part holding NDJSON saved objects. It keeps every request it received."""

    def __init__(self, xsrf: str = "kbn-xsrf", auth: str | None = None, unsupported: set[str] | None = None):
        self.xsrf, self.auth, self.unsupported = xsrf, auth, unsupported or set()
        self.requests: list[dict] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> ImportServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, path: str, headers, body: bytes) -> tuple[int, dict]:
        self.requests.append({"path": path, "headers": {k.lower(): v for k, v in headers.items()}, "body": body})
        if headers.get(self.xsrf) is None:
            return 400, {"statusCode": 400, "error": "Bad Request", "message": f"Request must contain a {self.xsrf} header."}
        if self.auth and headers.get("Authorization") != self.auth:
            return 401, {"statusCode": 401, "error": "Unauthorized", "message": "Unauthorized"}
        if not path.split("?")[0].endswith("/api/saved_objects/_import"):
            return 404, {"statusCode": 404, "error": "Not Found", "message": "Not Found"}
        objects = [json.loads(line) for line in _file_part(headers["Content-Type"], body).decode("utf-8").splitlines()
                   if line]
        refused = [o for o in objects if o["type"] in self.unsupported]
        errors = [{"id": o["id"], "type": o["type"], "title": o["attributes"]["title"],
                   "error": {"type": "unsupported_type"}} for o in refused]
        return 200, {"success": not errors, "successCount": len(objects) - len(errors), **({"errors": errors} if errors else {}),
                     "successResults": [{"id": o["id"], "type": o["type"]} for o in objects if o not in refused]}

    def _handler(self):
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, answer = owner.answer(self.path, self.headers, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):  # keep the test output quiet
                pass

        return Handler


def _file_part(content_type: str, body: bytes) -> bytes:
    """The `file` part of a multipart/form-data body, parsed by the standard library's MIME parser."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    assert message.is_multipart(), content_type
    parts = [p for p in message.iter_parts() if p.get_param("name", header="content-disposition") == "file"]
    assert len(parts) == 1 and parts[0].get_filename() == "newswatch.ndjson"
    return parts[0].get_payload(decode=True)


def _titles(request: dict) -> dict[str, str]:
    objects = [json.loads(line) for line in _file_part(request["headers"]["content-type"], request["body"]).decode().splitlines()]
    return {o["id"]: o["attributes"]["title"] for o in objects if o["type"] == "index-pattern"}


def test_import_into_a_kibana_space_with_an_api_key(monkeypatch, capsys):
    monkeypatch.setenv("NEWSWATCH_SEARCH__EVENTS_INDEX", "prod-events")
    key = "key-id:key-secret-value"
    with ImportServer(auth="ApiKey " + base64.b64encode(key.encode()).decode()) as server:
        code = cli.main(["kibana", "import", "--url", server.url + "/", "--space", "ops", "--api-key", key])
    out, err = capsys.readouterr()
    assert code == 0, err
    [request] = server.requests
    assert request["path"] == "/s/ops/api/saved_objects/_import?overwrite=true"
    assert request["headers"]["kbn-xsrf"] == "true"
    assert _titles(request) == {"newswatch-articles": "newswatch-articles*", "newswatch-events": "prod-events*",
                                "newswatch-alerts": "newswatch-alerts*"}
    assert "imported 14 saved objects into Kibana" in out and "/s/ops/app/dashboards#/view/newswatch-dashboard" in out
    assert "key-secret-value" not in out + err


def test_import_into_opensearch_dashboards_with_a_password_from_the_environment(monkeypatch, capsys):
    monkeypatch.setenv("NEWSWATCH_KIBANA_PASSWORD", "pw-from-env")
    basic = "Basic " + base64.b64encode(b"analyst:pw-from-env").decode()
    with ImportServer(xsrf="osd-xsrf", auth=basic) as server:
        code = cli.main(["kibana", "import", "--url", server.url, "--user", "analyst", "--opensearch-dashboards"])
    out, err = capsys.readouterr()
    assert code == 0, err
    [request] = server.requests
    assert request["path"] == "/api/saved_objects/_import?overwrite=true" and "kbn-xsrf" not in request["headers"]
    sent = _file_part(request["headers"]["content-type"], request["body"])
    assert sent.count(b"\n") == 14 and b'"type":"visualization"' in sent and b'"type":"lens"' not in sent
    assert "pw-from-env" not in out + err


def test_import_errors_say_what_was_wrong_and_never_show_the_password(capsys):
    with ImportServer(auth="Basic nobody-gets-in") as server:
        code = cli.main(["kibana", "import", "--url", server.url, "--user", "ana", "--password", "wrong-pw"])
        assert code == 2 and len(server.requests) == 1
        out, err = capsys.readouterr()
        assert "refused the credentials (HTTP 401): check --user/--password or --api-key" in err
        assert "wrong-pw" not in out + err
    with ImportServer(xsrf="osd-xsrf") as server:  # an OpenSearch Dashboards taken for Kibana
        assert cli.main(["kibana", "import", "--url", server.url]) == 2
        assert "add --opensearch-dashboards" in capsys.readouterr().err
    with ImportServer(unsupported={"map"}) as server:  # a Kibana without the Maps application
        assert cli.main(["kibana", "import", "--url", server.url]) == 2
        err = capsys.readouterr().err
        assert "imported 13 of 14 objects" in err and "map newswatch-events-map" in err
    with ImportServer() as server:
        pass  # stopped: nothing listens on its port any more
    assert cli.main(["kibana", "import", "--url", server.url]) == 2
    assert "could not reach Kibana" in capsys.readouterr().err


@pytest.mark.parametrize("product", FILES)
def test_the_files_import_as_they_are_committed(product, capsys):
    """The bundled file, unchanged but for the titles, is what the command sends."""
    flag = ["--opensearch-dashboards"] if product == "opensearch-dashboards" else []
    xsrf = "osd-xsrf" if flag else "kbn-xsrf"
    with ImportServer(xsrf=xsrf) as server:
        assert cli.main(["kibana", "import", "--url", server.url, *flag]) == 0
    sent = [json.loads(line) for line in _file_part(server.requests[0]["headers"]["content-type"],
                                         server.requests[0]["body"]).splitlines()]
    committed = [json.loads(line) for line in FILES[product].read_text(encoding="utf-8").splitlines()]
    assert sent == committed
