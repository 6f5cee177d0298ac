"""Raw Kafka message -> news item, or a dead letter that says what was wrong and what to do.

Pure functions over model types (no Beam), so the fuzz suite and the poison isolation run
exactly what the pipeline runs. Nothing a producer can send makes them raise.
"""
from __future__ import annotations

import json
import re
from datetime import datetime

from newswatch.pipelines.model import Article, DeadLetter, KafkaRecord
from newswatch.pipelines.nlp.resources import SCHEMA_DIR

# Code points that JSON allows in a string but that must not reach the index or the NLP steps:
# lone surrogates (not encodable as UTF-8), noncharacters, and C0/C1 controls other than tab,
# newline and carriage return. Each is replaced by one code point, so offsets stay valid.
_SURROGATE = re.compile("[\ud800-\udfff]")
_NONCHARACTER_BMP = re.compile("[\ufdd0-\ufdef\ufffe\uffff]")
# The 32 astral noncharacters (U+nFFFE, U+nFFFF) make a character set that re scans far slower
# than a range, so that set only runs on the rare text that holds an astral code point at all.
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_NONCHARACTER_ASTRAL = re.compile(
    "[" + "".join(f"{chr(p * 0x10000 + 0xFFFE)}{chr(p * 0x10000 + 0xFFFF)}" for p in range(1, 17)) + "]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _replace_noncharacters(value: str) -> tuple[str, int]:
    value, n = _NONCHARACTER_BMP.subn("\ufffd", value)
    if _ASTRAL.search(value):
        value, n_astral = _NONCHARACTER_ASTRAL.subn("\ufffd", value)
        n += n_astral
    return value, n


_REPAIRS = ((lambda v: _SURROGATE.subn("\ufffd", v), "lone surrogate"),
            (_replace_noncharacters, "noncharacter"),
            (lambda v: _CONTROL.subn(" ", v), "control character"))


def repair_string(value: str) -> tuple[str, list[str]]:
    """The string with every code point Unicode text must not hold replaced, and what was done."""
    notes = []
    for replace, what in _REPAIRS:
        value, n = replace(value)
        if n:
            notes.append(f"{n} {what}{'s' if n > 1 else ''}")
    return value, notes


def repair_item(item: dict) -> list[str]:
    """Repairs the item's top-level string fields in place; returns one note per repaired field."""
    repairs = []
    for key, value in list(item.items()):
        if isinstance(value, str):
            fixed, notes = repair_string(value)
            if notes:
                item[key] = fixed
                repairs.append(f"{repair_string(key)[0]}: {', '.join(notes)} replaced")  # keys may hold them too
    return repairs


# RFC 3339 as the index's date mapping reads it: Python's fromisoformat also takes week dates,
# a space for the T and basic formats, which the engine refuses (the item would be lost to
# index_rejected instead of being refused here with a reason).
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?", re.ASCII)
MAX_ID_BYTES = 400  # the engine's _id limit is 512 bytes; an event id adds ":<offset>:<type>"


def check_datetime(value: str) -> None:
    if not _RFC3339.fullmatch(value):
        raise ValueError(f"{value[:60]!r} is not a date-time such as 2026-11-25T08:00:00Z (RFC 3339)")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    offset = parsed.utcoffset()
    if offset is not None and abs(offset.total_seconds()) > 18 * 3600:
        raise ValueError(f"{value!r} has a UTC offset beyond ±18:00")


def news_item_validator():
    """Validator for schemas/news_item.schema.json, with a real date-time check: jsonschema
    skips "format" unless an extra package is installed, and a bad date would otherwise be
    refused only later, by the index mapping."""
    import jsonschema

    checker = jsonschema.FormatChecker()

    @checker.checks("date-time", raises=ValueError)
    def _iso_datetime(value) -> bool:
        if isinstance(value, str):
            check_datetime(value)
        return True

    schema = json.loads((SCHEMA_DIR / "news_item.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema, format_checker=checker)


def _letter(reason: str, error: str, record: KafkaRecord, item_id: str | None = None) -> DeadLetter:
    return DeadLetter(reason, error, "validate", record, item_id)


def _decode_json(text: str, record: KafkaRecord):
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        return _letter("bad_json", f"not valid JSON ({err.msg} at line {err.lineno} column {err.colno}); "
                       "send one JSON object per message", record)
    except RecursionError:
        return _letter("bad_json", "the JSON nests arrays or objects too deeply to read; a news item is one flat "
                       "JSON object: fix the producer", record)
    except (ValueError, MemoryError) as err:  # e.g. an integer with more digits than Python converts
        return _letter("bad_json", f"the JSON could not be read ({type(err).__name__}: {str(err)[:200]}); "
                       "send one flat JSON object per message", record)


def _schema_error(item: dict, validator, record: KafkaRecord) -> DeadLetter | None:
    errors = sorted(validator.iter_errors(item), key=lambda e: [str(p) for p in e.absolute_path])
    if not errors:
        return None
    first = errors[0]
    where = "/".join(str(p) for p in first.absolute_path) or "(top level)"
    return _letter("schema", f"schema violation at {where}: {first.message[:500]}; see schemas/news_item.schema.json",
                   record, item.get("id") if isinstance(item.get("id"), str) else None)


def parse_item(record: KafkaRecord, validator, max_bytes: int) -> Article | DeadLetter:
    """Article, or a DeadLetter that says what was wrong and what to do."""
    if record.read_error:
        return DeadLetter("corrupt_batch", record.read_error, "read", record)
    raw = record.value
    if not raw or not raw.strip():
        return _letter("empty", "the message is empty; send one JSON news item per message", record)
    if len(raw) > max_bytes:
        return _letter("too_large", f"the message has {len(raw)} bytes, over the {max_bytes}-byte limit "
                       "(pipeline.max_item_bytes); split the article or raise the limit", record)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return _letter("bad_utf8", f"not valid UTF-8 at byte {err.start}: re-encode the item as UTF-8", record)
    item = _decode_json(text, record)
    if isinstance(item, DeadLetter):
        return item
    if not isinstance(item, dict):
        return _letter("schema", "the message must be a JSON object, not " + type(item).__name__, record)
    repairs = repair_item(item)  # before validation: a repaired id or text is checked as it will be stored
    try:
        invalid = _schema_error(item, validator, record)
    except RecursionError:  # a deeply nested extra field that json could still read
        invalid = _letter("schema", "a field nests too deeply to validate; send a flat news item", record)
    if invalid is None and len(item["id"].encode("utf-8")) > MAX_ID_BYTES:
        invalid = _letter("schema", f"the id is {len(item['id'].encode('utf-8'))} bytes in UTF-8, over the "
                          f"{MAX_ID_BYTES}-byte limit (document ids must fit the engine's 512 bytes): send a shorter id",
                          record)
    return invalid or Article(record=record, item=item, repairs=repairs)
