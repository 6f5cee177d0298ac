"""Parse and validate raw Kafka messages against schemas/news_item.schema.json."""
from __future__ import annotations

import json
from datetime import datetime

import apache_beam as beam

from connectors.kafka import KafkaRecord
from connectors.kafka_io import DeadLetter
from pipelines.nlp.resources import SCHEMA_DIR

from .elements import Article

DEAD = "dead"


def parse_item(record: KafkaRecord, validator, max_bytes: int) -> Article | DeadLetter:
    """Article, or a DeadLetter that says what was wrong and what to do."""
    raw = record.value
    if not raw or not raw.strip():
        return DeadLetter("empty", "the message is empty; send one JSON news item per message", "validate", record)
    if len(raw) > max_bytes:
        return DeadLetter("too_large", f"the message has {len(raw)} bytes, over the {max_bytes}-byte limit "
                          "(pipeline.max_item_bytes); split the article or raise the limit", "validate", record)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return DeadLetter("bad_utf8", f"not valid UTF-8 at byte {err.start}: re-encode the item as UTF-8", "validate", record)
    try:
        item = json.loads(text)
    except json.JSONDecodeError as err:
        return DeadLetter("bad_json", f"not valid JSON ({err.msg} at line {err.lineno} column {err.colno}); "
                          "send one JSON object per message", "validate", record)
    if not isinstance(item, dict):
        return DeadLetter("schema", "the message must be a JSON object, not " + type(item).__name__, "validate", record)
    errors = sorted(validator.iter_errors(item), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(top level)"
        return DeadLetter("schema", f"schema violation at {where}: {first.message}; see schemas/news_item.schema.json",
                          "validate", record, item_id=item.get("id") if isinstance(item.get("id"), str) else None)
    return Article(record=record, item=item)


def news_item_validator():
    """Validator for schemas/news_item.schema.json, with a real date-time check: jsonschema
    skips "format" unless an extra package is installed, and a bad date would otherwise be
    refused only later, by the index mapping."""
    import jsonschema

    checker = jsonschema.FormatChecker()

    @checker.checks("date-time", raises=ValueError)
    def _iso_datetime(value) -> bool:
        if isinstance(value, str):
            datetime.fromisoformat(value)
        return True

    schema = json.loads((SCHEMA_DIR / "news_item.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema, format_checker=checker)


class _ParseFn(beam.DoFn):
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.validator = None

    def setup(self) -> None:
        self.validator = news_item_validator()

    def process(self, record: KafkaRecord):
        result = parse_item(record, self.validator, self.max_bytes)
        if isinstance(result, DeadLetter):
            yield beam.pvalue.TaggedOutput(DEAD, result)
        else:
            yield result


class ParseAndValidate(beam.PTransform):
    """KafkaRecord -> Article (main output) | DeadLetter (output "dead")."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__()
        self.max_bytes = max_bytes

    def expand(self, records):
        return records | "Parse" >> beam.ParDo(_ParseFn(self.max_bytes)).with_outputs(DEAD, main="articles")
