"""Kafka plumbing that knows nothing of news: topics, producing, committed offsets, and the
typed record that flows from the reader through the pipeline."""
from __future__ import annotations

from dataclasses import dataclass

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError
from kafka.structs import OffsetAndMetadata

from pipelines.settings import KafkaSettings


@dataclass(frozen=True)
class KafkaRecord:
    """One message as read. `prev_offset` is the offset of the message read just before it in
    the same partition during this run (or committed-1 for the first), so the committer can
    tell when every offset below a point has been made durable, gaps in the log included."""
    topic: str
    partition: int
    offset: int
    prev_offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes

    @property
    def source(self) -> dict:
        return {"topic": self.topic, "partition": self.partition, "offset": self.offset}


@dataclass(frozen=True)
class Done:
    """Everything derived from this record is durable (indexed, or dead-lettered)."""
    topic: str
    partition: int
    offset: int
    prev_offset: int


def done(record: KafkaRecord) -> Done:
    return Done(record.topic, record.partition, record.offset, record.prev_offset)


def ensure_topics(s: KafkaSettings) -> None:
    admin = KafkaAdminClient(bootstrap_servers=s.bootstrap)
    try:
        for name, partitions in ((s.topic, s.partitions), (s.dlq_topic, 1)):
            try:
                admin.create_topics([NewTopic(name, partitions, 1, topic_configs={"max.message.bytes": "4194304"})])
            except TopicAlreadyExistsError:
                pass
    finally:
        admin.close()


def partitions_of(s: KafkaSettings, topic: str) -> list[int]:
    consumer = KafkaConsumer(bootstrap_servers=s.bootstrap)
    try:
        parts = consumer.partitions_for_topic(topic)
    finally:
        consumer.close()
    if not parts:
        raise RuntimeError(f"topic {topic!r} does not exist on {s.bootstrap}; run `newswatch stack up` "
                           "or create it (newswatch creates it on `newswatch demo` / `newswatch run`)")
    return sorted(parts)


def producer(s: KafkaSettings) -> KafkaProducer:
    return KafkaProducer(bootstrap_servers=s.bootstrap, acks="all", linger_ms=5,
                         max_request_size=4 * 1024 * 1024, retries=10)


def produce(s: KafkaSettings, values: list[bytes], topic: str | None = None, keys: list[bytes | None] | None = None) -> None:
    prod = producer(s)
    try:
        for i, value in enumerate(values):
            prod.send(topic or s.topic, value=value, key=keys[i] if keys else None)
        prod.flush()
    finally:
        prod.close()


def _group_consumer(s: KafkaSettings) -> KafkaConsumer:
    return KafkaConsumer(bootstrap_servers=s.bootstrap, group_id=s.group_id, enable_auto_commit=False)


def start_offset(s: KafkaSettings, topic: str, partition: int) -> int:
    """Where a run resumes: the group's committed offset, else the beginning of the partition."""
    consumer = _group_consumer(s)
    try:
        tp = TopicPartition(topic, partition)
        committed = consumer.committed(tp)
        if committed is not None:
            return committed
        return consumer.beginning_offsets([tp])[tp]
    finally:
        consumer.close()


def commit(s: KafkaSettings, topic: str, partition: int, next_offset: int, consumer: KafkaConsumer | None = None) -> None:
    own = consumer is None
    consumer = consumer or _group_consumer(s)
    try:
        consumer.commit({TopicPartition(topic, partition): OffsetAndMetadata(next_offset, "", -1)})
    finally:
        if own:
            consumer.close()


def committed_offsets(s: KafkaSettings, topic: str) -> dict[int, int | None]:
    consumer = _group_consumer(s)
    try:
        return {p: consumer.committed(TopicPartition(topic, p)) for p in partitions_of(s, topic)}
    finally:
        consumer.close()


def reset_group(s: KafkaSettings, topic: str) -> None:
    """Rewind the consumer group to the beginning (a replay)."""
    consumer = _group_consumer(s)
    try:
        parts = [TopicPartition(topic, p) for p in partitions_of(s, topic)]
        begin = consumer.beginning_offsets(parts)
        consumer.commit({tp: OffsetAndMetadata(begin[tp], "", -1) for tp in parts})
    finally:
        consumer.close()


def end_offsets(s: KafkaSettings, topic: str) -> dict[int, int]:
    consumer = KafkaConsumer(bootstrap_servers=s.bootstrap)
    try:
        parts = [TopicPartition(topic, p) for p in partitions_of(s, topic)]
        return {tp.partition: off for tp, off in consumer.end_offsets(parts).items()}
    finally:
        consumer.close()
