"""CommitOffsets, the composite that turns Done records into consumer-group commits, on a real
Kafka broker (TestPipeline on Beam's FnApiRunner, which runs keyed state in batch)."""
from __future__ import annotations

import random

import apache_beam as beam
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline

from newswatch.connectors import kafka
from newswatch.connectors.kafka_io import CommitOffsets
from newswatch.pipelines.model import Done


def _commit(settings, done: list[Done]) -> dict[int, int | None]:
    with BeamTestPipeline(runner=FnApiRunner()) as p:
        _ = p | beam.Create(done) | CommitOffsets(settings.kafka)
    return kafka.committed_offsets(settings.kafka, settings.kafka.topic)


def test_each_partition_is_committed_up_to_its_first_record_not_durable(settings):
    kafka.ensure_topics(settings.kafka)
    topic = settings.kafka.topic
    done = ([Done(topic, 0, o, o - 1) for o in range(10)]              # all durable
            + [Done(topic, 1, o, o - 1) for o in (0, 1, 2, 4, 5)]      # 3 is not durable yet
            + [Done(topic, 2, 6, 2)])                                 # 0-2 are not, 3-5 do not exist
    random.Random(5).shuffle(done)  # the writers' outputs arrive in any order
    assert _commit(settings, done) == {0: 10, 1: 3, 2: None}

    # A new job starts from the group's commits: 3 comes, and 4-5 wait for their re-read.
    assert _commit(settings, [Done(topic, 1, 3, 2), Done(topic, 2, 0, -1)]) == {0: 10, 1: 4, 2: 1}


def test_records_made_durable_again_by_a_replay_do_not_move_a_commit_back(settings):
    kafka.ensure_topics(settings.kafka)
    topic = settings.kafka.topic
    assert _commit(settings, [Done(topic, 0, o, o - 1) for o in range(20)])[0] == 20
    assert _commit(settings, [Done(topic, 0, o, o - 1) for o in range(5, 12)])[0] == 20
