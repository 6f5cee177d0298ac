"""Every Kafka compression codec from a producer that is not Python, and batches the broker serves
damaged, on the real broker and search engine: the stream reads what it can and goes on."""
from __future__ import annotations

import itertools
import re
import shutil
import struct
import subprocess
import time
from datetime import datetime

import pytest
from kafka import KafkaProducer
from kafka.record.util import calc_crc32c

from newswatch.connectors import kafka
from newswatch.connectors.search import SearchBackend

from .conftest import count, news_item, wait_for
from .test_streaming import _dlq_records

CODECS = {"gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}  # name -> compression id in a batch's attributes
TEXTS = [
    "Government warplanes carried out airstrikes on rebel positions near the town.",
    "The two sides agreed to extend the ceasefire for another month.",
    "أرسل الجيش تعزيزات عسكرية إلى الحدود الشمالية.",
    "أعلن الطرفان التوصل إلى هدنة لمدة شهر.",
]


# -- the broker's log segments (record batch format v2) ---------------------------------------
def _segments(settings, partition: int) -> list:
    folder = settings.stack.home / "kafka" / "data" / f"{settings.kafka.topic}-{partition}"
    return sorted(folder.glob("*.log"))


def _batches(segment: bytes):
    """(base offset, last offset, codec id, start, end) of each record batch of a log segment."""
    pos = 0
    while pos + 61 <= len(segment):
        base, length = struct.unpack_from(">qi", segment, pos)
        (attributes,) = struct.unpack_from(">h", segment, pos + 21)
        (last_delta,) = struct.unpack_from(">i", segment, pos + 23)
        yield base, base + last_delta, attributes & 0x07, pos, pos + 12 + length
        pos += 12 + length


def _codecs_on_disk(settings) -> set[int]:
    return {codec for p in range(settings.kafka.partitions) for seg in _segments(settings, p)
            for _, _, codec, _, _ in _batches(seg.read_bytes())}


def _overwrite(path, position: int, data: bytes) -> None:
    """Writes through the page cache, which the broker serves fetches from."""
    with path.open("r+b") as f:
        f.seek(position)
        f.write(data)


def _produce_batch(settings, values: list[bytes], partition: int) -> None:
    """One record batch: everything sent within the linger time, then flushed."""
    producer = KafkaProducer(**kafka.client_config(settings.kafka), acks="all", linger_ms=2000)
    try:
        for value in values:
            producer.send(settings.kafka.topic, value=value, partition=partition)
        producer.flush()
    finally:
        producer.close()


def _indexed_ids(settings) -> set[str]:
    backend = SearchBackend(settings.search)
    backend.refresh(settings.search.articles_index)
    hits = backend.search(settings.search.articles_index, {"size": 1000, "_source": ["id"]})["hits"]["hits"]
    return {h["_source"]["id"] for h in hits}


def _all_committed(settings) -> bool:
    ends = kafka.end_offsets(settings.kafka, settings.kafka.topic)
    committed = kafka.committed_offsets(settings.kafka, settings.kafka.topic)
    return all((committed.get(p) or 0) >= end for p, end in ends.items())


# -- every codec, produced by librdkafka (kcat) --------------------------------------------------
@pytest.fixture
def kcat() -> str:
    path = shutil.which("kcat")
    if path is None:
        pytest.skip("kcat is not installed: run ./setup.sh (it installs Debian's kcat) or `apt-get install kcat`")
    return path


def test_every_codec_from_a_librdkafka_producer_is_indexed(settings, pipeline, kcat):
    proc = pipeline()
    expected = set()
    for codec in CODECS:
        lines = [news_item(f"{codec}-{i}", TEXTS[i % len(TEXTS)]) for i in range(5)]
        expected |= {f"item-{codec}-{i}" for i in range(5)}
        done = subprocess.run([kcat, "-P", "-b", settings.kafka.bootstrap, "-t", settings.kafka.topic, "-z", codec],
                              input=b"\n".join(lines) + b"\n", capture_output=True, timeout=60)
        assert done.returncode == 0, f"kcat -z {codec} failed: {done.stderr.decode(errors='replace')}"
    # the batches really are compressed with each codec (the broker keeps the producer's)
    assert _codecs_on_disk(settings) == set(CODECS.values())
    wait_for(lambda: _indexed_ids(settings) == expected, 180, f"the {len(expected)} items in every codec", proc)
    assert proc.alive()
    assert not _dlq_records(settings, 1, timeout_s=3), "no item of a compressed batch may be dead-lettered"


# -- a batch that fails its CRC check ---------------------------------------------------------
def _corrupt_record_with(settings, partition: int, marker: bytes) -> tuple[int, int]:
    """Flips one byte of `marker` in the partition's log; returns the damaged batch's offsets."""
    for segment in _segments(settings, partition):
        data = segment.read_bytes()
        at = data.find(marker)
        if at < 0:
            continue
        _overwrite(segment, at, bytes([data[at] ^ 0x20]))
        return next((base, last) for base, last, _, start, end in _batches(data) if start <= at < end)
    raise AssertionError(f"marker {marker!r} not found in the log segments of partition {partition}")


def test_a_corrupt_batch_is_dead_lettered_and_the_stream_goes_on(settings, pipeline):
    kafka.ensure_topics(settings.kafka)
    marker = b"CORRUPTME-" + settings.kafka.topic.encode()
    _produce_batch(settings, [news_item(f"before-{i}", TEXTS[i]) for i in range(2)], partition=0)
    _produce_batch(settings, [news_item(f"lost-{i}", f"{TEXTS[i]} {marker.decode() if i == 1 else ''}")
                              for i in range(3)], partition=0)
    _produce_batch(settings, [news_item("after-0", TEXTS[2])], partition=0)
    _produce_batch(settings, [news_item("other-partition", TEXTS[3])], partition=1)
    first, last = _corrupt_record_with(settings, 0, marker)
    assert (first, last) == (2, 4), "the three items meant to be lost should share one batch at offsets 2-4"

    proc = pipeline()
    expected = {"item-before-0", "item-before-1", "item-after-0", "item-other-partition"}
    wait_for(lambda: _indexed_ids(settings) == expected, 180, "the items around the corrupt batch", proc)
    letters = _dlq_records(settings, 1)
    assert [letter["reason"] for letter in letters] == ["corrupt_batch"]
    letter = letters[0]
    assert letter["source"] == {"topic": settings.kafka.topic, "partition": 0, "offset": first}
    assert f"offsets {first}-{last}" in letter["error"] and "send the items" in letter["error"]
    # the stream goes on, and the offsets past the corrupt batch are committed (the frontier
    # sees the dead letter as the predecessor of the next record)
    _produce_batch(settings, [news_item("later", TEXTS[0])], partition=0)
    wait_for(lambda: "item-later" in _indexed_ids(settings) and _all_committed(settings), 120,
             "an item after the corrupt batch, and every offset committed", proc)
    assert proc.alive()
    assert len(_dlq_records(settings, 2, timeout_s=3)) == 1, "the corrupt batch is dead-lettered once"


# -- a batch that cannot be decoded at all ------------------------------------------------------
def _set_unknown_codec(settings, partition: int) -> None:
    """Gives the partition's first batch compression id 5, which no Kafka has, with a valid CRC:
    the broker serves it, the client cannot decode it."""
    segment = _segments(settings, partition)[0]
    data = bytearray(segment.read_bytes())
    _, _, _, start, end = next(_batches(bytes(data)))
    struct.pack_into(">h", data, start + 21, (struct.unpack_from(">h", data, start + 21)[0] & ~0x07) | 5)
    struct.pack_into(">I", data, start + 17, calc_crc32c(memoryview(data)[start + 21:end]))
    _overwrite(segment, start, bytes(data[start:end]))


def test_an_undecodable_batch_pauses_its_partition_with_backoff_not_the_pipeline(settings, pipeline):
    kafka.ensure_topics(settings.kafka)
    _produce_batch(settings, [news_item("undecodable", TEXTS[0])], partition=0)
    _set_unknown_codec(settings, 0)
    proc = pipeline()
    _produce_batch(settings, [news_item("p1", TEXTS[1])], partition=1)
    _produce_batch(settings, [news_item("p2", TEXTS[2])], partition=2)
    wait_for(lambda: _indexed_ids(settings) == {"item-p1", "item-p2"}, 180, "the other partitions' items", proc)
    time.sleep(10)
    failures = [line for line in proc.log.read_text(errors="replace").splitlines()
                if "UnsupportedCodecError" in line and "Retrying in" in line]
    assert failures, f"the reader must log why partition 0 is not read:\n{proc.log_tail()}"
    assert "an unknown codec number means the batch itself is damaged" in failures[0]
    # retried with a doubling backoff (1 s, 2 s, 4 s, ...), not in a tight loop
    in_a_row = [int(re.search(r"\((\d+) in a row\)", line).group(1)) for line in failures]
    assert in_a_row == list(range(1, len(failures) + 1)), in_a_row
    logged_at = [datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f") for line in failures]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(logged_at)]
    assert all(gap >= 0.9 * 2**i for i, gap in enumerate(gaps)), f"retries {gaps} s apart; expected a backoff"
    assert proc.alive()
    assert count(settings, settings.search.articles_index) == 2
