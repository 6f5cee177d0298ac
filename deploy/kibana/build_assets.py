"""Writes the saved objects for Kibana 8.x (deploy/kibana/newswatch.ndjson) and for OpenSearch
Dashboards (deploy/opensearch-dashboards/newswatch.ndjson) from one description of what analysts
get: data views, saved searches, charts, a map and a dashboard.

Run `python deploy/kibana/build_assets.py` after changing anything here (or the index templates,
whose mappings give the OpenSearch Dashboards field lists); `--check` exits 1 when the committed
files differ from what this script writes. The output is deterministic: fixed ids, sorted keys.

Object formats and why:
- Kibana: every object declares the oldest 8.x format it is written in (coreMigrationVersion
  8.0.0 and a per-type migrationVersion), so any Kibana 8.x accepts the file and migrates the
  objects forward on import. Charts are Lens objects (in the 7.14 layout Kibana 8.0 itself
  ships), the map is a Maps application object ("map"), the dashboard refers to all of them.
- OpenSearch Dashboards (forked from Kibana 7.10): index patterns carry their field list,
  charts are aggregation-based visualizations (visState), and the map is the core "Coordinate
  Map" visualization (tile_map, geohash grid on `points`): it ships with every OpenSearch
  Dashboards, unlike the optional maps plugin. Region maps need a vector layer per country
  code, which is not core either.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
KIBANA_OUT = REPO / "deploy" / "kibana" / "newswatch.ndjson"
OSD_OUT = REPO / "deploy" / "opensearch-dashboards" / "newswatch.ndjson"
TEMPLATES = REPO / "schemas" / "index"

# Default index names (settings.search); `newswatch kibana import` rewrites data-view titles when
# the user's settings name other indices. A title ends in * to take dated indices (<name>-2026.12).
INDEX_KINDS = ("articles", "events", "alerts")
TIME_FIELDS = {"articles": "ingested_at", "events": "ingested_at", "alerts": "decided_at"}
# ingested_at, not published_at: it is always set (published_at may be null, and such documents
# would vanish from every time-filtered view) and it grows with the stream, so "last 24 hours"
# means "arrived in the last 24 hours" even for items published earlier. Alerts: decided_at is set
# on every alert record when the worker decides to send, digest or throttle it.

EVENT_COLUMNS = ["title", "subtype", "actors.canonical", "locations.canonical", "locations.country",
                 "sentence_text"]
# (id, title, KQL, columns, sort): the saved searches on the events data view.
SAVED_SEARCHES = [
    ("newswatch-search-offensives-24h", "newswatch: offensives, last 24 hours",
     "type:offensive and ingested_at >= now-24h", EVENT_COLUMNS, [["ingested_at", "desc"]]),
    ("newswatch-search-ceasefires", "newswatch: ceasefires", "type:ceasefire", EVENT_COLUMNS,
     [["ingested_at", "desc"]]),
    ("newswatch-search-buildups-by-country", "newswatch: troop build-ups by country", "type:troop_buildup",
     ["locations.country", "locations.canonical", "actors.canonical", "subtype", "sentence_text", "title"],
     [["locations.country", "asc"], ["ingested_at", "desc"]]),
    ("newswatch-search-arabic-events", "newswatch: Arabic-language events", "language:ar", EVENT_COLUMNS,
     [["ingested_at", "desc"]]),
]
# (id, title, data view kind, x field, split field or None, top-N size): the bar charts.
CHARTS = [
    ("newswatch-events-over-time", "newswatch: events over time by type", "events", "ingested_at", "type", 10),
    ("newswatch-top-actors", "newswatch: top actors", "events", "actors.canonical", None, 15),
    ("newswatch-top-places", "newswatch: top places", "events", "locations.canonical", None, 15),
    ("newswatch-top-countries", "newswatch: top countries", "events", "locations.country", None, 15),
    ("newswatch-alerts-by-subscription", "newswatch: alerts by subscription and status", "alerts",
     "subscription_name", "status", 20),
]
MAP_ID = "newswatch-events-map"
MAP_TITLE = "newswatch: events map"
MAP_TOOLTIP = ["type", "subtype", "locations.canonical", "locations.country", "actors.canonical", "title"]
DASHBOARD_ID = "newswatch-dashboard"
DASHBOARD_TITLE = "newswatch: conflict events"
# (object id, x, y, w, h) on the 48-column dashboard grid
LAYOUT = [
    ("newswatch-events-over-time", 0, 0, 48, 12),
    ("newswatch-top-actors", 0, 12, 16, 14),
    ("newswatch-top-places", 16, 12, 16, 14),
    ("newswatch-top-countries", 32, 12, 16, 14),
    (MAP_ID, 0, 26, 30, 22),
    ("newswatch-alerts-by-subscription", 30, 26, 18, 22),
    ("newswatch-search-offensives-24h", 0, 48, 24, 16),
    ("newswatch-search-buildups-by-country", 24, 48, 24, 16),
    ("newswatch-search-ceasefires", 0, 64, 24, 16),
    ("newswatch-search-arabic-events", 24, 64, 24, 16),
]
SEARCH_REF = "kibanaSavedObjectMeta.searchSourceJSON.index"


def dumps(value) -> str:
    """The one JSON encoding of every object and every JSON-in-string field: stable bytes."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def data_view_id(kind: str) -> str:
    return f"newswatch-{kind}"


