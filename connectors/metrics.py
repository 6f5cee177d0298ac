"""Prometheus metrics of the pipeline worker, defined in one place.

The DoFns call the small functions below; the counters live in the process's default registry.
With Prism's LOOPBACK environment the SDK harness, and so every DoFn, runs inside the worker
process (`newswatch run --worker`), which serves them on 127.0.0.1:`pipeline.metrics_port`
(`serve_worker_metrics`). Beam's own `Metrics.counter`s stay as they are: they go to the runner,
these go to Prometheus. Nothing here knows about NLP.

Consumer lag is read by a thread of the worker, every LAG_REFRESH_S, rather than by the
supervisor: one process serves every metric (one scrape target, one port), and a dead worker
shows up as a failed scrape, which is the signal that matters then.
"""
from __future__ import annotations

import errno
import logging
import threading
import time
from dataclasses import dataclass

from prometheus_client import Counter, Gauge, Histogram, Info, disable_created_metrics, start_http_server

from newswatch.pipelines.settings import KafkaSettings

LOG = logging.getLogger(__name__)
LAG_REFRESH_S = 5.0
BIND_RETRY_S = 2.0      # a worker restarted at once may find the port still held for a moment
BIND_GIVE_UP_S = 60.0

disable_created_metrics()  # no *_created series: they double the output and nobody graphs them

# Per element, the NLP steps take 50 µs to a few ms; a batch stage (match, write) up to seconds.
_STAGE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
                  10, 30)
_BULK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

ITEMS_READ = Counter("newswatch_items_read", "Messages read from the news topic", ["topic", "partition"])
ITEMS_INDEXED = Counter("newswatch_items_indexed",
                        "Items whose documents the search engine acknowledged (and whose alerts Kafka acknowledged)")
ITEMS_DEAD_LETTERED = Counter("newswatch_items_dead_lettered",
                              "Items routed to the dead-letter topic, by reason and by the step that failed",
                              ["reason", "stage"])
STAGE_SECONDS = Histogram("newswatch_stage_seconds",
                          "Time in one step's process call: per item, or per batch for match and write",
                          ["stage"], buckets=_STAGE_BUCKETS)
BULK_SECONDS = Histogram("newswatch_bulk_seconds", "Duration of one bulk HTTP request (each attempt, failed ones too)",
                         buckets=_BULK_BUCKETS)
BULK_RETRIES = Counter("newswatch_bulk_retries",
                       "Bulk writes tried again: request (the request failed, retryable), documents (some documents "
                       "answered 429/5xx and were resent), unavailable (the engine unreachable after those retries: "
                       "the writer pauses the stream and tries again)", ["cause"])
ALERTS_PRODUCED = Counter("newswatch_alerts_produced", "Alerts acknowledged by Kafka on the alerts topic")
CONSUMER_LAG = Gauge("newswatch_consumer_lag",
                     "Messages not yet committed by the consumer group: end offset - committed offset "
                     "(absent while Kafka cannot be read)", ["topic", "partition"])
PIPELINE_INFO = Info("newswatch_pipeline", "What this worker reads: topic and consumer group")


# ---- what the DoFns call ---------------------------------------------------------------------

class _Timed:
    """A context manager that observes its block's duration: lighter than the client's own
    `.time()`, as it runs several times per item."""
    __slots__ = ("_histogram", "_start")

    def __init__(self, histogram) -> None:
        self._histogram = histogram

    def __enter__(self) -> _Timed:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self._histogram.observe(time.perf_counter() - self._start)


_stage_histograms: dict[str, object] = {}  # .labels() takes a lock and builds a key: once per stage


def stage_timer(stage: str) -> _Timed:
    """`with stage_timer("language"): ...` observes the block's duration."""
    histogram = _stage_histograms.get(stage)
    if histogram is None:
        histogram = _stage_histograms[stage] = STAGE_SECONDS.labels(stage)
    return _Timed(histogram)


def read_counter(topic: str, partition: int):
    """The counter of one partition's reads (`.inc()` per message)."""
    return ITEMS_READ.labels(topic, str(partition))


def count_indexed(n: int) -> None:
    ITEMS_INDEXED.inc(n)


def count_dead_letter(reason: str, stage: str) -> None:
    ITEMS_DEAD_LETTERED.labels(reason, stage).inc()


def bulk_timer() -> _Timed:
    return _Timed(BULK_SECONDS)


def count_bulk_retry(cause: str) -> None:
    BULK_RETRIES.labels(cause).inc()


def count_alerts_produced(n: int) -> None:
    ALERTS_PRODUCED.inc(n)


# ---- consumer lag ------------------------------------------------------------------------------

