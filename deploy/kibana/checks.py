"""What the tests check in the saved-object files (deploy/kibana/, deploy/opensearch-dashboards/),
as functions over the parsed objects, so the unit tests (index templates on disk) and the
integration tests (mappings read from the running engine) share them.

- `decoded`: every JSON-in-string attribute parsed;
- `reference_problems`: every reference points at an object in the file, and every *RefName used
  inside the JSON strings names one of the object's references;
- `field_uses`: every index field an object uses, whether it is aggregated, and which data view;
- `saved_queries` and `kql_to_query`: each KQL query, parsed by the `kibana-ql` package (a port of
  Kibana's own KQL grammar) and translated to query DSL the way Kibana does for the forms used here
  (field:value, quoted phrases, wildcards, ranges, and/or/not, value lists).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

RECORDS = "___records___"  # Lens's "count of documents" pseudo-field, not an index field
# attributes that hold JSON as a string, by object type
JSON_ATTRIBUTES = {
    "index-pattern": ("fields", "fieldAttrs", "runtimeFieldMap", "typeMeta", "fieldFormatMap"),
    "search": ("kibanaSavedObjectMeta.searchSourceJSON",),
    "visualization": ("visState", "uiStateJSON", "kibanaSavedObjectMeta.searchSourceJSON"),
    "lens": (),
    "map": ("mapStateJSON", "layerListJSON", "uiStateJSON"),
    "dashboard": ("panelsJSON", "optionsJSON", "kibanaSavedObjectMeta.searchSourceJSON"),
}
AGGREGATABLE = {"keyword", "date", "date_nanos", "integer", "long", "float", "double", "short", "byte",
                "half_float", "scaled_float", "unsigned_long", "geo_point", "boolean", "ip"}


@dataclass(frozen=True)
class FieldUse:
    object_id: str
    data_view: str      # id of the index-pattern object whose indices hold the field
    field: str
    aggregated: bool    # bucketed or summarised: needs doc values (keyword, date, number, geo_point)
    geo: bool = False   # must be a geo_point


# ---- reading -----------------------------------------------------------------------------------

def load_ndjson(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _get(attributes: dict, dotted: str):
    value = attributes
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def decoded(obj: dict) -> dict[str, object]:
    """Each JSON-in-string attribute of the object, parsed (raises ValueError naming the one that
    does not parse)."""
    out = {}
    for name in JSON_ATTRIBUTES.get(obj["type"], ()):
        raw = _get(obj["attributes"], name)
        if raw is None:
            continue
        try:
            out[name] = json.loads(raw)
        except (TypeError, json.JSONDecodeError) as err:
            raise ValueError(f"{obj['type']} {obj['id']}: {name} is not JSON ({err})") from None
    return out


# ---- references --------------------------------------------------------------------------------

def ref_names_used(obj: dict) -> list[tuple[str, ...]]:
    """The reference names an object's own JSON points through (indexRefName, panelRefName, ...),
    each as the names it may be stored under: a Kibana 8 dashboard prefixes a panel's reference with
    its panel index ("3:panel_3"), Kibana 7 and OpenSearch Dashboards do not ("panel_2")."""
    parsed = decoded(obj)
    names: list[tuple[str, ...]] = []
    source = parsed.get("kibanaSavedObjectMeta.searchSourceJSON")
    if isinstance(source, dict) and source.get("indexRefName"):
        names.append((source["indexRefName"],))
    for panel in parsed.get("panelsJSON") or []:
        names.append((f"{panel['panelIndex']}:{panel['panelRefName']}", panel["panelRefName"]))
    for layer in parsed.get("layerListJSON") or []:
        if layer["sourceDescriptor"].get("indexPatternRefName"):
            names.append((layer["sourceDescriptor"]["indexPatternRefName"],))
    if obj["type"] == "lens":
        names.append(("indexpattern-datasource-current-indexpattern",))
        names += [(f"indexpattern-datasource-layer-{layer}",) for layer in lens_layers(obj)]
    return names


def reference_problems(objects: list[dict]) -> list[str]:
    present = {(o["type"], o["id"]) for o in objects}
    problems = []
    for obj in objects:
        refs = {r["name"]: r for r in obj.get("references", [])}
        for ref in refs.values():
            if (ref["type"], ref["id"]) not in present:
                problems.append(f"{obj['type']} {obj['id']}: reference {ref['name']} -> {ref['type']} {ref['id']} "
                                "is not in the file")
        for alternatives in ref_names_used(obj):
            if not any(name in refs for name in alternatives):
                problems.append(f"{obj['type']} {obj['id']}: uses reference {alternatives[0]!r}, which it does "
                                "not declare")
    return problems


def data_view_of(obj: dict, ref_name: str) -> str:
    for ref in obj["references"]:
        if ref["name"] == ref_name and ref["type"] == "index-pattern":
            return ref["id"]
    raise KeyError(f"{obj['type']} {obj['id']} has no index-pattern reference named {ref_name}")


# ---- fields --------------------------------------------------------------------------------------

def lens_layers(obj: dict) -> dict[str, dict]:
    states = obj["attributes"]["state"]["datasourceStates"]
    return (states.get("indexpattern") or states.get("formBased"))["layers"]


def field_uses(obj: dict) -> list[FieldUse]:
    kind, oid = obj["type"], obj["id"]
    parsed = decoded(obj)
    uses: list[FieldUse] = []
    if kind == "index-pattern":
        if obj["attributes"].get("timeFieldName"):
            uses.append(FieldUse(oid, oid, obj["attributes"]["timeFieldName"], True))
        for field in parsed.get("fields") or []:
            if not field["name"].startswith("_"):
                uses.append(FieldUse(oid, oid, field["name"], field["aggregatable"], field["type"] == "geo_point"))
    elif kind == "search":
        view = data_view_of(obj, parsed["kibanaSavedObjectMeta.searchSourceJSON"]["indexRefName"])
        uses += [FieldUse(oid, view, column, False) for column in obj["attributes"]["columns"]]
        uses += [FieldUse(oid, view, field, True) for field, _ in obj["attributes"]["sort"]]
        uses += [FieldUse(oid, view, field, False) for field in kql_fields(search_kql(obj))]
    elif kind == "lens":
        for layer_id, layer in lens_layers(obj).items():
            view = data_view_of(obj, f"indexpattern-datasource-layer-{layer_id}")
            uses += [FieldUse(oid, view, column["sourceField"], True) for column in layer["columns"].values()
                     if column.get("sourceField") and column["sourceField"] != RECORDS]
    elif kind == "visualization":
        view = data_view_of(obj, parsed["kibanaSavedObjectMeta.searchSourceJSON"]["indexRefName"])
        for agg in parsed["visState"]["aggs"]:
            field = agg.get("params", {}).get("field")
            if field:
                uses.append(FieldUse(oid, view, field, True, agg["type"] in ("geohash_grid", "geotile_grid")))
    elif kind == "map":
        for layer in parsed["layerListJSON"]:
            source = layer["sourceDescriptor"]
            if not source.get("indexPatternRefName"):
                continue
            view = data_view_of(obj, source["indexPatternRefName"])
            uses.append(FieldUse(oid, view, source["geoField"], True, geo=True))
            uses += [FieldUse(oid, view, f, False) for f in source.get("tooltipProperties", [])]
            if source.get("sortField"):
                uses.append(FieldUse(oid, view, source["sortField"], True))
    return uses


def mapping_types(properties: dict, prefix: str = "") -> dict[str, str]:
    """Field path -> mapping type for every leaf and multi-field of a mapping's properties."""
    out = {}
    for name, spec in properties.items():
        path = f"{prefix}{name}"
        if "properties" in spec:
            out.update(mapping_types(spec["properties"], f"{path}."))
        elif spec.get("enabled", True) and "type" in spec:
            out[path] = spec["type"]
            for sub, sub_spec in spec.get("fields", {}).items():
                out[f"{path}.{sub}"] = sub_spec["type"]
    return out