def index_ref(kind: str, name: str = SEARCH_REF) -> dict:
    return {"id": data_view_id(kind), "name": name, "type": "index-pattern"}


def search_source(kql: str = "") -> str:
    return dumps({"filter": [], "indexRefName": SEARCH_REF, "query": {"language": "kuery", "query": kql}})


# ---- both products --------------------------------------------------------------------------

def saved_search(object_id: str, title: str, kql: str, columns: list[str], sort: list) -> dict:
    return {"id": object_id, "type": "search", "migrationVersion": {"search": "7.9.3"},
            "attributes": {"title": title, "description": f"Events matching the KQL query: {kql}",
                           "columns": columns, "sort": sort, "hits": 0, "version": 1,
                           "kibanaSavedObjectMeta": {"searchSourceJSON": search_source(kql)}},
            "references": [index_ref("events")]}


def saved_searches() -> list[dict]:
    return [saved_search(*spec) for spec in SAVED_SEARCHES]


# ---- Kibana 8.x ------------------------------------------------------------------------------

def kibana_data_view(kind: str) -> dict:
    return {"id": data_view_id(kind), "type": "index-pattern", "migrationVersion": {"index-pattern": "7.11.0"},
            "attributes": {"title": f"newswatch-{kind}*", "timeFieldName": TIME_FIELDS[kind], "fields": "[]",
                           "fieldAttrs": "{}", "runtimeFieldMap": "{}", "typeMeta": "{}"},
            "references": []}


def lens_count_column() -> dict:
    return {"label": "Count", "dataType": "number", "operationType": "count", "isBucketed": False,
            "scale": "ratio", "sourceField": "___records___"}


def lens_bucket_column(field: str, size: int, kind: str) -> dict:
    if field == TIME_FIELDS[kind]:
        return {"label": field, "dataType": "date", "operationType": "date_histogram", "isBucketed": True,
                "scale": "interval", "sourceField": field, "params": {"interval": "auto"}}
    return {"label": f"Top values of {field}", "dataType": "string", "operationType": "terms", "isBucketed": True,
            "scale": "ordinal", "sourceField": field,
            "params": {"size": size, "orderBy": {"type": "column", "columnId": "count"}, "orderDirection": "desc",
                       "otherBucket": True, "missingBucket": False}}


def lens_chart(object_id: str, title: str, kind: str, x_field: str, split: str | None, size: int) -> dict:
    layer = "layer1"
    columns = {"x": lens_bucket_column(x_field, size, kind), "count": lens_count_column()}
    order = ["x", "count"]
    xy_layer = {"layerId": layer, "layerType": "data", "accessors": ["count"], "xAccessor": "x"}
    if split:
        columns["split"] = lens_bucket_column(split, 10, kind)
        order = ["x", "split", "count"]
        xy_layer["splitAccessor"] = "split"
    over_time = x_field == TIME_FIELDS[kind]
    series = "bar_stacked" if over_time else "bar_horizontal_stacked" if split else "bar_horizontal"
    xy_layer["seriesType"] = series
    visualization = {"layers": [xy_layer], "legend": {"isVisible": bool(split), "position": "right"},
                     "preferredSeriesType": series, "valueLabels": "hide", "fittingFunction": "None"}
    state = {"datasourceStates": {"indexpattern": {"layers": {layer: {"columns": columns, "columnOrder": order,
                                                                      "incompleteColumns": {}}}}},
             "visualization": visualization, "query": {"language": "kuery", "query": ""}, "filters": []}
    return {"id": object_id, "type": "lens", "migrationVersion": {"lens": "7.14.0"},
            "attributes": {"title": title, "description": "", "visualizationType": "lnsXY", "state": state},
            "references": [index_ref(kind, "indexpattern-datasource-current-indexpattern"),
                           index_ref(kind, f"indexpattern-datasource-layer-{layer}")]}


