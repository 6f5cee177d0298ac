"""The reader's pure helpers: its restriction tracker, and for polls that fail where a corrupt batch ends, how long to back off,
and what the user is told. The real broker side is in tests/integration/test_codecs.py."""
import pytest
from kafka import TopicPartition
from kafka.errors import CorruptRecordError, KafkaConnectionError, KafkaTimeoutError, UnsupportedCodecError

from apache_beam.io.restriction_trackers import OffsetRange

from newswatch.connectors.kafka_io import (END_OF_TIME, READ_RETRY_MAX_S, PartitionOffsetTracker, corrupt_batch_offset, corrupt_range_message,
                                 first_readable_offset, read_failure_advice, read_retry_delay_s)


def _crc_error(offset: int, what: str = "Record batch") -> CorruptRecordError:
    # The exact wording kafka-python 3.0.12's fetcher raises with.
    return CorruptRecordError(f"{what} for partition {TopicPartition('news', 0)} at offset {offset} failed crc check")


def test_the_corrupt_batch_offset_is_read_from_kafka_pythons_message():
    assert corrupt_batch_offset(_crc_error(1234)) == 1234
    assert corrupt_batch_offset(_crc_error(7, what="Record")) == 7
    assert corrupt_batch_offset(CorruptRecordError("crc mismatch")) is None


class _Log:
    """A fetch from `offset` fails while `offset` is inside the corrupt batch [first, last]."""

    def __init__(self, first: int, last: int) -> None:
        self.first, self.last = first, last
        self.probes: list[int] = []

    def fails_at(self, offset: int) -> bool:
        self.probes.append(offset)
        return self.first <= offset <= self.last


@pytest.mark.parametrize("first,last,failed,end", [
    (3, 3, 3, 10),        # a one-record batch
    (3, 5, 3, 10),        # a few records, more batches after it
    (3, 5, 4, 10),        # the poll failed from inside the batch (a restart resumed there)
    (0, 499, 0, 500),     # the corrupt batch is the last one in the log
    (100, 1099, 100, 10**9),
])
def test_the_first_readable_offset_is_just_past_the_corrupt_batch(first, last, failed, end):
    log = _Log(first, last)
    assert first_readable_offset(log.fails_at, failed, end) == last + 1
    assert all(p > failed for p in log.probes)  # never fetches again where it already failed
    assert len(log.probes) <= 2 * (last - failed + 1).bit_length() + 2  # logarithmic, not one per offset


def test_the_log_end_is_never_probed_and_progress_is_guaranteed():
    log = _Log(7, 7)
    assert first_readable_offset(log.fails_at, 7, 8) == 8 and log.probes == []
    # a stale end offset at or before the failed one still moves the reader forward
    assert first_readable_offset(log.fails_at, 7, 3) == 8


def test_retry_delays_double_up_to_a_bound():
    delays = [read_retry_delay_s(n) for n in range(1, 12)]
    assert delays[:4] == [1, 2, 4, 8]
    assert delays == sorted(delays) and max(delays) == READ_RETRY_MAX_S
    assert read_retry_delay_s(10_000) == READ_RETRY_MAX_S


@pytest.mark.parametrize("err,says", [
    (UnsupportedCodecError("Libraries for snappy compression codec not found"), "./setup.sh"),
    (KafkaTimeoutError("Unable to bootstrap from 127.0.0.1:29092"), "broker at 127.0.0.1:29092"),
    (KafkaConnectionError("socket disconnected"), "newswatch stack status"),
    (RuntimeError("something else"), "report the error"),
])
def test_every_read_failure_says_what_to_do(err, says):
    assert says in read_failure_advice(err, "127.0.0.1:29092")


def test_the_corrupt_range_message_names_the_range_and_the_remedy():
    message = corrupt_range_message("news", 2, 40, 43, str(_crc_error(40)))
    assert "news:2" in message and "offsets 40-42" in message and "from 43" in message
    assert "send the items of that offset range again" in message


def test_a_partition_reader_refuses_dynamic_splits_but_checkpoints():
    tracker = PartitionOffsetTracker(OffsetRange(5, END_OF_TIME))
    assert tracker.try_claim(5) and tracker.try_claim(6)
    assert tracker.try_split(0.5) is None  # a second reader of the partition from offset 2^62: refused
    assert tracker.current_restriction() == OffsetRange(5, END_OF_TIME)
    primary, residual = tracker.try_split(0)  # defer_remainder: the rest comes back later, from 7
    assert primary == OffsetRange(5, 7) and residual == OffsetRange(7, END_OF_TIME)
