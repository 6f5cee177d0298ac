"""The pipeline's one terminal sink per record (the outbox): a batch's documents in one bulk
request, then each record's alerts on the alerts topic (acks=all), and only then its offset may
be committed. Per-document errors become dead letters. A second, independent alerts sink would
let the committer pass an alert that was never produced, so there is none.

The round trips (the caller's `before_write` step, e.g. matching subscriptions, then the bulk
request and the alerts) run in background threads, so the bundle's thread goes on
with the next records' CPU work (parsing, NLP) while the engine works; the bundle waits for all
of them at its end, before it commits. Under Prism one bundle holds every partition's read, one
after the other, so without this the engine and the NLP took turns on a 2-core machine."""
from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.utils.windowed_value import WindowedValue

from newswatch.pipelines.model import DeadLetter, IndexRequest
from newswatch.pipelines.settings import AlertSettings, KafkaSettings, SearchSettings

from . import kafka, metrics
from .kafka_io import CommitsDurableOffsets
from .search import SearchBackend, SearchError

DEAD = "dead"
LOG = logging.getLogger(__name__)


OUTAGE_BACKOFF_MAX_S = 30.0
BATCHES_IN_FLIGHT = 3  # queued behind the background writer before process() waits: bounds memory


class BeforeWrite:
    """A step the writer runs on each batch in its background thread, before writing it:
    `setup()` once per worker, then `__call__(batch) -> batch`."""

    def setup(self) -> None:
        pass

    def __call__(self, batch: list[IndexRequest]) -> list[IndexRequest]:
        return batch