def map_layers() -> list[dict]:
    """An EMS base map and the events' points as documents (clustered when there are many).
    Layer type names are the 8.0 ones (VECTOR, VECTOR_TILE); Kibana 8.1+ renames them on import."""
    basemap = {"id": "basemap", "type": "VECTOR_TILE", "label": None, "minZoom": 0, "maxZoom": 24, "alpha": 1,
               "visible": True, "style": {}, "sourceDescriptor": {"type": "EMS_TMS", "isAutoSelect": True}}
    points = {"id": "events", "type": "VECTOR", "label": "Events", "minZoom": 0, "maxZoom": 24, "alpha": 0.8,
              "visible": True, "joins": [],
              "sourceDescriptor": {"id": "events-source", "type": "ES_SEARCH", "geoField": "points",
                                   "scalingType": "CLUSTERS", "filterByMapBounds": True, "applyGlobalQuery": True,
                                   "applyGlobalTime": True, "tooltipProperties": MAP_TOOLTIP,
                                   "sortField": "ingested_at", "sortOrder": "desc",
                                   "indexPatternRefName": "layer_1_source_index_pattern"},
              "style": {"type": "VECTOR", "properties": {
                  "fillColor": {"type": "STATIC", "options": {"color": "#D36086"}},
                  "lineColor": {"type": "STATIC", "options": {"color": "#FFFFFF"}},
                  "lineWidth": {"type": "STATIC", "options": {"size": 1}},
                  "iconSize": {"type": "STATIC", "options": {"size": 7}}}}}
    return [basemap, points]


def kibana_map() -> dict:
    state = {"zoom": 4, "center": {"lat": 32.0, "lon": 40.0}, "timeFilters": {"from": "now-7d", "to": "now"},
             "refreshConfig": {"isPaused": True, "interval": 0}, "query": {"language": "kuery", "query": ""},
             "filters": [], "settings": {"autoFitToDataBounds": False}}
    return {"id": MAP_ID, "type": "map", "migrationVersion": {"map": "8.0.0"},
            "attributes": {"title": MAP_TITLE, "description": "Events by their geocoded places (`points`)",
                           "mapStateJSON": dumps(state), "layerListJSON": dumps(map_layers()),
                           "uiStateJSON": dumps({"isLayerTOCOpen": True, "openTOCDetails": []})},
            "references": [index_ref("events", "layer_1_source_index_pattern")]}


def kibana_dashboard(types: dict[str, str]) -> dict:
    panels, references = [], []
    for n, (object_id, x, y, w, h) in enumerate(LAYOUT, start=1):
        index = str(n)
        panels.append({"version": "8.0.0", "type": types[object_id], "panelIndex": index,
                       "gridData": {"x": x, "y": y, "w": w, "h": h, "i": index},
                       "embeddableConfig": {"enhancements": {}}, "panelRefName": f"panel_{index}"})
        references.append({"id": object_id, "name": f"{index}:panel_{index}", "type": types[object_id]})
    return {"id": DASHBOARD_ID, "type": "dashboard", "migrationVersion": {"dashboard": "7.14.0"},
            "attributes": dashboard_attributes(panels), "references": references}


def dashboard_attributes(panels: list[dict]) -> dict:
    return {"title": DASHBOARD_TITLE, "description": "Offensives, ceasefires and troop build-ups tagged by newswatch",
            "panelsJSON": dumps(panels), "optionsJSON": dumps({"useMargins": True, "hidePanelTitles": False}),
            "timeRestore": True, "timeFrom": "now-7d", "timeTo": "now", "refreshInterval": {"pause": False,
                                                                                       "value": 60000},
            "version": 1, "kibanaSavedObjectMeta": {"searchSourceJSON": dumps(
                {"filter": [], "query": {"language": "kuery", "query": ""}})}}


def kibana_objects() -> list[dict]:
    objects = [kibana_data_view(kind) for kind in INDEX_KINDS] + saved_searches()
    objects += [lens_chart(*spec) for spec in CHARTS] + [kibana_map()]
    types = {o["id"]: o["type"] for o in objects}
    objects.append(kibana_dashboard(types))
    for o in objects:
        o["coreMigrationVersion"] = "8.0.0"
    return objects


