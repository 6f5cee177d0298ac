"""A DoFn base whose per-element failures become dead letters instead of stopping the stream."""
from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics import Metrics

from newswatch.connectors import metrics
from newswatch.pipelines.article_steps import guarded
from newswatch.pipelines.model import Article, DeadLetter

DEAD = "dead"


class GuardedArticleFn(beam.DoFn):
    """Runs one pure step per article (`step`, with `step_args()`); a failure is a dead letter."""
    stage = "process"

    def __init__(self) -> None:
        super().__init__()
        self.ok = Metrics.counter("newswatch", f"{self.stage}_ok")
        self.failed = Metrics.counter("newswatch", f"{self.stage}_dead_letters")

    def step_args(self) -> tuple:
        return ()

    def route(self, result):
        if isinstance(result, DeadLetter):
            self.failed.inc()
            return beam.pvalue.TaggedOutput(DEAD, result)
        self.ok.inc()
        return result

    def process(self, article: Article):
        with metrics.stage_timer(self.stage):  # the step only: a yield runs the fused steps after it
            result = guarded(self.stage, self.step, article, *self.step_args())
        yield self.route(result)


def apply_guarded(pcoll, label: str, fn: GuardedArticleFn):
    """Returns (articles, dead letters)."""
    out = pcoll | label >> beam.ParDo(fn).with_outputs(DEAD, main="articles")
    return out.articles, out[DEAD]
