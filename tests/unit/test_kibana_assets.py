"""The Kibana and OpenSearch Dashboards saved objects, without servers: they parse, their
JSON-in-string fields parse, their references resolve, the fields they use are in the index
templates with the right types, their KQL parses and translates, the committed files are what
the generator writes; and the pure parts of `newswatch kibana import`."""
from __future__ import annotations

import base64
import importlib.util
import json
import sys

import pytest

from newswatch.pipelines import kibana
from newswatch.pipelines.settings import REPO_DIR

KIBANA_FILE = REPO_DIR / "deploy" / "kibana" / "newswatch.ndjson"
OSD_FILE = REPO_DIR / "deploy" / "opensearch-dashboards" / "newswatch.ndjson"
FILES = {"kibana": KIBANA_FILE, "opensearch-dashboards": OSD_FILE}


def _module(name: str):
    """deploy/kibana/<name>.py (deploy/ is not a package: its scripts run on their own)."""
    qualified = f"newswatch_deploy_kibana_{name}"
    if qualified not in sys.modules:
        spec = importlib.util.spec_from_file_location(qualified, REPO_DIR / "deploy" / "kibana" / f"{name}.py")
        sys.modules[qualified] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[qualified])
    return sys.modules[qualified]


checks = _module("checks")
build_assets = _module("build_assets")


def _objects(product: str) -> list[dict]:
    return checks.load_ndjson(FILES[product])


def _template_types() -> dict[str, dict[str, str]]:
    out = {}
    for kind in ("articles", "events", "alerts"):
        template = json.loads((REPO_DIR / "schemas" / "index" / f"{kind}.template.json").read_text(encoding="utf-8"))
        out[f"newswatch-{kind}"] = checks.mapping_types(template["template"]["mappings"]["properties"])
    return out


# ---- the files ----------------------------------------------------------------------------------

@pytest.mark.parametrize("product", FILES)
def test_every_line_is_a_saved_object_with_a_unique_id(product):
    lines = FILES[product].read_text(encoding="utf-8").splitlines()
    objects = [json.loads(line) for line in lines]
    assert len(objects) == len(lines) == 14
    for obj in objects:
        assert {"id", "type", "attributes", "references"} <= obj.keys(), obj.get("id")
        assert obj["attributes"]["title"], obj["id"]
    assert len({(o["type"], o["id"]) for o in objects}) == len(objects)


@pytest.mark.parametrize("product", FILES)
def test_every_json_in_string_attribute_parses(product):
    seen = set()
    for obj in _objects(product):
        parsed = checks.decoded(obj)
        seen.update(parsed)
        if obj["type"] == "lens":  # Lens keeps its state as an object, not a string
            assert isinstance(obj["attributes"]["state"]["visualization"], dict)
    expected = {"kibanaSavedObjectMeta.searchSourceJSON", "panelsJSON", "optionsJSON"}
    expected |= {"layerListJSON", "mapStateJSON"} if product == "kibana" else {"visState", "fields"}
    assert expected <= seen


def test_a_json_in_string_attribute_that_does_not_parse_is_named():
    broken = {"id": "x", "type": "visualization", "attributes": {"visState": "{not json"}}
    with pytest.raises(ValueError, match="visState"):
        checks.decoded(broken)


@pytest.mark.parametrize("product", FILES)
def test_every_reference_resolves_within_the_file(product):
    assert checks.reference_problems(_objects(product)) == []


def test_a_dangling_reference_is_reported():
    objects = _objects("kibana")
    search = next(o for o in objects if o["type"] == "search")
    without_views = [o for o in objects if o["type"] != "index-pattern"]
    problems = checks.reference_problems(without_views)
    assert any(search["id"] in p and "newswatch-events" in p for p in problems)


@pytest.mark.parametrize("product", FILES)
def test_the_dashboard_shows_every_chart_search_and_the_map(product):
    objects = _objects(product)
    dashboard = next(o for o in objects if o["type"] == "dashboard")
    shown = {r["id"] for r in dashboard["references"]}
    assert shown == {o["id"] for o in objects if o["type"] not in ("index-pattern", "dashboard")}
    assert len(json.loads(dashboard["attributes"]["panelsJSON"])) == len(shown) == 10


def test_data_views_have_the_right_time_fields_in_both_products():
    for product in FILES:
        views = {o["id"]: o["attributes"] for o in _objects(product) if o["type"] == "index-pattern"}
        assert {k: v["timeFieldName"] for k, v in views.items()} == {
            "newswatch-articles": "ingested_at", "newswatch-events": "ingested_at", "newswatch-alerts": "decided_at"}
        assert {v["title"] for v in views.values()} == {"newswatch-articles*", "newswatch-events*", "newswatch-alerts*"}


def test_kibana_has_a_maps_object_on_the_events_points_and_osd_a_coordinate_map():
    kibana_map = next(o for o in _objects("kibana") if o["type"] == "map")
    layers = json.loads(kibana_map["attributes"]["layerListJSON"])
    assert [layer["sourceDescriptor"].get("geoField") for layer in layers] == [None, "points"]
    osd_map = next(o for o in _objects("opensearch-dashboards") if o["id"] == kibana_map["id"])
    vis = json.loads(osd_map["attributes"]["visState"])
    assert vis["type"] == "tile_map" and vis["aggs"][1]["params"]["field"] == "points"


