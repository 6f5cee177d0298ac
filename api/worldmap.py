"""Country outlines for the page's map, from the `countryinfo` package (its data files carry each
country's GeoJSON outline, in the wheel: no tile server, no download). The page projects and
draws them itself as SVG.

A few countries have no outline in that package (e.g. Hungary, Serbia, Myanmar, Singapore), and
for Palestine it holds only a bounding box, which is left out (a box drawn over Israel would be
wrong); the map shows these as gaps, and their events' markers still show.
"""
from __future__ import annotations

import importlib.util
import json
from functools import lru_cache
from pathlib import Path

DECIMALS = 2  # ~1 km: finer than a page's pixels, and a third of the bytes


def _data_dir() -> Path:
    spec = importlib.util.find_spec("countryinfo")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the countryinfo package is missing: run ./setup.sh (pip install -e .)")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _rings(geometry: dict) -> list[list[list[float]]]:
    """Outer and inner rings of a Polygon or MultiPolygon, as [[lon, lat], ...], rounded."""
    kind, coords = geometry.get("type"), geometry.get("coordinates") or []
    polygons = [coords] if kind == "Polygon" else coords if kind == "MultiPolygon" else []
    rings = []
    for polygon in polygons:
        for ring in polygon:
            points: list[list[float]] = []
            for lon, lat, *_ in ring:
                point = [round(lon, DECIMALS), round(lat, DECIMALS)]
                if not points or points[-1] != point:
                    points.append(point)
            if len(points) >= 3 and not _is_box(points):
                rings.append(points)
    return rings


def _is_box(points: list[list[float]]) -> bool:
    """A ring with two longitudes and two latitudes is a bounding box, not an outline."""
    return len({p[0] for p in points}) == 2 and len({p[1] for p in points}) == 2


def outline_of(record: dict) -> dict | None:
    """One countryinfo record -> {"code", "name", "rings"}, or None when it has no outline."""
    code = (record.get("ISO") or {}).get("alpha2")
    features = (record.get("geoJSON") or {}).get("features") or []
    rings = [ring for feature in features for ring in _rings(feature.get("geometry") or {})]
    if not code or not rings:
        return None
    return {"code": code, "name": record.get("name") or code, "rings": rings}


@lru_cache(maxsize=1)
def countries() -> list[dict]:
    """Every country: {"code", "name", "rings"} (rings empty when the package has no outline)."""
    by_code: dict[str, dict] = {}
    for path in sorted(_data_dir().glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        code = (record.get("ISO") or {}).get("alpha2")
        if not code:
            continue
        outline = outline_of(record) or {"code": code, "name": record.get("name") or code, "rings": []}
        if code not in by_code or len(outline["rings"]) > len(by_code[code]["rings"]):
            by_code[code] = outline
    return sorted(by_code.values(), key=lambda c: c["name"])


@lru_cache(maxsize=1)
def countries_json() -> bytes:
    return json.dumps({"countries": countries()}, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
