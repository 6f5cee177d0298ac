"""A DoFn base whose per-element failures become dead letters instead of stopping the stream."""
from __future__ import annotations

import traceback

import apache_beam as beam

from connectors.kafka_io import DeadLetter

from .elements import Article

DEAD = "dead"


class GuardedArticleFn(beam.DoFn):
    stage = "process"

    def transform(self, article: Article) -> Article:  # pragma: no cover - abstract
        raise NotImplementedError

    def process(self, article: Article):
        try:
            yield self.transform(article)
        except Exception as err:  # noqa: BLE001 - any bug on one item must not stop the stream
            detail = "".join(traceback.format_exception_only(type(err), err)).strip()
            yield beam.pvalue.TaggedOutput(DEAD, DeadLetter(
                "processing_error", f"{self.stage} failed: {detail}; this is a newswatch bug, please report it "
                "with the original item from this record", self.stage, article.record, article.item.get("id")))


def apply_guarded(pcoll, label: str, fn: GuardedArticleFn):
    """Returns (articles, dead letters)."""
    out = pcoll | label >> beam.ParDo(fn).with_outputs(DEAD, main="articles")
    return out.articles, out[DEAD]