@pytest.mark.parametrize("product", FILES)
def test_every_field_used_is_in_the_index_templates_with_a_fitting_type(product):
    uses = [use for obj in _objects(product) for use in checks.field_uses(obj)]
    assert len({u.object_id for u in uses}) >= 12  # every view, search, chart and the map uses fields
    assert checks.field_problems(uses, _template_types()) == []


def test_a_text_field_used_for_an_aggregation_is_reported():
    uses = [checks.FieldUse("chart", "newswatch-events", "sentence_text", aggregated=True),
            checks.FieldUse("chart", "newswatch-events", "no_such_field", aggregated=False),
            checks.FieldUse("map", "newswatch-events", "locations.country", aggregated=True, geo=True)]
    problems = checks.field_problems(uses, _template_types())
    assert len(problems) == 3
    assert "aggregated but mapped as text" in problems[0] and "not in the mapping" in problems[1]
    assert "not geo_point" in problems[2]


def test_committed_files_are_what_the_generator_writes():
    assert build_assets.outputs() == {path: path.read_text(encoding="utf-8") for path in FILES.values()}, \
        "run: python deploy/kibana/build_assets.py"


def test_osd_field_lists_match_the_index_templates():
    types = _template_types()
    for view in (o for o in _objects("opensearch-dashboards") if o["type"] == "index-pattern"):
        listed = {f["name"] for f in json.loads(view["attributes"]["fields"]) if not f["name"].startswith("_")}
        assert listed == set(types[view["id"]]), view["id"]


# ---- KQL ----------------------------------------------------------------------------------------

EXPECTED_QUERIES = {
    "newswatch-search-offensives-24h": "type:offensive and ingested_at >= now-24h",
    "newswatch-search-ceasefires": "type:ceasefire",
    "newswatch-search-buildups-by-country": "type:troop_buildup",
    "newswatch-search-arabic-events": "language:ar",
}


@pytest.mark.parametrize("product", FILES)
def test_the_saved_searches_are_the_four_the_analysts_asked_for(product):
    queries = {oid: kql for oid, view, kql in checks.saved_queries(_objects(product))}
    assert queries == EXPECTED_QUERIES
    for kql in queries.values():
        checks.parse_kql(kql)  # raises when kibana-ql's port of Kibana's grammar rejects it


def test_text_that_is_not_kql_is_rejected_by_the_parser():
    from parsimonious.exceptions import ParseError

    with pytest.raises(ParseError):
        checks.parse_kql("type:(offensive or")


@pytest.mark.parametrize(("kql", "query"), [
    ("type:offensive", {"match": {"type": "offensive"}}),
    ('title:"Raqqa strike"', {"match_phrase": {"title": "Raqqa strike"}}),
    ("locations.country:*", {"exists": {"field": "locations.country"}}),
    ("actors.canonical:Syrian*", {"wildcard": {"actors.canonical": {"value": "Syrian*"}}}),
    ("confidence >= 0.5", {"range": {"confidence": {"gte": "0.5"}}}),
    ("not language:ar", {"bool": {"must_not": [{"match": {"language": "ar"}}]}}),
    ("type:offensive and ingested_at >= now-24h",
     {"bool": {"filter": [{"match": {"type": "offensive"}}, {"range": {"ingested_at": {"gte": "now-24h"}}}]}}),
    ("language:ar or language:en or language:fr",
     {"bool": {"should": [{"match": {"language": "ar"}}, {"match": {"language": "en"}}, {"match": {"language": "fr"}}],
               "minimum_should_match": 1}}),
    ("type:(ceasefire or troop_buildup)",
     {"bool": {"should": [{"match": {"type": "ceasefire"}}, {"match": {"type": "troop_buildup"}}],
               "minimum_should_match": 1}}),
])
def test_kql_translates_to_query_dsl_as_kibana_does(kql, query):
    assert checks.kql_to_query(kql) == query


def test_kql_fields_are_collected_from_every_branch():
    assert checks.kql_fields("a:x and (b:y or not c:z) and d >= 3") == {"a", "b", "c", "d"}


# ---- newswatch kibana import: the pure parts ------------------------------------------------------

def test_retarget_puts_the_configured_index_names_into_the_data_view_titles():
    objects = kibana.read_objects(KIBANA_FILE)
    moved = kibana.retarget(objects, {"events_index": "prod-events", "alerts_index": "prod-alerts"})
    titles = {o["id"]: o["attributes"]["title"] for o in moved if o["type"] == "index-pattern"}
    assert titles == {"newswatch-articles": "newswatch-articles*", "newswatch-events": "prod-events*",
                      "newswatch-alerts": "prod-alerts*"}
    assert [o for o in moved if o["type"] != "index-pattern"] == [o for o in objects if o["type"] != "index-pattern"]
    assert objects[1]["attributes"]["title"] == "newswatch-events*"  # the input is left as it was


