"""Beam transforms for Kafka in pure Python: read, dead-letter, commit.

Beam's ReadFromKafka is a cross-language transform that needs the Java expansion service (and
Docker for its default environment), so newswatch reads with kafka-python inside a splittable
DoFn: one element per topic-partition, an offset range as its restriction, a self-checkpoint
(`defer_remainder`) when a poll comes back empty, and a watermark from message timestamps.

Offsets are committed by `CommitDurableOffsets` only once everything derived from a record is
durable; a restarted pipeline resumes from the committed offsets, and deterministic document
ids make the few re-read records overwrite themselves.
"""
from __future__ import annotations

import base64
import json
import logging
import threading
import time
from dataclasses import dataclass

import apache_beam as beam
from apache_beam.io.restriction_trackers import OffsetRange, OffsetRestrictionTracker
from apache_beam.io.watermark_estimators import MonotonicWatermarkEstimator
from apache_beam.transforms.core import RestrictionProvider, WatermarkEstimatorProvider
from apache_beam.utils.timestamp import Duration, Timestamp

from pipelines.settings import KafkaSettings

from . import kafka
from .kafka import Done, KafkaRecord

LOG = logging.getLogger(__name__)
END_OF_TIME = 2**63 - 1
EMPTY_POLL_DEFER_S = 0.05


@dataclass(frozen=True)
class TopicPartitionElement:
    topic: str
    partition: int