class _BulkWriteFn(CommitsDurableOffsets):
    def __init__(self, settings: SearchSettings, kafka_settings: KafkaSettings, alert_settings: AlertSettings,
                 before_write: BeforeWrite) -> None:
        super().__init__(kafka_settings)
        self.search_settings = settings
        self.alert_settings = alert_settings
        self.before_write = before_write
        self.backend = None
        self.alerts_produced = Metrics.counter("newswatch", "alerts_produced")
        self.records_indexed = Metrics.counter("newswatch", "records_indexed")

    def setup(self) -> None:
        super().setup()
        self.backend = SearchBackend(self.search_settings)
        self._producer = kafka.producer(self.settings)
        self.before_write.setup()
        # Two threads, a two-step assembly line: the next batch's before_write (percolation) runs
        # while this one is written; writes stay one at a time, in order (a replayed article's
        # stale events are computed from what the previous write left).
        self._before_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox-before")
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox-write")
        self._in_flight: list[Future] = []
        self._settled: list[tuple[list, list[IndexRequest]]] = []

    def teardown(self) -> None:
        for pool in (getattr(self, "_before_pool", None), getattr(self, "_pool", None)):
            if pool is not None:
                pool.shutdown(wait=True)
        if getattr(self, "_producer", None) is not None:
            self._producer.close()
        super().teardown()

    def _produce_alerts_until_acked(self, requests: list[IndexRequest]) -> None:
        """All alerts of these records on the alerts topic, key = alert id (the idempotency key).
        A broker away pauses the stream; a replay produces the same ids again, which the
        delivery worker skips."""
        alerts = [a for r in requests for a in r.alerts]
        pause = 1.0
        while alerts:
            try:
                futures = [self._producer.send(self.alert_settings.topic, key=a.id.encode(),
                                               value=a.model_dump_json().encode()) for a in alerts]
                for f in futures:
                    f.get(timeout=60)
                metrics.count_alerts_produced(len(alerts))
                return
            except Exception as err:  # noqa: BLE001 - kafka-python raises many KafkaError kinds here
                LOG.warning("alerts not acknowledged (%s); retrying in %.0fs. Check Kafka at %s",
                            type(err).__name__, pause, self.settings.bootstrap)
                time.sleep(pause)
                pause = min(pause * 2, OUTAGE_BACKOFF_MAX_S)

    def _until_answered(self, call, *args):
        """A search-engine outage is not bad input: wait for the cluster (the stream pauses,
        nothing is committed, nothing is lost) instead of failing the pipeline."""
        pause = 1.0
        while True:
            try:
                return call(*args)
            except SearchError as err:
                if not err.retryable:
                    raise  # the request itself was refused: retrying cannot help
                self._pause(err, pause)
            except Exception as err:  # noqa: BLE001 - a read (mget, search) failing on a connection
                self._pause(err, pause)
            pause = min(pause * 2, OUTAGE_BACKOFF_MAX_S)

    def _pause(self, err: Exception, pause: float) -> None:
        metrics.count_bulk_retry("unavailable")
        LOG.warning("search engine unavailable (%s); retrying in %.0fs. Check %s",
                    self.backend.scrub(str(err))[:300], pause, self.backend.scrub(self.search_settings.url))
        time.sleep(pause)

    def _stale_events(self, batch: list[IndexRequest]) -> list[tuple[str, str, None]]:
        """Deletes, for the same bulk request, of the events an earlier processing of these articles
        indexed and this one no longer finds (a replay after the rules changed). The article
        document lists its event ids; an article indexed before it did is looked up by article_id."""
        s = self.search_settings
        new = {r.item_id: {d for i, d, _ in r.docs if i == s.events_index} for r in batch}
        old_articles = self._until_answered(self.backend.mget, s.articles_index, sorted(new), ["event_ids"])
        old = {aid: set(src.get("event_ids", [])) for aid, src in old_articles.items() if src is not None}
        legacy = sorted(aid for aid, src in old_articles.items() if src is not None and "event_ids" not in src)
        if legacy:
            body = {"size": 10_000, "_source": ["article_id"], "query": {"terms": {"article_id": legacy}}}
            self._until_answered(self.backend.refresh, s.events_index)
            for hit in self._until_answered(self.backend.search, s.events_index, body)["hits"]["hits"]:
                old.setdefault(hit["_source"]["article_id"], set()).add(hit["_id"])
        return [(s.events_index, eid, None) for aid, ids in new.items() for eid in sorted(old.get(aid, set()) - ids)]

    def start_bundle(self):
        self._in_flight, self._settled = [], []

    def process(self, batch, timestamp=beam.DoFn.TimestampParam, window=beam.DoFn.WindowParam):
        prepared = self._before_pool.submit(self.before_write, batch)
        self._in_flight.append(self._pool.submit(self._write_prepared, prepared, timestamp, window))
        while len(self._in_flight) > BATCHES_IN_FLIGHT:
            self._settled.append(self._in_flight.pop(0).result())
        return []

    def finish_bundle(self):
        """Wait for the bundle's batches; then their records are durable: mark them, emit the
        dead letters (their writer marks those records once Kafka has them), and commit."""
        self._settled += [f.result() for f in self._in_flight]
        self._in_flight = []
        for letters, indexed in self._settled:
            for request in indexed:
                self.mark_durable(request.record)
            self.records_indexed.inc(len(indexed))  # Beam counters count in the bundle's thread only
            self.alerts_produced.inc(sum(len(r.alerts) for r in indexed))
            yield from letters
        self._settled = []
        super().finish_bundle()

    def _write_prepared(self, prepared: Future, timestamp, window) -> tuple[list, list[IndexRequest]]:
        """In the writing thread: (dead letters as windowed values, the requests indexed and
        alerted)."""
        batch = prepared.result()
        with metrics.stage_timer("write"):
            outputs = list(self._write(batch))
        letters = [beam.pvalue.TaggedOutput(DEAD, WindowedValue(o.value, timestamp, [window]))
                   for o in outputs if isinstance(o, beam.pvalue.TaggedOutput)]
        return letters, [o for o in outputs if isinstance(o, IndexRequest)]

    def _write(self, batch):
        """Dead letters (TaggedOutput) and the IndexRequests indexed and alerted."""
        docs = [d for request in batch for d in request.docs] + self._stale_events(batch)
        try:
            results = self._until_answered(self.backend.bulk_index, docs)
        except SearchError as err:
            if len(batch) > 1:  # one record's document can make the engine refuse the whole request
                for request in batch:
                    yield from self._write([request])
                return
            for request in batch:
                yield beam.pvalue.TaggedOutput(DEAD, DeadLetter(
                    "index_rejected", f"the search engine refused the bulk request: {err}. Check the cluster "
                    "settings (e.g. http.max_content_length) and the index templates", "write", request.record,
                    request.item_id))
            return
        by_id = {}
        for r in results:
            by_id.setdefault((r.index, r.doc_id), r)
        indexed = []
        for request in batch:
            failed = [by_id[(i, d)] for i, d, _ in request.docs if not by_id[(i, d)].ok]
            if failed:
                detail = "; ".join(f"{f.index}/{f.doc_id}: {f.error}" for f in failed)[:4000]
                yield beam.pvalue.TaggedOutput(DEAD, DeadLetter(
                    "index_rejected", f"the search engine rejected {len(failed)} document(s): {detail}. "
                    "Check the index templates in schemas/index/ against the cluster", "write", request.record,
                    request.item_id))
            else:
                indexed.append(request)
        self._produce_alerts_until_acked(indexed)
        metrics.count_indexed(len(indexed))
        yield from indexed


class WriteDocumentsAndAlerts(beam.PTransform):
    """Batches of IndexRequest -> indexed and alerted (source offsets marked durable) |
    DeadLetter (output "dead")."""

    def __init__(self, settings: SearchSettings, kafka_settings: KafkaSettings, alert_settings: AlertSettings,
                 before_write: BeforeWrite | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.kafka_settings = kafka_settings
        self.alert_settings = alert_settings
        self.before_write = before_write or BeforeWrite()

    def expand(self, batches):
        fn = _BulkWriteFn(self.settings, self.kafka_settings, self.alert_settings, self.before_write)
        return batches | "BulkAndAlerts" >> beam.ParDo(fn).with_outputs(DEAD, main="done")