def field_problems(uses: list[FieldUse], types_by_view: dict[str, dict[str, str]]) -> list[str]:
    problems = []
    for use in uses:
        found = types_by_view[use.data_view].get(use.field)
        where = f"{use.object_id}: field {use.field!r} (data view {use.data_view})"
        if found is None:
            problems.append(f"{where} is not in the mapping")
        elif use.geo and found != "geo_point":
            problems.append(f"{where} is {found}, not geo_point")
        elif use.aggregated and found not in AGGREGATABLE:
            problems.append(f"{where} is aggregated but mapped as {found}")
    return problems


# ---- KQL -----------------------------------------------------------------------------------------

def search_kql(obj: dict) -> str:
    query = decoded(obj)["kibanaSavedObjectMeta.searchSourceJSON"]["query"]
    if query.get("language") != "kuery":
        raise ValueError(f"{obj['id']}: query language is {query.get('language')!r}, not kuery (KQL)")
    return query["query"]


def saved_queries(objects: list[dict]) -> list[tuple[str, str, str]]:
    """(object id, data view id, KQL) for every object that carries a non-empty query."""
    out = []
    for obj in objects:
        if obj["type"] not in ("search", "visualization"):
            continue
        kql = search_kql(obj)
        if kql:
            source = decoded(obj)["kibanaSavedObjectMeta.searchSourceJSON"]
            out.append((obj["id"], data_view_of(obj, source["indexRefName"]), kql))
    return out