# ---- OpenSearch Dashboards -------------------------------------------------------------------

AGGREGATABLE = {"keyword", "date", "integer", "long", "float", "double", "short", "byte", "geo_point", "boolean"}
FIELD_TYPES = {"keyword": "string", "text": "string", "date": "date", "integer": "number", "long": "number",
               "float": "number", "double": "number", "short": "number", "byte": "number",
               "geo_point": "geo_point", "boolean": "boolean"}


def mapping_fields(properties: dict, prefix: str = "") -> list[tuple[str, str, str | None]]:
    """(path, mapping type, parent of a multi-field) for every searchable leaf of a mapping."""
    out = []
    for name, spec in sorted(properties.items()):
        path = f"{prefix}{name}"
        if "properties" in spec:
            out += mapping_fields(spec["properties"], f"{path}.")
        elif spec.get("type") in FIELD_TYPES:
            out.append((path, spec["type"], None))
            for sub, sub_spec in sorted(spec.get("fields", {}).items()):
                out.append((f"{path}.{sub}", sub_spec["type"], path))
    return out


def index_pattern_field(path: str, es_type: str, parent: str | None) -> dict:
    field = {"name": path, "type": FIELD_TYPES[es_type], "esTypes": [es_type], "count": 0, "scripted": False,
             "searchable": True, "aggregatable": es_type in AGGREGATABLE,
             "readFromDocValues": es_type in AGGREGATABLE}
    if parent:
        field["subType"] = {"multi": {"parent": parent}}
    return field


def meta_fields() -> list[dict]:
    common = {"count": 0, "scripted": False, "readFromDocValues": False}
    return [{"name": "_id", "type": "string", "esTypes": ["_id"], "searchable": True, "aggregatable": True, **common},
            {"name": "_index", "type": "string", "esTypes": ["_index"], "searchable": True, "aggregatable": True,
             **common},
            {"name": "_score", "type": "number", "searchable": False, "aggregatable": False, **common},
            {"name": "_source", "type": "_source", "esTypes": ["_source"], "searchable": False,
             "aggregatable": False, **common}]


def osd_index_pattern(kind: str) -> dict:
    template = json.loads((TEMPLATES / f"{kind}.template.json").read_text(encoding="utf-8"))
    fields = meta_fields() + [index_pattern_field(*f) for f in
                              mapping_fields(template["template"]["mappings"]["properties"])]
    return {"id": data_view_id(kind), "type": "index-pattern", "migrationVersion": {"index-pattern": "7.6.0"},
            "attributes": {"title": f"newswatch-{kind}*", "timeFieldName": TIME_FIELDS[kind],
                           "fields": dumps(fields)},
            "references": []}


def count_agg() -> dict:
    return {"id": "1", "enabled": True, "type": "count", "schema": "metric", "params": {}}


def terms_agg(agg_id: str, field: str, size: int, schema: str) -> dict:
    return {"id": agg_id, "enabled": True, "type": "terms", "schema": schema,
            "params": {"field": field, "size": size, "order": "desc", "orderBy": "1", "otherBucket": True,
                       "otherBucketLabel": "Other", "missingBucket": False, "missingBucketLabel": "Missing"}}


def date_histogram_agg(agg_id: str, field: str) -> dict:
    return {"id": agg_id, "enabled": True, "type": "date_histogram", "schema": "segment",
            "params": {"field": field, "interval": "auto", "min_doc_count": 1, "extended_bounds": {}}}


def bar_params(vis_type: str) -> dict:
    horizontal = vis_type == "horizontal_bar"
    return {"type": vis_type, "addTooltip": True, "addLegend": True, "legendPosition": "right", "times": [],
            "addTimeMarker": False,
            "categoryAxes": [{"id": "CategoryAxis-1", "type": "category", "position": "left" if horizontal else
                              "bottom", "show": True, "scale": {"type": "linear"},
                              "labels": {"show": True, "truncate": 100, "filter": not horizontal}, "title": {}}],
            "valueAxes": [{"id": "ValueAxis-1", "name": "LeftAxis-1", "type": "value",
                           "position": "bottom" if horizontal else "left", "show": True,
                           "scale": {"type": "linear", "mode": "normal"},
                           "labels": {"show": True, "rotate": 0, "filter": False, "truncate": 100},
                           "title": {"text": "Count"}}],
            "seriesParams": [{"show": True, "type": "histogram", "mode": "stacked", "data": {"id": "1", "label": "Count"},
                              "valueAxis": "ValueAxis-1", "drawLinesBetweenPoints": True, "showCircles": True}],
            "grid": {"categoryLines": False}}