def test_read_objects_names_the_bad_line(tmp_path):
    path = tmp_path / "bad.ndjson"
    path.write_text('{"id": "a", "type": "search", "attributes": {}}\n{oops\n', encoding="utf-8")
    with pytest.raises(kibana.KibanaImportError, match="line 2 is not JSON"):
        kibana.read_objects(path)
    with pytest.raises(kibana.KibanaImportError, match="cannot read"):
        kibana.read_objects(tmp_path / "missing.ndjson")


@pytest.mark.parametrize(("url", "message"), [
    ("kibana.example.org:5601", "not an http"),
    ("https://elastic:secret@kibana.example.org", "--user and --password"),
    ("https://kibana.example.org/app/home#/", "query or #fragment"),
])
def test_bad_urls_are_refused_with_what_to_do(url, message):
    with pytest.raises(kibana.KibanaImportError, match=message) as err:
        kibana.base_url(url)
    assert "secret" not in str(err.value)


def test_target_urls_with_a_space_and_a_base_path():
    target = kibana.Target("kibana", kibana.base_url("https://example.org/kibana/"), "ops")
    assert target.api("/api/saved_objects/_import") == "https://example.org/kibana/s/ops/api/saved_objects/_import"
    assert kibana.Target("kibana", "http://h:5601", "default").api("/x") == "http://h:5601/x"


def test_spaces_are_kibana_only_and_must_be_ids():
    assert kibana.check_space("team-a_1", "kibana") == "team-a_1"
    with pytest.raises(kibana.KibanaImportError, match="not a space id"):
        kibana.check_space("Team A", "kibana")
    with pytest.raises(kibana.KibanaImportError, match="tenants"):
        kibana.check_space("ops", "opensearch-dashboards")


def test_auth_headers():
    assert kibana.auth_header("kibana", None, None, None) is None
    basic = kibana.auth_header("kibana", "ana", "pa:ss", None)
    assert base64.b64decode(basic.removeprefix("Basic ")) == b"ana:pa:ss"
    assert kibana.auth_header("kibana", None, None, "id1:key1") == "ApiKey " + base64.b64encode(b"id1:key1").decode()
    encoded = base64.b64encode(b"id2:key2").decode()
    assert kibana.auth_header("kibana", None, None, encoded) == f"ApiKey {encoded}"


@pytest.mark.parametrize(("args", "message"), [
    (("kibana", "ana", None, None), "--password"),
    (("kibana", None, "secret-pw", None), "--user"),
    (("kibana", None, None, "not-a-key"), "not an Elasticsearch API key"),
    (("opensearch-dashboards", None, None, "id:key"), "Kibana only"),
])
def test_incomplete_or_wrong_credentials_are_refused_without_echoing_them(args, message):
    with pytest.raises(kibana.KibanaImportError, match=message) as err:
        kibana.auth_header(*args)
    assert "secret-pw" not in str(err.value) and "not-a-key" not in str(err.value)


def test_the_request_is_a_multipart_post_with_the_product_xsrf_header():
    content = kibana.to_ndjson(kibana.read_objects(OSD_FILE))
    target = kibana.Target("opensearch-dashboards", "http://h:5601")
    request = kibana.build_request(target, content, "Basic abc")
    assert request.full_url == "http://h:5601/api/saved_objects/_import?overwrite=true"
    assert request.get_method() == "POST"
    headers = {k.lower(): v for k, v in request.header_items()}
    assert headers["osd-xsrf"] == "true" and "kbn-xsrf" not in headers
    boundary = headers["content-type"].split("boundary=")[1]
    assert request.data.startswith(f"--{boundary}\r\n".encode()) and request.data.endswith(f"--{boundary}--\r\n".encode())
    assert content in request.data


def test_import_results_are_explained_per_object():
    target = kibana.Target("kibana", "http://h:5601")
    result = {"success": False, "successCount": 12, "errors": [
        {"id": "newswatch-events-map", "type": "map", "error": {"type": "unsupported_type"}},
        {"id": "newswatch-dashboard", "type": "dashboard",
         "error": {"type": "missing_references", "references": [{"type": "map", "id": "newswatch-events-map"}]}}]}
    lines = kibana.explain_result(target, result, 14)
    assert len(lines) == 2 and "no 'map' object type" in lines[0] and "map newswatch-events-map" in lines[1]
    assert kibana.explain_result(target, {"success": True, "successCount": 14}, 14) == []


@pytest.mark.parametrize(("product", "status", "body", "message"), [
    ("kibana", 401, "", "refused the credentials"),
    ("kibana", 403, "", "kibana_admin"),
    ("kibana", 404, "Not Found", "not of Elasticsearch"),
    ("kibana", 400, '{"message":"Request must contain a osd-xsrf header."}', "add --opensearch-dashboards"),
    ("opensearch-dashboards", 400, '{"message":"Request must contain a kbn-xsrf header."}',
     "drop --opensearch-dashboards"),
])
def test_http_errors_say_what_to_do(product, status, body, message):
    assert message in kibana.explain_status(kibana.Target(product, "http://h:5601"), status, body)
