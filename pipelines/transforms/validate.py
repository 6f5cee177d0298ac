"""Parse and validate raw Kafka messages against schemas/news_item.schema.json."""
from __future__ import annotations

import os

import apache_beam as beam
from apache_beam.metrics import Metrics

from newswatch.connectors import metrics
from newswatch.pipelines.article_steps import failure_letter
from newswatch.pipelines.model import DeadLetter, KafkaRecord
from newswatch.pipelines.parsing import news_item_validator, parse_item

DEAD = "dead"


class _ParseFn(beam.DoFn):
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.validator = None
        self.valid = Metrics.counter("newswatch", "validate_ok")
        self.invalid = Metrics.counter("newswatch", "validate_dead_letters")
        self.repaired = Metrics.counter("newswatch", "validate_repaired")

    def setup(self) -> None:
        self.validator = news_item_validator()
        # Fault injection for the poison and chaos tests: every failure the code foresees is now
        # caught, so the only way to test the supervisor's quarantine for real is to make a record
        # kill the worker process outright, as a segfault in native code would.
        marker = os.environ.get("NEWSWATCH_TEST_CRASH_MARKER")
        self.crash_marker = marker.encode() if marker else None

    def process(self, record: KafkaRecord):
        if self.crash_marker and self.crash_marker in record.value:
            os._exit(70)
        with metrics.stage_timer("validate"):
            try:
                result = parse_item(record, self.validator, self.max_bytes)
            except Exception as err:  # noqa: BLE001 - parse_item is built not to raise; if it does, one record fails
                result = failure_letter("validate", record, None, err)
        if isinstance(result, DeadLetter):
            self.invalid.inc()
            yield beam.pvalue.TaggedOutput(DEAD, result)
            return
        self.valid.inc()
        if result.repairs:
            self.repaired.inc()
        yield result


class ParseAndValidate(beam.PTransform):
    """KafkaRecord -> Article (main output) | DeadLetter (output "dead")."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__()
        self.max_bytes = max_bytes

    def expand(self, records):
        return records | "Parse" >> beam.ParDo(_ParseFn(self.max_bytes)).with_outputs(DEAD, main="articles")
