import time

import apache_beam as beam

from newswatch.connectors import metrics
from newswatch.pipelines.article_steps import guarded
from newswatch.pipelines.documents import to_documents
from newswatch.pipelines.model import Article
from newswatch.pipelines.settings import SearchSettings

from .guarded import DEAD, GuardedArticleFn


class _DocumentsFn(GuardedArticleFn):
    stage = "documents"

    def __init__(self, settings: SearchSettings) -> None:
        super().__init__()
        self.settings = settings

    def process(self, article: Article):
        with metrics.stage_timer(self.stage):
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            result = guarded(self.stage, to_documents, article, self.settings, now)
        yield self.route(result)


class ToDocuments(beam.PTransform):
    """Article -> IndexRequest (its article and event documents, stable ids); also emits dead letters."""

    def __init__(self, settings: SearchSettings) -> None:
        super().__init__()
        self.settings = settings

    def expand(self, articles):
        out = articles | "Documents" >> beam.ParDo(_DocumentsFn(self.settings)).with_outputs(DEAD, main="articles")
        return out.articles, out[DEAD]
