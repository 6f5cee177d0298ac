"""connectors/kafka.py against the real local broker: what a whole-topic consumer sees when the
topic grows."""
from __future__ import annotations

import time
import uuid

from kafka import KafkaAdminClient
from kafka.admin import NewPartitions

from newswatch.connectors import kafka


def _poll_values(consumer, topic: str, until: float) -> tuple[list[bytes], list[int]]:
    """Polls, adding new partitions as they appear, until something is read or time is up."""
    got: list[bytes] = []
    added: list[int] = []
    while not got and time.monotonic() < until:
        added += kafka.assign_new_partitions(consumer, topic)
        for messages in consumer.poll(timeout_ms=200).values():
            got += [m.value for m in messages]
    return got, added


def test_a_whole_topic_consumer_reads_partitions_added_after_it_started(settings):
    ks = settings.kafka
    topic = f"grow-{uuid.uuid4().hex[:8]}"
    kafka.ensure_topics(ks, extra=((topic, 1),))
    kafka.produce(ks, [b"before"], topic=topic, partition=0)
    consumer = kafka.consume_whole_topic(ks, topic, f"grow-{topic}", enable_auto_commit=False,
                                         auto_offset_reset="earliest", metadata_max_age_ms=500)
    try:
        got, added = _poll_values(consumer, topic, time.monotonic() + 30)
        assert (got, added) == ([b"before"], [])

        admin = KafkaAdminClient(**kafka.client_config(ks))
        try:
            admin.create_partitions({topic: NewPartitions(total_count=2)})
        finally:
            admin.close()
        kafka.produce(ks, [b"on the new partition"], topic=topic, partition=1)

        got, added = _poll_values(consumer, topic, time.monotonic() + 30)
        # the new partition is read from its start, and partition 0 is not read again
        assert (got, added) == ([b"on the new partition"], [1])
        assert {tp.partition for tp in consumer.assignment()} == {0, 1}
    finally:
        consumer.close()