@dataclass(frozen=True)
class DeadLetter:
    reason: str
    error: str
    stage: str
    record: KafkaRecord
    item_id: str | None = None

    def to_json(self) -> bytes:
        return json.dumps({
            "reason": self.reason, "error": self.error, "stage": self.stage, "source": self.record.source,
            "item_id": self.item_id, "original_b64": base64.b64encode(self.record.value).decode("ascii"),
            "failed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }, ensure_ascii=False).encode("utf-8")


class _TimestampWatermarks(WatermarkEstimatorProvider):
    """Watermark = highest message timestamp seen (never moves back).

    Starts at the epoch, not None: Beam 2.75's MonotonicWatermarkEstimator compares the first
    observed timestamp with its initial state and fails on None."""

    def initial_estimator_state(self, element, restriction):
        return Timestamp(0)

    def create_watermark_estimator(self, state):
        return MonotonicWatermarkEstimator(state)


class ReadPartitionFn(beam.DoFn, RestrictionProvider):
    """Splittable DoFn over one topic-partition; it is its own restriction provider because the
    initial restriction needs the settings (where the group's committed offset is)."""

    def __init__(self, settings: KafkaSettings) -> None:
        self.settings = settings
        self._consumers = {}

    # -- restriction: [committed offset, infinity), claimed offset by offset ------------------
    def initial_restriction(self, element: TopicPartitionElement) -> OffsetRange:
        start = kafka.start_offset(self.settings, element.topic, element.partition)
        return OffsetRange(start, END_OF_TIME)

    def create_tracker(self, restriction: OffsetRange) -> OffsetRestrictionTracker:
        return OffsetRestrictionTracker(restriction)

    def restriction_size(self, element, restriction: OffsetRange) -> int:
        return 1  # unbounded: the runner needs a number, not a true backlog

    def split(self, element, restriction):
        yield restriction  # one reader per partition keeps the log in order

    def truncate(self, element, restriction):
        return None  # on drain, stop reading

    def setup(self) -> None:
        self._consumers = {}

    def _consumer_for(self, tp):
        """One consumer per partition, so each keeps its fetch position between calls (a
        re-assignment would throw the prefetched records away)."""
        consumer = self._consumers.get(tp)
        if consumer is None:
            from kafka import KafkaConsumer

            # No group here: offsets belong to the committer, never to the reader.
            consumer = KafkaConsumer(bootstrap_servers=self.settings.bootstrap, enable_auto_commit=False,
                                     max_poll_records=self.settings.poll_max_records,
                                     fetch_max_bytes=16 * 1024 * 1024, max_partition_fetch_bytes=8 * 1024 * 1024)
            consumer.assign([tp])
            self._consumers[tp] = consumer
        return consumer

    @beam.DoFn.unbounded_per_element()
    def process(self, element: TopicPartitionElement,
                tracker=beam.DoFn.RestrictionParam(),
                watermark=beam.DoFn.WatermarkEstimatorParam(_TimestampWatermarks())):
        from kafka import TopicPartition

        tp = TopicPartition(element.topic, element.partition)
        start = tracker.current_restriction().start
        consumer = self._consumer_for(tp)
        if consumer.position(tp) != start:
            consumer.seek(tp, start)
        batch = consumer.poll(timeout_ms=self.settings.poll_timeout_ms).get(tp, [])
        LOG.debug("poll %s:%s from %s -> %d records", tp.topic, tp.partition, start, len(batch))
        prev = start - 1
        for msg in batch:
            if msg.offset < start:
                continue
            if not tracker.try_claim(msg.offset):
                return
            record = KafkaRecord(msg.topic, msg.partition, msg.offset, prev, msg.timestamp,
                                 msg.key, msg.value if msg.value is not None else b"")
            prev = msg.offset
            yield beam.window.TimestampedValue(record, Timestamp(micros=max(msg.timestamp, 0) * 1000))
        if not batch:
            # Nothing new: hand the rest of the partition back to the runner and come back soon.
            tracker.defer_remainder(Duration.of(EMPTY_POLL_DEFER_S))
            return
        tracker.defer_remainder(Duration.of(0))

    def teardown(self) -> None:
        for consumer in getattr(self, "_consumers", {}).values():
            consumer.close()


class ReadFromKafka(beam.PTransform):
    """Unbounded PCollection[KafkaRecord] of one topic, resuming from the group's commits."""

    def __init__(self, settings: KafkaSettings, topic: str | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.topic = topic or settings.topic

    def expand(self, pbegin):
        partitions = kafka.partitions_of(self.settings, self.topic)
        fn = ReadPartitionFn(self.settings)
        return (pbegin
                | "Partitions" >> beam.Create([TopicPartitionElement(self.topic, p) for p in partitions])
                | "Read" >> beam.ParDo(fn).with_input_types(TopicPartitionElement)
                .with_output_types(KafkaRecord))

    def default_label(self):
        return f"ReadFromKafka({self.topic})"


class _Frontier:
    """Per partition: the last offset below which everything is durable, and the Done records
    that arrived ahead of it (prev_offset -> offset)."""

    def __init__(self, last_durable: int) -> None:
        self.last_durable = last_durable
        self.ahead: dict[int, int] = {}
        self.committed = last_durable

    def add(self, item: Done) -> None:
        if item.offset > self.last_durable:
            self.ahead[item.prev_offset] = item.offset
        while self.last_durable in self.ahead:
            self.last_durable = self.ahead.pop(self.last_durable)


# Process-wide on purpose: every writer DoFn instance in this worker marks into the same frontier.
_FRONTIERS: dict[tuple[str, str, int], _Frontier] = {}
_FRONTIERS_LOCK = threading.Lock()


class CommitsDurableOffsets(beam.DoFn):
    """Base of the DoFns that make records durable (search writer, dead-letter writer).

    They mark each record Done once its outputs are acknowledged, and at the end of every
    bundle commit, per partition, the offset below which every record is durable. Offsets are
    committed here rather than in a separate stage because Prism 2.75 starves the stage behind a
    Flatten or a stateful DoFn downstream of an unbounded source whose residual holds the
    watermark at the minimum (apache/beam#39446): elements stopped reaching such a stage.

    The frontier lives in the worker process. With one worker (Prism, LOOPBACK) every record of
    a partition is marked there. On a multi-worker runner a partition's records could be split
    across workers: commits would then stall (safe: nothing is lost, a restart re-reads and
    overwrites); that path is not tested yet.
    """

    def __init__(self, settings: KafkaSettings) -> None:
        self.settings = settings
        self._group_consumer = None
        self._touched: set[tuple[str, str, int]] = set()

    def setup(self) -> None:
        from kafka import KafkaConsumer

        self._group_consumer = KafkaConsumer(bootstrap_servers=self.settings.bootstrap,
                                             group_id=self.settings.group_id, enable_auto_commit=False)

    def mark_durable(self, record: KafkaRecord) -> None:
        key = (self.settings.group_id, record.topic, record.partition)
        with _FRONTIERS_LOCK:
            frontier = _FRONTIERS.get(key)
            if frontier is None:
                start = kafka.start_offset(self.settings, record.topic, record.partition)
                frontier = _FRONTIERS[key] = _Frontier(start - 1)
            frontier.add(kafka.done(record))
        self._touched.add(key)

    def finish_bundle(self):
        for key in sorted(self._touched):
            with _FRONTIERS_LOCK:
                frontier = _FRONTIERS[key]
                target = frontier.last_durable + 1
                if target <= frontier.committed + 1:
                    continue
                frontier.committed = target - 1
            _, topic, partition = key
            kafka.commit(self.settings, topic, partition, target, consumer=self._group_consumer)
            LOG.debug("committed %s:%s -> %s", topic, partition, target)
        self._touched.clear()

    def teardown(self) -> None:
        if self._group_consumer is not None:
            self._group_consumer.close()


class WriteDeadLettersFn(CommitsDurableOffsets):
    """Produce each DeadLetter to the DLQ topic (acks=all), then mark its record durable."""

    def setup(self) -> None:
        super().setup()
        self._producer = kafka.producer(self.settings)

    def process(self, letter: DeadLetter):
        LOG.warning("dead letter %s at %s: %s", letter.reason, letter.record.source, letter.error[:200])
        future = self._producer.send(self.settings.dlq_topic, value=letter.to_json(), key=letter.record.key)
        future.get(timeout=60)  # durable before the offset may be committed
        self.mark_durable(letter.record)
        return []

    def teardown(self) -> None:
        if getattr(self, "_producer", None) is not None:
            self._producer.close()
        super().teardown()


class WriteDeadLetters(beam.PTransform):
    """Sink for DeadLetters: one instance per dead-letter output (no Flatten, see above)."""

    def __init__(self, settings: KafkaSettings) -> None:
        super().__init__()
        self.settings = settings

    def expand(self, letters):
        return letters | "ProduceToDLQ" >> beam.ParDo(WriteDeadLettersFn(self.settings))