@dataclass(frozen=True)
class PartitionLag:
    partition: int
    committed: int | None  # None: the group never committed on this partition
    begin: int
    end: int

    @property
    def lag(self) -> int:
        """What the group has still to process: from its committed offset (or, before any commit,
        from the partition's first message) to the end."""
        return max(self.end - (self.begin if self.committed is None else max(self.committed, self.begin)), 0)


def _lag_with(consumer, topic: str) -> list[PartitionLag]:
    from kafka import TopicPartition

    tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
    if not tps:
        return []
    begin, end = consumer.beginning_offsets(tps), consumer.end_offsets(tps)
    return [PartitionLag(tp.partition, consumer.committed(tp), begin[tp], end[tp]) for tp in tps]


def read_lag(s: KafkaSettings, topic: str | None = None) -> list[PartitionLag]:
    """The consumer group's lag on each partition of the topic (default: the news topic); empty
    when the topic does not exist."""
    from . import kafka

    consumer = kafka.new_consumer(s, group_id=s.group_id, enable_auto_commit=False)
    try:
        return _lag_with(consumer, topic or s.topic)
    finally:
        consumer.close()


class _LagExporter(threading.Thread):
    """Refreshes CONSUMER_LAG every LAG_REFRESH_S with one long-lived consumer. It never joins
    the group (no subscribe), so it cannot take partitions away from anything."""

    def __init__(self, s: KafkaSettings) -> None:
        super().__init__(name="newswatch-lag", daemon=True)
        self.settings = s
        self._consumer = None
        self._failing = False

    def run(self) -> None:
        while True:
            self.refresh()
            time.sleep(LAG_REFRESH_S)

    def refresh(self) -> None:
        from . import kafka

        try:
            if self._consumer is None:
                self._consumer = kafka.new_consumer(self.settings, group_id=self.settings.group_id,
                                                    enable_auto_commit=False)
            rows = _lag_with(self._consumer, self.settings.topic)
        except Exception as err:  # noqa: BLE001 - Kafka away: the lag is unknown, not zero
            CONSUMER_LAG.clear()
            self._drop_consumer()
            if not self._failing:
                LOG.warning("consumer lag not readable (%s); retrying every %.0fs", type(err).__name__, LAG_REFRESH_S)
            self._failing = True
            return
        self._failing = False
        for row in rows:
            CONSUMER_LAG.labels(self.settings.topic, str(row.partition)).set(row.lag)

    def _drop_consumer(self) -> None:
        if self._consumer is not None:
            try:
                self._consumer.close()
            except Exception:  # noqa: BLE001 - a broken consumer is dropped either way
                pass
            self._consumer = None


# ---- serving ---------------------------------------------------------------------------------

_serving_lock = threading.Lock()
_serving_started = False


def serve_worker_metrics(port: int, s: KafkaSettings, runner: str) -> bool:
    """Serve /metrics on 127.0.0.1:port from this process, once (later calls do nothing), and
    refresh the consumer lag in the background. Returns whether it was started now. Port 0: off.

    Binding is retried in a background thread for BIND_GIVE_UP_S: the supervisor restarts a dead
    worker at once, and the pipeline must never wait for, or die of, its metrics."""
    global _serving_started
    if port == 0:
        return False
    with _serving_lock:
        if _serving_started:
            return False
        _serving_started = True
    PIPELINE_INFO.info({"topic": s.topic, "group_id": s.group_id, "runner": runner})
    threading.Thread(target=_bind_then_export, args=(port, s), name="newswatch-metrics", daemon=True).start()
    return True


def _bind_then_export(port: int, s: KafkaSettings) -> None:
    deadline = time.monotonic() + BIND_GIVE_UP_S
    while True:
        try:
            start_http_server(port, addr="127.0.0.1")
            break
        except OSError as err:
            if err.errno != errno.EADDRINUSE or time.monotonic() > deadline:
                LOG.error("cannot serve metrics on 127.0.0.1:%d (%s): the pipeline runs on without them. Set "
                          "pipeline.metrics_port (env NEWSWATCH_PIPELINE__METRICS_PORT) to a free port, or 0 to "
                          "turn metrics off", port, err.strerror or err)
                return
            if deadline - time.monotonic() > BIND_GIVE_UP_S - BIND_RETRY_S:  # once, not every try
                LOG.warning("metrics port 127.0.0.1:%d in use (by a worker that just died?); trying again for "
                            "%.0fs", port, BIND_GIVE_UP_S)
            time.sleep(BIND_RETRY_S)
    LOG.info("metrics on http://127.0.0.1:%d/metrics", port)
    _LagExporter(s).start()
