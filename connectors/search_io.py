"""Beam sink for Elasticsearch/OpenSearch: bounded bulk batches, retries, per-document errors
to dead letters, and a Done per source record once all its documents are durable."""
from __future__ import annotations

import apache_beam as beam

from pipelines.settings import SearchSettings

from .kafka import done
from .kafka_io import DeadLetter
from .search import SearchBackend, SearchError

DEAD = "dead"


class _BulkWriteFn(beam.DoFn):
    def __init__(self, settings: SearchSettings) -> None:
        self.settings = settings
        self.backend = None

    def setup(self) -> None:
        self.backend = SearchBackend(self.settings)

    def process(self, batch):
        docs = [d for request in batch for d in request.docs]
        try:
            results = self.backend.bulk_index(docs)
        except SearchError as err:
            # The cluster is unreachable after every retry: fail the bundle so the runner retries
            # it; nothing is committed, so nothing is lost.
            raise RuntimeError(f"search engine unavailable after retries: {err}") from err
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
                yield done(request.record)


class WriteToSearch(beam.PTransform):
    """IndexRequest -> Done (main) | DeadLetter ("dead")."""

    def __init__(self, settings: SearchSettings) -> None:
        super().__init__()
        self.settings = settings

    def expand(self, requests):
        return (requests
                | "Batch" >> beam.BatchElements(min_batch_size=1, max_batch_size=self.settings.bulk_max_docs)
                | "Bulk" >> beam.ParDo(_BulkWriteFn(self.settings)).with_outputs(DEAD, main="done"))
