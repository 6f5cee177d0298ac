"""Beam sink for Elasticsearch/OpenSearch: bounded bulk batches, retries, per-document errors
to dead letters, and a Done per source record once all its documents are durable."""
from __future__ import annotations

import logging
import time

import apache_beam as beam

from pipelines.settings import KafkaSettings, SearchSettings

from .kafka_io import CommitsDurableOffsets, DeadLetter
from .search import SearchBackend, SearchError

DEAD = "dead"
LOG = logging.getLogger(__name__)


OUTAGE_BACKOFF_MAX_S = 30.0


class _BulkWriteFn(CommitsDurableOffsets):
    def __init__(self, settings: SearchSettings, kafka_settings: KafkaSettings) -> None:
        super().__init__(kafka_settings)
        self.search_settings = settings
        self.backend = None

    def setup(self) -> None:
        super().setup()
        self.backend = SearchBackend(self.search_settings)

    def _bulk_until_accepted(self, docs):
        """A search-engine outage is not bad input: wait for the cluster (the stream pauses,
        nothing is committed, nothing is lost) instead of failing the pipeline."""
        pause = 1.0
        while True:
            try:
                return self.backend.bulk_index(docs)
            except SearchError as err:
                if not err.retryable:
                    raise  # the request itself was refused: retrying cannot help
                LOG.warning("search engine unavailable (%s); retrying in %.0fs. Check %s", err, pause,
                            self.search_settings.url)
                time.sleep(pause)
                pause = min(pause * 2, OUTAGE_BACKOFF_MAX_S)

    def process(self, batch):
        docs = [d for request in batch for d in request.docs]
        try:
            results = self._bulk_until_accepted(docs)
        except SearchError as err:
            for request in batch:
                yield beam.pvalue.TaggedOutput(DEAD, DeadLetter(
                    "index_rejected", f"the search engine refused the bulk request: {err}. Check the cluster "
                    "settings (e.g. http.max_content_length) and the index templates", "write", request.record,
                    request.item_id))
            return
        by_id = {}
        for r in results:
            by_id.setdefault((r.index, r.doc_id), r)
        for request in batch:
            failed = [by_id[(i, d)] for i, d, _ in request.docs if not by_id[(i, d)].ok]
            if failed:
                detail = "; ".join(f"{f.index}/{f.doc_id}: {f.error}" for f in failed)[:4000]
                yield beam.pvalue.TaggedOutput(DEAD, DeadLetter(
                    "index_rejected", f"the search engine rejected {len(failed)} document(s): {detail}. "
                    "Check the index templates in schemas/index/ against the cluster", "write", request.record,
                    request.item_id))
            else:
                self.mark_durable(request.record)


class WriteToSearch(beam.PTransform):
    """IndexRequest -> indexed (source offsets marked durable) | DeadLetter (output "dead")."""

    def __init__(self, settings: SearchSettings, kafka_settings: KafkaSettings) -> None:
        super().__init__()
        self.settings = settings
        self.kafka_settings = kafka_settings

    def expand(self, requests):
        return (requests
                | "Batch" >> beam.BatchElements(min_batch_size=1, max_batch_size=self.settings.bulk_max_docs)
                | "Bulk" >> beam.ParDo(_BulkWriteFn(self.settings, self.kafka_settings)).with_outputs(DEAD, main="done"))