def osd_chart_vis(object_id: str, title: str, kind: str, x_field: str, split: str | None, size: int) -> dict:
    aggs = [count_agg()]
    if x_field == TIME_FIELDS[kind]:
        vis_type, params = "histogram", bar_params("histogram")
        aggs.append(date_histogram_agg("2", x_field))
    elif split:  # a table reads better than a chart for (subscription, status) pairs
        vis_type = "table"
        params = {"perPage": 10, "showPartialRows": False, "showMetricsAtAllLevels": False, "showTotal": True,
                  "totalFunc": "sum", "sort": {"columnIndex": None, "direction": None}}
        aggs.append(terms_agg("2", x_field, size, "bucket"))
    else:
        vis_type, params = "horizontal_bar", bar_params("horizontal_bar")
        aggs.append(terms_agg("2", x_field, size, "segment"))
    if split:
        aggs.append(terms_agg("3", split, 10, "group" if vis_type == "histogram" else "bucket"))
    return osd_visualization(object_id, title, kind, {"title": title, "type": vis_type, "params": params,
                                                      "aggs": aggs})


def osd_map_vis() -> dict:
    params = {"mapType": "Scaled Circle Markers", "isDesaturated": True, "addTooltip": True, "colorSchema":
              "Yellow to Red", "mapZoom": 4, "mapCenter": [32.0, 40.0], "heatClusterSize": 1.5,
              "legendPosition": "bottomright", "wms": {"enabled": False, "options": {"format": "image/png",
                                                                                     "transparent": True}}}
    aggs = [count_agg(), {"id": "2", "enabled": True, "type": "geohash_grid", "schema": "segment",
                          "params": {"field": "points", "autoPrecision": True, "precision": 2, "useGeocentroid": True,
                                     "isFilteredByCollar": True}}]
    return osd_visualization(MAP_ID, MAP_TITLE, "events", {"title": MAP_TITLE, "type": "tile_map", "params": params,
                                                           "aggs": aggs})


def osd_visualization(object_id: str, title: str, kind: str, vis_state: dict) -> dict:
    return {"id": object_id, "type": "visualization", "migrationVersion": {"visualization": "7.10.0"},
            "attributes": {"title": title, "description": "", "version": 1, "uiStateJSON": "{}",
                           "visState": dumps(vis_state),
                           "kibanaSavedObjectMeta": {"searchSourceJSON": search_source()}},
            "references": [index_ref(kind)]}


def osd_dashboard(types: dict[str, str]) -> dict:
    panels, references = [], []
    for n, (object_id, x, y, w, h) in enumerate(LAYOUT):
        index = str(n + 1)
        panels.append({"version": "7.10.2", "panelIndex": index, "gridData": {"x": x, "y": y, "w": w, "h": h,
                                                                            "i": index},
                       "embeddableConfig": {}, "panelRefName": f"panel_{n}"})
        references.append({"id": object_id, "name": f"panel_{n}", "type": types[object_id]})
    return {"id": DASHBOARD_ID, "type": "dashboard", "migrationVersion": {"dashboard": "7.9.3"},
            "attributes": dashboard_attributes(panels), "references": references}


def osd_objects() -> list[dict]:
    objects = [osd_index_pattern(kind) for kind in INDEX_KINDS] + saved_searches()
    objects += [osd_chart_vis(*spec) for spec in CHARTS] + [osd_map_vis()]
    objects.append(osd_dashboard({o["id"]: o["type"] for o in objects}))
    return objects


# ---- output ----------------------------------------------------------------------------------

def ndjson(objects: list[dict]) -> str:
    return "".join(dumps(o) + "\n" for o in objects)


def outputs() -> dict[Path, str]:
    return {KIBANA_OUT: ndjson(kibana_objects()), OSD_OUT: ndjson(osd_objects())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed files are out of date")
    args = parser.parse_args(argv)
    stale = []
    for path, text in outputs().items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    for path in stale:
        verb = "out of date" if args.check else "written"
        print(f"{path.relative_to(REPO)}: {verb}", file=sys.stderr if args.check else sys.stdout)
    if args.check and stale:
        print("run: python deploy/kibana/build_assets.py", file=sys.stderr)
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
