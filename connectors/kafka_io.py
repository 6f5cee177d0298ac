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

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.io.restriction_trackers import OffsetRange, OffsetRestrictionTracker
from apache_beam.io.watermark_estimators import MonotonicWatermarkEstimator
from apache_beam.transforms.core import RestrictionProvider, WatermarkEstimatorProvider
from apache_beam.utils.timestamp import Duration, Timestamp

from newswatch.pipelines.model import DeadLetter, Done, KafkaRecord
from newswatch.pipelines.settings import KafkaSettings

from . import kafka, metrics

LOG = logging.getLogger(__name__)
END_OF_TIME = 2**63 - 1
EMPTY_POLL_DEFER_S = 0.05


@dataclass(frozen=True)
class TopicPartitionElement:
    topic: str
    partition: int


class _TimestampWatermarks(WatermarkEstimatorProvider):
    """Watermark = highest message timestamp seen (never moves back).

    Starts at the epoch, not None: Beam's MonotonicWatermarkEstimator (2.75 to 2.77) compares
    the first observed timestamp with its initial state and fails on None."""

    def initial_estimator_state(self, element, restriction):
        return Timestamp(0)

    def create_watermark_estimator(self, state):
        return MonotonicWatermarkEstimator(state)


# -- reading past what kafka-python cannot return -----------------------------------------------
READ_RETRY_MAX_S = 30.0
PROBE_TIMEOUT_S = 10.0  # a probe fetch that returns nothing for this long counts as "not corrupt"
_CRC_ERROR_OFFSET = re.compile(r"at offset (\d+)")


def corrupt_batch_offset(err: Exception) -> int | None:
    """The offset a kafka-python CorruptRecordError names ("... at offset N failed crc check"): the
    corrupt batch's base offset (a legacy message's own offset). None if the wording differs."""
    found = _CRC_ERROR_OFFSET.search(str(err))
    return int(found.group(1)) if found else None


def first_readable_offset(fails_at: Callable[[int], bool], failed: int, end: int) -> int:
    """The first offset after `failed` from which a fetch no longer fails, given that a fetch from
    `failed` failed and that fetches keep failing exactly up to the corrupt batch's last offset.

    A fetch from any offset inside a batch returns the whole batch, so the batch's end is found by
    fetching: doubling steps, then bisection, O(log batch size) fetches. The batch header's own
    last offset is not trusted: the corruption may be in it. The log end `end` holds nothing that
    could fail."""
    known_bad, known_good = failed, max(end, failed + 1)
    step = 1
    while failed + step < known_good:
        if not fails_at(failed + step):
            known_good = failed + step
            break
        known_bad = failed + step
        step *= 2
    while known_good - known_bad > 1:
        middle = (known_bad + known_good) // 2
        if fails_at(middle):
            known_bad = middle
        else:
            known_good = middle
    return known_good


def corrupt_range_message(topic: str, partition: int, first: int, resume: int, detail: str) -> str:
    return (f"Kafka returned a batch that failed its CRC check in {topic}:{partition} ({detail}); the reader "
            f"skipped offsets {first}-{resume - 1} and read on from {resume}. The original bytes are lost: send "
            "the items of that offset range again from their source, and check the broker's disk and log")


def read_retry_delay_s(failures: int) -> float:
    """Wait before polling a partition again after `failures` failed polls in a row: 1 s, doubling,
    at most half a minute."""
    return min(READ_RETRY_MAX_S, 2.0 ** min(max(failures, 1) - 1, 16))


def read_failure_advice(err: Exception, bootstrap: str) -> str:
    """What the user can do about a poll that failed with `err` (the reader retries by itself)."""
    from kafka import errors

    if isinstance(err, errors.UnsupportedCodecError):
        return ("a batch uses a compression codec this install cannot decode: run ./setup.sh, which installs "
                "python-snappy, lz4 and zstandard; an unknown codec number means the batch itself is damaged")
    if isinstance(err, (errors.KafkaConnectionError, errors.KafkaTimeoutError, OSError)):
        return (f"check that the Kafka broker at {bootstrap} is running and reachable "
                "(`newswatch stack status` for the local stack)")
    return "if this repeats, check the broker's log for this partition and report the error with this message"