def parse_kql(kql: str) -> dict:
    """kibana-ql's syntax tree; raises parsimonious's ParseError when the text is not KQL."""
    from kibana_ql import KqlParser

    parser = KqlParser()
    return parser.ast(parser.parse(kql))


def _value_text(value) -> str:
    return " ".join(value) if isinstance(value, tuple) else value


def _operands(node: dict) -> list:
    return node["exprs"] if "exprs" in node else [node["left"], node["right"]]


def _flatten(node, op: str) -> list:
    """kibana-ql nests a chain a or b or c as {left: a, right: {exprs: [b, c]}}."""
    if isinstance(node, dict) and node.get("op") == op:
        return [leaf for part in _operands(node) for leaf in _flatten(part, op)]
    return [node]


def _match(field: str, value) -> dict:
    if isinstance(value, dict):  # a value list: field:(a or b), field:(a and b), field:(not a)
        if value["op"] == "not":
            return {"bool": {"must_not": [_match(field, value["expr"])]}}
        parts = [_match(field, v) for v in _flatten(value, value["op"])]
        return _combine(value["op"], parts)
    text = _value_text(value)
    if isinstance(value, str):  # quoted: a phrase, wildcards taken literally
        return {"match_phrase": {field: text}}
    if text == "*":
        return {"exists": {"field": field}}
    if "*" in text:
        return {"wildcard": {field: {"value": text}}}
    return {"match": {field: text}}


def _combine(op: str, parts: list[dict]) -> dict:
    if op == "and":
        return {"bool": {"filter": parts}}
    return {"bool": {"should": parts, "minimum_should_match": 1}}


RANGE_OPS = {">=": "gte", "<=": "lte", ">": "gt", "<": "lt"}


def _to_query(node) -> dict:
    op = node.get("op")
    if op in ("and", "or") and "field" not in node:
        return _combine(op, [_to_query(part) for part in _flatten(node, op)])
    if op == "not":
        return {"bool": {"must_not": [_to_query(node["expr"])]}}
    if op in RANGE_OPS:
        return {"range": {node["field"]: {RANGE_OPS[op]: _value_text(node["value"])}}}
    if "field" in node:
        return _match(node["field"], node["value"])
    return {"multi_match": {"query": _value_text(node["value"]), "type": "best_fields", "lenient": True}}


def kql_to_query(kql: str) -> dict:
    if not kql.strip():
        return {"match_all": {}}
    return _to_query(parse_kql(kql))


def _fields(node) -> set[str]:
    if not isinstance(node, dict):
        return set()
    found = {node["field"]} if "field" in node else set()
    for key in ("left", "right", "expr"):
        found |= _fields(node.get(key))
    for part in node.get("exprs", []):
        found |= _fields(part)
    return found


def kql_fields(kql: str) -> set[str]:
    return _fields(parse_kql(kql)) if kql.strip() else set()
