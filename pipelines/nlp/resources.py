"""Loading of the data files (lexicons, patterns, gazetteer) and their schemas.

Every data file under pipelines/data/ has a JSON Schema in schemas/lexicons/ with the same stem;
a file is validated when it is loaded, so a broken edit fails loudly at start-up, never silently
at tagging time.
"""
from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path
from typing import Any

import yaml

PACKAGE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = PACKAGE_DIR / "data"
REPO_DIR = PACKAGE_DIR.parent
SCHEMA_DIR = REPO_DIR / "schemas"
LEXICON_SCHEMA_DIR = SCHEMA_DIR / "lexicons"


class DataFileError(ValueError):
    """A data file is missing or does not match its schema."""


def schema_for(stem: str) -> dict[str, Any]:
    path = LEXICON_SCHEMA_DIR / f"{stem}.schema.json"
    if not path.exists():
        raise DataFileError(f"no schema {path} for data file {stem}.yaml: add one before using the file")
    return json.loads(path.read_text(encoding="utf-8"))


def validate(stem: str, data: Any) -> None:
    import jsonschema

    try:
        jsonschema.validate(data, schema_for(stem))
    except jsonschema.ValidationError as err:
        where = "/".join(str(p) for p in err.absolute_path) or "(top level)"
        raise DataFileError(
            f"pipelines/data/{stem}.yaml is invalid at {where}: {err.message}. "
            f"Fix the file so it matches schemas/lexicons/{stem}.schema.json."
        ) from None


@cache
def load_data(stem: str) -> Any:
    path = DATA_DIR / f"{stem}.yaml"
    if not path.exists():
        raise DataFileError(f"data file {path} is missing; reinstall newswatch or restore it from git")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    validate(stem, data)
    return data


def data_stems() -> list[str]:
    return sorted(p.stem for p in DATA_DIR.glob("*.yaml"))


@cache
def word_zipf(lang: str, min_zipf: float = 2.0) -> dict[str, float]:
    """Word -> Zipf frequency from the wordfreq package, keyed by our match form.

    wordfreq ships its frequency lists inside the wheel (no download). Words below min_zipf are
    left out: for splitting they count as unknown anyway, and it halves the memory.
    """
    from wordfreq import get_frequency_dict

    from .normalize import match_key

    table: dict[str, float] = {}
    for word, freq in get_frequency_dict(lang, wordlist="large").items():
        zipf = math.log10(freq * 1e9)
        if zipf < min_zipf:
            continue
        key = match_key(word)
        # several spellings fold to one key: keep the most frequent
        if zipf > table.get(key, 0.0):
            table[key] = round(zipf, 2)
    return table