class PartitionOffsetTracker(OffsetRestrictionTracker):
    """Claims offsets of one partition; refuses the runner's dynamic splits, keeps checkpoints.

    A runner that sees a read make no progress for a while asks to split the rest of its range:
    Prism (2.75 and 2.77) asks for half of [offset, 2^63) after 100 ms without progress. The
    residual would be a second reader of the same partition, from offset 2^62, polling for ever
    and dropping everything it fetches. One reader per partition keeps the log in order, so only
    checkpoints (`defer_remainder`, a split at fraction 0) are allowed."""

    def try_split(self, fraction_of_remainder):
        if fraction_of_remainder > 0:
            return None
        return super().try_split(fraction_of_remainder)


class ReadPartitionFn(beam.DoFn, RestrictionProvider):
    """Splittable DoFn over one topic-partition; it is its own restriction provider because the
    initial restriction needs the settings (where the group's committed offset is).

    A poll that raises never fails the bundle (the runner would retry it into the same error):
    a corrupt batch (CRC mismatch) is skipped and reported as one record with `read_error`, which
    parsing turns into a `corrupt_batch` dead letter; any other error defers the partition with a
    backoff. Either way the consumer is replaced: kafka-python 3.0.12 spins forever when a
    consumer polls again from the offset whose fetch raised."""

    # Process-wide, because the runner calls several instances of this DoFn for one partition.
    # partition -> (restriction start, offset to fetch from instead): the rest of a corrupt range
    # already reported, so that its record's offset stays the prev_offset of the next one.
    _skips: dict[tuple[str, str, int], tuple[int, int]] = {}
    # partition -> (polls that failed in a row, time.monotonic() of the next attempt)
    _retries: dict[tuple[str, str, int], tuple[int, float]] = {}
    _state_lock = threading.Lock()

    def __init__(self, settings: KafkaSettings) -> None:
        self.settings = settings
        self._consumers = {}

    # -- restriction: [committed offset, infinity), claimed offset by offset ------------------
    def initial_restriction(self, element: TopicPartitionElement) -> OffsetRange:
        start = kafka.start_offset(self.settings, element.topic, element.partition)
        return OffsetRange(start, END_OF_TIME)

    def create_tracker(self, restriction: OffsetRange) -> OffsetRestrictionTracker:
        return PartitionOffsetTracker(restriction)

    def restriction_size(self, element, restriction: OffsetRange) -> int:
        return 1  # unbounded: the runner needs a number, not a true backlog

    def split(self, element, restriction):
        yield restriction  # one reader per partition keeps the log in order

    def truncate(self, element, restriction):
        return None  # on drain, stop reading

    def setup(self) -> None:
        self._consumers = {}

    def _key(self, tp) -> tuple[str, str, int]:
        return (self.settings.bootstrap, tp.topic, tp.partition)

    def _new_consumer(self, tp, **kwargs):
        # No group here: offsets belong to the committer, never to the reader.
        consumer = kafka.new_consumer(self.settings, enable_auto_commit=False, **kwargs)
        consumer.assign([tp])
        return consumer

    def _consumer_for(self, tp):
        """One consumer per partition, so each keeps its fetch position between calls (a
        re-assignment would throw the prefetched records away)."""
        consumer = self._consumers.get(tp)
        if consumer is None:
            consumer = self._consumers[tp] = self._new_consumer(
                tp, max_poll_records=self.settings.poll_max_records,
                fetch_max_bytes=16 * 1024 * 1024, max_partition_fetch_bytes=8 * 1024 * 1024)
        return consumer

    def _drop_consumer(self, tp) -> None:
        consumer = self._consumers.pop(tp, None)
        if consumer is not None:
            try:
                consumer.close()
            except Exception as err:  # a broken consumer must not stop the next read
                LOG.debug("closing the consumer of %s failed: %s", tp, err)

    def _fetch_offset(self, tp, start: int) -> int:
        with self._state_lock:
            skipped_from, resume = self._skips.get(self._key(tp), (None, None))
        return resume if skipped_from == start else start

    def _backoff_left_s(self, tp) -> float:
        with self._state_lock:
            _, retry_at = self._retries.get(self._key(tp), (0, 0.0))
        return retry_at - time.monotonic()

    def _poll(self, tp, offset: int) -> list:
        consumer = self._consumer_for(tp)
        if consumer.position(tp) != offset:
            consumer.seek(tp, offset)
        return consumer.poll(timeout_ms=self.settings.poll_timeout_ms).get(tp, [])

    @beam.DoFn.unbounded_per_element()
    def process(self, element: TopicPartitionElement,
                tracker=beam.DoFn.RestrictionParam(),
                watermark=beam.DoFn.WatermarkEstimatorParam(_TimestampWatermarks())):
        from kafka import TopicPartition
        from kafka.errors import CorruptRecordError

        tp = TopicPartition(element.topic, element.partition)
        start = tracker.current_restriction().start
        wait_s = self._backoff_left_s(tp)
        if wait_s > 0:
            # The runner may resume a residual before the delay it asked for (Prism 2.75 did at
            # once; 2.77 waits): a partition still backing off asks again for what is left.
            tracker.defer_remainder(Duration.of(wait_s))
            return
        fetch_from = self._fetch_offset(tp, start)
        try:
            batch = self._poll(tp, fetch_from)
        except CorruptRecordError as err:
            self._drop_consumer(tp)
            yield from self._skip_corrupt_batch(tp, start, fetch_from, err, tracker, watermark)
            return
        except Exception as err:
            self._drop_consumer(tp)
            self._defer_after_failure(tp, fetch_from, err, tracker)
            return
        with self._state_lock:
            self._retries.pop(self._key(tp), None)  # a good poll ends a run of failures
        LOG.debug("poll %s:%s from %s -> %d records", tp.topic, tp.partition, fetch_from, len(batch))
        prev = start - 1
        reads = metrics.read_counter(tp.topic, tp.partition)
        for msg in batch:
            if msg.offset < start:
                continue
            if not tracker.try_claim(msg.offset):
                return
            reads.inc()
            record = KafkaRecord(msg.topic, msg.partition, msg.offset, prev, msg.timestamp,
                                 msg.key, msg.value if msg.value is not None else b"", first_of_read=prev == start - 1)
            prev = msg.offset
            yield beam.window.TimestampedValue(record, Timestamp(micros=max(msg.timestamp, 0) * 1000))
        if not batch:
            # Nothing new: hand the rest of the partition back to the runner and come back soon.
            tracker.defer_remainder(Duration.of(EMPTY_POLL_DEFER_S))
            return
        tracker.defer_remainder(Duration.of(0))

    def _skip_corrupt_batch(self, tp, start: int, failed_at: int, err: Exception, tracker, watermark):
        """Emit one record with `read_error` at `start` for the offsets up to the next readable
        one, and fetch from there next time."""
        try:
            resume = self._corrupt_range_end(tp, failed_at, err)
        except Exception as probe_err:
            self._defer_after_failure(tp, failed_at, probe_err, tracker)
            return
        if not tracker.try_claim(start):
            return
        message = corrupt_range_message(tp.topic, tp.partition, start, resume, str(err))
        LOG.warning("%s", message)
        if resume > start + 1:
            with self._state_lock:
                self._skips[self._key(tp)] = (start + 1, resume)
        timestamp_ms = max(watermark.current_watermark().micros // 1000, 0)
        record = KafkaRecord(tp.topic, tp.partition, start, start - 1, timestamp_ms, None, b"", read_error=message,
                             first_of_read=True)
        metrics.read_counter(tp.topic, tp.partition).inc()
        yield beam.window.TimestampedValue(record, Timestamp(micros=timestamp_ms * 1000))
        tracker.defer_remainder(Duration.of(0))

    def _corrupt_range_end(self, tp, failed_at: int, err: Exception) -> int:
        base = corrupt_batch_offset(err)
        base = failed_at if base is None else base
        consumer = self._new_consumer(tp)
        try:
            end = consumer.end_offsets([tp])[tp]
        finally:
            consumer.close()
        return first_readable_offset(lambda offset: self._fetch_fails_in_batch(tp, offset, base), failed_at, end)

    def _fetch_fails_in_batch(self, tp, offset: int, base: int) -> bool:
        """Whether a fetch from `offset` still starts with the corrupt batch at `base`. A fresh
        consumer per probe, for the spin described in the class docstring."""
        from kafka.errors import CorruptRecordError

        consumer = self._new_consumer(tp, max_poll_records=1)
        try:
            consumer.seek(tp, offset)
            deadline = time.monotonic() + PROBE_TIMEOUT_S
            while time.monotonic() < deadline:
                try:
                    if consumer.poll(timeout_ms=self.settings.poll_timeout_ms).get(tp):
                        return False
                except CorruptRecordError as err:
                    at = corrupt_batch_offset(err)
                    return at is None or at <= base
            return False
        finally:
            consumer.close()

    def _defer_after_failure(self, tp, offset: int, err: Exception, tracker) -> None:
        with self._state_lock:
            failures = self._retries.get(self._key(tp), (0, 0.0))[0] + 1
            delay = read_retry_delay_s(failures)
            self._retries[self._key(tp)] = (failures, time.monotonic() + delay)
        what = str(err) if type(err).__name__ in str(err) else f"{type(err).__name__}: {err}"
        LOG.error("reading %s:%s from offset %d failed (%d in a row): %s. Retrying in %.0f s; %s",
                  tp.topic, tp.partition, offset, failures, what, delay,
                  read_failure_advice(err, self.settings.bootstrap))
        tracker.defer_remainder(Duration.of(delay))

    def teardown(self) -> None:
        for tp in list(getattr(self, "_consumers", {})):
            self._drop_consumer(tp)


class ReadFromKafka(beam.PTransform):
    """Unbounded PCollection[KafkaRecord] of one topic, resuming from the group's commits."""

    def __init__(self, settings: KafkaSettings, topic: str | None = None, partitions: list[int] | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.topic = topic or settings.topic
        self.partitions = partitions

    def expand(self, pbegin):
        partitions = self.partitions if self.partitions is not None else kafka.partitions_of(self.settings, self.topic)
        fn = ReadPartitionFn(self.settings)
        return (pbegin
                | "Partitions" >> beam.Create([TopicPartitionElement(self.topic, p) for p in partitions])
                | "Read" >> beam.ParDo(fn).with_input_types(TopicPartitionElement)
                .with_output_types(KafkaRecord))

    def default_label(self):
        return f"ReadFromKafka({self.topic})"


class _Frontier:
    """Per partition: the last offset below which everything is durable, and the Done records
    that arrived ahead of it (prev_offset -> offset).

    When reads of one partition run in several worker processes (one read per bundle, the next
    read wherever the runner schedules it), this process sees only some of the chain. The first
    record of a read says that everything before it is already committed, so the frontier moves
    up to it instead of waiting for records another process made durable."""

    def __init__(self, last_durable: int) -> None:
        self.last_durable = last_durable
        self.ahead: dict[int, int] = {}
        self.committed = last_durable

    def add(self, item: Done) -> None:
        if item.first_of_read and item.prev_offset > self.last_durable:
            self.last_durable = item.prev_offset
            self.committed = max(self.committed, item.prev_offset)
            self.ahead = {prev: offset for prev, offset in self.ahead.items() if prev >= item.prev_offset}
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
    committed here rather than in a separate stage because Prism 2.75 starved the stage behind a
    Flatten or a stateful DoFn downstream of an unbounded source (apache/beam#39446), and on 2.77,
    which fixed that, a committer keyed by partition in Beam state saw bundles of one key run
    side by side and lost frontiers (README, "The pipeline").

    The frontier lives in the worker process: every record of one read (one bundle) is marked in
    the process that read it, and a read's first record carries what earlier reads, in any
    process, already committed (see _Frontier). So commits stay right and keep moving when the
    runner runs a partition's bundles on different workers.
    """

    def __init__(self, settings: KafkaSettings) -> None:
        self.settings = settings
        self._group_consumer = None
        self._touched: set[tuple[str, str, int]] = set()

    def setup(self) -> None:
        self._group_consumer = kafka.new_consumer(self.settings, group_id=self.settings.group_id,
                                                  enable_auto_commit=False)

    def mark_durable(self, record: KafkaRecord) -> None:
        key = (self.settings.group_id, record.topic, record.partition)
        with _FRONTIERS_LOCK:
            frontier = _FRONTIERS.get(key)
            if frontier is None:
                start = kafka.start_offset(self.settings, record.topic, record.partition)
                frontier = _FRONTIERS[key] = _Frontier(start - 1)
            frontier.add(Done.of(record))
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
            self._commit_until_accepted(topic, partition, target)
        self._touched.clear()

    def _commit_until_accepted(self, topic: str, partition: int, target: int) -> None:
        """A broker restart must not fail the bundle (the job would stop), nor leave the last
        records of a quiet stream uncommitted: retry until the group coordinator is back."""
        pause = 0.5
        while True:
            try:
                kafka.commit(self.settings, topic, partition, target, consumer=self._group_consumer)
                LOG.debug("committed %s:%s -> %s", topic, partition, target)
                return
            except Exception as err:  # noqa: BLE001 - kafka-python raises many KafkaError kinds here
                LOG.warning("commit of %s:%s -> %s failed (%s); retrying in %.1fs", topic, partition, target,
                            type(err).__name__, pause)
                time.sleep(pause)
                pause = min(pause * 2, 30.0)

    def teardown(self) -> None:
        if self._group_consumer is not None:
            self._group_consumer.close()


# Dead letters written but perhaps not committed when a worker died are in the DLQ's tail: a
# restarted worker reads the keys of its last DLQ_DEDUPE_WINDOW letters once, and does not write
# those letters again. Process-wide, like the frontiers: every DLQ writer of the worker shares it.
DLQ_DEDUPE_WINDOW = 10_000
_WRITTEN_LETTERS: dict[tuple[str, str], set[bytes]] = {}


def _letters_written(settings: KafkaSettings) -> set[bytes]:
    key = (settings.bootstrap, settings.dlq_topic)
    with _FRONTIERS_LOCK:
        if key not in _WRITTEN_LETTERS:
            _WRITTEN_LETTERS[key] = kafka.recent_keys(settings, settings.dlq_topic, DLQ_DEDUPE_WINDOW)
        return _WRITTEN_LETTERS[key]


class WriteDeadLettersFn(CommitsDurableOffsets):
    """Produce each DeadLetter to the DLQ topic (acks=all), then mark its record durable."""

    def setup(self) -> None:
        super().setup()
        self._producer = kafka.producer(self.settings)
        self._written = _letters_written(self.settings)
        self.dead_letters = Metrics.counter("newswatch", "dead_letters_written")
        self.rewrites_skipped = Metrics.counter("newswatch", "dead_letters_already_written")

    def process(self, letter: DeadLetter):
        if letter.key in self._written:  # written before a crash, its offset not yet committed
            self.rewrites_skipped.inc()
        else:
            LOG.warning("dead letter %s at %s: %s", letter.reason, letter.record.source, letter.error[:200])
            self._produce_until_acked(letter)
            self.dead_letters.inc()
        metrics.count_dead_letter(letter.reason, letter.stage)  # rewrites skipped too: the item is dead-lettered
        self.mark_durable(letter.record)
        return []

    def _produce_until_acked(self, letter: DeadLetter) -> None:
        """Durable before the offset may be committed. A broker that is away pauses the stream
        (nothing is committed meanwhile) instead of failing the bundle."""
        pause = 1.0
        while True:
            try:
                self._producer.send(self.settings.dlq_topic, value=letter.to_json(), key=letter.key).get(timeout=60)
                return
            except Exception as err:  # noqa: BLE001 - kafka-python raises many KafkaError kinds here
                LOG.warning("dead letter not acknowledged (%s); retrying in %.0fs. Check Kafka at %s",
                            type(err).__name__, pause, self.settings.bootstrap)
                time.sleep(pause)
                pause = min(pause * 2, 30.0)

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
