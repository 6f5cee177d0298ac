"""Import names: the folders pipelines/, connectors/ and api/ are the packages newswatch.pipelines,
newswatch.connectors and newswatch.api (pyproject.toml maps them). A checkout also has them on the
path as top-level names; an import through those would load a second copy of each module, with
its own classes, and fail once installed. So nothing imports them that way."""
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TOP_LEVEL_IMPORT = re.compile(r"^\s*(from|import)\s+(pipelines|connectors|api)\b", re.M)
SKIPPED = {".venv", "var", "build", ".git"}


def _sources() -> list[Path]:
    return [p for p in REPO.rglob("*.py") if not SKIPPED & set(p.relative_to(REPO).parts)]


def test_every_import_goes_through_the_newswatch_namespace():
    offenders = [f"{path.relative_to(REPO)}: {m.group(0).strip()}" for path in _sources()
                 for m in TOP_LEVEL_IMPORT.finditer(path.read_text(encoding="utf-8"))]
    assert offenders == []


def test_the_scan_sees_the_packages():
    names = {p.relative_to(REPO).parts[0] for p in _sources()}
    assert {"pipelines", "connectors", "api", "tests", "benchmarks"} <= names
